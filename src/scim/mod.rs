//! SCIM 2.0 provisioning (RFC 7643/7644): the User/Group schemas, filters (parsing,
//! in-memory evaluation, SQL translation for SQLite and PostgreSQL), PATCH application,
//! resource rules and discovery documents. Pure: no I/O, clock or database access; the
//! HTTP (`web::scim`) and storage (`store::scim`) layers call into it through
//! `web::scim_engine`.
//!
//! See `docs/adr/0008-scim-filter-and-patch.md`.

mod coerce;
mod dialect;
pub mod discovery;
mod eval;
pub mod filter;
mod lex;
pub mod patch;
mod patch_json;
pub mod resource;
pub mod schema;
mod sort;
pub mod sql;

pub use filter::{FilterError, PatchPath, matches, parse_filter, parse_path};
pub use patch::{PatchError, PatchOutcome, ScimType, apply};
pub use schema::{ResourceSchema, group_schema, user_schema};
pub use sql::{
    ColumnMap, Dialect, Fragment, GROUP_COLUMNS, SqlValue, USER_COLUMNS, filter_to_sql, order_by,
    to_sql,
};
