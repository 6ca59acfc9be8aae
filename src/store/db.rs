//! The database: one code path over sqlx `Any` for both engines, chosen by the URL.
//!
//! - **SQLite** (`sqlite://...`, the embedded default): WAL, `synchronous=FULL` (an
//!   acknowledged write survives a crash), a busy timeout, foreign keys; writers serialise
//!   on `BEGIN IMMEDIATE`. Migrations from `migrations/sqlite`.
//! - **PostgreSQL** (`postgres://...`, several instances): the same statements; write
//!   transactions take a transaction-scoped advisory lock per tenant, which gives the same
//!   read-modify-write guarantee across every instance; unique indexes back every "at most
//!   once". Migrations from `migrations/postgres`. Connections are checked before use and
//!   waited for at most a few seconds, so a database outage fails requests fast (503).
//!
//! Portable SQL only: `$N` placeholders, `TRUE`/`FALSE`, `ON CONFLICT`, `RETURNING`; flags
//! are read with [`flag`] (SQLite gives integers, PostgreSQL booleans).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use super::audit::{self, Actor, Change};
use super::licenses::{LicenseError, assign_in_tx};
use super::scim_cursors::ScimCursors;
use crate::directory::{FederationSource, LoginMode, SsoRollout, Tenant, User};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Other(String),
}

/// A new tenant, as the admin command or the demo creates it.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub slug: String,
    pub display_name: String,
    pub idp_entity_id: String,
    pub idp_sso_url: Option<String>,
    pub idp_slo_url: Option<String>,
    pub allow_idp_initiated: bool,
    pub email_domains: Vec<String>,
    pub allowed_return_urls: Vec<String>,
    /// base64 DER signing certificates; the first is "current", others "next".
    pub certificates: Vec<String>,
}

/// A user created here (the command line, the console, the demo).
#[derive(Debug, Clone, Copy)]
pub struct NewUser<'a> {
    pub user_name: &'a str,
    pub display_name: &'a str,
    pub email: &'a str,
    pub licenses: &'a [String],
}

/// What a sign-in was started for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestPurpose {
    /// An app session for a user.
    App,
    /// The Configuration Manager, for a tenant admin.
    Admin,
}

impl RequestPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestPurpose::App => "app",
            RequestPurpose::Admin => "admin",
        }
    }
}

/// An outstanding AuthnRequest, consumed at the ACS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest {
    pub tenant_id: i64,
    pub request_id: String,
    pub return_to: String,
    pub binding_hash: String,
    pub purpose: RequestPurpose,
}

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub tenant_id: i64,
    pub user_id: i64,
    pub name_id: String,
    pub session_index: Option<String>,
    pub created_at: i64,
    pub absolute_expiry_at: i64,
}

impl From<sqlx::Error> for StoreError {
    /// A unique-index violation is a conflict (two writers raced for the same key: the
    /// second one is told so); everything else is a database failure.
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(
                d.constraint()
                    .map(|c| format!("a record with the same key ({c})"))
                    .unwrap_or_else(|| "a record with the same key".into()),
            ),
            _ => StoreError::Db(e),
        }
    }
}

/// The columns `user_from_row` reads. Never `SELECT *` on users or groups: their
/// PostgreSQL `resource_jsonb` column is a type sqlx `Any` cannot carry.
macro_rules! user_columns {
    () => {
        "id, tenant_id, user_name, federation_id, display_name, email, active"
    };
}

/// Which engine the database URL chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Dialect::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Dialect::Postgres)
        } else {
            None
        }
    }
}

#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    dialect: Dialect,
    /// Page ends of SCIM lists, shared by the clones of this `Db` (`Db::scim_list`).
    pub(super) scim_cursors: Arc<ScimCursors>,
    /// SQLite: write transactions of this process queue here, not on the file lock.
    write_gate: Arc<tokio::sync::Mutex<()>>,
    /// When this process last stamped a certificate's "last used" (`store::login`).
    pub(super) certificate_stamps:
        Arc<std::sync::Mutex<std::collections::HashMap<(i64, u64), i64>>>,
}

