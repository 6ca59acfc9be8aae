//! JSON helpers for PATCH: case-insensitive member access, merging, idempotent
//! multi-valued adds, and the element an `add` with an `eq` filter creates.

use serde_json::{Map, Value};

use super::eval::get_ci;
use super::filter::{AttrPath, CompValue, CompareOp, Filter, matches};
use super::schema::{Attribute, Extension, ResourceSchema};

/// For add/replace: does the filter match no element (so add must create one)?
pub(crate) fn work_container_missing_or_unmatched(
    work: &Value,
    p: &AttrPath,
    filter: &Filter,
    schema: &ResourceSchema,
) -> bool {
    let base = match p.extension {
        Some(e) => get_ci(work, e.urn),
        None => Some(work),
    };
    !base
        .and_then(|b| get_ci(b, p.attr.name))
        .and_then(Value::as_array)
        .is_some_and(|l| l.iter().any(|e| matches(filter, e, schema)))
}

/// `type eq "work" and primary eq true` → `{"type":"work","primary":true}`.
pub(crate) fn equalities(f: &Filter) -> Option<Map<String, Value>> {
    match f {
        Filter::Compare(p, CompareOp::Eq, v) => {
            let mut m = Map::new();
            let v = match v {
                CompValue::Str(s) => Value::String(s.clone()),
                CompValue::Num(n) => Value::Number(n.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
            };
            m.insert(p.attr.name.to_string(), v);
            Some(m)
        }
        Filter::And(a, b) => {
            let mut m = equalities(a)?;
            m.extend(equalities(b)?);
            Some(m)
        }
        _ => None,
    }
}

/// The object holding top-level attributes of `ext` (the resource itself for the core).
pub(crate) fn container<'a>(
    work: &'a mut Value,
    ext: Option<&'static Extension>,
    create: bool,
) -> Option<&'a mut Map<String, Value>> {
    let Some(ext) = ext else {
        return work.as_object_mut();
    };
    if create && get_ci(work, ext.urn).is_none_or(|v| !v.is_object()) {
        add_schema(work, ext.urn);
        let o = work.as_object_mut()?;
        remove_ci(o, ext.urn);
        o.insert(ext.urn.to_string(), Value::Object(Map::new()));
    }
    get_mut_ci(work.as_object_mut()?, ext.urn)?.as_object_mut()
}

/// List `urn` in the resource's `schemas` if it has such a list.
pub(crate) fn add_schema(work: &mut Value, urn: &str) {
    if let Some(list) = work.get_mut("schemas").and_then(Value::as_array_mut)
        && !list.iter().any(|u| u.as_str() == Some(urn))
    {
        list.push(Value::String(urn.to_string()));
    }
}

pub(crate) fn get_mut_ci<'a>(m: &'a mut Map<String, Value>, name: &str) -> Option<&'a mut Value> {
    let key = m
        .keys()
        .find(|k| *k == name || k.eq_ignore_ascii_case(name))?
        .clone();
    m.get_mut(&key)
}

pub(crate) fn take_ci(m: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = m
        .keys()
        .find(|k| *k == name || k.eq_ignore_ascii_case(name))?
        .clone();
    m.remove(&key)
}

pub(crate) fn remove_ci(m: &mut Map<String, Value>, name: &str) {
    m.retain(|k, _| !k.eq_ignore_ascii_case(name));
}

/// Merge the members of `v` (an object) into `obj`; a `null` member unassigns.
pub(crate) fn merge_into(obj: &mut Map<String, Value>, v: &Value) {
    for (k, sv) in v.as_object().into_iter().flatten() {
        remove_ci(obj, k);
        if !sv.is_null() {
            obj.insert(k.clone(), sv.clone());
        }
    }
}

/// Do two elements of a multi-valued attribute denote the same value?
pub(crate) fn same_element(attr: &'static Attribute, a: &Value, b: &Value) -> bool {
    let key = |v: &Value| {
        get_ci(v, "value")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    match (key(a), key(b)) {
        (Some(x), Some(y)) => match attr.sub("value") {
            Some(s) if s.case_exact => x == y,
            _ => x.eq_ignore_ascii_case(&y),
        },
        _ => a == b,
    }
}

/// Append idempotently: an element with the same `value` is updated in place. A new
/// `primary: true` clears the flag on the others (RFC 7643 §2.4).
pub(crate) fn add_element(attr: &'static Attribute, list: &mut Vec<Value>, item: Value) {
    if item.get("primary") == Some(&Value::Bool(true)) {
        for e in list.iter_mut().filter_map(Value::as_object_mut) {
            if e.get("primary") == Some(&Value::Bool(true)) {
                e.insert("primary".into(), Value::Bool(false));
            }
        }
    }
    match list.iter_mut().find(|e| same_element(attr, e, &item)) {
        Some(Value::Object(e)) => merge_into(e, &item),
        Some(_) => {}
        None => list.push(item),
    }
}
