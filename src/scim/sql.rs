//! Translate a parsed [`Filter`] into a SQL `WHERE` fragment, and `sortBy` into an
//! `ORDER BY` expression, for SQLite or PostgreSQL ([`Dialect`]).
//!
//! The table holds the full SCIM resource as JSON **text** in one column (`resource`; in
//! PostgreSQL too, so that sqlx `Any` binds it as a string) plus optional indexed copies of
//! some top-level attributes, described by a [`ColumnMap`] ([`USER_COLUMNS`],
//! [`GROUP_COLUMNS`]). Everything else is read from the JSON:
//!
//! | | SQLite (JSON1) | PostgreSQL (`jsonb`) |
//! |---|---|---|
//! | one value | `json_extract(resource, '$."name"."givenName"')` | `((resource::jsonb) #> '{"name","givenName"}')` |
//! | some value of a multi-valued attribute | `EXISTS (SELECT 1 FROM json_each(resource, '$."emails"') AS e1 WHERE …)` | `EXISTS (SELECT 1 FROM jsonb_array_elements(CASE jsonb_typeof(j) WHEN 'array' THEN j WHEN 'object' THEN jsonb_build_array(j) END) AS e1(value) WHERE …)` |
//! | ASCII case folding | `lower(x)` | `translate(x, 'A…Z', 'a…z')` ([`Dialect::ascii_lower`]) |
//! | `co` / `sw` / `ew` | `instr(x, $n) > 0` / `instr(x, $n) = 1` / `substr(x, -length($n)) = $n` | `strpos(x, $n) > 0` / `starts_with(x, $n)` / `right(x, length($n)) = $n` |
//! | `not` | `NOT IFNULL(…, 0)` | `NOT COALESCE(…, FALSE)` |
//! | string order (`gt`…, `sortBy`) | BINARY (bytes) | `COLLATE "C"` (bytes) |
//!
//! **Placeholders are numbered, `$N`, in both dialects** (sqlx's SQLite driver maps `$N`
//! to the N-th bound argument, as PostgreSQL does). A fragment uses `$first` up to
//! `$(next_placeholder - 1)`, each once or more, and [`Fragment::binds`] are the values
//! for them in order; the caller binds its own arguments before (`tenant_id = $1`) and
//! after (`LIMIT $k OFFSET $k+1`, from [`Fragment::next_placeholder`]). Every literal from
//! the filter is bound; the only text inlined is column names from the [`ColumnMap`] and
//! JSON paths built from the static schema names (checked to be `[A-Za-z0-9$:._-]`), so
//! the fragment is injection-proof.
//!
//! Semantics match the in-memory evaluator (`filter::matches`), checked on both engines
//! by `tests/integration/scim_sql.rs`:
//! - `caseExact: false` strings compare after **ASCII-only** lower-casing (`É` stays `É`):
//!   SQLite's `lower()` folds ASCII only; PostgreSQL's `lower()` folds all of Unicode,
//!   so PostgreSQL uses `translate`. A [`ColumnKind::AsciiLowercase`] column must hold
//!   exactly [`Dialect::ascii_lower`] of the value:
//!   - SQLite: `user_name_lc TEXT GENERATED ALWAYS AS (lower(user_name)) VIRTUAL`;
//!   - PostgreSQL: `user_name_lc TEXT COLLATE "C" GENERATED ALWAYS AS
//!     (translate(user_name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'))
//!     STORED` (`COLLATE "C"` so that an index on it serves the range comparisons and
//!     `ORDER BY`, which are written `COLLATE "C"`); `display_name_lc` likewise.
//! - A [`ColumnKind::Bool`] column is `INTEGER` 0/1 in SQLite and `BOOLEAN` in
//!   PostgreSQL (`active`); it is compared with a bound boolean.
//! - Strings order byte-wise (Rust `str` order = SQLite BINARY = PostgreSQL `"C"`, whatever
//!   the database's default collation); dateTimes compare as strings (ISO 8601 UTC).
//! - `co`/`sw`/`ew` without `LIKE` (no wildcard escaping, no case surprises).
//! - A missing attribute, `null` or a value of the wrong JSON type never matches a
//!   comparison; `not` never turns such a `NULL` into a match (`ne v` = `not (eq v)`
//!   matches a missing attribute). The fragment may itself evaluate to `NULL` for a
//!   non-matching row: use it in `WHERE`, or wrap it in `IFNULL`/`COALESCE`.
//! - `pr`: present and not `null`, `""`, `[]` or `{}`.
//! - Multi-valued attributes: some value matches (`EXISTS` over the elements).
//!
//! PostgreSQL reads every JSON value as `jsonb` and checks its type (`jsonb_typeof`)
//! before casting, so a stored value of an unexpected type is "no match", never a query
//! error. SQLite's JSON1 is untyped at that level; on well-formed resources both engines
//! agree (see the ADR for the differences on ill-typed JSON). Casting `resource::jsonb`
//! at every reference is the slow part on PostgreSQL: with a generated
//! `resource_jsonb JSONB GENERATED ALWAYS AS (resource::jsonb) STORED` column named in
//! [`ColumnMap::jsonb_column`] the fragments read it instead. A `\u0000` escape in a
//! stored string makes that cast fail (PostgreSQL text cannot hold NUL).

