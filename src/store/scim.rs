//! SCIM persistence on SQLite: bearer tokens, user and group resources (full JSON plus
//! indexed columns), and the audit log. Writers that read-modify-write take the
//! database write lock first (`BEGIN IMMEDIATE`), so concurrent PATCHes serialise and
//! no update is lost.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::audit::{self, Actor, Change};
use super::db::{Db, StoreError, flag};
use super::scim_cursors::Cursor;

/// A value bound into a dynamic WHERE clause (from the SCIM filter translation).
#[derive(Debug, Clone, PartialEq)]
pub enum BindValue {
    Text(String),
    Int(i64),
    Real(f64),
    Bool(bool),
    Null,
}

/// A stored SCIM resource row.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceRow {
    pub pk: i64,
    pub scim_id: String,
    pub resource: serde_json::Value,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A SCIM token as the console lists it (the secret itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScimTokenInfo {
    pub id: i64,
    pub label: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// The indexed columns of a user, derived from its resource by the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserColumns {
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: String,
    pub email: String,
    pub active: bool,
    pub federation_id: String,
    pub federation_pinned: bool,
}

fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

fn row_to_resource(r: &AnyRow) -> Result<ResourceRow, StoreError> {
    let text: String = r.try_get("resource")?;
    Ok(ResourceRow {
        pk: r.try_get("id")?,
        scim_id: r.try_get("scim_id")?,
        resource: serde_json::from_str(&text)
            .map_err(|e| StoreError::Other(format!("stored resource: {e}")))?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    binds: &'q [BindValue],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for b in binds {
        q = match b {
            BindValue::Text(s) => q.bind(s.as_str()),
            BindValue::Int(i) => q.bind(*i),
            BindValue::Real(f) => q.bind(*f),
            BindValue::Bool(v) => q.bind(*v),
            BindValue::Null => q.bind(Option::<String>::None),
        };
    }
    q
}

/// Which table a resource lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    User,
    Group,
}

/// Select-list items `list_total` and `list_changes`: the `scim_counts` of `kind` for the
/// tenant `$1` (0 and 0 before its first resource).
fn snapshot_columns(kind: Kind) -> String {
    let t = kind.table();
    format!(
        ", COALESCE((SELECT n FROM scim_counts WHERE tenant_id = $1 AND kind = '{t}'), 0) AS list_total, \
         COALESCE((SELECT changes FROM scim_counts WHERE tenant_id = $1 AND kind = '{t}'), 0) AS list_changes"
    )
}

/// `SELECT ... WHERE id IN (the page's ids by OFFSET) ORDER BY order_by`: the OFFSET
/// walks the ids only (an index, not the rows with their JSON), and only `LIMIT` rows are
/// read. `extra` is appended to the select list, `cond` to the WHERE clause; `$1` is the
/// tenant, `$limit_at` and `$(limit_at + 1)` are LIMIT and OFFSET.
fn offset_page_sql(t: &str, extra: &str, cond: &str, order_by: &str, limit_at: usize) -> String {
    format!(
        "SELECT id, scim_id, resource, version, created_at, updated_at{extra} FROM {t}
         WHERE id IN (SELECT id FROM {t} WHERE tenant_id = $1 AND scim_id IS NOT NULL{cond}
                      ORDER BY {order_by} LIMIT ${limit_at} OFFSET ${})
         ORDER BY {order_by}",
        limit_at + 1
    )
}

impl Kind {
    fn table(self) -> &'static str {
        match self {
            Kind::User => "users",
            Kind::Group => "groups",
        }
    }
}

impl Db {
    // ---- tokens -------------------------------------------------------------------------------

    pub async fn add_scim_token(
        &self,
        tenant_id: i64,
        token_hash: &str,
        label: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query("INSERT INTO scim_tokens (tenant_id, token_hash, label, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(tenant_id)
            .bind(token_hash)
            .bind(label)
            .bind(ts(now))
            .fetch_one(self.pool())
            .await?
            .try_get("id")?)
    }

