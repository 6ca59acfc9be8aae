//! The SCIM attribute definitions (RFC 7643 §4.1, §4.2, §4.3) that the filter parser, the
//! SQL translation, the in-memory evaluator and PATCH all resolve names against.
//!
//! Names here are the canonical spelling stored in resources; lookups are
//! case-insensitive. Every name is a static constant, never user text: the SQL
//! translation inlines them into JSON paths (see `sql`).

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Integer,
    DateTime,
    Reference,
    Complex,
}

/// Who may write an attribute (RFC 7643 §7 `mutability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// One attribute or sub-attribute.
#[derive(Debug)]
pub struct Attribute {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub case_exact: bool,
    pub required: bool,
    pub mutability: Mutability,
    pub sub_attributes: &'static [Attribute],
}

impl Attribute {
    /// A sub-attribute by name, case-insensitively.
    pub fn sub(&self, name: &str) -> Option<&'static Attribute> {
        find(self.sub_attributes, name)
    }

    pub fn is_complex(&self) -> bool {
        self.ty == AttrType::Complex
    }

    /// Strings compared case-insensitively (SCIM `caseExact: false`). Dates compare exactly.
    pub fn folds_case(&self) -> bool {
        matches!(self.ty, AttrType::String | AttrType::Reference) && !self.case_exact
    }
}

/// Attributes are static definitions: equal means the same definition.
impl PartialEq for Attribute {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl PartialEq for Extension {
    fn eq(&self, other: &Self) -> bool {
        self.urn == other.urn
    }
}

/// A schema extension (its attributes live under the URN key of the resource).
#[derive(Debug)]
pub struct Extension {
    pub urn: &'static str,
    pub attributes: &'static [Attribute],
}

/// A resource type: core schema plus extensions.
#[derive(Debug)]
pub struct ResourceSchema {
    pub name: &'static str,
    pub core_urn: &'static str,
    pub attributes: &'static [Attribute],
    pub extensions: &'static [Extension],
}

impl ResourceSchema {
    /// A core attribute by name, case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&'static Attribute> {
        find(self.attributes, name)
    }

    /// An extension by URN, case-insensitively.
    pub fn extension(&self, urn: &str) -> Option<&'static Extension> {
        self.extensions
            .iter()
            .find(|e| e.urn.eq_ignore_ascii_case(urn))
    }
}

impl Extension {
    pub fn attribute(&self, name: &str) -> Option<&'static Attribute> {
        find(self.attributes, name)
    }
}