pub use super::dialect::Dialect;
use super::dialect::{
    cmp_sql, json_value, keys, pg_elements, pg_non_empty, pg_text, pg_typed, sqlite_element,
    sqlite_path,
};
use super::filter::{AttrPath, CompValue, CompareOp, Filter, FilterError, parse_filter};
use super::schema::ResourceSchema;
pub use super::sort::order_by;

/// A value to bind to a fragment's placeholders (`binds[i]` is `$(first + i)`).
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Text(String),
    Int(i64),
    Real(f64),
    Bool(bool),
    Null,
}

/// A translated filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Fragment {
    /// The condition; its placeholders are `$first` … `$(next_placeholder - 1)`.
    pub sql: String,
    /// The values of those placeholders, in order.
    pub binds: Vec<SqlValue>,
    /// The first number the fragment does not use (`first + binds.len()`): the caller's
    /// next placeholder.
    pub next_placeholder: usize,
}

/// How an indexed column stores its attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// The value as is (`scim_id`, `external_id`).
    Exact,
    /// [`Dialect::ascii_lower`] of the value: `user_name_lc`, `display_name_lc`.
    AsciiLowercase,
    /// A boolean: `INTEGER` 0/1 in SQLite, `BOOLEAN` in PostgreSQL (`active`).
    Bool,
}

/// A real column holding a copy of a top-level core attribute.
#[derive(Debug, Clone, Copy)]
pub struct IndexedColumn {
    pub attribute: &'static str,
    pub column: &'static str,
    pub kind: ColumnKind,
}

/// The table layout the translation targets.
#[derive(Debug, Clone, Copy)]
pub struct ColumnMap {
    /// The JSON text column with the full resource.
    pub json_column: &'static str,
    /// PostgreSQL only: a `JSONB` column holding the same resource
    /// (`resource_jsonb JSONB GENERATED ALWAYS AS (resource::jsonb) STORED`), read instead
    /// of casting `json_column` at every reference. `None`: cast `(resource::jsonb)`.
    pub jsonb_column: Option<&'static str>,
    pub columns: &'static [IndexedColumn],
}

impl ColumnMap {
    /// The indexed column holding `path`, if any (top-level core attributes only).
    pub(super) fn column(&self, path: &AttrPath) -> Option<(&'static str, ColumnKind)> {
        if path.extension.is_some() || path.sub.is_some() {
            return None;
        }
        self.columns
            .iter()
            .find(|c| c.attribute == path.attr.name)
            .map(|c| (c.column, c.kind))
    }

    /// The resource as JSON text (SQLite) or `jsonb` (PostgreSQL).
    pub(super) fn json_source(&self, dialect: Dialect) -> String {
        let col = self.json_column;
        match (dialect, self.jsonb_column) {
            (Dialect::Sqlite, _) => col.to_string(),
            (Dialect::Postgres, Some(jsonb)) => jsonb.to_string(),
            (Dialect::Postgres, None) => format!("({col}::jsonb)"),
        }
    }
}

pub const USER_COLUMNS: ColumnMap = ColumnMap {
    json_column: "resource",
    jsonb_column: Some("resource_jsonb"),
    columns: &[
        IndexedColumn {
            attribute: "id",
            column: "scim_id",
            kind: ColumnKind::Exact,
        },
        IndexedColumn {
            attribute: "userName",
            column: "user_name_lc",
            kind: ColumnKind::AsciiLowercase,
        },
        IndexedColumn {
            attribute: "externalId",
            column: "external_id",
            kind: ColumnKind::Exact,
        },
        IndexedColumn {
            attribute: "active",
            column: "active",
            kind: ColumnKind::Bool,
        },
    ],
};

