//! Apply a SCIM `PatchOp` (RFC 7644 §3.5.2) to a resource held as JSON.
//!
//! Accepted shapes (Okta and Entra, see `docs/adr/0008-scim-filter-and-patch.md`):
//! op names in any case; path-less `add`/`replace` whose object value is merged
//! attribute by attribute (keys may be plain names, dotted `name.givenName`,
//! URN-qualified `urn:…:enterprise:2.0:User:department` or an extension URN holding an
//! object); `path` as `attr`, `attr.sub`, `attr[filter]`, `attr[filter].sub` or an
//! extension URN; `"True"`/`"False"` for booleans; a bare string for `manager`.
//!
//! Rules: the operations are atomic (the resource is changed only if all succeed);
//! `add` to a multi-valued attribute is idempotent (an element with the same `value` is
//! updated, not duplicated); `replace` on a complex attribute merges sub-attributes;
//! `replace`/`add` with a `null` value unassigns; `replace` with a value filter matching
//! nothing is `noTarget`; `add` with a filter of `eq` tests matching nothing creates the
//! element (Entra's `emails[type eq "work"].value` on a user without one); `remove`
//! without a path is `noTarget`; `remove` with a filter matching nothing succeeds and is
//! reported in [`PatchOutcome::unmatched_removes`] (idempotent, see the ADR);
//! `remove path:"members"` with a value list removes those members (Entra), without a
//! value removes all. Read-only attributes (`id`, `meta`, `groups` on users) are
//! `mutability` errors, except an `id` equal to the current one (Okta's group rename
//! sends it). `password` is accepted and dropped. Nothing is silently ignored.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Map, Value};

use super::coerce::{coerce, coerce_one};
use super::eval::{find_ci, get_ci};
use super::filter::{AttrPath, Filter, PatchPath, matches, parse_path};
use super::patch_json::{
    add_element, add_schema, container, equalities, get_mut_ci, merge_into, remove_ci,
    same_element, take_ci, work_container_missing_or_unmatched,
};
use super::schema::{Attribute, Extension, Mutability, ResourceSchema};

pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The SCIM `scimType` of a failed PATCH (HTTP 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    Mutability,
}

impl ScimType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::Mutability => "mutability",
        }
    }
}

/// A PATCH that was refused; nothing was changed. Answer 400 with `scimType` and `detail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchError {
    pub scim_type: ScimType,
    pub detail: String,
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.scim_type.as_str(), self.detail)
    }
}

impl std::error::Error for PatchError {}

/// What a successful PATCH did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchOutcome {
    /// Top-level keys of the resource whose value changed (canonical names such as
    /// `userName`, `active`, `members`, or an extension URN).
    pub changed: BTreeSet<String>,
    /// A `password` was supplied; it was dropped, not stored.
    pub password_dropped: bool,
    /// `remove` operations whose filter (or listed member) matched nothing: the path text.
    pub unmatched_removes: Vec<String>,
}

