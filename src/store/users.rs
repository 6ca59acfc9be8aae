//! The console's view of users: search and pages, one user's details and live sessions,
//! extension and direct numbers (unique), and status changes of users created here.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::audit::{self, Actor, Change, like_escape};
use super::db::{Db, StoreError, flag};

/// Where a user came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UserSource {
    /// Pushed by Okta (SCIM).
    Okta,
    /// Created here (console, command line, demo).
    Here,
}

/// One row of the users list (and the head of a user's page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserSummary {
    pub id: i64,
    pub scim_id: Option<String>,
    pub user_name: String,
    pub display_name: String,
    pub email: String,
    pub active: bool,
    pub source: UserSource,
    pub federation_id: String,
    pub federation_id_pinned: bool,
    pub extension: Option<String>,
    pub phone_number: Option<String>,
    pub licenses: Vec<String>,
    pub services: Vec<String>,
    pub last_login_at: Option<i64>,
    pub created_at: i64,
}

/// Filters of the users list.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Substring of user name, display name, email, Federation ID, extension or number.
    pub q: Option<String>,
    /// `Some(true)`: active only; `Some(false)`: deactivated only.
    pub active: Option<bool>,
    pub source: Option<UserSource>,
    /// Only users holding this license.
    pub license: Option<String>,
}

/// A live app session, as the console lists it (never the session id itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveSession {
    /// A non-secret handle (the first 16 hex digits of the stored hash).
    pub handle: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

/// Why a telephony field was not set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberError {
    Invalid(String),
    /// Used by another user of this tenant (named) or elsewhere in the deployment.
    Taken(String),
    UnknownUser,
}

impl NumberError {
    pub fn code(&self) -> &'static str {
        match self {
            NumberError::Invalid(_) => "number_invalid",
            NumberError::Taken(_) => "number_taken",
            NumberError::UnknownUser => "user_not_found",
        }
    }
}

impl std::fmt::Display for NumberError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NumberError::Invalid(m) | NumberError::Taken(m) => write!(f, "{m}"),
            NumberError::UnknownUser => write!(f, "no such user in this organization"),
        }
    }
}

/// Which telephony field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberField {
    Extension,
    PhoneNumber,
}

impl NumberField {
    fn column(self) -> &'static str {
        match self {
            NumberField::Extension => "extension",
            NumberField::PhoneNumber => "phone_number",
        }
    }
}

const SUMMARY_COLUMNS: &str =
    "id, scim_id, user_name, display_name, email, active, source, federation_id,
     federation_pinned, extension, phone_number, last_login_at, created_at";

fn summary(r: &AnyRow) -> Result<UserSummary, StoreError> {
    let source: String = r.try_get("source")?;
    Ok(UserSummary {
        id: r.try_get("id")?,
        scim_id: r.try_get("scim_id")?,
        user_name: r.try_get("user_name")?,
        display_name: r.try_get("display_name")?,
        email: r.try_get("email")?,
        active: flag(r, "active")?,
        source: if source == "admin" {
            UserSource::Here
        } else {
            UserSource::Okta
        },
        federation_id: r.try_get("federation_id")?,
        federation_id_pinned: flag(r, "federation_pinned")?,
        extension: r.try_get("extension")?,
        phone_number: r.try_get("phone_number")?,
        licenses: vec![],
        services: vec![],
        last_login_at: r.try_get("last_login_at")?,
        created_at: r.try_get("created_at")?,
    })
}

fn session_handle(id_hash: &str) -> String {
    id_hash.get(..16).unwrap_or(id_hash).to_string()
}

