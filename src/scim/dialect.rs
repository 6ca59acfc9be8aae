//! The SQL of each [`Dialect`]: case folding, sort direction, JSON access and the small
//! expression builders `sql` assembles fragments from. Everything inlined here is static
//! text or a schema name (see `sql`); literals are always bound by the caller.

use super::filter::{AttrPath, CompareOp};
use super::schema::{AttrType, Attribute};

/// The SQL engine a fragment is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite with JSON1 (`json_extract`, `json_each`).
    Sqlite,
    /// PostgreSQL (`jsonb` operators on `resource::jsonb`).
    Postgres,
}

const ASCII_UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ASCII_LOWER: &str = "abcdefghijklmnopqrstuvwxyz";

impl Dialect {
    /// ASCII-only lower-casing of the SQL text expression `expr`: what a
    /// [`ColumnKind::AsciiLowercase`](super::sql::ColumnKind::AsciiLowercase) column must be
    /// generated as, e.g. `Dialect::Postgres.ascii_lower("user_name")` is
    /// `translate(user_name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')`.
    pub fn ascii_lower(self, expr: &str) -> String {
        match self {
            Dialect::Sqlite => format!("lower({expr})"),
            Dialect::Postgres => format!("translate({expr}, '{ASCII_UPPER}', '{ASCII_LOWER}')"),
        }
    }

    /// The direction to append to an [`order_by`](super::sort::order_by) expression: `NULL`
    /// (a resource without the attribute) sorts first ascending and last descending on both
    /// engines, as in SQLite (PostgreSQL's default is the opposite; RFC 7644 §3.4.2.3 asks
    /// for missing values last when ascending, first when descending).
    pub fn sort_direction(self, descending: bool) -> &'static str {
        match (self, descending) {
            (Dialect::Sqlite, false) => "ASC",
            (Dialect::Sqlite, true) => "DESC",
            (Dialect::Postgres, false) => "ASC NULLS FIRST",
            (Dialect::Postgres, true) => "DESC NULLS LAST",
        }
    }
}

/// Compared and sorted as text (everything but booleans and integers).
pub(super) fn is_text(a: &Attribute) -> bool {
    !matches!(a.ty, AttrType::Boolean | AttrType::Integer)
}

/// A PostgreSQL sort key of the right type for `target` (`NULL` for a value of another
/// JSON type).
pub(super) fn pg_sort_key(j: &str, target: &Attribute, dialect: Dialect) -> String {
    match target.ty {
        AttrType::Boolean => pg_typed(j, "boolean", &format!("({j})::boolean")),
        AttrType::Integer => pg_typed(j, "number", &format!("({j})::numeric")),
        _ => {
            let t = pg_text(j);
            if target.folds_case() {
                dialect.ascii_lower(&t)
            } else {
                t
            }
        }
    }
}

/// `expr` when the `jsonb` value `j` has JSON type `ty`, else `NULL`.
pub(super) fn pg_typed(j: &str, ty: &str, expr: &str) -> String {
    format!("CASE WHEN jsonb_typeof({j}) = '{ty}' THEN {expr} END")
}

/// The text of a JSON string (`NULL` for any other JSON type).
pub(super) fn pg_text(j: &str) -> String {
    pg_typed(j, "string", &format!("{j} #>> '{{}}'"))
}

/// A `FROM` item over the elements of the `jsonb` value `j`: an array's elements, an
/// object as itself (as the evaluator does), nothing for anything else.
pub(super) fn pg_elements(j: &str, alias: &str, ordinality: bool) -> String {
    format!(
        "jsonb_array_elements(CASE jsonb_typeof({j}) WHEN 'array' THEN {j} WHEN 'object' THEN jsonb_build_array({j}) END){} AS {alias}",
        if ordinality { " WITH ORDINALITY" } else { "" }
    )
}

/// A `json_each` row's value as JSON for `json_extract`: objects only (a string element
/// is not JSON text and would make `json_extract` fail).
pub(super) fn sqlite_element(alias: &str) -> String {
    format!("(CASE WHEN {alias}.type = 'object' THEN {alias}.value END)")
}

/// `$."a"."b"`.
pub(super) fn sqlite_path(keys: &[&str]) -> String {
    let mut p = String::from("$");
    for k in keys {
        p.push_str(&format!(".\"{k}\""));
    }
    p
}

/// `'{"a","b"}'` (a `text[]` literal; the names never contain `"`, `\` or `'`).
pub(super) fn pg_path(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
    format!("'{{{}}}'", quoted.join(","))
}

/// The value at `keys` below the JSON expression `src`: an SQL value (SQLite) or `jsonb`
/// (PostgreSQL).
pub(super) fn json_value(dialect: Dialect, src: &str, keys: &[&str]) -> String {
    match dialect {
        Dialect::Sqlite => format!("json_extract({src}, '{}')", sqlite_path(keys)),
        Dialect::Postgres if keys.is_empty() => src.to_string(),
        Dialect::Postgres => format!("({src} #> {})", pg_path(keys)),
    }
}

/// `present` for a `jsonb` value: not missing, `null`, `""`, `[]` or `{}`.
pub(super) fn pg_non_empty(j: &str) -> String {
    format!(
        "COALESCE({j} NOT IN ('null'::jsonb, '\"\"'::jsonb, '[]'::jsonb, '{{}}'::jsonb), FALSE)"
    )
}

/// The keys of `ext`, `attr` (and `sub` when `with_sub`) after `prefix`.
pub(super) fn keys(prefix: &[&'static str], path: &AttrPath, with_sub: bool) -> Vec<&'static str> {
    let mut k = prefix.to_vec();
    if let Some(e) = path.extension {
        k.push(e.urn);
    }
    k.push(path.attr.name);
    if with_sub && let Some(s) = path.sub {
        k.push(s.name);
    }
    k
}

/// The SQL operator of an ordering (or `=`).
pub(super) fn cmp_sql(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        _ => "=",
    }
}