impl PatchOutcome {
    pub fn changed(&self, key: &str) -> bool {
        self.changed.contains(key)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Remove,
    Replace,
}

fn err(scim_type: ScimType, detail: impl Into<String>) -> PatchError {
    PatchError {
        scim_type,
        detail: detail.into(),
    }
}

/// Apply the PatchOp request `body` to `resource` (a JSON object). On error the resource
/// is left unchanged.
pub fn apply(
    resource: &mut Value,
    body: &Value,
    schema: &'static ResourceSchema,
) -> Result<PatchOutcome, PatchError> {
    use ScimType::*;
    let body = body
        .as_object()
        .ok_or_else(|| err(InvalidSyntax, "the PATCH body must be a JSON object"))?;
    if let Some((_, s)) = find_ci(body, "schemas") {
        let ok = s
            .as_array()
            .is_some_and(|a| a.iter().any(|u| u.as_str() == Some(PATCH_OP_URN)));
        if !ok {
            return Err(err(
                InvalidSyntax,
                format!("'schemas' must contain \"{PATCH_OP_URN}\""),
            ));
        }
    }
    let ops = find_ci(body, "Operations")
        .and_then(|(_, o)| o.as_array())
        .filter(|o| !o.is_empty())
        .ok_or_else(|| err(InvalidSyntax, "'Operations' must be a non-empty list"))?;
    if !resource.is_object() {
        return Err(err(
            InvalidValue,
            "the stored resource is not a JSON object",
        ));
    }
    let mut work = resource.clone();
    let mut p = Patcher {
        schema,
        out: PatchOutcome::default(),
    };
    for (i, op) in ops.iter().enumerate() {
        p.operation(&mut work, op).map_err(|e| PatchError {
            scim_type: e.scim_type,
            detail: format!("Operations[{i}]: {}", e.detail),
        })?;
    }
    let (before, after) = (resource.as_object(), work.as_object());
    if let (Some(b), Some(a)) = (before, after) {
        for k in b.keys().chain(a.keys()) {
            if b.get(k) != a.get(k) {
                p.out.changed.insert(k.clone());
            }
        }
    }
    *resource = work;
    Ok(p.out)
}

struct Patcher {
    schema: &'static ResourceSchema,
    out: PatchOutcome,
}

impl Patcher {
    fn operation(&mut self, work: &mut Value, op: &Value) -> Result<(), PatchError> {
        use ScimType::*;
        let o = op
            .as_object()
            .ok_or_else(|| err(InvalidSyntax, "each operation must be an object"))?;
        let name = find_ci(o, "op")
            .and_then(|(_, v)| v.as_str())
            .ok_or_else(|| err(InvalidSyntax, "missing 'op' (add, remove or replace)"))?;
        let kind = match name.to_ascii_lowercase().as_str() {
            "add" => Op::Add,
            "remove" => Op::Remove,
            "replace" => Op::Replace,
            _ => {
                return Err(err(
                    InvalidSyntax,
                    format!("unknown op '{name}' (expected add, remove or replace)"),
                ));
            }
        };
        let path = match find_ci(o, "path").map(|(_, v)| v) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(s.trim()),
            Some(_) => return Err(err(InvalidSyntax, "'path' must be a string")),
        };
        let value = find_ci(o, "value").map(|(_, v)| v);
        let Some(path) = path else {
            return match (kind, value) {
                (Op::Remove, _) => Err(err(NoTarget, "remove needs a 'path'")),
                (_, Some(Value::Object(m))) => self.merge_object(work, kind, m),
                _ => Err(err(
                    InvalidSyntax,
                    format!("{name} without a 'path' needs an object 'value'"),
                )),
            };
        };
        if path.eq_ignore_ascii_case("password") || self.is_core_qualified(path, "password") {
            return self.password(kind);
        }
        if path.eq_ignore_ascii_case("schemas") {
            return self.schemas(work, kind, value);
        }
        let parsed = parse_path(path, self.schema)
            .map_err(|e| err(InvalidPath, format!("path '{path}': {e}")))?;
        if kind != Op::Remove && value.is_none() {
            return Err(err(
                InvalidSyntax,
                format!("{name} '{path}' needs a 'value'"),
            ));
        }
        self.at_path(work, kind, &parsed, path, value)
            .map_err(|e| PatchError {
                detail: format!("{name} '{path}': {}", e.detail),
                ..e
            })
    }

    fn is_core_qualified(&self, key: &str, attr: &str) -> bool {
        let core = self.schema.core_urn;
        key.len() == core.len() + 1 + attr.len()
            && key
                .get(..core.len())
                .is_some_and(|u| u.eq_ignore_ascii_case(core))
            && key
                .get(core.len() + 1..)
                .is_some_and(|a| a.eq_ignore_ascii_case(attr))
    }

    fn password(&mut self, kind: Op) -> Result<(), PatchError> {
        if kind == Op::Remove {
            return Err(err(ScimType::Mutability, "the password cannot be removed"));
        }
        self.out.password_dropped = true;
        Ok(())
    }

