//! Admin accounts beyond the login: managing admins (invitations with a one-time link,
//! removal, unlock), admin API tokens, and one-time tickets (set a password; finish a
//! tenant admin's SSO sign-in).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::admin::{AdminAccount, AdminRole, account};
use super::audit::{self, Actor, Change};
use super::db::{Db, StoreError};

/// An admin as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminInfo {
    pub id: i64,
    pub email: String,
    pub role: String,
    pub tenant: Option<String>,
    pub created_at: i64,
    pub locked_until: Option<i64>,
    /// Invited, no password set yet.
    pub pending: bool,
}

/// An admin API token as listed (the secret is never stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiTokenInfo {
    pub id: i64,
    pub admin_email: String,
    pub prefix: String,
    pub label: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// What a one-time ticket is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketPurpose {
    SetPassword,
    Sso,
}

impl TicketPurpose {
    fn as_str(self) -> &'static str {
        match self {
            TicketPurpose::SetPassword => "set_password",
            TicketPurpose::Sso => "sso",
        }
    }
}

/// The password hash of an invited admin who has not chosen a password: no argon2 string
/// can equal it, so it never verifies.
pub const NO_PASSWORD: &str = "!invited";

impl Db {
    /// Admins an admin may see: all for `scope` None, else those of that tenant.
    pub async fn list_admins(&self, scope: Option<i64>) -> Result<Vec<AdminInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.id, a.email, a.role, t.slug, a.created_at, a.locked_until, a.password_hash
             FROM admins a LEFT JOIN tenants t ON t.id = a.tenant_id
             WHERE $1 IS NULL OR a.tenant_id = $1 ORDER BY a.role, lower(a.email)",
        )
        .bind(scope)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let hash: String = r.try_get("password_hash")?;
                Ok(AdminInfo {
                    id: r.try_get("id")?,
                    email: r.try_get("email")?,
                    role: r.try_get("role")?,
                    tenant: r.try_get("slug")?,
                    created_at: r.try_get("created_at")?,
                    locked_until: r.try_get("locked_until")?,
                    pending: hash == NO_PASSWORD,
                })
            })
            .collect()
    }

    pub async fn admin_by_id(&self, id: i64) -> Result<Option<AdminAccount>, StoreError> {
        sqlx::query("SELECT * FROM admins WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .map(|r| account(&r))
            .transpose()
    }

    /// Invite an admin: the account exists without a password; `ticket_hash` (valid until
    /// `expires_at`) lets them choose one. Audited.
    #[allow(clippy::too_many_arguments)]
    pub async fn invite_admin(
        &self,
        email: &str,
        role: AdminRole,
        tenant_id: Option<i64>,
        ticket_hash: &str,
        expires_at: DateTime<Utc>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let id = self
            .create_admin(email, NO_PASSWORD, role, tenant_id, now)
            .await?;
        let mut tx = self.write_tx(0).await?;
        sqlx::query(
            "INSERT INTO admin_tickets (ticket_hash, admin_id, purpose, expires_at) VALUES ($1, $2, 'set_password', $3)",
        )
        .bind(ticket_hash)
        .bind(id)
        .bind(expires_at.timestamp())
        .execute(&mut *tx)
        .await?;
        let change = Change::new("admin.invite", Some(email))
            .after(json!({"email": email, "role": role.as_str()}));
        audit::insert(&mut tx, tenant_id, actor, &change, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// A new one-time link for an existing admin (a lost password). Audited.
    pub async fn reissue_password_ticket(
        &self,
        admin: &AdminAccount,
        ticket_hash: &str,
        expires_at: DateTime<Utc>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx(0).await?;
        sqlx::query("DELETE FROM admin_tickets WHERE admin_id = $1 AND purpose = 'set_password'")
            .bind(admin.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO admin_tickets (ticket_hash, admin_id, purpose, expires_at) VALUES ($1, $2, 'set_password', $3)",
        )
        .bind(ticket_hash)
        .bind(admin.id)
        .bind(expires_at.timestamp())
        .execute(&mut *tx)
        .await?;
        let change = Change::new("admin.password_link", Some(&admin.email));
        audit::insert(&mut tx, admin.tenant_id, actor, &change, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Remove an admin (their sessions and tokens go with them). Audited. False: refused,
    /// because it is the last operator.
    pub async fn remove_admin(
        &self,
        admin: &AdminAccount,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write_tx(0).await?;
        if admin.role == AdminRole::Operator {
            let n: i64 = sqlx::query("SELECT count(*) AS n FROM admins WHERE role = 'operator'")
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
            if n <= 1 {
                return Ok(false);
            }
        }
        sqlx::query("DELETE FROM admins WHERE id = $1")
            .bind(admin.id)
            .execute(&mut *tx)
            .await?;
        let change = Change::new("admin.remove", Some(&admin.email))
            .before(json!({"email": admin.email, "role": admin.role.as_str()}));
        audit::insert(&mut tx, admin.tenant_id, actor, &change, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Lift a lockout. Audited.
    pub async fn unlock_admin(
        &self,
        admin: &AdminAccount,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx(0).await?;
        sqlx::query("UPDATE admins SET failed_attempts = 0, locked_until = NULL WHERE id = $1")
            .bind(admin.id)
            .execute(&mut *tx)
            .await?;
        let change = Change::new("admin.unlock", Some(&admin.email));
        audit::insert(&mut tx, admin.tenant_id, actor, &change, now).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- one-time tickets ---------------------------------------------------------------------

    pub async fn create_ticket(
        &self,
        ticket_hash: &str,
        admin_id: i64,
        purpose: TicketPurpose,
        binding_hash: Option<&str>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO admin_tickets (ticket_hash, admin_id, purpose, binding_hash, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(ticket_hash)
        .bind(admin_id)
        .bind(purpose.as_str())
        .bind(binding_hash)
        .bind(expires_at.timestamp())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Consume a ticket once: (admin id, binding hash) if it was live.
    pub async fn take_ticket(
        &self,
        ticket_hash: &str,
        purpose: TicketPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<(i64, Option<String>)>, StoreError> {
        let row = sqlx::query(
            "UPDATE admin_tickets SET consumed = TRUE
             WHERE ticket_hash = $1 AND purpose = $2 AND consumed = FALSE AND expires_at > $3
             RETURNING admin_id, binding_hash",
        )
        .bind(ticket_hash)
        .bind(purpose.as_str())
        .bind(now.timestamp())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| Ok((r.try_get("admin_id")?, r.try_get("binding_hash")?)))
            .transpose()
    }

    /// Whether a set-password ticket is live (the form is shown only then).
    pub async fn ticket_is_live(
        &self,
        ticket_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query(
            "SELECT admin_id FROM admin_tickets WHERE ticket_hash = $1 AND purpose = 'set_password'
             AND consumed = FALSE AND expires_at > $2",
        )
        .bind(ticket_hash)
        .bind(now.timestamp())
        .fetch_optional(self.pool())
        .await?
        .map(|r| r.try_get("admin_id"))
        .transpose()?)
    }

    /// Set a password (after a ticket was consumed); ends the admin's other sessions.
    pub async fn set_admin_password(
        &self,
        admin_id: i64,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx(0).await?;
        sqlx::query(
            "UPDATE admins SET password_hash = $1, failed_attempts = 0, locked_until = NULL WHERE id = $2",
        )
        .bind(password_hash)
        .bind(admin_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM admin_sessions WHERE admin_id = $1")
            .bind(admin_id)
            .execute(&mut *tx)
            .await?;
        let who = sqlx::query("SELECT email, tenant_id FROM admins WHERE id = $1")
            .bind(admin_id)
            .fetch_one(&mut *tx)
            .await?;
        let email: String = who.try_get("email")?;
        let tenant: Option<i64> = who.try_get("tenant_id")?;
        let change = Change::new("admin.password_set", Some(&email));
        audit::insert(
            &mut tx,
            tenant,
            &Actor::new(format!("admin:{email}"), None),
            &change,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- admin API tokens ---------------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    pub async fn create_api_token(
        &self,
        admin: &AdminAccount,
        token_hash: &str,
        prefix: &str,
        label: &str,
        expires_at: Option<i64>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let mut tx = self.write_tx(0).await?;
        let id: i64 = sqlx::query(
            "INSERT INTO admin_api_tokens (admin_id, token_hash, prefix, label, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(admin.id)
        .bind(token_hash)
        .bind(prefix)
        .bind(label)
        .bind(now.timestamp())
        .bind(expires_at)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        let change = Change::new("api_token.create", Some(prefix))
            .detail(label.to_string())
            .after(json!({"prefix": prefix, "label": label, "expires_at": expires_at}));
        audit::insert(&mut tx, admin.tenant_id, actor, &change, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Tokens of one admin, or (operators) of everyone, newest first.
    pub async fn api_tokens(&self, admin_id: Option<i64>) -> Result<Vec<ApiTokenInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT k.id, a.email, k.prefix, k.label, k.created_at, k.expires_at, k.last_used_at, k.revoked_at
             FROM admin_api_tokens k JOIN admins a ON a.id = k.admin_id
             WHERE $1 IS NULL OR k.admin_id = $1 ORDER BY k.id DESC",
        )
        .bind(admin_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ApiTokenInfo {
                    id: r.try_get("id")?,
                    admin_email: r.try_get("email")?,
                    prefix: r.try_get("prefix")?,
                    label: r.try_get("label")?,
                    created_at: r.try_get("created_at")?,
                    expires_at: r.try_get("expires_at")?,
                    last_used_at: r.try_get("last_used_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    /// Revoke a token of `admin_id` (or any token for `None`, operators). Audited.
    pub async fn revoke_api_token(
        &self,
        token_id: i64,
        admin_id: Option<i64>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write_tx(0).await?;
        let row = sqlx::query(
            "UPDATE admin_api_tokens SET revoked_at = $1
             WHERE id = $2 AND ($3 IS NULL OR admin_id = $3) AND revoked_at IS NULL
             RETURNING prefix, admin_id",
        )
        .bind(now.timestamp())
        .bind(token_id)
        .bind(admin_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(false) };
        let prefix: String = row.try_get("prefix")?;
        let owner: i64 = row.try_get("admin_id")?;
        let tenant: Option<i64> = sqlx::query("SELECT tenant_id FROM admins WHERE id = $1")
            .bind(owner)
            .fetch_one(&mut *tx)
            .await?
            .try_get("tenant_id")?;
        let change = Change::new("api_token.revoke", Some(&prefix));
        audit::insert(&mut tx, tenant, actor, &change, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The admin a live token acts for, and the token's prefix; records use at most once a
    /// minute.
    pub async fn admin_of_api_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(AdminAccount, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT k.id AS token_id, k.prefix, k.token_hash, a.* FROM admin_api_tokens k JOIN admins a ON a.id = k.admin_id
             WHERE k.token_hash = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > $2)",
        )
        .bind(token_hash)
        .bind(now.timestamp())
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let stored: String = row.try_get("token_hash")?;
        if stored.len() != token_hash.len()
            || !openssl::memcmp::eq(stored.as_bytes(), token_hash.as_bytes())
        {
            return Ok(None);
        }
        let token_id: i64 = row.try_get("token_id")?;
        sqlx::query(
            "UPDATE admin_api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1 - 60)",
        )
        .bind(now.timestamp())
        .bind(token_id)
        .execute(self.pool())
        .await?;
        Ok(Some((account(&row)?, row.try_get("prefix")?)))
    }
}