impl Db {
    /// Fill in licenses and services for a page of users (one query for the page).
    async fn with_licenses(
        &self,
        mut users: Vec<UserSummary>,
    ) -> Result<Vec<UserSummary>, StoreError> {
        if users.is_empty() {
            return Ok(users);
        }
        let ids: Vec<String> = users.iter().map(|u| u.id.to_string()).collect();
        // The ids are integers we read from the database: safe to inline.
        let sql = format!(
            "SELECT ul.user_id, l.code, l.apps FROM user_licenses ul JOIN licenses l ON l.code = ul.license_code
             WHERE ul.user_id IN ({}) ORDER BY l.position",
            ids.join(",")
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await?;
        for r in rows {
            let uid: i64 = r.try_get("user_id")?;
            let code: String = r.try_get("code")?;
            let apps: String = r.try_get("apps")?;
            if let Some(u) = users.iter_mut().find(|u| u.id == uid) {
                u.licenses.push(code);
                for a in apps.split_whitespace() {
                    if !u.services.iter().any(|s| s == a) {
                        u.services.push(a.to_string());
                    }
                }
            }
        }
        Ok(users)
    }

    /// A page of a tenant's users ordered by user name, and the number matching.
    pub async fn search_users(
        &self,
        tenant_id: i64,
        q: &UserQuery,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<UserSummary>), StoreError> {
        let cond = "tenant_id = $1
             AND ($2 IS NULL OR lower(user_name) LIKE $2 ESCAPE '\\' OR lower(display_name) LIKE $2 ESCAPE '\\'
                  OR lower(email) LIKE $2 ESCAPE '\\' OR lower(federation_id) LIKE $2 ESCAPE '\\'
                  OR extension LIKE $2 ESCAPE '\\' OR phone_number LIKE $2 ESCAPE '\\')
             AND ($3 IS NULL OR active = $3)
             AND ($4 IS NULL OR (source = 'admin') = ($4 = 'here'))
             AND ($5 IS NULL OR EXISTS (SELECT 1 FROM user_licenses ul WHERE ul.user_id = users.id AND ul.license_code = $5))";
        let pattern =
            q.q.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| format!("%{}%", like_escape(&s.to_lowercase())));
        let source = q.source.map(|s| match s {
            UserSource::Here => "here",
            UserSource::Okta => "okta",
        });
        let active = q.active;
        let total: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) AS n FROM users WHERE {cond}"
        )))
        .bind(tenant_id)
        .bind(&pattern)
        .bind(active)
        .bind(source)
        .bind(&q.license)
        .fetch_one(self.pool())
        .await?
        .try_get("n")?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SUMMARY_COLUMNS} FROM users WHERE {cond} ORDER BY lower(user_name) LIMIT $6 OFFSET $7"
        )))
        .bind(tenant_id)
        .bind(&pattern)
        .bind(active)
        .bind(source)
        .bind(&q.license)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        let users = rows.iter().map(summary).collect::<Result<Vec<_>, _>>()?;
        Ok((total, self.with_licenses(users).await?))
    }

    /// One user of the tenant.
    pub async fn user_summary(
        &self,
        tenant_id: i64,
        user_id: i64,
    ) -> Result<Option<UserSummary>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SUMMARY_COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2"
        )))
        .bind(tenant_id)
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(r) => Ok(self.with_licenses(vec![summary(&r)?]).await?.pop()),
            None => Ok(None),
        }
    }

    /// The user's sessions that are still live at `now` (idle limit included).
    pub async fn live_sessions_of(
        &self,
        user_id: i64,
        idle_seconds: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<LiveSession>, StoreError> {
        let rows = sqlx::query(
            "SELECT id_hash, created_at, last_seen_at, absolute_expiry_at FROM sessions
             WHERE user_id = $1 AND revoked_at IS NULL AND absolute_expiry_at > $2 AND last_seen_at + $3 > $2
             ORDER BY created_at DESC",
        )
        .bind(user_id)
        .bind(now.timestamp())
        .bind(idle_seconds)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let h: String = r.try_get("id_hash")?;
                Ok(LiveSession {
                    handle: session_handle(&h),
                    created_at: r.try_get("created_at")?,
                    last_seen_at: r.try_get("last_seen_at")?,
                    expires_at: r.try_get("absolute_expiry_at")?,
                })
            })
            .collect()
    }

    /// End one session of a user (by handle) or all of them (`None`); audited. Returns
    /// how many ended.
    pub async fn end_user_sessions(
        &self,
        tenant_id: i64,
        user_id: i64,
        handle: Option<&str>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError> {
        let mut tx = self.write_tx(tenant_id).await?;
        let target: Option<String> = sqlx::query(
            "SELECT COALESCE(scim_id, user_name) AS t FROM users WHERE id = $1 AND tenant_id = $2",
        )
        .bind(user_id)
        .bind(tenant_id)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get("t"))
        .transpose()?;
        let Some(target) = target else {
            return Ok(None);
        };
        let pattern = handle.map(|h| format!("{}%", like_escape(h)));
        let n = sqlx::query(
            "UPDATE sessions SET revoked_at = $1
             WHERE user_id = $2 AND revoked_at IS NULL AND ($3 IS NULL OR id_hash LIKE $3 ESCAPE '\\')",
        )
        .bind(now.timestamp())
        .bind(user_id)
        .bind(&pattern)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let change = Change::new("session.end", Some(&target)).detail(match handle {
            Some(h) => format!("session {h} ended by an admin ({n})"),
            None => format!("{n} session(s) ended by an admin"),
        });
        audit::insert(&mut tx, Some(tenant_id), actor, &change, now).await?;
        tx.commit().await?;
        Ok(Some(n))
    }

    /// Set or clear (`None`) a user's extension or direct number. The value is already
    /// normalised; uniqueness is checked here (extension: in the tenant; number: in the
    /// whole deployment) and enforced by unique indexes.
    pub async fn set_user_number(
        &self,
        tenant_id: i64,
        user_id: i64,
        field: NumberField,
        value: Option<&str>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Result<(), NumberError>, StoreError> {
        let col = field.column();
        let mut tx = self.write_tx(tenant_id).await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COALESCE(scim_id, user_name) AS t, {col} AS v FROM users WHERE id = $1 AND tenant_id = $2"
        )))
        .bind(user_id)
        .bind(tenant_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Err(NumberError::UnknownUser));
        };
        let target: String = row.try_get("t")?;
        let old: Option<String> = row.try_get("v")?;
        if let Some(v) = value {
            let owner = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT tenant_id, user_name FROM users WHERE {col} = $1 AND id != $2
                 AND ($3 = 'phone_number' OR tenant_id = $4)"
            )))
            .bind(v)
            .bind(user_id)
            .bind(col)
            .bind(tenant_id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(o) = owner {
                let t: i64 = o.try_get("tenant_id")?;
                let who: String = o.try_get("user_name")?;
                let what = match field {
                    NumberField::Extension => format!("extension {v}"),
                    NumberField::PhoneNumber => format!("the number {v}"),
                };
                let msg = if t == tenant_id {
                    format!(
                        "{what} is already assigned to {who}; numbers are unique, so unassign it there first"
                    )
                } else {
                    format!(
                        "{what} is already assigned in another organization; direct numbers are unique across the service"
                    )
                };
                return Ok(Err(NumberError::Taken(msg)));
            }
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE users SET {col} = $1, updated_at = $2 WHERE id = $3"
        )))
        .bind(value)
        .bind(now.timestamp())
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        let action = match field {
            NumberField::Extension => "user.extension",
            NumberField::PhoneNumber => "user.phone_number",
        };
        let change = Change::new(action, Some(&target))
            .detail(format!(
                "{} -> {}",
                old.as_deref().unwrap_or("(none)"),
                value.unwrap_or("(none)")
            ))
            .before(json!({ col: old }))
            .after(json!({ col: value }));
        audit::insert(&mut tx, Some(tenant_id), actor, &change, now).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Deactivate or reactivate a user created here (Okta owns the status of the users it
    /// provisions). Deactivation ends the user's sessions in the same transaction.
    pub async fn set_user_status(
        &self,
        tenant_id: i64,
        user_id: i64,
        active: bool,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError> {
        let mut tx = self.write_tx(tenant_id).await?;
        let row = sqlx::query(
            "SELECT COALESCE(scim_id, user_name) AS t, active FROM users WHERE id = $1 AND tenant_id = $2",
        )
        .bind(user_id)
        .bind(tenant_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let target: String = row.try_get("t")?;
        let was: bool = flag(&row, "active")?;
        sqlx::query("UPDATE users SET active = $1, updated_at = $2 WHERE id = $3")
            .bind(active)
            .bind(now.timestamp())
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let mut ended = 0;
        if !active {
            ended = sqlx::query(
                "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
            )
            .bind(now.timestamp())
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        let action = if active {
            "user.reactivate"
        } else {
            "user.deactivate"
        };
        let change = Change::new(action, Some(&target))
            .detail(if active {
                String::new()
            } else {
                format!("{ended} session(s) ended")
            })
            .before(json!({"active": was}))
            .after(json!({"active": active}));
        audit::insert(&mut tx, Some(tenant_id), actor, &change, now).await?;
        tx.commit().await?;
        Ok(Some(ended))
    }

    /// The groups of a tenant: (scim id, display name, member count), by name.
    pub async fn tenant_groups(
        &self,
        tenant_id: i64,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT scim_id, display_name, resource FROM groups WHERE tenant_id = $1 ORDER BY lower(display_name)",
        )
        .bind(tenant_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let text: String = r.try_get("resource")?;
                let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                Ok((
                    r.try_get("scim_id")?,
                    r.try_get("display_name")?,
                    crate::scim::resource::member_ids(&v).len() as i64,
                ))
            })
            .collect()
    }
}