    fn schemas(
        &mut self,
        work: &mut Value,
        kind: Op,
        value: Option<&Value>,
    ) -> Result<(), PatchError> {
        let list = value
            .and_then(Value::as_array)
            .filter(|_| kind != Op::Remove)
            .ok_or_else(|| {
                err(
                    ScimType::Mutability,
                    "'schemas' can only be given a list of schema URNs",
                )
            })?;
        for u in list {
            let u = u.as_str().unwrap_or_default();
            if u != self.schema.core_urn && self.schema.extension(u).is_none() {
                return Err(err(
                    ScimType::InvalidValue,
                    format!("unknown schema \"{u}\""),
                ));
            }
            add_schema(work, u);
        }
        Ok(())
    }

    /// Path-less add/replace: every key of the object is a path.
    fn merge_object(
        &mut self,
        work: &mut Value,
        kind: Op,
        m: &Map<String, Value>,
    ) -> Result<(), PatchError> {
        for (key, v) in m {
            if key.eq_ignore_ascii_case("password") || self.is_core_qualified(key, "password") {
                self.password(kind)?;
                continue;
            }
            if key.eq_ignore_ascii_case("schemas") {
                self.schemas(work, kind, Some(v))?;
                continue;
            }
            let parsed = parse_path(key, self.schema)
                .map_err(|e| err(ScimType::InvalidPath, format!("attribute '{key}': {e}")))?;
            if let PatchPath::Filtered { .. } = parsed {
                return Err(err(
                    ScimType::InvalidPath,
                    format!("attribute '{key}': a filter is only allowed in 'path'"),
                ));
            }
            self.at_path(work, kind, &parsed, key, Some(v))
                .map_err(|e| PatchError {
                    detail: format!("attribute '{key}': {}", e.detail),
                    ..e
                })?;
        }
        Ok(())
    }

    fn at_path(
        &mut self,
        work: &mut Value,
        kind: Op,
        path: &PatchPath,
        text: &str,
        value: Option<&Value>,
    ) -> Result<(), PatchError> {
        match path {
            PatchPath::Extension(ext) => self.extension(work, kind, ext, value),
            PatchPath::Attr(p) => {
                writable(work, p, kind, value)?;
                match p.sub {
                    None => self.attribute(work, kind, p, value, text),
                    Some(sub) => sub_attribute(work, kind, p, sub, value),
                }
            }
            PatchPath::Filtered {
                path: p,
                filter,
                sub,
            } => {
                writable(work, p, kind, value)?;
                self.filtered(work, kind, p, filter, *sub, value, text)
            }
        }
    }

    fn extension(
        &mut self,
        work: &mut Value,
        kind: Op,
        ext: &'static Extension,
        value: Option<&Value>,
    ) -> Result<(), PatchError> {
        if kind == Op::Remove {
            if let Some(o) = work.as_object_mut() {
                remove_ci(o, ext.urn);
            }
            return Ok(());
        }
        let m = value.and_then(Value::as_object).ok_or_else(|| {
            err(
                ScimType::InvalidValue,
                format!("'{}' takes an object of its attributes", ext.urn),
            )
        })?;
        for (key, v) in m {
            let full = format!("{}:{key}", ext.urn);
            let parsed = parse_path(&full, self.schema)
                .map_err(|e| err(ScimType::InvalidPath, format!("'{key}': {e}")))?;
            self.at_path(work, kind, &parsed, &full, Some(v))?;
        }
        Ok(())
    }

