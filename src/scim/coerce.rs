//! Type-check and normalise attribute values written by PATCH: canonical attribute
//! names, Entra's `"True"`/`"False"` booleans, a bare string for a complex attribute
//! with a `value` sub-attribute (Entra's `manager`), one object for a multi-valued
//! attribute.

use serde_json::{Map, Value};

use super::schema::{AttrType, Attribute};

/// Why a value does not fit its attribute (becomes 400 `invalidValue`).
pub(crate) type Invalid = String;

/// Normalise `v` for `attr` (single value, or the whole list when multi-valued).
/// `Value::Null` is returned unchanged: the caller treats it as "unassign".
pub(crate) fn coerce(attr: &'static Attribute, label: &str, v: &Value) -> Result<Value, Invalid> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    if attr.multi_valued {
        let items: Vec<&Value> = match v {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(coerce_one(attr, label, item)?);
        }
        return Ok(Value::Array(out));
    }
    coerce_one(attr, label, v)
}

/// One value of `attr` (an element of a multi-valued attribute, or the single value).
pub(crate) fn coerce_one(
    attr: &'static Attribute,
    label: &str,
    v: &Value,
) -> Result<Value, Invalid> {
    if attr.is_complex() {
        let obj = match v {
            Value::Object(o) => o,
            Value::String(_) if attr.sub("value").is_some() => {
                let mut m = Map::new();
                m.insert("value".into(), v.clone());
                return Ok(Value::Object(m));
            }
            _ => {
                return Err(format!(
                    "'{label}' takes an object with its sub-attributes, got {}",
                    kind(v)
                ));
            }
        };
        let mut out = Map::new();
        for (k, sv) in obj {
            let sub = attr
                .sub(k)
                .ok_or_else(|| format!("'{label}' has no sub-attribute '{k}'"))?;
            out.insert(
                sub.name.to_string(),
                scalar(sub, &format!("{label}.{}", sub.name), sv)?,
            );
        }
        return Ok(Value::Object(out));
    }
    scalar(attr, label, v)
}

/// A simple (non-complex) value; `null` passes through.
pub(crate) fn scalar(attr: &'static Attribute, label: &str, v: &Value) -> Result<Value, Invalid> {
    match (attr.ty, v) {
        (_, Value::Null) => Ok(Value::Null),
        (AttrType::Boolean, Value::Bool(_)) => Ok(v.clone()),
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => {
            Ok(Value::Bool(true))
        }
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            Ok(Value::Bool(false))
        }
        (AttrType::Boolean, _) => Err(format!("'{label}' must be true or false, got {}", kind(v))),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(v.clone()),
        (AttrType::Integer, _) => Err(format!("'{label}' must be an integer, got {}", kind(v))),
        (AttrType::String | AttrType::DateTime | AttrType::Reference, Value::String(_)) => {
            Ok(v.clone())
        }
        (AttrType::Complex, _) => Err(format!("'{label}' takes an object, got {}", kind(v))),
        (_, _) => Err(format!("'{label}' must be a string, got {}", kind(v))),
    }
}

fn kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() <= 40 => format!("\"{s}\""),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}
