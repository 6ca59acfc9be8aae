//! In-memory evaluation of a parsed [`Filter`] over a SCIM resource as JSON.
//!
//! Semantics (the same as the SQL translation in `sql`, which the differential test
//! checks):
//! - strings of attributes with `caseExact: false` compare after ASCII lower-casing
//!   (SQLite's `lower()` folds ASCII only, so both sides agree), byte-wise for
//!   `gt`/`ge`/`lt`/`le`; dates compare as strings (ISO 8601 UTC sorts lexicographically);
//! - a comparison on a multi-valued attribute matches if any value matches;
//! - a value of the wrong JSON type, `null` or a missing attribute never matches a
//!   comparison (so `not (...)`/`ne` match them);
//! - `pr`: present and not `null`, `""`, `[]` or `{}`.
//!
//! Attribute names are looked up with their canonical spelling first, then
//! case-insensitively.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::filter::{AttrPath, CompValue, CompareOp, Filter};
use super::schema::ResourceSchema;

/// Does `resource` satisfy `filter`? (`schema` is the one the filter was parsed with;
/// paths are already resolved, so it is only a guard for future use.)
pub fn matches(filter: &Filter, resource: &Value, schema: &ResourceSchema) -> bool {
    let _ = schema;
    eval(filter, resource)
}

fn eval(filter: &Filter, obj: &Value) -> bool {
    match filter {
        Filter::And(a, b) => eval(a, obj) && eval(b, obj),
        Filter::Or(a, b) => eval(a, obj) || eval(b, obj),
        Filter::Not(f) => !eval(f, obj),
        Filter::Present(path) => match (raw(path, obj), path.sub) {
            (Some(Value::Array(items)), None) => !items.is_empty(),
            _ => values(path, obj).into_iter().any(non_empty),
        },
        Filter::Compare(path, op, v) => values(path, obj)
            .into_iter()
            .any(|x| compare(path, x, *op, v)),
        Filter::ValuePath(path, inner) => match raw(path, obj) {
            Some(Value::Array(items)) => items.iter().any(|i| eval(inner, i)),
            Some(o @ Value::Object(_)) => eval(inner, o),
            _ => false,
        },
    }
}

/// Look up a member: the canonical name, else case-insensitively.
pub(crate) fn get_ci<'a>(obj: &'a Value, name: &str) -> Option<&'a Value> {
    let map = obj.as_object()?;
    map.get(name).or_else(|| find_ci(map, name).map(|(_, v)| v))
}

pub(crate) fn find_ci<'a>(
    map: &'a Map<String, Value>,
    name: &str,
) -> Option<(&'a String, &'a Value)> {
    map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name))
}

/// The value stored at the attribute (without descending into a sub-attribute).
fn raw<'a>(path: &AttrPath, obj: &'a Value) -> Option<&'a Value> {
    let base = match path.extension {
        Some(e) => get_ci(obj, e.urn)?,
        None => obj,
    };
    get_ci(base, path.attr.name)
}

/// Every value the path designates (flattening multi-valued attributes).
fn values<'a>(path: &AttrPath, obj: &'a Value) -> Vec<&'a Value> {
    let Some(v) = raw(path, obj) else {
        return Vec::new();
    };
    let out: Vec<&Value> = match (v, path.sub) {
        (Value::Array(items), None) => items.iter().collect(),
        (Value::Array(items), Some(s)) => items.iter().filter_map(|i| get_ci(i, s.name)).collect(),
        (v, Some(s)) => get_ci(v, s.name).into_iter().collect(),
        (v, None) => vec![v],
    };
    out.into_iter().filter(|v| !v.is_null()).collect()
}

fn non_empty(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn compare(path: &AttrPath, x: &Value, op: CompareOp, v: &CompValue) -> bool {
    match (x, v) {
        (Value::Bool(a), CompValue::Bool(b)) => op == CompareOp::Eq && a == b,
        (Value::Number(a), CompValue::Num(b)) => {
            let ord = match (a.as_i64(), b.as_i64()) {
                (Some(a), Some(b)) => Some(a.cmp(&b)),
                _ => a
                    .as_f64()
                    .zip(b.as_f64())
                    .and_then(|(a, b)| a.partial_cmp(&b)),
            };
            ord.is_some_and(|o| ordered(op, o))
        }
        (Value::String(a), CompValue::Str(b)) => {
            let (a, b) = if path.target().folds_case() {
                (a.to_ascii_lowercase(), b.to_ascii_lowercase())
            } else {
                (a.clone(), b.clone())
            };
            match op {
                CompareOp::Co => a.contains(&b),
                CompareOp::Sw => a.starts_with(&b),
                CompareOp::Ew => a.ends_with(&b),
                _ => ordered(op, a.as_str().cmp(b.as_str())),
            }
        }
        _ => false,
    }
}

fn ordered(op: CompareOp, o: Ordering) -> bool {
    match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}