fn find(list: &'static [Attribute], name: &str) -> Option<&'static Attribute> {
    list.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

use AttrType as T;
use Mutability as M;

const fn attr(name: &'static str, ty: AttrType) -> Attribute {
    Attribute {
        name,
        ty,
        multi_valued: false,
        case_exact: false,
        required: false,
        mutability: M::ReadWrite,
        sub_attributes: &[],
    }
}

const fn exact(mut a: Attribute) -> Attribute {
    a.case_exact = true;
    a
}

const fn required(mut a: Attribute) -> Attribute {
    a.required = true;
    a
}

const fn read_only(mut a: Attribute) -> Attribute {
    a.mutability = M::ReadOnly;
    a
}

const fn complex(name: &'static str, subs: &'static [Attribute]) -> Attribute {
    let mut a = attr(name, T::Complex);
    a.sub_attributes = subs;
    a
}

const fn multi(name: &'static str, subs: &'static [Attribute]) -> Attribute {
    let mut a = complex(name, subs);
    a.multi_valued = true;
    a
}

const ID: Attribute = read_only(exact(attr("id", T::String)));
const EXTERNAL_ID: Attribute = exact(attr("externalId", T::String));

const META_SUBS: &[Attribute] = &[
    read_only(exact(attr("resourceType", T::String))),
    read_only(attr("created", T::DateTime)),
    read_only(attr("lastModified", T::DateTime)),
    read_only(exact(attr("location", T::Reference))),
    read_only(exact(attr("version", T::String))),
];
const META: Attribute = read_only(complex("meta", META_SUBS));

const NAME_SUBS: &[Attribute] = &[
    attr("formatted", T::String),
    attr("familyName", T::String),
    attr("givenName", T::String),
    attr("middleName", T::String),
    attr("honorificPrefix", T::String),
    attr("honorificSuffix", T::String),
];

/// value/display/type/primary: emails, phoneNumbers, ims, photos, roles, entitlements.
const MULTI_SUBS: &[Attribute] = &[
    attr("value", T::String),
    attr("display", T::String),
    attr("type", T::String),
    attr("primary", T::Boolean),
];

const PHOTO_SUBS: &[Attribute] = &[
    exact(attr("value", T::Reference)),
    attr("display", T::String),
    attr("type", T::String),
    attr("primary", T::Boolean),
];

const ADDRESS_SUBS: &[Attribute] = &[
    attr("formatted", T::String),
    attr("streetAddress", T::String),
    attr("locality", T::String),
    attr("region", T::String),
    attr("postalCode", T::String),
    attr("country", T::String),
    attr("type", T::String),
    attr("primary", T::Boolean),
];

const USER_GROUP_SUBS: &[Attribute] = &[
    read_only(exact(attr("value", T::String))),
    read_only(exact(attr("$ref", T::Reference))),
    read_only(attr("display", T::String)),
    read_only(attr("type", T::String)),
];

const CERT_SUBS: &[Attribute] = &[
    exact(attr("value", T::String)),
    attr("display", T::String),
    attr("type", T::String),
    attr("primary", T::Boolean),
];

const USER_ATTRS: &[Attribute] = &[
    ID,
    EXTERNAL_ID,
    required(attr("userName", T::String)),
    complex("name", NAME_SUBS),
    attr("displayName", T::String),
    attr("nickName", T::String),
    exact(attr("profileUrl", T::Reference)),
    attr("title", T::String),
    attr("userType", T::String),
    attr("preferredLanguage", T::String),
    attr("locale", T::String),
    attr("timezone", T::String),
    attr("active", T::Boolean),
    multi("emails", MULTI_SUBS),
    multi("phoneNumbers", MULTI_SUBS),
    multi("ims", MULTI_SUBS),
    multi("photos", PHOTO_SUBS),
    multi("addresses", ADDRESS_SUBS),
    read_only(multi("groups", USER_GROUP_SUBS)),
    multi("entitlements", MULTI_SUBS),
    multi("roles", MULTI_SUBS),
    multi("x509Certificates", CERT_SUBS),
    META,
];

const MANAGER_SUBS: &[Attribute] = &[
    exact(attr("value", T::String)),
    exact(attr("$ref", T::Reference)),
    // readOnly in RFC 7643 §4.3; accepted from clients that send it.
    attr("displayName", T::String),
];

const ENTERPRISE_ATTRS: &[Attribute] = &[
    attr("employeeNumber", T::String),
    attr("costCenter", T::String),
    attr("organization", T::String),
    attr("division", T::String),
    attr("department", T::String),
    complex("manager", MANAGER_SUBS),
];

const MEMBER_SUBS: &[Attribute] = &[
    Attribute {
        mutability: M::Immutable,
        ..exact(attr("value", T::String))
    },
    Attribute {
        mutability: M::Immutable,
        ..exact(attr("$ref", T::Reference))
    },
    attr("display", T::String),
    Attribute {
        mutability: M::Immutable,
        ..attr("type", T::String)
    },
];

const GROUP_ATTRS: &[Attribute] = &[
    ID,
    EXTERNAL_ID,
    required(attr("displayName", T::String)),
    multi("members", MEMBER_SUBS),
    META,
];

static USER: ResourceSchema = ResourceSchema {
    name: "User",
    core_urn: USER_URN,
    attributes: USER_ATTRS,
    extensions: &[Extension {
        urn: ENTERPRISE_USER_URN,
        attributes: ENTERPRISE_ATTRS,
    }],
};

static GROUP: ResourceSchema = ResourceSchema {
    name: "Group",
    core_urn: GROUP_URN,
    attributes: GROUP_ATTRS,
    extensions: &[],
};

/// RFC 7643 §4.1 User with the enterprise extension (§4.3).
pub fn user_schema() -> &'static ResourceSchema {
    &USER
}

/// RFC 7643 §4.2 Group.
pub fn group_schema() -> &'static ResourceSchema {
    &GROUP
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &'static [Attribute], out: &mut Vec<&'static str>) {
        for a in list {
            out.push(a.name);
            names(a.sub_attributes, out);
        }
    }

    /// The SQL translation inlines these names into JSON path literals.
    #[test]
    fn schema_names_are_safe_to_inline() {
        let mut all = Vec::new();
        for s in [user_schema(), group_schema()] {
            names(s.attributes, &mut all);
            for e in s.extensions {
                all.push(e.urn);
                names(e.attributes, &mut all);
            }
        }
        for n in all {
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '$' | ':' | '.' | '_' | '-')),
                "{n}"
            );
        }
    }

    #[test]
    fn lookups_are_case_insensitive() {
        let u = user_schema();
        assert_eq!(u.attribute("USERNAME").map(|a| a.name), Some("userName"));
        assert!(u.attribute("externalid").is_some_and(|a| a.case_exact));
        assert!(u.attribute("id").is_some_and(|a| a.case_exact));
        assert!(u.attribute("userName").is_some_and(|a| !a.case_exact));
        assert!(u.extension(&ENTERPRISE_USER_URN.to_uppercase()).is_some());
    }
}
