//! Translate a parsed [`Filter`] into a SQLite `WHERE` fragment, and `sortBy` into an
//! `ORDER BY` expression.
//!
//! The table holds the full SCIM resource as JSON text in one column (`resource` by
//! default) plus optional indexed copies of some top-level attributes, described by a
//! [`ColumnMap`] ([`USER_COLUMNS`], [`GROUP_COLUMNS`]). Everything else goes through
//! JSON1: `json_extract(resource, '$."name"."givenName"')`, and multi-valued attributes
//! through `EXISTS (SELECT 1 FROM json_each(resource, '$."emails"') AS e1 WHERE …)`.
//!
//! **Binds are plain `?` placeholders**, numbered by position: the returned values are
//! bound in order, after any `?` the caller puts before the fragment (do not mix with
//! `?NNN`/`$N` in the same statement). Every literal from the filter is bound; the only
//! text inlined is column names from the [`ColumnMap`] and JSON paths built from the
//! static schema names (checked to be `[A-Za-z0-9$:._-]`), so the fragment is
//! injection-proof.
//!
//! Semantics match the in-memory evaluator (`filter::matches`): ASCII case folding via
//! `lower()` for `caseExact: false` strings (an `AsciiLowercase` column must hold
//! `lower(value)`), `co`/`sw`/`ew` via `instr`/`substr` (no `LIKE`, so no wildcard
//! escaping and no case surprises), `not` as `NOT IFNULL((…), 0)` so a missing attribute
//! never turns a negation into SQL `NULL`. The fragment may itself evaluate to `NULL` for
//! a non-matching row: use it in `WHERE`, or wrap it in `IFNULL(…, 0)`.

use super::filter::{
    AttrPath, CompValue, CompareOp, Filter, FilterError, PatchPath, parse_filter, parse_path,
};
use super::schema::ResourceSchema;

/// A value to bind, in order, to the `?` placeholders of a fragment.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Text(String),
    Int(i64),
    Real(f64),
    Bool(bool),
    Null,
}

/// How an indexed column stores its attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// The value as is (`scim_id`, `external_id`).
    Exact,
    /// `lower(value)` (ASCII folding, as SQLite's `lower()`): `user_name_lc`, `display_name_lc`.
    AsciiLowercase,
    /// A boolean as 0/1 (`active`).
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
    pub columns: &'static [IndexedColumn],
}

pub const USER_COLUMNS: ColumnMap = ColumnMap {
    json_column: "resource",
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

/// Translate a parsed filter into a `WHERE` fragment and its binds.
pub fn to_sql(filter: &Filter, mapping: &ColumnMap) -> (String, Vec<SqlValue>) {
    let mut t = Tr {
        map: mapping,
        binds: Vec::new(),
        aliases: 0,
    };
    let base = Base {
        src: mapping.json_column.to_string(),
        prefix: "$".into(),
        root: true,
    };
    let sql = t.filter(filter, &base);
    (sql, t.binds)
}

/// Parse a `filter` parameter and translate it (the usual entry point).
pub fn filter_to_sql(
    input: &str,
    schema: &'static ResourceSchema,
    mapping: &ColumnMap,
) -> Result<(String, Vec<SqlValue>), FilterError> {
    Ok(to_sql(&parse_filter(input, schema)?, mapping))
}

/// The `ORDER BY` expression for `sortBy` (the caller appends `ASC`/`DESC` and a
/// tiebreaker such as `scim_id`). Case-insensitive strings sort by their lower-case form;
/// a multi-valued attribute sorts by its primary (else first) value (RFC 7644 §3.4.2.3).
pub fn order_by(
    attr_path: &str,
    schema: &'static ResourceSchema,
    mapping: &ColumnMap,
) -> Result<String, FilterError> {
    let path = match parse_path(attr_path, schema) {
        Ok(PatchPath::Attr(p)) => p,
        Ok(_) => {
            return Err(FilterError::new(format!(
                "sortBy '{attr_path}' must be a plain attribute path"
            )));
        }
        Err(e) => return Err(e),
    };
    let target = if path.attr.multi_valued && path.sub.is_none() {
        path.attr.sub("value")
    } else {
        Some(path.target())
    }
    .filter(|t| !t.is_complex())
    .ok_or_else(|| FilterError::new(format!("cannot sort by the complex attribute '{path}'")))?;
    let fold = |x: String| {
        if target.folds_case() {
            format!("lower({x})")
        } else {
            x
        }
    };
    let t = Tr {
        map: mapping,
        binds: Vec::new(),
        aliases: 0,
    };
    if let Some((col, kind)) = t.column(&path) {
        return Ok(if kind == ColumnKind::Exact {
            fold(col.to_string())
        } else {
            col.to_string()
        });
    }
    let src = mapping.json_column;
    if path.attr.multi_valued {
        let list = json_path("$", &path, false);
        let primary = if path.attr.sub("primary").is_some() {
            "IFNULL(json_extract(s.value, '$.\"primary\"'), 0) DESC, "
        } else {
            ""
        };
        return Ok(format!(
            "(SELECT {} FROM json_each({src}, '{list}') AS s ORDER BY {primary}s.key LIMIT 1)",
            fold(format!("json_extract(s.value, '$.\"{}\"')", target.name))
        ));
    }
    Ok(fold(format!(
        "json_extract({src}, '{}')",
        json_path("$", &path, true)
    )))
}

struct Tr<'m> {
    map: &'m ColumnMap,
    binds: Vec<SqlValue>,
    aliases: usize,
}

