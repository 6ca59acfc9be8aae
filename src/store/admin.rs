//! Configuration Manager accounts and their sessions (ADR 0010).

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::db::{Db, StoreError};

/// What an admin may see: every tenant, or one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRole {
    Operator,
    TenantAdmin,
}

impl AdminRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AdminRole::Operator => "operator",
            AdminRole::TenantAdmin => "tenant_admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "operator" => Some(AdminRole::Operator),
            "tenant_admin" => Some(AdminRole::TenantAdmin),
            _ => None,
        }
    }
}

/// An admin account as the login needs it.
#[derive(Debug, Clone)]
pub struct AdminAccount {
    pub id: i64,
    pub email: String,
    pub password_hash: crate::secret::Secret<String>,
    pub role: AdminRole,
    /// `None` for operators.
    pub tenant_id: Option<i64>,
    pub failed_attempts: i64,
    /// Unix seconds.
    pub locked_until: Option<i64>,
}

impl AdminAccount {
    /// The tenant this admin is limited to (`None`: all tenants).
    pub fn tenant_scope(&self) -> Option<i64> {
        match self.role {
            AdminRole::Operator => None,
            // A tenant admin without a tenant sees nothing (the schema forbids it anyway).
            AdminRole::TenantAdmin => Some(self.tenant_id.unwrap_or(-1)),
        }
    }

    pub fn may_see(&self, tenant_id: i64) -> bool {
        self.tenant_scope().is_none_or(|t| t == tenant_id)
    }
}

/// A live admin session.
#[derive(Debug, Clone)]
pub struct AdminSession {
    pub admin: AdminAccount,
    pub csrf_token: crate::secret::Secret<String>,
}

/// One dashboard row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TenantSummary {
    pub slug: String,
    pub name: String,
    pub idp_entity_id: String,
    pub users: i64,
}

pub(crate) fn account(r: &AnyRow) -> Result<AdminAccount, StoreError> {
    let role: String = r.try_get("role")?;
    Ok(AdminAccount {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        password_hash: crate::secret::Secret::new(r.try_get("password_hash")?),
        role: AdminRole::parse(&role)
            .ok_or_else(|| StoreError::Other(format!("unknown admin role '{role}'")))?,
        tenant_id: r.try_get("tenant_id")?,
        failed_attempts: r.try_get("failed_attempts")?,
        locked_until: r.try_get("locked_until")?,
    })
}

impl Db {
    /// Create an admin account; the email is unique regardless of case.
    pub async fn create_admin(
        &self,
        email: &str,
        password_hash: &str,
        role: AdminRole,
        tenant_id: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let mut tx = self.write_tx(0).await?;
        let dup = sqlx::query("SELECT 1 FROM admins WHERE lower(email) = lower($1)")
            .bind(email)
            .fetch_optional(&mut *tx)
            .await?;
        if dup.is_some() {
            return Err(StoreError::Conflict(format!("admin '{email}'")));
        }
        let id: i64 = sqlx::query(
            "INSERT INTO admins (email, password_hash, role, tenant_id, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(email)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(tenant_id)
        .bind(now.timestamp())
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn admin_by_email(&self, email: &str) -> Result<Option<AdminAccount>, StoreError> {
        sqlx::query("SELECT * FROM admins WHERE lower(email) = lower($1)")
            .bind(email.trim())
            .fetch_optional(self.pool())
            .await?
            .map(|r| account(&r))
            .transpose()
    }

    /// Count a wrong password; at `max_failures` the account locks for `lock_seconds` and the
    /// counter restarts. One statement, so concurrent attempts cannot skip the lock.
    /// Returns the lock's end (unix seconds) if the account is now locked.
    pub async fn admin_login_failed(
        &self,
        admin_id: i64,
        max_failures: i64,
        lock_seconds: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "UPDATE admins SET
                 locked_until = CASE WHEN failed_attempts + 1 >= $2 THEN $3 + $4 ELSE locked_until END,
                 failed_attempts = CASE WHEN failed_attempts + 1 >= $2 THEN 0 ELSE failed_attempts + 1 END
             WHERE id = $1 RETURNING locked_until",
        )
        .bind(admin_id)
        .bind(max_failures)
        .bind(now.timestamp())
        .bind(lock_seconds)
        .fetch_optional(self.pool())
        .await?;
        let until: Option<i64> = match row {
            Some(r) => r.try_get("locked_until")?,
            None => None,
        };
        Ok(until.filter(|u| *u > now.timestamp()))
    }

    pub async fn admin_login_succeeded(&self, admin_id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE admins SET failed_attempts = 0, locked_until = NULL WHERE id = $1")
            .bind(admin_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn create_admin_session(
        &self,
        id_hash: &str,
        admin_id: i64,
        csrf_token: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO admin_sessions (id_hash, admin_id, csrf_token, created_at, last_seen_at, expires_at)
             VALUES ($1, $2, $3, $4, $4, $5)",
        )
        .bind(id_hash)
        .bind(admin_id)
        .bind(csrf_token)
        .bind(now.timestamp())
        .bind(expires_at.timestamp())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A live admin session (within its absolute and idle limits); touches it.
    pub async fn live_admin_session(
        &self,
        id_hash: &str,
        idle_seconds: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<AdminSession>, StoreError> {
        let touched = sqlx::query(
            "UPDATE admin_sessions SET last_seen_at = $2
             WHERE id_hash = $1 AND expires_at > $2 AND last_seen_at + $3 > $2
             RETURNING admin_id, csrf_token",
        )
        .bind(id_hash)
        .bind(now.timestamp())
        .bind(idle_seconds)
        .fetch_optional(self.pool())
        .await?;
        let Some(t) = touched else {
            return Ok(None);
        };
        let admin_id: i64 = t.try_get("admin_id")?;
        let csrf_token: String = t.try_get("csrf_token")?;
        let row = sqlx::query("SELECT * FROM admins WHERE id = $1")
            .bind(admin_id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            Ok(AdminSession {
                admin: account(&r)?,
                csrf_token: crate::secret::Secret::new(csrf_token),
            })
        })
        .transpose()
    }

    pub async fn delete_admin_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM admin_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The tenants an admin may see (`scope` None: all), by slug, with their user counts.
    pub async fn tenant_summaries(
        &self,
        scope: Option<i64>,
    ) -> Result<Vec<TenantSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT t.slug, t.display_name, t.idp_entity_id,
                    (SELECT count(*) FROM users u WHERE u.tenant_id = t.id) AS users
             FROM tenants t WHERE $1 IS NULL OR t.id = $1 ORDER BY t.slug",
        )
        .bind(scope)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(TenantSummary {
                    slug: r.try_get("slug")?,
                    name: r.try_get("display_name")?,
                    idp_entity_id: r.try_get("idp_entity_id")?,
                    users: r.try_get("users")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::Db)
    }
}