    /// Record the non-secret prefix shown in the console's token list.
    pub async fn set_scim_token_prefix(
        &self,
        token_id: i64,
        prefix: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE scim_tokens SET prefix = $1 WHERE id = $2")
            .bind(prefix)
            .bind(token_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The tokens of a tenant, newest first.
    pub async fn scim_tokens(&self, tenant_id: i64) -> Result<Vec<ScimTokenInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, label, prefix, created_at, last_used_at, revoked_at FROM scim_tokens WHERE tenant_id = $1 ORDER BY id DESC",
        )
        .bind(tenant_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ScimTokenInfo {
                    id: r.try_get("id")?,
                    label: r.try_get("label")?,
                    prefix: r.try_get("prefix")?,
                    created_at: r.try_get("created_at")?,
                    last_used_at: r.try_get("last_used_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::Db)
    }

    /// The tenant and prefix of a live token, by its hash (the hash is compared again in
    /// constant time).
    pub async fn tenant_of_scim_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(i64, String)>, StoreError> {
        let row = sqlx::query("SELECT id, tenant_id, token_hash, prefix FROM scim_tokens WHERE token_hash = $1 AND revoked_at IS NULL")
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let stored: String = row.try_get("token_hash")?;
        if stored.len() != token_hash.len()
            || !openssl::memcmp::eq(stored.as_bytes(), token_hash.as_bytes())
        {
            return Ok(None);
        }
        let id: i64 = row.try_get("id")?;
        // Record use at most once a minute: a write (and fsync) per request would cost
        // more than the lookup itself.
        sqlx::query("UPDATE scim_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1 - 60)")
            .bind(ts(now))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(Some((row.try_get("tenant_id")?, row.try_get("prefix")?)))
    }

    pub async fn revoke_scim_token(
        &self,
        tenant_id: i64,
        token_id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE scim_tokens SET revoked_at = $1 WHERE id = $2 AND tenant_id = $3 AND revoked_at IS NULL")
            .bind(ts(now))
            .bind(token_id)
            .bind(tenant_id)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    // ---- resources ------------------------------------------------------------------------------

    pub async fn scim_get(
        &self,
        kind: Kind,
        tenant_id: i64,
        scim_id: &str,
    ) -> Result<Option<ResourceRow>, StoreError> {
        let sql = format!(
            "SELECT id, scim_id, resource, version, created_at, updated_at FROM {} WHERE tenant_id = $1 AND scim_id = $2",
            kind.table()
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(scim_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(row_to_resource).transpose()
    }

    /// The first placeholder of the `where_sql` given to [`Db::scim_list`] (`$1` is the
    /// tenant).
    pub const SCIM_LIST_FIRST_PLACEHOLDER: usize = 2;

    /// The `order_by` of [`Db::scim_list`] for the default order (creation order, the
    /// primary key). Unfiltered lists in this order continue an import from the last `id`
    /// of the previous page when that is exact (see `store::scim_cursors`).
    pub const SCIM_DEFAULT_ORDER: &'static str = "id";

    #[allow(clippy::too_many_arguments)]
    /// A page of resources matching `where_sql` (already translated from a SCIM filter)
    /// and the total number of matches. `where_sql` uses the placeholders
    /// `$2` ([`Db::SCIM_LIST_FIRST_PLACEHOLDER`]) … `$(1 + binds.len())`, bound from
    /// `binds` in order; `order_by` uses none and ends with `id` (a total order).
    ///
    /// The page is `ORDER BY order_by LIMIT limit OFFSET offset`, always: the `OFFSET` is
    /// taken over ids only (`users_scim_page`, an index-only scan in the default order)
    /// and only the page's rows are read. Without a filter, the total comes from
    /// `scim_counts` (kept by triggers) instead of `count(*)`, and a page that starts where
    /// a page served earlier ended, with the list unchanged since, is read as
    /// `id > last ORDER BY id LIMIT limit`: the same rows, without the `OFFSET`.
    pub async fn scim_list(
        &self,
        kind: Kind,
        tenant_id: i64,
        where_sql: Option<&str>,
        binds: &[BindValue],
        order_by: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<ResourceRow>), StoreError> {
        let Some(w) = where_sql else {
            return self
                .scim_list_all(kind, tenant_id, order_by, offset, limit)
                .await;
        };
        let cond = format!(" AND ({w})");
        let t = kind.table();
        let count_sql = format!(
            "SELECT count(*) AS n FROM {t} WHERE tenant_id = $1 AND scim_id IS NOT NULL{cond}"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(count_sql)).bind(tenant_id);
        let total: i64 = bind_all(q, binds)
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        let limit_at = Self::SCIM_LIST_FIRST_PLACEHOLDER + binds.len();
        let page_sql = offset_page_sql(t, "", &cond, order_by, limit_at);
        let q = sqlx::query(sqlx::AssertSqlSafe(page_sql)).bind(tenant_id);
        let rows = bind_all(q, binds)
            .bind(limit)
            .bind(offset)
            .fetch_all(self.pool())
            .await?;
        let items = rows
            .iter()
            .map(row_to_resource)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((total, items))
    }

    /// [`Db::scim_list`] without a filter.
    async fn scim_list_all(
        &self,
        kind: Kind,
        tenant_id: i64,
        order_by: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<ResourceRow>), StoreError> {
        let t = kind.table();
        // The total and the change counter, read in the page's own snapshot.
        let snapshot = snapshot_columns(kind);
        let default_order = order_by == Self::SCIM_DEFAULT_ORDER;
        let cursor = if default_order && offset > 0 && limit > 0 {
            self.scim_cursors.get(tenant_id, kind, offset)
        } else {
            None
        };
        if let Some(c) = cursor {
            let sql = format!(
                "SELECT id, scim_id, resource, version, created_at, updated_at{snapshot} FROM {t}
                 WHERE tenant_id = $1 AND scim_id IS NOT NULL AND id > $2 ORDER BY id LIMIT $3"
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id)
                .bind(c.last_id)
                .bind(limit)
                .fetch_all(self.pool())
                .await?;
            let (total, changes) = self.list_snapshot(kind, tenant_id, &rows).await?;
            // Unchanged since the cursor's page: `id > last` is exactly the OFFSET page.
            // Otherwise (a resource added or removed meanwhile) read it by OFFSET below.
            if changes == c.changes {
                #[cfg(test)]
                self.scim_cursors
                    .served
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return self.served_page(kind, tenant_id, offset, &rows, total, changes);
            }
        }
        let sql = offset_page_sql(t, &snapshot, "", order_by, 2);
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(limit)
            .bind(offset)
            .fetch_all(self.pool())
            .await?;
        let (total, changes) = self.list_snapshot(kind, tenant_id, &rows).await?;
        if default_order {
            self.served_page(kind, tenant_id, offset, &rows, total, changes)
        } else {
            let items = rows
                .iter()
                .map(row_to_resource)
                .collect::<Result<Vec<_>, _>>()?;
            Ok((total, items))
        }
    }

    /// `(list_total, list_changes)` from a page's first row, or read on their own when the
    /// page is empty.
    async fn list_snapshot(
        &self,
        kind: Kind,
        tenant_id: i64,
        rows: &[AnyRow],
    ) -> Result<(i64, i64), StoreError> {
        let read = |r: &AnyRow| -> Result<(i64, i64), StoreError> {
            Ok((r.try_get("list_total")?, r.try_get("list_changes")?))
        };
        if let Some(r) = rows.first() {
            return read(r);
        }
        let sql = format!("SELECT 1 AS one{}", snapshot_columns(kind));
        read(
            &sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id)
                .fetch_one(self.pool())
                .await?,
        )
    }

    /// The rows of a default-order page starting at `offset`, remembering where it ended.
    fn served_page(
        &self,
        kind: Kind,
        tenant_id: i64,
        offset: i64,
        rows: &[AnyRow],
        total: i64,
        changes: i64,
    ) -> Result<(i64, Vec<ResourceRow>), StoreError> {
        let items = rows
            .iter()
            .map(row_to_resource)
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(last) = items.last() {
            let next = offset.saturating_add(i64::try_from(items.len()).unwrap_or(i64::MAX));
            self.scim_cursors.put(
                tenant_id,
                kind,
                next,
                Cursor {
                    last_id: last.pk,
                    changes,
                },
            );
        }
        Ok((total, items))
    }

    /// Insert a provisioned user. 409-style Conflict when the userName exists (any case).
    pub async fn scim_insert_user(
        &self,
        tenant_id: i64,
        scim_id: &str,
        resource: &serde_json::Value,
        c: &UserColumns,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<ResourceRow, StoreError> {
        let mut tx = self.write_tx(tenant_id).await?;
        let dup = sqlx::query(
            "SELECT 1 FROM users WHERE tenant_id = $1 AND lower(user_name) = lower($2)",
        )
        .bind(tenant_id)
        .bind(&c.user_name)
        .fetch_optional(&mut *tx)
        .await?;
        if dup.is_some() {
            return Err(StoreError::Conflict(format!("userName '{}'", c.user_name)));
        }
        let row = sqlx::query(
            "INSERT INTO users (tenant_id, scim_id, user_name, external_id, federation_id, federation_pinned, display_name, email,
                                active, source, resource, version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'scim', $10, 1, $11, $11)
             RETURNING id, scim_id, resource, version, created_at, updated_at",
        )
        .bind(tenant_id)
        .bind(scim_id)
        .bind(&c.user_name)
        .bind(&c.external_id)
        .bind(&c.federation_id)
        .bind(c.federation_pinned)
        .bind(&c.display_name)
        .bind(&c.email)
        .bind(c.active)
        .bind(resource.to_string())
        .bind(ts(now))
        .fetch_one(&mut *tx)
        .await?;
        let change = Change::new("user.create", Some(scim_id))
            .detail(format!(
                "userName={} federationId={}",
                c.user_name, c.federation_id
            ))
            .after(user_state(c));
        audit::insert(&mut tx, Some(tenant_id), actor, &change, now).await?;
        tx.commit().await?;
        row_to_resource(&row)
    }

    /// Read-modify-write a user under the write lock. `f` gets the current row and
    /// returns the new resource and columns (or an error that aborts the update).
    /// Deactivation revokes the user's sessions in the same transaction.
    pub async fn scim_update_user<E, F>(
        &self,
        tenant_id: i64,
        scim_id: &str,
        actor: &Actor,
        now: DateTime<Utc>,
        f: F,
    ) -> Result<Result<ResourceRow, E>, StoreError>
    where
        F: FnOnce(&ResourceRow, &UserColumns) -> Result<(serde_json::Value, UserColumns), E>,
    {
        let mut tx = self.write_tx(tenant_id).await?;
        let row = sqlx::query(
            "SELECT id, scim_id, resource, version, created_at, updated_at, user_name, external_id, display_name, email, active,
                    federation_id, federation_pinned
             FROM users WHERE tenant_id = $1 AND scim_id = $2",
        )
        .bind(tenant_id)
        .bind(scim_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::NotFound(format!("user {scim_id}")));
        };
        let current = row_to_resource(&row)?;
        let old = UserColumns {
            user_name: row.try_get("user_name")?,
            external_id: row.try_get("external_id")?,
            display_name: row.try_get("display_name")?,
            email: row.try_get("email")?,
            active: flag(&row, "active")?,
            federation_id: row.try_get("federation_id")?,
            federation_pinned: flag(&row, "federation_pinned")?,
        };
        let (resource, c) = match f(&current, &old) {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        if !c.user_name.eq_ignore_ascii_case(&old.user_name) {
            let dup = sqlx::query("SELECT 1 FROM users WHERE tenant_id = $1 AND lower(user_name) = lower($2) AND id != $3")
                .bind(tenant_id)
                .bind(&c.user_name)
                .bind(current.pk)
                .fetch_optional(&mut *tx)
                .await?;
            if dup.is_some() {
                return Err(StoreError::Conflict(format!("userName '{}'", c.user_name)));
            }
        }
        let updated = sqlx::query(
            "UPDATE users SET user_name = $1, external_id = $2, display_name = $3, email = $4, active = $5, federation_id = $6,
                              federation_pinned = $7, resource = $8, version = version + 1, updated_at = $9
             WHERE id = $10 RETURNING id, scim_id, resource, version, created_at, updated_at",
        )
        .bind(&c.user_name)
        .bind(&c.external_id)
        .bind(&c.display_name)
        .bind(&c.email)
        .bind(c.active)
        .bind(&c.federation_id)
        .bind(c.federation_pinned)
        .bind(resource.to_string())
        .bind(ts(now))
        .bind(current.pk)
        .fetch_one(&mut *tx)
        .await?;
        let mut ended = 0;
        if old.active && !c.active {
            ended = sqlx::query(
                "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
            )
            .bind(ts(now))
            .bind(current.pk)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        for change in user_changes(scim_id, &old, &c, ended) {
            audit::insert(&mut tx, Some(tenant_id), actor, &change, now).await?;
        }
        tx.commit().await?;
        Ok(Ok(row_to_resource(&updated)?))
    }

    /// Set a user's Federation ID by hand and pin it (it no longer follows the SCIM
    /// attribute), or unpin it (`federation_id` None: it follows again from the next change).
    pub async fn pin_federation_id(
        &self,
        tenant_id: i64,
        user_name: &str,
        federation_id: Option<&str>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx(tenant_id).await?;
        let row = sqlx::query("SELECT id, scim_id, federation_id, federation_pinned FROM users WHERE tenant_id = $1 AND lower(user_name) = lower($2)")
            .bind(tenant_id)
            .bind(user_name)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user '{user_name}'")))?;
        let id: i64 = row.try_get("id")?;
        let scim_id: Option<String> = row.try_get("scim_id")?;
        let old: String = row.try_get("federation_id")?;
        let old_pinned: bool = flag(&row, "federation_pinned")?;
        let (new, pinned, action) = match federation_id {
            Some(f) => (f.trim().to_string(), true, "user.federation_id.pin"),
            None => (old.clone(), false, "user.federation_id.unpin"),
        };
        if new.is_empty() {
            return Err(StoreError::Other(
                "the Federation ID may not be empty".into(),
            ));
        }
        sqlx::query("UPDATE users SET federation_id = $1, federation_pinned = $2, updated_at = $3 WHERE id = $4")
            .bind(&new)
            .bind(pinned)
            .bind(ts(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let change = Change::new(action, scim_id.as_deref().or(Some(user_name)))
            .detail(format!("{old} -> {new}"))
            .before(serde_json::json!({"federationId": old, "pinned": old_pinned}))
            .after(serde_json::json!({"federationId": new, "pinned": pinned}));
        audit::insert(&mut tx, Some(tenant_id), actor, &change, now).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_federation_attribute(
        &self,
        tenant_id: i64,
        attribute: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE tenants SET federation_attribute = $1 WHERE id = $2")
            .bind(attribute)
            .bind(tenant_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn scim_delete(
        &self,
        kind: Kind,
        tenant_id: i64,
        scim_id: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write_tx(tenant_id).await?;
        let before_sql = format!(
            "SELECT resource FROM {} WHERE tenant_id = $1 AND scim_id = $2",
            kind.table()
        );
        let before: Option<String> = sqlx::query(sqlx::AssertSqlSafe(before_sql))
            .bind(tenant_id)
            .bind(scim_id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("resource"))
            .transpose()?;
        let sql = format!(
            "DELETE FROM {} WHERE tenant_id = $1 AND scim_id = $2",
            kind.table()
        );
        let n = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(scim_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 1 {
            let what = if kind == Kind::User {
                "user.delete"
            } else {
                "group.delete"
            };
            let mut change = Change::new(what, Some(scim_id));
            if let Some(b) = before.and_then(|b| serde_json::from_str(&b).ok()) {
                change = change.before(summary(kind, &b));
            }
            audit::insert(&mut tx, Some(tenant_id), actor, &change, now).await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Insert a group (display names need not be unique in SCIM).
    #[allow(clippy::too_many_arguments)]
    pub async fn scim_insert_group(
        &self,
        tenant_id: i64,
        scim_id: &str,
        display_name: &str,
        external_id: Option<&str>,
        resource: &serde_json::Value,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<ResourceRow, StoreError> {
        let mut tx = self.write_tx(tenant_id).await?;
        let row = sqlx::query(
            "INSERT INTO groups (tenant_id, scim_id, display_name, external_id, resource, version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, 1, $6, $6) RETURNING id, scim_id, resource, version, created_at, updated_at",
        )
        .bind(tenant_id)
        .bind(scim_id)
        .bind(display_name)
        .bind(external_id)
        .bind(resource.to_string())
        .bind(ts(now))
        .fetch_one(&mut *tx)
        .await?;
        let change = Change::new("group.create", Some(scim_id))
            .detail(format!("displayName={display_name}"))
            .after(summary(Kind::Group, resource));
        audit::insert(&mut tx, Some(tenant_id), actor, &change, now).await?;
        tx.commit().await?;
        row_to_resource(&row)
    }

    /// Read-modify-write a group under the write lock (`f` returns the new resource,
    /// display name and external id, or an error). Members added by the change must be
    /// users of the tenant, checked under the same lock (`missing` builds the error), so a
    /// refused change changes nothing.
    pub async fn scim_update_group<E, F, M>(
        &self,
        tenant_id: i64,
        scim_id: &str,
        actor: &Actor,
        now: DateTime<Utc>,
        f: F,
        missing: M,
    ) -> Result<Result<ResourceRow, E>, StoreError>
    where
        F: FnOnce(&ResourceRow) -> Result<(serde_json::Value, String, Option<String>), E>,
        M: FnOnce(String) -> E,
    {
        let mut tx = self.write_tx(tenant_id).await?;
        let row = sqlx::query("SELECT id, scim_id, resource, version, created_at, updated_at FROM groups WHERE tenant_id = $1 AND scim_id = $2")
            .bind(tenant_id)
            .bind(scim_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Err(StoreError::NotFound(format!("group {scim_id}")));
        };
        let current = row_to_resource(&row)?;
        let (resource, display_name, external_id) = match f(&current) {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        let before = crate::scim::resource::member_ids(&current.resource);
        for id in crate::scim::resource::member_ids(&resource) {
            if before.contains(&id) {
                continue;
            }
            let found = sqlx::query("SELECT 1 FROM users WHERE tenant_id = $1 AND scim_id = $2")
                .bind(tenant_id)
                .bind(&id)
                .fetch_optional(&mut *tx)
                .await?;
            if found.is_none() {
                return Ok(Err(missing(id)));
            }
        }
        let updated = sqlx::query(
            "UPDATE groups SET display_name = $1, external_id = $2, resource = $3, version = version + 1, updated_at = $4
             WHERE id = $5 RETURNING id, scim_id, resource, version, created_at, updated_at",
        )
        .bind(&display_name)
        .bind(&external_id)
        .bind(resource.to_string())
        .bind(ts(now))
        .bind(current.pk)
        .fetch_one(&mut *tx)
        .await?;
        let change = Change::new("group.update", Some(scim_id))
            .detail(member_diff(&current.resource, &resource))
            .before(summary(Kind::Group, &current.resource))
            .after(summary(Kind::Group, &resource));
        audit::insert(&mut tx, Some(tenant_id), actor, &change, now).await?;
        tx.commit().await?;
        Ok(Ok(row_to_resource(&updated)?))
    }

    /// The SCIM ids among `ids` that are users of this tenant (to validate group members).
    pub async fn existing_user_ids(
        &self,
        tenant_id: i64,
        ids: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for id in ids {
            let r = sqlx::query("SELECT 1 FROM users WHERE tenant_id = $1 AND scim_id = $2")
                .bind(tenant_id)
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
            if r.is_some() {
                out.push(id.clone());
            }
        }
        Ok(out)
    }

    /// Groups whose members include this user: (group scim id, display name).
    pub async fn groups_of_user(
        &self,
        tenant_id: i64,
        user_scim_id: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let sql = match self.dialect() {
            super::db::Dialect::Sqlite => {
                "SELECT g.scim_id, g.display_name FROM groups g, json_each(g.resource, '$.members') m
                 WHERE g.tenant_id = $1 AND json_extract(m.value, '$.value') = $2 ORDER BY g.display_name"
            }
            super::db::Dialect::Postgres => {
                "SELECT g.scim_id, g.display_name FROM groups g,
                        jsonb_array_elements(CASE WHEN jsonb_typeof(g.resource::jsonb -> 'members') = 'array'
                                                  THEN g.resource::jsonb -> 'members' ELSE '[]'::jsonb END) m
                 WHERE g.tenant_id = $1 AND m ->> 'value' = $2 ORDER BY g.display_name"
            }
        };
        let rows = sqlx::query(sql)
            .bind(tenant_id)
            .bind(user_scim_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("scim_id")?, r.try_get("display_name")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::Db)
    }
}

/// The audited state of a user: the columns that drive sign-in.
fn user_state(c: &UserColumns) -> serde_json::Value {
    serde_json::json!({
        "userName": c.user_name,
        "externalId": c.external_id,
        "displayName": c.display_name,
        "email": c.email,
        "active": c.active,
        "federationId": c.federation_id,
        "federationIdPinned": c.federation_pinned,
    })
}

/// The audit entries of one user update: the profile change, plus the Federation ID
/// and activation changes as their own actions (so they can be filtered).
fn user_changes(scim_id: &str, old: &UserColumns, new: &UserColumns, ended: u64) -> Vec<Change> {
    let mut out = Vec::new();
    if old == new {
        return out;
    }
    let mut action = "user.update";
    let mut detail = String::new();
    if old.active && !new.active {
        action = "user.deactivate";
        detail = format!("{ended} session(s) ended");
    } else if !old.active && new.active {
        action = "user.reactivate";
    }
    out.push(
        Change::new(action, Some(scim_id))
            .detail(detail)
            .before(user_state(old))
            .after(user_state(new)),
    );
    if old.federation_id != new.federation_id {
        out.push(
            Change::new("user.federation_id", Some(scim_id))
                .detail(format!("{} -> {}", old.federation_id, new.federation_id))
                .before(serde_json::json!({"federationId": old.federation_id}))
                .after(serde_json::json!({"federationId": new.federation_id})),
        );
    }
    out
}

/// A bounded summary of a resource for the audit log (groups: name and member count).
fn summary(kind: Kind, r: &serde_json::Value) -> serde_json::Value {
    match kind {
        Kind::Group => serde_json::json!({
            "displayName": r.get("displayName"),
            "externalId": r.get("externalId"),
            "members": crate::scim::resource::member_ids(r).len(),
        }),
        Kind::User => serde_json::json!({
            "userName": r.get("userName"),
            "externalId": r.get("externalId"),
            "active": r.get("active"),
        }),
    }
}

/// "+2 members (a, b), -1 (c)", listing at most 20 ids each way.
fn member_diff(old: &serde_json::Value, new: &serde_json::Value) -> String {
    use std::collections::BTreeSet;
    let a: BTreeSet<String> = crate::scim::resource::member_ids(old).into_iter().collect();
    let b: BTreeSet<String> = crate::scim::resource::member_ids(new).into_iter().collect();
    let list = |s: Vec<&String>| {
        let n = s.len();
        let mut shown: Vec<&str> = s.into_iter().take(20).map(String::as_str).collect();
        if n > 20 {
            shown.push("...");
        }
        shown.join(", ")
    };
    let added: Vec<&String> = b.difference(&a).collect();
    let removed: Vec<&String> = a.difference(&b).collect();
    let mut parts = Vec::new();
    if old.get("displayName") != new.get("displayName") {
        parts.push("renamed".to_string());
    }
    if !added.is_empty() {
        parts.push(format!("+{} member(s) ({})", added.len(), list(added)));
    }
    if !removed.is_empty() {
        parts.push(format!("-{} member(s) ({})", removed.len(), list(removed)));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;

    async fn exec(db: &Db, sql: &str) {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(db.pool())
            .await
            .unwrap();
    }

    async fn page(db: &Db, offset: i64, limit: i64) -> (i64, Vec<i64>) {
        let (total, rows) = db
            .scim_list(
                Kind::User,
                1,
                None,
                &[],
                Db::SCIM_DEFAULT_ORDER,
                offset,
                limit,
            )
            .await
            .unwrap();
        (total, rows.iter().map(|r| r.pk).collect())
    }

    fn served(db: &Db) -> u64 {
        db.scim_cursors.served.load(Ordering::Relaxed)
    }

    #[tokio::test]
    async fn pages_continue_from_a_cursor_only_while_the_list_is_unchanged() {
        let db = Db::connect("sqlite::memory:").await.unwrap();
        exec(&db, "INSERT INTO tenants (id, slug, display_name, idp_entity_id, idp_sso_url, created_at) VALUES (1, 'a', 'A', 'urn:a', 'https://a.example/sso', 0)").await;
        for i in 1..=25 {
            exec(&db, &format!("INSERT INTO users (id, tenant_id, user_name, federation_id, created_at, updated_at, scim_id, resource) VALUES ({i}, 1, 'u{i}', 'u{i}', 0, 0, 's{i}', '{{}}')")).await;
        }
        // Not a SCIM resource: neither counted nor listed.
        exec(&db, "INSERT INTO users (id, tenant_id, user_name, federation_id, created_at, updated_at) VALUES (26, 1, 'local', 'local', 0, 0)").await;
        assert_eq!(page(&db, 0, 10).await, (25, (1..=10).collect()));
        assert_eq!(served(&db), 0);
        assert_eq!(page(&db, 10, 10).await, (25, (11..=20).collect()));
        assert_eq!(served(&db), 1, "page 2 followed page 1's last id");
        // A change (user 2 removed) between pages: the cursor is not used, OFFSET 20 is.
        exec(&db, "DELETE FROM users WHERE id = 2").await;
        assert_eq!(page(&db, 20, 10).await, (24, (22..=25).collect()));
        assert_eq!(served(&db), 1);
        // The page after that one again follows from its cursor, up to the empty end.
        assert_eq!(page(&db, 24, 10).await, (24, vec![]));
        assert_eq!(served(&db), 2);
        // Moving a user out of the tenant and giving one a scim_id are changes too.
        assert_eq!(page(&db, 0, 5).await, (24, vec![1, 3, 4, 5, 6]));
        exec(&db, "INSERT INTO tenants (id, slug, display_name, idp_entity_id, idp_sso_url, created_at) VALUES (2, 'b', 'B', 'urn:b', 'https://b.example/sso', 0)").await;
        exec(&db, "UPDATE users SET tenant_id = 2 WHERE id = 3").await;
        exec(&db, "UPDATE users SET scim_id = 's26' WHERE id = 26").await;
        assert_eq!(page(&db, 5, 5).await, (24, vec![8, 9, 10, 11, 12]));
        assert_eq!(served(&db), 2);
        // Other updates leave the list, and the cursors, as they are.
        exec(
            &db,
            "UPDATE users SET display_name = 'x', resource = '{\"a\":1}', active = 0",
        )
        .await;
        assert_eq!(page(&db, 10, 5).await, (24, vec![13, 14, 15, 16, 17]));
        assert_eq!(served(&db), 3);
        let n: i64 = sqlx::query(
            "SELECT count(*) AS n FROM users WHERE tenant_id = 1 AND scim_id IS NOT NULL",
        )
        .fetch_one(db.pool())
        .await
        .unwrap()
        .try_get("n")
        .unwrap();
        assert_eq!(n, 24);
        // Another order, a filter, or a page not following one served: OFFSET.
        let (total, rows) = db
            .scim_list(Kind::User, 1, None, &[], "user_name DESC, id", 15, 3)
            .await
            .unwrap();
        assert_eq!(total, 24);
        // user_name descending is u9 .. u4, u25 .. u10, u1, local: the 16th to 18th are
        // u16, u15, u14.
        assert_eq!(
            rows.iter().map(|r| r.pk).collect::<Vec<_>>(),
            vec![16, 15, 14]
        );
        assert_eq!(page(&db, 17, 2).await, (24, vec![20, 21]));
        assert_eq!(served(&db), 3);
        assert_eq!(page(&db, 2, 0).await, (24, vec![]));
    }
}