pub const GROUP_COLUMNS: ColumnMap = ColumnMap {
    json_column: "resource",
    jsonb_column: Some("resource_jsonb"),
    columns: &[
        IndexedColumn {
            attribute: "id",
            column: "scim_id",
            kind: ColumnKind::Exact,
        },
        IndexedColumn {
            attribute: "displayName",
            column: "display_name_lc",
            kind: ColumnKind::AsciiLowercase,
        },
        IndexedColumn {
            attribute: "externalId",
            column: "external_id",
            kind: ColumnKind::Exact,
        },
    ],
};

/// Translate a parsed filter into a `WHERE` fragment whose placeholders start at
/// `$first_placeholder` (1 if given 0).
pub fn to_sql(
    filter: &Filter,
    mapping: &ColumnMap,
    dialect: Dialect,
    first_placeholder: usize,
) -> Fragment {
    let mut t = Tr::new(mapping, dialect, first_placeholder);
    let sql = t.filter(filter, &Base::root(mapping, dialect));
    Fragment {
        sql,
        binds: t.binds,
        next_placeholder: t.next,
    }
}

/// Parse a `filter` parameter and translate it (the usual entry point).
pub fn filter_to_sql(
    input: &str,
    schema: &'static ResourceSchema,
    mapping: &ColumnMap,
    dialect: Dialect,
    first_placeholder: usize,
) -> Result<Fragment, FilterError> {
    Ok(to_sql(
        &parse_filter(input, schema)?,
        mapping,
        dialect,
        first_placeholder,
    ))
}

struct Tr<'m> {
    map: &'m ColumnMap,
    dialect: Dialect,
    binds: Vec<SqlValue>,
    /// The next placeholder number.
    next: usize,
    aliases: usize,
}

/// Where paths are evaluated: a JSON source expression and a path prefix within it.
struct Base {
    /// JSON text (SQLite) or `jsonb` (PostgreSQL).
    src: String,
    prefix: Vec<&'static str>,
    /// The row's resource itself (indexed columns apply).
    root: bool,
}

impl Base {
    fn root(map: &ColumnMap, dialect: Dialect) -> Base {
        Base {
            src: map.json_source(dialect),
            prefix: Vec::new(),
            root: true,
        }
    }
}

