//! `sortBy` (RFC 7644 §3.4.2.3) as an `ORDER BY` expression, for either [`Dialect`].

use super::dialect::{
    Dialect, is_text, json_value, keys, pg_elements, pg_sort_key, sqlite_element, sqlite_path,
};
use super::filter::{FilterError, PatchPath, parse_path};
use super::schema::ResourceSchema;
use super::sql::{ColumnKind, ColumnMap};

/// The `ORDER BY` expression for `sortBy` (the caller appends
/// [`Dialect::sort_direction`] and a tiebreaker such as the primary key). Case-insensitive
/// strings sort by their ASCII-lower-case form, strings byte-wise; a multi-valued
/// attribute sorts by its primary (else first) value (RFC 7644 §3.4.2.3). No binds.
pub fn order_by(
    attr_path: &str,
    schema: &'static ResourceSchema,
    mapping: &ColumnMap,
    dialect: Dialect,
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
            dialect.ascii_lower(&x)
        } else {
            x
        }
    };
    let pg = dialect == Dialect::Postgres;
    let collate = |x: String, text: bool| {
        if pg && text {
            format!("{x} COLLATE \"C\"")
        } else {
            x
        }
    };
    if let Some((col, kind)) = mapping.column(&path) {
        return Ok(match kind {
            ColumnKind::Exact => collate(fold(col.to_string()), true),
            ColumnKind::AsciiLowercase => collate(col.to_string(), true),
            ColumnKind::Bool => col.to_string(),
        });
    }
    let src = mapping.json_source(dialect);
    let text = is_text(target);
    if path.attr.multi_valued {
        let list = keys(&[], &path, false);
        let has_primary = path.attr.sub("primary").is_some();
        return Ok(match dialect {
            Dialect::Sqlite => {
                let elem = sqlite_element("s");
                let primary = if has_primary {
                    format!("IFNULL(json_extract({elem}, '$.\"primary\"'), 0) DESC, ")
                } else {
                    String::new()
                };
                format!(
                    "(SELECT {} FROM json_each({src}, '{}') AS s ORDER BY {primary}s.key LIMIT 1)",
                    fold(json_value(dialect, &elem, &[target.name])),
                    sqlite_path(&list)
                )
            }
            Dialect::Postgres => {
                let primary = if has_primary {
                    "COALESCE((s.value #> '{\"primary\"}') = 'true'::jsonb, FALSE) DESC, "
                } else {
                    ""
                };
                let key = pg_sort_key(
                    &json_value(dialect, "s.value", &[target.name]),
                    target,
                    dialect,
                );
                collate(
                    format!(
                        "(SELECT {key} FROM {} ORDER BY {primary}s.key LIMIT 1)",
                        pg_elements(&json_value(dialect, &src, &list), "s(value, key)", true)
                    ),
                    text,
                )
            }
        });
    }
    let j = json_value(dialect, &src, &keys(&[], &path, true));
    Ok(match dialect {
        Dialect::Sqlite => fold(j),
        Dialect::Postgres => collate(pg_sort_key(&j, target, dialect), text),
    })
}
