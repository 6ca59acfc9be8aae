//! The bridge between the HTTP layer and the filter/PATCH engine.

use serde_json::Value;

use super::resource::ScimError;
use crate::store::{BindValue, Kind};

/// Translate a SCIM filter into a SQL condition with binds.
pub fn where_clause(_kind: Kind, _filter: &str) -> Result<(String, Vec<BindValue>), ScimError> {
    Err(ScimError::bad(
        "invalidFilter",
        "filters are not available yet",
    ))
}

/// The ORDER BY clause for `sortBy` (default: creation order).
pub fn order_clause(
    _kind: Kind,
    _sort_by: Option<&str>,
    _descending: bool,
) -> Result<String, ScimError> {
    Ok("id".into())
}

/// Apply a PatchOp body.
pub fn patch(_kind: Kind, _resource: &mut Value, _ops: &Value) -> Result<(), ScimError> {
    Err(ScimError::bad(
        "invalidSyntax",
        "PATCH is not available yet",
    ))
}
