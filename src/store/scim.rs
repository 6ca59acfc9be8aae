//! SCIM persistence on SQLite: bearer tokens, user and group resources (full JSON plus
//! indexed columns), and the audit log. Writers that read-modify-write take the
//! database write lock first (`BEGIN IMMEDIATE`), so concurrent PATCHes serialise and
//! no update is lost.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::audit::{self, Actor, Change};
use super::db::{Db, StoreError, flag};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Group,
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

    #[allow(clippy::too_many_arguments)]
    /// A page of resources matching `where_sql` (already translated from a SCIM filter)
    /// and the total number of matches. `where_sql` uses the placeholders
    /// `$2` ([`Db::SCIM_LIST_FIRST_PLACEHOLDER`]) … `$(1 + binds.len())`, bound from
    /// `binds` in order; `order_by` uses none.
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
        let cond = where_sql.map(|w| format!(" AND ({w})")).unwrap_or_default();
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
        let page_sql = format!(
            "SELECT id, scim_id, resource, version, created_at, updated_at FROM {t}
             WHERE tenant_id = $1 AND scim_id IS NOT NULL{cond} ORDER BY {order_by} LIMIT ${limit_at} OFFSET ${}",
            limit_at + 1
        );
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
