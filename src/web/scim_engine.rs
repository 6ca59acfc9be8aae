//! The bridge between the HTTP layer and the filter/PATCH engine: parse and translate
//! filters into SQL over the stored resources, `sortBy` into ORDER BY, and apply PatchOps.

use serde_json::Value;

use crate::scim::resource::ScimError;
use crate::scim::schema::{ResourceSchema, group_schema, user_schema};
use crate::scim::sql::{self, ColumnMap, Dialect, GROUP_COLUMNS, SqlValue, USER_COLUMNS};
use crate::store::{BindValue, Db, Kind};

fn parts(kind: Kind) -> (&'static ResourceSchema, &'static ColumnMap) {
    match kind {
        Kind::User => (user_schema(), &USER_COLUMNS),
        Kind::Group => (group_schema(), &GROUP_COLUMNS),
    }
}

fn bind(v: SqlValue) -> BindValue {
    match v {
        SqlValue::Text(s) => BindValue::Text(s),
        SqlValue::Int(i) => BindValue::Int(i),
        SqlValue::Real(f) => BindValue::Real(f),
        SqlValue::Bool(b) => BindValue::Bool(b),
        SqlValue::Null => BindValue::Null,
    }
}

/// Translate a SCIM filter into a SQL condition for `dialect` whose placeholders start at
/// `$first_placeholder`, with the values to bind to them in order; a malformed or
/// unsupported filter is a 400 `invalidFilter`, never an empty result.
pub fn where_clause(
    kind: Kind,
    filter: &str,
    dialect: Dialect,
    first_placeholder: usize,
) -> Result<(String, Vec<BindValue>), ScimError> {
    let (schema, map) = parts(kind);
    let frag =
        sql::filter_to_sql(filter, schema, map, dialect, first_placeholder).map_err(|e| {
            ScimError::bad("invalidFilter", format!("filter '{filter}': {}", e.message))
        })?;
    Ok((frag.sql, frag.binds.into_iter().map(bind).collect()))
}

/// The ORDER BY clause for `sortBy` (default: creation order), always ending with the
/// primary key so that pages are stable. No placeholders.
pub fn order_clause(
    kind: Kind,
    sort_by: Option<&str>,
    descending: bool,
    dialect: Dialect,
) -> Result<String, ScimError> {
    let Some(attr) = sort_by.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(Db::SCIM_DEFAULT_ORDER.into());
    };
    let (schema, map) = parts(kind);
    let expr = sql::order_by(attr, schema, map, dialect)
        .map_err(|e| ScimError::bad("invalidValue", format!("sortBy '{attr}': {}", e.message)))?;
    Ok(format!("{expr} {}, id", dialect.sort_direction(descending)))
}

/// Apply a PatchOp body to a resource; anything that cannot be applied is an error.
pub fn patch(kind: Kind, resource: &mut Value, ops: &Value) -> Result<(), ScimError> {
    let (schema, _) = parts(kind);
    crate::scim::patch::apply(resource, ops, schema)
        .map(|_| ())
        .map_err(|e| ScimError::bad(e.scim_type.as_str(), e.detail))
}