/// What a leaf compares.
enum Operand {
    /// From the JSON: an SQL value (SQLite) or a `jsonb` value (PostgreSQL).
    Json(String),
    /// An indexed column.
    Column(&'static str, ColumnKind),
}

impl Tr<'_> {
    fn new(map: &ColumnMap, dialect: Dialect, first: usize) -> Tr<'_> {
        Tr {
            map,
            dialect,
            binds: Vec::new(),
            next: first.max(1),
            aliases: 0,
        }
    }

    fn column(&self, path: &AttrPath) -> Option<(&'static str, ColumnKind)> {
        self.map.column(path)
    }

    fn bind(&mut self, v: SqlValue) -> String {
        let p = format!("${}", self.next);
        self.binds.push(v);
        self.next += 1;
        p
    }

    fn alias(&mut self) -> String {
        self.aliases += 1;
        format!("e{}", self.aliases)
    }

    fn filter(&mut self, f: &Filter, base: &Base) -> String {
        match f {
            Filter::And(a, b) => format!("({} AND {})", self.filter(a, base), self.filter(b, base)),
            Filter::Or(a, b) => format!("({} OR {})", self.filter(a, base), self.filter(b, base)),
            Filter::Not(inner) => {
                let inner = self.filter(inner, base);
                match self.dialect {
                    Dialect::Sqlite => format!("NOT IFNULL({inner}, 0)"),
                    Dialect::Postgres => format!("NOT COALESCE({inner}, FALSE)"),
                }
            }
            Filter::Present(path) => self.present(path, base),
            Filter::Compare(path, op, v) => {
                self.on_values(path, base, |t, x| t.leaf(x, path, *op, v))
            }
            Filter::ValuePath(path, inner) => self.value_path(path, inner, base),
        }
    }

    /// `attr[inner]`: some value (element, or the object itself) satisfies `inner`.
    fn value_path(&mut self, path: &AttrPath, inner: &Filter, base: &Base) -> String {
        let list = keys(&base.prefix, path, false);
        match self.dialect {
            Dialect::Sqlite if path.attr.multi_valued => {
                let a = self.alias();
                let elem = Base {
                    src: sqlite_element(&a),
                    prefix: Vec::new(),
                    root: false,
                };
                let cond = self.filter(inner, &elem);
                format!(
                    "EXISTS (SELECT 1 FROM json_each({}, '{}') AS {a} WHERE {cond})",
                    base.src,
                    sqlite_path(&list)
                )
            }
            Dialect::Sqlite => {
                // A single-valued complex attribute: only when it is there (else a
                // `not (…)` inside would match a resource without it).
                let p = sqlite_path(&list);
                let obj = Base {
                    src: base.src.clone(),
                    prefix: list,
                    root: false,
                };
                let cond = self.filter(inner, &obj);
                format!("(json_type({}, '{p}') = 'object' AND {cond})", base.src)
            }
            Dialect::Postgres => {
                let a = self.alias();
                let j = json_value(self.dialect, &base.src, &list);
                let elem = Base {
                    src: format!("{a}.value"),
                    prefix: Vec::new(),
                    root: false,
                };
                let cond = self.filter(inner, &elem);
                format!(
                    "EXISTS (SELECT 1 FROM {} WHERE {cond})",
                    pg_elements(&j, &format!("{a}(value)"), false)
                )
            }
        }
    }

    /// Build a predicate on each value of `path` (an `EXISTS` over a multi-valued
    /// attribute).
    fn on_values(
        &mut self,
        path: &AttrPath,
        base: &Base,
        leaf: impl FnOnce(&mut Self, Operand) -> String,
    ) -> String {
        if base.root
            && let Some((col, kind)) = self.column(path)
            && (kind != ColumnKind::AsciiLowercase || path.target().folds_case())
        {
            return leaf(self, Operand::Column(col, kind));
        }
        if path.attr.multi_valued {
            let a = self.alias();
            let list = keys(&base.prefix, path, false);
            let sub: Vec<&str> = path.sub.map(|s| s.name).into_iter().collect();
            return match self.dialect {
                Dialect::Sqlite => {
                    let x = if sub.is_empty() {
                        format!("{a}.value")
                    } else {
                        json_value(self.dialect, &sqlite_element(&a), &sub)
                    };
                    let cond = leaf(self, Operand::Json(x));
                    format!(
                        "EXISTS (SELECT 1 FROM json_each({}, '{}') AS {a} WHERE {cond})",
                        base.src,
                        sqlite_path(&list)
                    )
                }
                Dialect::Postgres => {
                    let x = json_value(self.dialect, &format!("{a}.value"), &sub);
                    let cond = leaf(self, Operand::Json(x));
                    let j = json_value(self.dialect, &base.src, &list);
                    format!(
                        "EXISTS (SELECT 1 FROM {} WHERE {cond})",
                        pg_elements(&j, &format!("{a}(value)"), false)
                    )
                }
            };
        }
        let x = json_value(self.dialect, &base.src, &keys(&base.prefix, path, true));
        leaf(self, Operand::Json(x))
    }

    fn present(&mut self, path: &AttrPath, base: &Base) -> String {
        let whole = (path.attr.multi_valued && path.sub.is_none()) || path.target().is_complex();
        match self.dialect {
            Dialect::Sqlite if path.attr.multi_valued && path.sub.is_none() => format!(
                "IFNULL(json_array_length({}, '{}'), 0) > 0",
                base.src,
                sqlite_path(&keys(&base.prefix, path, false))
            ),
            Dialect::Sqlite if whole => {
                let p = sqlite_path(&keys(&base.prefix, path, true));
                format!(
                    "(json_type({src}, '{p}') = 'object' AND json_extract({src}, '{p}') <> '{{}}')",
                    src = base.src
                )
            }
            Dialect::Sqlite => self.on_values(path, base, |_, x| {
                let x = match x {
                    Operand::Json(x) => x,
                    Operand::Column(c, _) => c.to_string(),
                };
                format!("({x} IS NOT NULL AND {x} <> '')")
            }),
            Dialect::Postgres if whole => pg_non_empty(&json_value(
                self.dialect,
                &base.src,
                &keys(&base.prefix, path, true),
            )),
            Dialect::Postgres => self.on_values(path, base, |_, x| match x {
                Operand::Json(j) => pg_non_empty(&j),
                Operand::Column(c, ColumnKind::Bool) => format!("{c} IS NOT NULL"),
                Operand::Column(c, _) => format!("({c} IS NOT NULL AND {c} <> '')"),
            }),
        }
    }

    fn leaf(&mut self, x: Operand, path: &AttrPath, op: CompareOp, v: &CompValue) -> String {
        match self.dialect {
            Dialect::Sqlite => self.sqlite_leaf(x, path, op, v),
            Dialect::Postgres => self.pg_leaf(x, path, op, v),
        }
    }

    fn sqlite_leaf(&mut self, x: Operand, path: &AttrPath, op: CompareOp, v: &CompValue) -> String {
        let (x, folded) = match x {
            Operand::Json(x) => (x, false),
            Operand::Column(c, kind) => (c.to_string(), kind == ColumnKind::AsciiLowercase),
        };
        match v {
            CompValue::Bool(b) => format!("{x} = {}", self.bind(SqlValue::Bool(*b))),
            CompValue::Num(n) => format!("{x} {} {}", cmp_sql(op), self.bind(num(n))),
            CompValue::Str(s) => {
                let (lhs, needle) = self.fold(x, folded, path, s);
                match op {
                    CompareOp::Co | CompareOp::Sw | CompareOp::Ew if needle.is_empty() => {
                        format!("{lhs} IS NOT NULL")
                    }
                    CompareOp::Co => {
                        format!("instr({lhs}, {}) > 0", self.bind(SqlValue::Text(needle)))
                    }
                    CompareOp::Sw => {
                        format!("instr({lhs}, {}) = 1", self.bind(SqlValue::Text(needle)))
                    }
                    CompareOp::Ew => {
                        let p = self.bind(SqlValue::Text(needle));
                        format!("substr({lhs}, -length({p})) = {p}")
                    }
                    _ => format!(
                        "{lhs} {} {}",
                        cmp_sql(op),
                        self.bind(SqlValue::Text(needle))
                    ),
                }
            }
        }
    }

    fn pg_leaf(&mut self, x: Operand, path: &AttrPath, op: CompareOp, v: &CompValue) -> String {
        match (v, x) {
            (CompValue::Bool(b), Operand::Json(j)) => {
                format!("{j} = to_jsonb({}::boolean)", self.bind(SqlValue::Bool(*b)))
            }
            (CompValue::Bool(b), Operand::Column(c, ColumnKind::Bool)) => {
                format!("{c} = {}", self.bind(SqlValue::Bool(*b)))
            }
            (CompValue::Num(n), Operand::Json(j)) => {
                let p = self.bind(num(n));
                format!(
                    "{} {} {p}",
                    pg_typed(&j, "number", &format!("({j})::numeric")),
                    cmp_sql(op)
                )
            }
            (CompValue::Str(s), Operand::Json(j)) => {
                self.pg_string(pg_text(&j), false, path, op, s)
            }
            (CompValue::Str(s), Operand::Column(c, kind)) if kind != ColumnKind::Bool => self
                .pg_string(
                    c.to_string(),
                    kind == ColumnKind::AsciiLowercase,
                    path,
                    op,
                    s,
                ),
            // A literal of another type than the column (the parser type-checks literals
            // against the schema, so this does not happen): never a match.
            _ => "FALSE".into(),
        }
    }

    /// A string comparison on PostgreSQL (`text` is a `text` expression; `folded`: an
    /// `AsciiLowercase` column).
    fn pg_string(
        &mut self,
        text: String,
        folded: bool,
        path: &AttrPath,
        op: CompareOp,
        s: &str,
    ) -> String {
        let (lhs, needle) = self.fold(text, folded, path, s);
        match op {
            CompareOp::Co | CompareOp::Sw | CompareOp::Ew if needle.is_empty() => {
                format!("{lhs} IS NOT NULL")
            }
            CompareOp::Co => format!("strpos({lhs}, {}) > 0", self.bind(SqlValue::Text(needle))),
            CompareOp::Sw => format!("starts_with({lhs}, {})", self.bind(SqlValue::Text(needle))),
            CompareOp::Ew => {
                let p = self.bind(SqlValue::Text(needle));
                format!("right({lhs}, length({p})) = {p}")
            }
            CompareOp::Eq => format!("{lhs} = {}", self.bind(SqlValue::Text(needle))),
            // Byte order whatever the column's or the database's collation.
            _ => format!(
                "{lhs} COLLATE \"C\" {} {}",
                cmp_sql(op),
                self.bind(SqlValue::Text(needle))
            ),
        }
    }

    /// The left-hand side and the needle of a string comparison, folded for
    /// `caseExact: false` (`folded`: `lhs` is an `AsciiLowercase` column already).
    fn fold(&self, lhs: String, folded: bool, path: &AttrPath, s: &str) -> (String, String) {
        if path.target().folds_case() {
            let lhs = if folded {
                lhs
            } else {
                self.dialect.ascii_lower(&lhs)
            };
            (lhs, s.to_ascii_lowercase())
        } else {
            (lhs, s.to_string())
        }
    }
}

fn num(n: &serde_json::Number) -> SqlValue {
    match n.as_i64() {
        Some(i) => SqlValue::Int(i),
        None => SqlValue::Real(n.as_f64().unwrap_or(f64::NAN)),
    }
}