/// A write transaction (see [`Db::write_tx`]): statements run on it as on a connection
/// (`&mut *tx`); it ends with [`WriteTx::commit`], or rolls back when dropped.
pub(crate) struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    /// SQLite: this process's turn to write, held until the transaction ends.
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

/// The advisory-lock namespace of write transactions on PostgreSQL ("SG" << 32).
const LOCK_SPACE: i64 = 0x5347_0000_0000;
/// How long a request waits for a database connection before failing (503).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// A boolean column: PostgreSQL returns a boolean, SQLite an integer.
pub(crate) fn flag(r: &AnyRow, col: &str) -> Result<bool, sqlx::Error> {
    match r.try_get::<bool, _>(col) {
        Ok(b) => Ok(b),
        Err(_) => r.try_get::<i64, _>(col).map(|v| v != 0),
    }
}

fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

fn session_row(r: &AnyRow) -> Result<SessionRow, sqlx::Error> {
    Ok(SessionRow {
        tenant_id: r.try_get("tenant_id")?,
        user_id: r.try_get("user_id")?,
        name_id: r.try_get("name_id")?,
        session_index: r.try_get("session_index")?,
        created_at: r.try_get("created_at")?,
        absolute_expiry_at: r.try_get("absolute_expiry_at")?,
    })
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

impl Db {
    /// Open (creating a SQLite file if needed) and migrate. `sqlite::memory:` gives a
    /// private database; `postgres://...` a shared one.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::of_url(url).ok_or_else(|| {
            StoreError::Other(format!(
                "unsupported database URL '{url}': use sqlite://FILE or postgres://..."
            ))
        })?;
        let pool = match dialect {
            Dialect::Sqlite => {
                let memory = url.contains(":memory:") || url.contains("mode=memory");
                let url = if memory || url.contains("mode=") {
                    url.to_string()
                } else if url.contains('?') {
                    format!("{url}&mode=rwc")
                } else {
                    format!("{url}?mode=rwc")
                };
                AnyPoolOptions::new()
                    .max_connections(if memory { 1 } else { 8 })
                    // An embedded file has no connection to go stale: no ping per acquire.
                    .test_before_acquire(false)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .after_connect(move |conn, _| {
                        Box::pin(async move {
                            for pragma in [
                                if memory {
                                    "PRAGMA journal_mode = MEMORY"
                                } else {
                                    "PRAGMA journal_mode = WAL"
                                },
                                "PRAGMA synchronous = FULL",
                                "PRAGMA busy_timeout = 5000",
                                "PRAGMA foreign_keys = ON",
                            ] {
                                sqlx::query(pragma).execute(&mut *conn).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?
            }
            Dialect::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .min_connections(0)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .test_before_acquire(true)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // A hung statement must not hold a worker: fail it (503) instead.
                            sqlx::query("SET statement_timeout = '10s'")
                                .execute(&mut *conn)
                                .await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?
            }
        };
        let db = Db {
            pool,
            dialect,
            scim_cursors: Arc::default(),
            write_gate: Arc::default(),
            certificate_stamps: Arc::default(),
        };
        db.migrate().await?;
        Ok(db)
    }

    /// Apply this engine's migrations (idempotent; `sso-gateway migrate` and start-up).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.dialect {
            Dialect::Sqlite => sqlx::migrate!("migrations/sqlite").run(&self.pool).await?,
            Dialect::Postgres => {
                sqlx::migrate!("migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// A write transaction. SQLite: `BEGIN IMMEDIATE` (the database write lock, now, so a
    /// read-modify-write cannot lose an update), after this process's previous write
    /// transaction ended: writers wait their turn on an in-process queue instead of on
    /// the file lock, whose busy handler sleeps (1, 2, 5, 10 ... ms) and, under load,
    /// made writers sleep more than they worked. PostgreSQL: a transaction holding the
    /// advisory lock of `key` (a tenant id; 0 for deployment-wide changes) until it ends:
    /// the same guarantee, per tenant, across every instance.
    pub(crate) async fn write_tx(&self, key: i64) -> Result<WriteTx, StoreError> {
        match self.dialect {
            Dialect::Sqlite => self.sqlite_write_tx().await,
            Dialect::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock($1)) AS l")
                    .bind(LOCK_SPACE.wrapping_add(key))
                    .execute(&mut *tx)
                    .await?;
                Ok(WriteTx { tx, _turn: None })
            }
        }
    }

    /// SQLite: this process's turn to write, then `BEGIN IMMEDIATE`. PostgreSQL: a plain
    /// transaction (the caller guards what it writes with keys and row locks).
    pub(crate) async fn plain_write_tx(&self) -> Result<WriteTx, StoreError> {
        match self.dialect {
            Dialect::Sqlite => self.sqlite_write_tx().await,
            Dialect::Postgres => Ok(WriteTx {
                tx: self.pool.begin().await?,
                _turn: None,
            }),
        }
    }

    async fn sqlite_write_tx(&self) -> Result<WriteTx, StoreError> {
        let turn = self.write_gate.clone().lock_owned().await;
        Ok(WriteTx {
            tx: self.pool.begin_with("BEGIN IMMEDIATE").await?,
            _turn: Some(turn),
        })
    }

    /// Delete what has expired: outstanding requests, replay entries, one-time token ids,
    /// and sessions ended more than a day ago. Safe to run at any time, from any worker.
    pub async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let t = ts(now);
        let mut n = 0;
        for sql in [
            "DELETE FROM authn_requests WHERE expires_at <= $1",
            "DELETE FROM used_assertions WHERE expires_at <= $1",
            "DELETE FROM used_app_tokens WHERE expires_at <= $1",
            "DELETE FROM sessions WHERE absolute_expiry_at <= $1 - 86400 OR revoked_at <= $1 - 86400",
            "DELETE FROM admin_sessions WHERE expires_at <= $1",
            "DELETE FROM admin_tickets WHERE expires_at <= $1",
        ] {
            n += sqlx::query(sql)
                .bind(t)
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        Ok(n)
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    // ---- tenants ------------------------------------------------------------------------

    pub async fn create_tenant(
        &self,
        t: &NewTenant,
        now: DateTime<Utc>,
    ) -> Result<Tenant, StoreError> {
        let mut tx = self.write_tx(0).await?;
        let exists = sqlx::query("SELECT 1 FROM tenants WHERE slug = $1")
            .bind(&t.slug)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            return Err(StoreError::Conflict(format!("tenant '{}'", t.slug)));
        }
        let id: i64 = sqlx::query(
            "INSERT INTO tenants (slug, display_name, idp_entity_id, idp_sso_url, idp_slo_url, allow_idp_initiated,
                                  email_domains, allowed_return_urls, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(&t.slug)
        .bind(&t.display_name)
        .bind(&t.idp_entity_id)
        .bind(&t.idp_sso_url)
        .bind(&t.idp_slo_url)
        .bind(t.allow_idp_initiated)
        .bind(t.email_domains.join(" "))
        .bind(t.allowed_return_urls.join(" "))
        .bind(ts(now))
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        for (i, cert) in t.certificates.iter().enumerate() {
            sqlx::query("INSERT INTO tenant_certificates (tenant_id, role, der_base64, created_at) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(if i == 0 { "current" } else { "next" })
                .bind(cert)
                .bind(ts(now))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.tenant_by_id(id)
            .await?
            .ok_or_else(|| StoreError::NotFound("tenant".into()))
    }

    async fn tenant_from_row(&self, row: AnyRow) -> Result<Tenant, StoreError> {
        let id: i64 = row.try_get("id")?;
        let certificates = sqlx::query(
            "SELECT der_base64 FROM tenant_certificates WHERE tenant_id = $1 ORDER BY role = 'next', id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| r.try_get::<String, _>("der_base64"))
        .collect::<Result<Vec<_>, _>>()?;
        tenant_fields(&row, certificates)
    }

    /// One tenant and its certificates in one statement (the ACS reads this on every
    /// login): the tenant's columns on every row, one row per certificate (current
    /// first), or one row with no certificate.
    async fn tenant_joined(
        &self,
        by_slug: bool,
        key: Key<'_>,
    ) -> Result<Option<Tenant>, StoreError> {
        let sql = if by_slug {
            "SELECT t.*, c.der_base64 AS cert_der FROM tenants t
             LEFT JOIN tenant_certificates c ON c.tenant_id = t.id
             WHERE t.slug = $1 ORDER BY c.role = 'next', c.id"
        } else {
            "SELECT t.*, c.der_base64 AS cert_der FROM tenants t
             LEFT JOIN tenant_certificates c ON c.tenant_id = t.id
             WHERE t.id = $1 ORDER BY c.role = 'next', c.id"
        };
        let q = sqlx::query(sql);
        let q = match key {
            Key::Text(s) => q.bind(s),
            Key::Int(i) => q.bind(i),
        };
        let rows = q.fetch_all(&self.pool).await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut certificates = Vec::with_capacity(rows.len());
        for r in &rows {
            if let Some(c) = r.try_get::<Option<String>, _>("cert_der")? {
                certificates.push(c);
            }
        }
        Ok(Some(tenant_fields(first, certificates)?))
    }
}

/// A lookup key of [`Db::tenant_joined`].
#[derive(Clone, Copy)]
enum Key<'a> {
    Text(&'a str),
    Int(i64),
}

/// A user's licenses and the apps they grant (each app once, in license order).
#[derive(Default)]
struct Grants {
    licenses: Vec<String>,
    apps: Vec<String>,
}

impl Grants {
    fn add(&mut self, code: String, apps: &str) {
        self.licenses.push(code);
        for a in words(apps) {
            if !self.apps.contains(&a) {
                self.apps.push(a);
            }
        }
    }
}

/// A user from the `user_columns!` of `row` and its grants.
fn user_fields(row: &AnyRow, grants: Grants) -> Result<User, StoreError> {
    Ok(User {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        user_name: row.try_get("user_name")?,
        federation_id: row.try_get("federation_id")?,
        display_name: row.try_get("display_name")?,
        email: row.try_get("email")?,
        active: flag(row, "active")?,
        licenses: grants.licenses,
        apps: grants.apps,
    })
}

fn tenant_fields(row: &AnyRow, certificates: Vec<String>) -> Result<Tenant, StoreError> {
    let id: i64 = row.try_get("id")?;
    let mode: String = row.try_get("login_mode")?;
    Ok(Tenant {
        id,
        slug: row.try_get("slug")?,
        display_name: row.try_get("display_name")?,
        idp_entity_id: row.try_get("idp_entity_id")?,
        idp_sso_url: row.try_get("idp_sso_url")?,
        idp_slo_url: row.try_get("idp_slo_url")?,
        login_mode: LoginMode::parse(&mode).unwrap_or(LoginMode::SsoOnly),
        allow_idp_initiated: flag(row, "allow_idp_initiated")?,
        federation_source: FederationSource::parse(&row.try_get::<String, _>("federation_source")?),
        federation_attribute: row.try_get("federation_attribute")?,
        clock_skew_seconds: row.try_get("clock_skew_seconds")?,
        email_domains: words(&row.try_get::<String, _>("email_domains")?),
        allowed_return_urls: words(&row.try_get::<String, _>("allowed_return_urls")?),
        certificates,
        sso_rollout: SsoRollout::from_db(
            &row.try_get::<String, _>("sso_rollout")?,
            &row.try_get::<String, _>("sso_test_users")?,
        ),
        admin_sso: flag(row, "admin_sso")?,
        sign_requests: flag(row, "sign_requests")?,
        post_binding: row.try_get::<String, _>("request_binding")? == "post",
        require_signed_assertions: flag(row, "require_signed_assertions")?,
        sign_metadata: flag(row, "sign_metadata")?,
    })
}

impl Db {
    pub async fn tenant_by_id(&self, id: i64) -> Result<Option<Tenant>, StoreError> {
        self.tenant_joined(false, Key::Int(id)).await
    }

    pub async fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>, StoreError> {
        self.tenant_joined(true, Key::Text(slug)).await
    }

    /// Replace a tenant's IdP trust (entity ID, endpoints, certificates).
    pub async fn update_tenant_idp(&self, tenant_id: i64, t: &NewTenant) -> Result<(), StoreError> {
        let mut tx = self.write_tx(tenant_id).await?;
        sqlx::query("UPDATE tenants SET idp_entity_id = $1, idp_sso_url = $2, idp_slo_url = $3, allowed_return_urls = $4 WHERE id = $5")
            .bind(&t.idp_entity_id)
            .bind(&t.idp_sso_url)
            .bind(&t.idp_slo_url)
            .bind(t.allowed_return_urls.join(" "))
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM tenant_certificates WHERE tenant_id = $1")
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?;
        for (i, cert) in t.certificates.iter().enumerate() {
            sqlx::query("INSERT INTO tenant_certificates (tenant_id, role, der_base64, created_at) VALUES ($1, $2, $3, 0)")
                .bind(tenant_id)
                .bind(if i == 0 { "current" } else { "next" })
                .bind(cert)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_login_mode(&self, tenant_id: i64, mode: LoginMode) -> Result<(), StoreError> {
        sqlx::query("UPDATE tenants SET login_mode = $1 WHERE id = $2")
            .bind(mode.as_str())
            .bind(tenant_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn set_federation_source(
        &self,
        tenant_id: i64,
        source: &FederationSource,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE tenants SET federation_source = $1 WHERE id = $2")
            .bind(source.as_db())
            .bind(tenant_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Tenants a login name may belong to: those with a user of that name, else those
    /// whose email domain matches.
    pub async fn discover_tenants(&self, login: &str) -> Result<Vec<Tenant>, StoreError> {
        let ids: Vec<i64> =
            sqlx::query("SELECT DISTINCT tenant_id FROM users WHERE lower(user_name) = lower($1)")
                .bind(login.trim())
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(|r| r.try_get("tenant_id"))
                .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(t) = self.tenant_by_id(id).await? {
                out.push(t);
            }
        }
        if out.is_empty()
            && let Some((_, domain)) = login.trim().rsplit_once('@')
        {
            let domain = domain.to_ascii_lowercase();
            for r in sqlx::query("SELECT * FROM tenants WHERE email_domains != ''")
                .fetch_all(&self.pool)
                .await?
            {
                let t = self.tenant_from_row(r).await?;
                if t.email_domains
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(&domain))
                {
                    out.push(t);
                }
            }
        }
        Ok(out)
    }

    // ---- users ----------------------------------------------------------------------------

    /// Create a user as provisioning does: active, Federation ID = user name (from the
    /// command line and the demo; licenses within the inventory).
    pub async fn create_user(
        &self,
        tenant_id: i64,
        user_name: &str,
        display_name: &str,
        licenses: &[String],
        now: DateTime<Utc>,
    ) -> Result<User, StoreError> {
        let email = if user_name.contains('@') {
            user_name
        } else {
            ""
        };
        let new = NewUser {
            user_name,
            display_name,
            email,
            licenses,
        };
        match self
            .create_user_by(tenant_id, &new, &Actor::cli(), now)
            .await?
        {
            Ok(u) => Ok(u),
            Err(e) => Err(StoreError::Other(e.to_string())),
        }
    }

    /// Create a user here (not by provisioning), audited; licenses must fit the inventory.
    pub async fn create_user_by(
        &self,
        tenant_id: i64,
        new: &NewUser<'_>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Result<User, LicenseError>, StoreError> {
        let NewUser {
            user_name,
            display_name,
            email,
            licenses,
        } = *new;
        let mut tx = self.write_tx(tenant_id).await?;
        let dup = sqlx::query(
            "SELECT 1 FROM users WHERE tenant_id = $1 AND lower(user_name) = lower($2)",
        )
        .bind(tenant_id)
        .bind(user_name)
        .fetch_optional(&mut *tx)
        .await?;
        if dup.is_some() {
            return Err(StoreError::Conflict(format!("user '{user_name}'")));
        }
        // Visible to SCIM, so that Okta's "assign" lookup finds and links the user.
        let scim_id = new_scim_id()?;
        let id: i64 = sqlx::query(
            "INSERT INTO users (tenant_id, user_name, federation_id, display_name, email, active, created_at, updated_at,
                                scim_id, resource, source)
             VALUES ($1, $2, $2, $3, $4, TRUE, $5, $5, $6, $7, 'admin') RETURNING id",
        )
        .bind(tenant_id)
        .bind(user_name)
        .bind(display_name)
        .bind(email)
        .bind(ts(now))
        .bind(&scim_id)
        .bind(admin_user_resource(&scim_id, user_name, display_name, email, ts(now)).to_string())
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        for code in licenses {
            if let Err(e) = assign_in_tx(&mut tx, tenant_id, id, code).await? {
                return Ok(Err(e));
            }
        }
        let change = Change::new("user.create", Some(&scim_id))
            .detail(format!("created here: userName={user_name}"))
            .after(serde_json::json!({
                "userName": user_name, "displayName": display_name, "email": email,
                "active": true, "federationId": user_name, "licenses": licenses,
            }));
        audit::insert(&mut tx, Some(tenant_id), actor, &change, now).await?;
        tx.commit().await?;
        Ok(Ok(self
            .user_by_id(id)
            .await?
            .ok_or_else(|| StoreError::NotFound("user".into()))?))
    }

    pub async fn set_user_active(
        &self,
        user_id: i64,
        active: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx(0).await?;
        sqlx::query("UPDATE users SET active = $1, updated_at = $2 WHERE id = $3")
            .bind(active)
            .bind(ts(now))
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if !active {
            sqlx::query(
                "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
            )
            .bind(ts(now))
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn user_from_row(&self, row: AnyRow) -> Result<User, StoreError> {
        let id: i64 = row.try_get("id")?;
        let lic = sqlx::query(
            "SELECT l.code, l.apps FROM user_licenses ul JOIN licenses l ON l.code = ul.license_code
             WHERE ul.user_id = $1 ORDER BY l.code",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut grants = Grants::default();
        for r in lic {
            grants.add(r.try_get("code")?, &r.try_get::<String, _>("apps")?);
        }
        user_fields(&row, grants)
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        match sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        {
            Some(r) => Ok(Some(self.user_from_row(r).await?)),
            None => Ok(None),
        }
    }

    /// The user of *this tenant* with this Federation ID (case-insensitive), with its
    /// licenses, in one statement (the ACS reads this on every login).
    pub async fn user_by_federation_id(
        &self,
        tenant_id: i64,
        fid: &str,
    ) -> Result<Option<User>, StoreError> {
        let rows = sqlx::query(
            "SELECT u.id, u.tenant_id, u.user_name, u.federation_id, u.display_name, u.email, u.active,
                    l.code AS lic_code, l.apps AS lic_apps
             FROM users u
             LEFT JOIN user_licenses ul ON ul.user_id = u.id
             LEFT JOIN licenses l ON l.code = ul.license_code
             WHERE u.tenant_id = $1 AND lower(u.federation_id) = lower($2)
             ORDER BY u.id, l.code",
        )
        .bind(tenant_id)
        .bind(fid.trim())
        .fetch_all(&self.pool)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let id: i64 = first.try_get("id")?;
        let mut grants = Grants::default();
        for r in &rows {
            if r.try_get::<i64, _>("id")? != id {
                break;
            }
            if let Some(code) = r.try_get::<Option<String>, _>("lic_code")? {
                let apps = r.try_get::<Option<String>, _>("lic_apps")?;
                grants.add(code, apps.as_deref().unwrap_or_default());
            }
        }
        Ok(Some(user_fields(first, grants)?))
    }

    pub async fn user_by_user_name(
        &self,
        tenant_id: i64,
        name: &str,
    ) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE tenant_id = $1 AND lower(user_name) = lower($2)"
        ))
        .bind(tenant_id)
        .bind(name.trim())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Ok(Some(self.user_from_row(r).await?)),
            None => Ok(None),
        }
    }

    pub async fn users_of_tenant(&self, tenant_id: i64) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE tenant_id = $1 ORDER BY lower(user_name)"
        ))
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.user_from_row(r).await?);
        }
        Ok(out)
    }

    // ---- outstanding requests ---------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    pub async fn save_authn_request(
        &self,
        relay_hash: &str,
        tenant_id: i64,
        request_id: &str,
        return_to: &str,
        binding_hash: &str,
        expires_at: DateTime<Utc>,
        purpose: RequestPurpose,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO authn_requests (relay_hash, tenant_id, request_id, return_to, binding_hash, expires_at, purpose)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(relay_hash)
        .bind(tenant_id)
        .bind(request_id)
        .bind(return_to)
        .bind(binding_hash)
        .bind(ts(expires_at))
        .bind(purpose.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Consume an outstanding request once, if it exists, is unused and unexpired.
    pub async fn take_authn_request(
        &self,
        relay_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingRequest>, StoreError> {
        let row = sqlx::query(
            "UPDATE authn_requests SET consumed = TRUE
             WHERE relay_hash = $1 AND consumed = FALSE AND expires_at > $2
             RETURNING tenant_id, request_id, return_to, binding_hash, purpose",
        )
        .bind(relay_hash)
        .bind(ts(now))
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let purpose: String = r.try_get("purpose")?;
        Ok(Some(PendingRequest {
            tenant_id: r.try_get("tenant_id")?,
            request_id: r.try_get("request_id")?,
            return_to: r.try_get("return_to")?,
            binding_hash: r.try_get("binding_hash")?,
            purpose: if purpose == "admin" {
                RequestPurpose::Admin
            } else {
                RequestPurpose::App
            },
        }))
    }

    // ---- replay cache -----------------------------------------------------------------------

    /// Record an assertion ID; false if it was already used and has not expired.
    pub async fn consume_assertion_id(
        &self,
        issuer: &str,
        id: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "INSERT INTO used_assertions (issuer, assertion_id, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (issuer, assertion_id) DO UPDATE SET expires_at = excluded.expires_at
             WHERE used_assertions.expires_at <= $4",
        )
        .bind(issuer)
        .bind(id)
        .bind(ts(expires_at))
        .bind(ts(now))
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    // ---- sessions -----------------------------------------------------------------------------

    pub async fn create_session(
        &self,
        id_hash: &str,
        row: &SessionRow,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, tenant_id, user_id, name_id, session_index, created_at, last_seen_at, absolute_expiry_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
        )
        .bind(id_hash)
        .bind(row.tenant_id)
        .bind(row.user_id)
        .bind(&row.name_id)
        .bind(&row.session_index)
        .bind(ts(now))
        .bind(row.absolute_expiry_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A live session (not revoked, within its absolute and idle limits); touches it.
    pub async fn live_session(
        &self,
        id_hash: &str,
        idle_seconds: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query(
            "UPDATE sessions SET last_seen_at = $2
             WHERE id_hash = $1 AND revoked_at IS NULL AND absolute_expiry_at > $2 AND last_seen_at + $3 > $2
             RETURNING tenant_id, user_id, name_id, session_index, created_at, absolute_expiry_at",
        )
        .bind(id_hash)
        .bind(ts(now))
        .bind(idle_seconds)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(session_row)
            .transpose()
            .map_err(StoreError::Db)
    }

    pub async fn revoke_session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query(
            "UPDATE sessions SET revoked_at = $2 WHERE id_hash = $1 AND revoked_at IS NULL
             RETURNING tenant_id, user_id, name_id, session_index, created_at, absolute_expiry_at",
        )
        .bind(id_hash)
        .bind(ts(now))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(session_row)
            .transpose()
            .map_err(StoreError::Db)
    }

    /// End the sessions an IdP LogoutRequest names; returns how many ended.
    pub async fn revoke_sessions_by_name_id(
        &self,
        tenant_id: i64,
        name_id: &str,
        session_indexes: &[String],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut n = 0;
        if session_indexes.is_empty() {
            n += sqlx::query(
                "UPDATE sessions SET revoked_at = $3
                 WHERE tenant_id = $1 AND lower(name_id) = lower($2) AND revoked_at IS NULL",
            )
            .bind(tenant_id)
            .bind(name_id)
            .bind(ts(now))
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        for si in session_indexes {
            n += sqlx::query(
                "UPDATE sessions SET revoked_at = $4
                 WHERE tenant_id = $1 AND lower(name_id) = lower($2) AND session_index = $3 AND revoked_at IS NULL",
            )
            .bind(tenant_id)
            .bind(name_id)
            .bind(si)
            .bind(ts(now))
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        Ok(n)
    }

    // ---- app tokens and events ----------------------------------------------------------------

    /// Consume a one-time app token id; false if already used.
    pub async fn consume_app_token(&self, jti: &str, expires_at: i64) -> Result<bool, StoreError> {
        let r =
            sqlx::query("INSERT INTO used_app_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
                .bind(jti)
                .bind(expires_at)
                .execute(&self.pool)
                .await?;
        Ok(r.rows_affected() == 1)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn record_event(
        &self,
        tenant_id: Option<i64>,
        incident_id: Option<&str>,
        kind: &str,
        outcome: &str,
        subject: Option<&str>,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO events (tenant_id, incident_id, kind, outcome, subject, detail, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant_id)
        .bind(incident_id)
        .bind(kind)
        .bind(outcome)
        .bind(subject)
        .bind(detail)
        .bind(ts(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest events of a tenant: (incident_id, kind, outcome, subject, detail).
    pub async fn recent_events(
        &self,
        tenant_id: i64,
        limit: i64,
    ) -> Result<Vec<(Option<String>, String, String, Option<String>, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT incident_id, kind, outcome, subject, detail FROM events WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(tenant_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    r.try_get("incident_id")?,
                    r.try_get("kind")?,
                    r.try_get("outcome")?,
                    r.try_get("subject")?,
                    r.try_get("detail")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::Db)
    }
}

/// A random UUID (v4), as SCIM ids are.
pub fn new_scim_id() -> Result<String, StoreError> {
    let mut b = [0u8; 16];
    openssl::rand::rand_bytes(&mut b).map_err(|e| StoreError::Other(format!("random: {e}")))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        h.get(0..8).unwrap_or_default(),
        h.get(8..12).unwrap_or_default(),
        h.get(12..16).unwrap_or_default(),
        h.get(16..20).unwrap_or_default(),
        h.get(20..32).unwrap_or_default()
    ))
}

/// The SCIM resource of a user created by an admin (not by provisioning).
fn admin_user_resource(
    id: &str,
    user_name: &str,
    display_name: &str,
    email: &str,
    now: i64,
) -> serde_json::Value {
    let t = DateTime::<Utc>::from_timestamp(now, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    let mut r = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": id,
        "userName": user_name,
        "active": true,
        "meta": {"resourceType": "User", "created": t, "lastModified": t, "version": "W/\"1\""},
    });
    if let Some(o) = r.as_object_mut() {
        if !display_name.is_empty() {
            o.insert("displayName".into(), display_name.into());
        }
        if !email.is_empty() {
            o.insert(
                "emails".into(),
                serde_json::json!([{"value": email, "type": "work", "primary": true}]),
            );
        }
    }
    r
}