    /// `attr` (no sub-attribute, no filter).
    fn attribute(
        &mut self,
        work: &mut Value,
        kind: Op,
        p: &AttrPath,
        value: Option<&Value>,
        text: &str,
    ) -> Result<(), PatchError> {
        let attr = p.attr;
        if attr.name == "id" {
            return Ok(()); // `writable` accepted it: the same id as the current one.
        }
        if kind == Op::Remove {
            let Some(container) = container(work, p.extension, false) else {
                return Ok(());
            };
            match value {
                Some(v) if attr.multi_valued && !v.is_null() => {
                    let items =
                        coerce(attr, attr.name, v).map_err(|e| err(ScimType::InvalidValue, e))?;
                    let list = get_mut_ci(container, attr.name).and_then(Value::as_array_mut);
                    let mut missing = 0;
                    if let (Some(list), Some(items)) = (list, items.as_array()) {
                        for item in items {
                            let before = list.len();
                            list.retain(|e| !same_element(attr, e, item));
                            missing += usize::from(list.len() == before);
                        }
                    } else {
                        missing = items.as_array().map_or(0, Vec::len);
                    }
                    if missing > 0 {
                        self.out.unmatched_removes.push(text.to_string());
                    }
                }
                _ => {
                    if attr.required {
                        return Err(err(
                            ScimType::InvalidValue,
                            format!("'{}' is required and cannot be removed", attr.name),
                        ));
                    }
                    remove_ci(container, attr.name);
                }
            }
            return Ok(());
        }
        let v = coerce(attr, attr.name, value.unwrap_or(&Value::Null))
            .map_err(|e| err(ScimType::InvalidValue, e))?;
        let container = container(work, p.extension, true)
            .ok_or_else(|| err(ScimType::InvalidValue, "the resource is not an object"))?;
        if v.is_null() {
            if attr.required {
                return Err(err(
                    ScimType::InvalidValue,
                    format!("'{}' is required and cannot be null", attr.name),
                ));
            }
            remove_ci(container, attr.name);
            return Ok(());
        }
        let existing = take_ci(container, attr.name);
        let new = match (kind, attr.multi_valued, attr.is_complex(), existing) {
            (Op::Add, true, _, existing) => {
                let mut list = match existing {
                    Some(Value::Array(l)) => l,
                    _ => Vec::new(),
                };
                for item in v.as_array().into_iter().flatten() {
                    add_element(attr, &mut list, item.clone());
                }
                Value::Array(list)
            }
            (_, false, true, Some(Value::Object(mut obj))) => {
                merge_into(&mut obj, &v);
                Value::Object(obj)
            }
            (_, false, true, _) => {
                let mut obj = Map::new();
                merge_into(&mut obj, &v);
                Value::Object(obj)
            }
            _ => v,
        };
        if !new.as_object().is_some_and(Map::is_empty) {
            container.insert(attr.name.to_string(), new);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn filtered(
        &mut self,
        work: &mut Value,
        kind: Op,
        p: &AttrPath,
        filter: &Filter,
        sub: Option<&'static Attribute>,
        value: Option<&Value>,
        text: &str,
    ) -> Result<(), PatchError> {
        let attr = p.attr;
        if !attr.multi_valued {
            return Err(err(
                ScimType::InvalidPath,
                format!("'{}' is not multi-valued; drop the [filter]", attr.name),
            ));
        }
        let v = match (kind, sub) {
            (Op::Remove, _) => Ok(Value::Null),
            (_, Some(s)) => coerce_one(
                s,
                &format!("{}.{}", attr.name, s.name),
                value.unwrap_or(&Value::Null),
            ),
            (_, None) => coerce_one(attr, attr.name, value.unwrap_or(&Value::Null)),
        }
        .map_err(|e| err(ScimType::InvalidValue, e))?;
        if kind != Op::Remove && sub.is_none() && !v.is_object() {
            return Err(err(
                ScimType::InvalidValue,
                format!("'{}' values are objects", attr.name),
            ));
        }
        let schema = self.schema;
        let create =
            kind != Op::Remove && work_container_missing_or_unmatched(work, p, filter, schema);
        let container = container(work, p.extension, kind != Op::Remove)
            .ok_or_else(|| err(ScimType::InvalidValue, "the resource is not an object"))?;
        if create {
            if kind == Op::Replace {
                return Err(err(
                    ScimType::NoTarget,
                    format!("no value of '{}' matches the filter", attr.name),
                ));
            }
            let mut elem = equalities(filter).ok_or_else(|| {
                err(ScimType::NoTarget, format!("no value of '{}' matches the filter, and it is not a list of eq tests to create one from", attr.name))
            })?;
            match sub {
                Some(s) => {
                    elem.insert(s.name.to_string(), v);
                }
                None => merge_into(&mut elem, &v),
            }
            let mut list = match take_ci(container, attr.name) {
                Some(Value::Array(l)) => l,
                _ => Vec::new(),
            };
            add_element(attr, &mut list, Value::Object(elem));
            container.insert(attr.name.to_string(), Value::Array(list));
            return Ok(());
        }
        let Some(list) = get_mut_ci(container, attr.name).and_then(Value::as_array_mut) else {
            self.out.unmatched_removes.push(text.to_string());
            return Ok(());
        };
        let hit = |e: &Value| matches(filter, e, schema);
        if !list.iter().any(hit) {
            self.out.unmatched_removes.push(text.to_string());
            return Ok(());
        }
        match (kind, sub) {
            (Op::Remove, None) => list.retain(|e| !hit(e)),
            (Op::Remove, Some(s)) => list.iter_mut().filter(|e| hit(e)).for_each(|e| {
                if let Some(o) = e.as_object_mut() {
                    remove_ci(o, s.name);
                }
            }),
            (_, Some(s)) => list.iter_mut().filter(|e| hit(e)).for_each(|e| {
                if let Some(o) = e.as_object_mut() {
                    remove_ci(o, s.name);
                    if !v.is_null() {
                        o.insert(s.name.to_string(), v.clone());
                    }
                }
            }),
            (Op::Add, None) => list.iter_mut().filter(|e| hit(e)).for_each(|e| {
                if let Some(o) = e.as_object_mut() {
                    merge_into(o, &v);
                }
            }),
            (_, None) => list
                .iter_mut()
                .filter(|e| hit(e))
                .for_each(|e| *e = v.clone()),
        }
        Ok(())
    }
}

/// Read-only attributes refuse every write, except `id` set to its current value.
fn writable(work: &Value, p: &AttrPath, kind: Op, value: Option<&Value>) -> Result<(), PatchError> {
    if p.attr.mutability != Mutability::ReadOnly {
        return Ok(());
    }
    if p.attr.name == "id"
        && kind != Op::Remove
        && p.sub.is_none()
        && value.is_some()
        && value == get_ci(work, "id")
    {
        return Ok(());
    }
    Err(err(
        ScimType::Mutability,
        format!("'{}' is read-only and cannot be changed", p.attr.name),
    ))
}

/// `attr.sub` on a single complex attribute (or `remove` on a multi-valued one: every element).
fn sub_attribute(
    work: &mut Value,
    kind: Op,
    p: &AttrPath,
    sub: &'static Attribute,
    value: Option<&Value>,
) -> Result<(), PatchError> {
    let attr = p.attr;
    if attr.multi_valued && kind != Op::Remove {
        return Err(err(
            ScimType::InvalidPath,
            format!(
                "'{0}' has several values: select one with a filter, e.g. {0}[type eq \"work\"].{1}",
                attr.name, sub.name
            ),
        ));
    }
    let v = match kind {
        Op::Remove => Value::Null,
        _ => coerce_one(
            sub,
            &format!("{}.{}", attr.name, sub.name),
            value.unwrap_or(&Value::Null),
        )
        .map_err(|e| err(ScimType::InvalidValue, e))?,
    };
    let Some(container) = container(work, p.extension, !v.is_null()) else {
        return Ok(());
    };
    if attr.multi_valued {
        if let Some(list) = get_mut_ci(container, attr.name).and_then(Value::as_array_mut) {
            list.iter_mut()
                .filter_map(Value::as_object_mut)
                .for_each(|o| {
                    remove_ci(o, sub.name);
                });
        }
        return Ok(());
    }
    let mut obj = match take_ci(container, attr.name) {
        Some(Value::Object(o)) => o,
        _ => Map::new(),
    };
    remove_ci(&mut obj, sub.name);
    if !v.is_null() {
        obj.insert(sub.name.to_string(), v);
    }
    if !obj.is_empty() {
        container.insert(attr.name.to_string(), Value::Object(obj));
    }
    Ok(())
}
