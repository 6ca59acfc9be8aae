//! SCIM resources as the gateway stores and serves them (RFC 7643), and errors
//! (RFC 7644 §3.12). Pure: JSON in, JSON out.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

pub const SCHEMA_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const SCHEMA_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const SCHEMA_ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const SCHEMA_LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const SCHEMA_ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SCHEMA_PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A SCIM error: HTTP status, optional `scimType`, and a detail an admin can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: u16, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }
    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(409, Some("uniqueness"), detail)
    }

    pub fn body(&self) -> Value {
        let mut v = json!({"schemas": [SCHEMA_ERROR], "status": self.status.to_string(), "detail": self.detail});
        if let (Some(t), Some(o)) = (self.scim_type, v.as_object_mut()) {
            o.insert("scimType".into(), Value::String(t.into()));
        }
        v
    }
}

fn ts(t: i64) -> String {
    DateTime::<Utc>::from_timestamp(t, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// The weak ETag of a resource version.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Case-insensitive lookup of a top-level attribute.
pub fn get_ci<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn remove_ci(obj: &mut Map<String, Value>, name: &str) {
    let keys: Vec<String> = obj
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .collect();
    for k in keys {
        obj.remove(&k);
    }
}

/// Entra sends booleans as strings; accept "true"/"false" in any case.
pub fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Normalise a client-supplied User for storage: required `userName`, `active` a
/// boolean (default true), server-owned attributes (`id`, `meta`, `groups`) dropped,
/// `password` dropped (accepted, never stored).
pub fn normalize_user(input: &Value) -> Result<Value, ScimError> {
    let Some(obj) = input.as_object() else {
        return Err(ScimError::bad(
            "invalidSyntax",
            "the request body must be a JSON object (a SCIM User)",
        ));
    };
    let mut out = obj.clone();
    for k in ["id", "meta", "groups", "password"] {
        remove_ci(&mut out, k);
    }
    let user_name = get_ci(&out, "userName")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("");
    if user_name.is_empty() {
        return Err(ScimError::bad(
            "invalidValue",
            "userName is required (a non-empty string)",
        ));
    }
    let user_name = user_name.to_string();
    remove_ci(&mut out, "userName");
    out.insert("userName".into(), Value::String(user_name));
    let active = match get_ci(&out, "active") {
        None | Some(Value::Null) => true,
        Some(v) => as_bool(v)
            .ok_or_else(|| ScimError::bad("invalidValue", "active must be true or false"))?,
    };
    remove_ci(&mut out, "active");
    out.insert("active".into(), Value::Bool(active));
    if let Some(emails) = get_ci(&out, "emails")
        && !emails.is_array()
    {
        return Err(ScimError::bad("invalidValue", "emails must be an array"));
    }
    let mut schemas = vec![Value::String(SCHEMA_USER.into())];
    if out
        .keys()
        .any(|k| k.eq_ignore_ascii_case(SCHEMA_ENTERPRISE))
    {
        schemas.push(Value::String(SCHEMA_ENTERPRISE.into()));
    }
    out.insert("schemas".into(), Value::Array(schemas));
    Ok(Value::Object(out))
}

/// Normalise a client-supplied Group: required `displayName`, members as
/// `{"value": id}` objects (duplicates removed).
pub fn normalize_group(input: &Value) -> Result<Value, ScimError> {
    let Some(obj) = input.as_object() else {
        return Err(ScimError::bad(
            "invalidSyntax",
            "the request body must be a JSON object (a SCIM Group)",
        ));
    };
    let mut out = obj.clone();
    for k in ["id", "meta"] {
        remove_ci(&mut out, k);
    }
    let name = get_ci(&out, "displayName")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("");
    if name.is_empty() {
        return Err(ScimError::bad("invalidValue", "displayName is required"));
    }
    let name = name.to_string();
    remove_ci(&mut out, "displayName");
    out.insert("displayName".into(), Value::String(name));
    let members = get_ci(&out, "members")
        .cloned()
        .unwrap_or(Value::Array(vec![]));
    remove_ci(&mut out, "members");
    out.insert("members".into(), normalize_members(&members)?);
    out.insert("schemas".into(), json!([SCHEMA_GROUP]));
    Ok(Value::Object(out))
}

/// Members as `[{"value": id, ...}]`, each id once.
pub fn normalize_members(members: &Value) -> Result<Value, ScimError> {
    let Some(list) = members.as_array() else {
        return Err(ScimError::bad("invalidValue", "members must be an array"));
    };
    let mut out: Vec<Value> = Vec::new();
    for m in list {
        let id = m.get("value").and_then(Value::as_str).ok_or_else(|| {
            ScimError::bad(
                "invalidValue",
                "each member needs a \"value\" (the user's id)",
            )
        })?;
        if !out
            .iter()
            .any(|x| x.get("value").and_then(Value::as_str) == Some(id))
        {
            let mut e = Map::new();
            e.insert("value".into(), Value::String(id.into()));
            if let Some(d) = m.get("display").and_then(Value::as_str) {
                e.insert("display".into(), Value::String(d.into()));
            }
            out.push(Value::Object(e));
        }
    }
    Ok(Value::Array(out))
}

/// The member ids of a stored group.
pub fn member_ids(group: &Value) -> Vec<String> {
    group
        .get("members")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The stored form: the resource with `id` and `meta` (no location; it depends on the
/// public URL and is added when serving).
pub fn with_meta(
    mut resource: Value,
    id: &str,
    resource_type: &str,
    created: i64,
    modified: i64,
    version: i64,
) -> Value {
    if let Some(o) = resource.as_object_mut() {
        o.insert("id".into(), Value::String(id.into()));
        o.insert(
            "meta".into(),
            json!({"resourceType": resource_type, "created": ts(created), "lastModified": ts(modified), "version": etag(version)}),
        );
    }
    resource
}

/// The served form: add `meta.location`.
pub fn served(mut resource: Value, location: &str) -> Value {
    if let Some(meta) = resource.get_mut("meta").and_then(Value::as_object_mut) {
        meta.insert("location".into(), Value::String(location.into()));
    }
    resource
}

/// Apply `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5): comma-separated
/// attribute paths (top-level or `parent.sub`), case-insensitive. `id` and `schemas`
/// are always returned.
pub fn project(resource: &Value, attributes: Option<&str>, excluded: Option<&str>) -> Value {
    let list = |s: Option<&str>| -> Vec<Vec<String>> {
        s.map(|s| {
            s.split(',')
                .map(|p| {
                    let p = p.trim();
                    let p = p
                        .rsplit_once(':')
                        .map(|(_, tail)| tail)
                        .filter(|_| p.starts_with("urn:"))
                        .unwrap_or(p);
                    p.split('.').map(|x| x.to_ascii_lowercase()).collect()
                })
                .filter(|v: &Vec<String>| v.first().is_some_and(|f| !f.is_empty()))
                .collect()
        })
        .unwrap_or_default()
    };
    let Some(obj) = resource.as_object() else {
        return resource.clone();
    };
    let include = list(attributes);
    let exclude = list(excluded);
    let mut out = Map::new();
    for (k, v) in obj {
        let kl = k.to_ascii_lowercase();
        let always = kl == "id" || kl == "schemas";
        if !include.is_empty() && !always {
            let subs: Vec<&Vec<String>> =
                include.iter().filter(|p| p.first() == Some(&kl)).collect();
            if subs.is_empty() {
                continue;
            }
            if subs.iter().any(|p| p.len() == 1) {
                out.insert(k.clone(), v.clone());
            } else if let Some(inner) = v.as_object() {
                let keep: Map<String, Value> = inner
                    .iter()
                    .filter(|(ik, _)| {
                        subs.iter()
                            .any(|p| p.get(1).is_some_and(|s| s.eq_ignore_ascii_case(ik)))
                    })
                    .map(|(ik, iv)| (ik.clone(), iv.clone()))
                    .collect();
                out.insert(k.clone(), Value::Object(keep));
            }
            continue;
        }
        if !always
            && exclude
                .iter()
                .any(|p| p.len() == 1 && p.first() == Some(&kl))
        {
            continue;
        }
        out.insert(k.clone(), v.clone());
    }
    Value::Object(out)
}

/// A ListResponse page.
pub fn list_response(total: i64, start_index: i64, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [SCHEMA_LIST],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// The primary (else first) email value of a user resource.
pub fn primary_email(user: &Value) -> String {
    let emails = user
        .as_object()
        .and_then(|o| get_ci(o, "emails"))
        .and_then(Value::as_array);
    let pick = emails.and_then(|a| {
        a.iter()
            .find(|e| e.get("primary").and_then(as_bool) == Some(true))
            .or_else(|| a.first())
    });
    pick.and_then(|e| e.get("value"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// A display name for a user: displayName, else name.formatted, else given + family.
pub fn display_name(user: &Value) -> String {
    let o = user.as_object();
    if let Some(d) = o
        .and_then(|o| get_ci(o, "displayName"))
        .and_then(Value::as_str)
    {
        return d.to_string();
    }
    let name = o.and_then(|o| get_ci(o, "name")).and_then(Value::as_object);
    if let Some(f) = name
        .and_then(|n| get_ci(n, "formatted"))
        .and_then(Value::as_str)
    {
        return f.to_string();
    }
    let part = |k| {
        name.and_then(|n| get_ci(n, k))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    format!("{} {}", part("givenName"), part("familyName"))
        .trim()
        .to_string()
}

/// Read a user attribute by a simple SCIM path (`userName`, `externalId`,
/// `emails.value` = primary email, `name.givenName`, enterprise `employeeNumber`).
pub fn attribute_text(user: &Value, path: &str) -> Option<String> {
    let o = user.as_object()?;
    if path.eq_ignore_ascii_case("emails.value") || path.eq_ignore_ascii_case("emails") {
        let e = primary_email(user);
        return (!e.is_empty()).then_some(e);
    }
    if let Some(attr) = path.strip_prefix(&format!("{SCHEMA_ENTERPRISE}:")) {
        return get_ci(o, SCHEMA_ENTERPRISE)?
            .as_object()
            .and_then(|x| get_ci(x, attr))?
            .as_str()
            .map(str::to_string);
    }
    match path.split_once('.') {
        Some((parent, sub)) => get_ci(get_ci(o, parent)?.as_object()?, sub)?
            .as_str()
            .map(str::to_string),
        None => match get_ci(o, path)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        },
    }
    .map(|s| s.trim().to_string())
    .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_normalisation() {
        let u = normalize_user(&json!({"schemas":[SCHEMA_USER],"userName":" jd@x ","password":"p","id":"forged","active":"False",
                                         "emails":[{"value":"a@x","primary":false},{"value":"b@x","primary":"true"}]}))
        .unwrap();
        assert_eq!(u["userName"], "jd@x");
        assert_eq!(u["active"], false);
        assert!(u.get("password").is_none() && u.get("id").is_none());
        assert_eq!(primary_email(&u), "b@x");
        assert_eq!(
            normalize_user(&json!({"name":{}})).unwrap_err().scim_type,
            Some("invalidValue")
        );
        assert_eq!(
            normalize_user(&json!([1])).unwrap_err().scim_type,
            Some("invalidSyntax")
        );
    }

    #[test]
    fn projection() {
        let r = json!({"id":"1","schemas":[],"userName":"a","name":{"givenName":"G","familyName":"F"},"emails":[]});
        let p = project(&r, Some("userName,name.givenName"), None);
        assert_eq!(
            p,
            json!({"id":"1","schemas":[],"userName":"a","name":{"givenName":"G"}})
        );
        let p = project(&r, None, Some("emails,id"));
        assert!(p.get("emails").is_none() && p.get("id").is_some());
    }

    #[test]
    fn group_members_deduplicated() {
        let g = normalize_group(&json!({"displayName":"Sales","members":[{"value":"a"},{"value":"a"},{"value":"b","display":"B"}]})).unwrap();
        assert_eq!(member_ids(&g), vec!["a", "b"]);
        assert!(
            normalize_group(&json!({"displayName":"x","members":[{"display":"no value"}]}))
                .is_err()
        );
    }
}