/// Where paths are evaluated: a JSON source expression and a path prefix within it.
struct Base {
    src: String,
    prefix: String,
    /// The row's resource itself (indexed columns apply).
    root: bool,
}

/// `$."ext"."attr"` (+ `."sub"` when `with_sub`).
fn json_path(prefix: &str, path: &AttrPath, with_sub: bool) -> String {
    let mut p = prefix.to_string();
    if let Some(e) = path.extension {
        p.push_str(&format!(".\"{}\"", e.urn));
    }
    p.push_str(&format!(".\"{}\"", path.attr.name));
    if with_sub && let Some(s) = path.sub {
        p.push_str(&format!(".\"{}\"", s.name));
    }
    p
}

impl Tr<'_> {
    fn column(&self, path: &AttrPath) -> Option<(&'static str, ColumnKind)> {
        if path.extension.is_some() || path.sub.is_some() {
            return None;
        }
        self.map
            .columns
            .iter()
            .find(|c| c.attribute == path.attr.name)
            .map(|c| (c.column, c.kind))
    }

    fn bind(&mut self, v: SqlValue) -> &'static str {
        self.binds.push(v);
        "?"
    }

    fn alias(&mut self) -> String {
        self.aliases += 1;
        format!("e{}", self.aliases)
    }

    fn filter(&mut self, f: &Filter, base: &Base) -> String {
        match f {
            Filter::And(a, b) => format!("({} AND {})", self.filter(a, base), self.filter(b, base)),
            Filter::Or(a, b) => format!("({} OR {})", self.filter(a, base), self.filter(b, base)),
            Filter::Not(inner) => format!("NOT IFNULL({}, 0)", self.filter(inner, base)),
            Filter::Present(path) => self.present(path, base),
            Filter::Compare(path, op, v) => {
                self.on_values(path, base, |t, x, folded| t.leaf(x, folded, path, *op, v))
            }
            Filter::ValuePath(path, inner) => {
                let list = json_path(&base.prefix, path, false);
                if path.attr.multi_valued {
                    let a = self.alias();
                    let elem = Base {
                        src: format!("{a}.value"),
                        prefix: "$".into(),
                        root: false,
                    };
                    let cond = self.filter(inner, &elem);
                    format!(
                        "EXISTS (SELECT 1 FROM json_each({}, '{list}') AS {a} WHERE {cond})",
                        base.src
                    )
                } else {
                    let obj = Base {
                        src: base.src.clone(),
                        prefix: list,
                        root: false,
                    };
                    self.filter(inner, &obj)
                }
            }
        }
    }

    /// Build a predicate on each value of `path` (an `EXISTS` over a multi-valued
    /// attribute). The closure gets the SQL expression and whether it is already
    /// lower-cased (an `AsciiLowercase` column).
    fn on_values(
        &mut self,
        path: &AttrPath,
        base: &Base,
        leaf: impl FnOnce(&mut Self, String, bool) -> String,
    ) -> String {
        if base.root
            && let Some((col, kind)) = self.column(path)
            && (kind != ColumnKind::AsciiLowercase || path.target().folds_case())
        {
            return leaf(self, col.to_string(), kind == ColumnKind::AsciiLowercase);
        }
        if path.attr.multi_valued {
            let a = self.alias();
            let list = json_path(&base.prefix, path, false);
            let x = match path.sub {
                Some(s) => format!("json_extract({a}.value, '$.\"{}\"')", s.name),
                None => format!("{a}.value"),
            };
            let cond = leaf(self, x, false);
            return format!(
                "EXISTS (SELECT 1 FROM json_each({}, '{list}') AS {a} WHERE {cond})",
                base.src
            );
        }
        let x = format!(
            "json_extract({}, '{}')",
            base.src,
            json_path(&base.prefix, path, true)
        );
        leaf(self, x, false)
    }

    fn present(&mut self, path: &AttrPath, base: &Base) -> String {
        let target = path.target();
        if path.attr.multi_valued && path.sub.is_none() {
            return format!(
                "IFNULL(json_array_length({}, '{}'), 0) > 0",
                base.src,
                json_path(&base.prefix, path, false)
            );
        }
        if target.is_complex() {
            let p = json_path(&base.prefix, path, true);
            return format!(
                "(json_type({src}, '{p}') = 'object' AND json_extract({src}, '{p}') <> '{{}}')",
                src = base.src
            );
        }
        self.on_values(path, base, |_, x, _| {
            format!("({x} IS NOT NULL AND {x} <> '')")
        })
    }

    fn leaf(
        &mut self,
        x: String,
        folded: bool,
        path: &AttrPath,
        op: CompareOp,
        v: &CompValue,
    ) -> String {
        match v {
            CompValue::Bool(b) => format!("{x} = {}", self.bind(SqlValue::Bool(*b))),
            CompValue::Num(n) => {
                let val = match n.as_i64() {
                    Some(i) => SqlValue::Int(i),
                    None => SqlValue::Real(n.as_f64().unwrap_or(f64::NAN)),
                };
                format!("{x} {} {}", cmp_sql(op), self.bind(val))
            }
            CompValue::Str(s) => {
                let target = path.target();
                let fold = target.folds_case();
                let lhs = if fold && !folded {
                    format!("lower({x})")
                } else {
                    x
                };
                let needle = if fold {
                    s.to_ascii_lowercase()
                } else {
                    s.clone()
                };
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
                        self.binds.push(SqlValue::Text(needle.clone()));
                        self.binds.push(SqlValue::Text(needle));
                        format!("substr({lhs}, -length(?)) = ?")
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
}

fn cmp_sql(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        _ => "=",
    }
}
