//! A verified login's writes, in one transaction (one durable commit per login).
//!
//! A login used to commit five times (the replay record, the certificate's "last used",
//! the session, the user's last sign-in, the sign-in event); each commit is a `fsync` on
//! SQLite and a WAL flush on PostgreSQL, and the ACS waited on all of them. Here they are
//! one transaction, in this order:
//!
//! 1. the assertion ID into the replay cache: if it is already there (and not expired) the
//!    transaction is rolled back and nothing else is written;
//! 2. the verifying certificate's "last used" stamp, at most once a minute;
//! 3. for a session: the user's last sign-in is stamped (at most once a minute, and only
//!    while active), the user is checked to be still active *inside* the transaction
//!    (PostgreSQL: `FOR SHARE`, so a concurrent deactivation, which updates the user row
//!    before it ends the user's sessions, waits for this commit and then ends the new
//!    session too; SQLite: `BEGIN IMMEDIATE` serialises the two), and the session is
//!    inserted;
//! 4. the sign-in event.
//!
//! Either everything is written or nothing is: an acknowledged login (the 303 with its
//! cookie) is durable, and a login that failed to commit left no replay record behind.

use chrono::{DateTime, Utc};

use super::db::{Db, Dialect, SessionRow, StoreError};

/// The replay record and certificate stamp every verified login writes.
#[derive(Debug, Clone, Copy)]
pub struct LoginRecord<'a> {
    pub tenant_id: i64,
    pub issuer: &'a str,
    pub assertion_id: &'a str,
    pub assertion_expires_at: DateTime<Utc>,
    /// base64 DER of the trusted certificate that verified the login.
    pub certificate_der: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// A sign-in event (the `events` table the console's incident search reads).
#[derive(Debug, Clone, Copy)]
pub struct SignInEvent<'a> {
    pub incident_id: Option<&'a str>,
    pub outcome: &'a str,
    pub subject: Option<&'a str>,
    pub detail: &'a str,
}

/// How a verified login ends.
#[derive(Debug, Clone, Copy)]
pub enum LoginEnd<'a> {
    /// A new session for an active user (`id_hash` is the hash of the cookie value).
    Session {
        id_hash: &'a str,
        row: &'a SessionRow,
        event: SignInEvent<'a>,
    },
    /// Refused (unknown, deactivated, unlicensed user...): only the event is written.
    Refused { event: SignInEvent<'a> },
}

/// What [`Db::complete_login`] committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginCommitted {
    /// The assertion ID was already used: nothing was written.
    Replayed,
    /// The session and its event.
    Session,
    /// The refusal event.
    Refused,
    /// The user was deactivated (or deleted) after it was read: the replay record was
    /// written, no session; the caller records the refusal.
    UserInactive,
}

/// Stamps ("last used", "last sign-in") are refreshed at most this often: a stamp
/// written by every login would turn every login of one user into a writer of the same row.
const STAMP_SECONDS: i64 = 60;

impl Db {
    /// Whether this process should stamp the certificate's "last used" now: not when it
    /// stamped it less than a minute ago (the UPDATE would change nothing; skipping it
    /// saves a statement per login). Other instances keep their own memory; the UPDATE's
    /// own condition keeps the stamp right whichever instance writes it.
    fn certificate_stamp_due(&self, tenant_id: i64, der: &str, now: i64) -> bool {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        der.hash(&mut h);
        let key = (tenant_id, h.finish());
        let Ok(mut m) = self.certificate_stamps.lock() else {
            return true;
        };
        if m.get(&key).is_some_and(|&t| t > now - STAMP_SECONDS) {
            return false;
        }
        if m.len() >= 4096 {
            m.clear();
        }
        m.insert(key, now);
        true
    }

    /// Write a verified login in one transaction (see the module documentation).
    pub async fn complete_login(
        &self,
        login: &LoginRecord<'_>,
        end: &LoginEnd<'_>,
    ) -> Result<LoginCommitted, StoreError> {
        let now = login.now.timestamp();
        // No tenant advisory lock on PostgreSQL: the replay record is guarded by its
        // primary key and the session by the user row lock below.
        let mut tx = self.plain_write_tx().await?;
        let fresh = sqlx::query(
            "INSERT INTO used_assertions (issuer, assertion_id, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (issuer, assertion_id) DO UPDATE SET expires_at = excluded.expires_at
             WHERE used_assertions.expires_at <= $4",
        )
        .bind(login.issuer)
        .bind(login.assertion_id)
        .bind(login.assertion_expires_at.timestamp())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !fresh {
            tx.rollback().await?;
            return Ok(LoginCommitted::Replayed);
        }
        if let Some(der) = login.certificate_der
            && self.certificate_stamp_due(login.tenant_id, der, now)
        {
            sqlx::query(
                "UPDATE tenant_certificates SET last_verified_at = $1
                 WHERE tenant_id = $2 AND der_base64 = $3 AND (last_verified_at IS NULL OR last_verified_at < $1 - $4)",
            )
            .bind(now)
            .bind(login.tenant_id)
            .bind(der)
            .bind(STAMP_SECONDS)
            .execute(&mut *tx)
            .await?;
        }
        let (event, committed) = match end {
            LoginEnd::Refused { event } => (event, LoginCommitted::Refused),
            LoginEnd::Session {
                id_hash,
                row,
                event,
            } => {
                let active = match self.dialect() {
                    // Writers are serialised: stamp and check in one statement.
                    Dialect::Sqlite => sqlx::query(
                        "UPDATE users SET last_login_at = CASE
                             WHEN last_login_at IS NULL OR last_login_at < $1 - $4 THEN $1
                             ELSE last_login_at END
                         WHERE id = $2 AND tenant_id = $3 AND active = TRUE RETURNING id",
                    )
                    .bind(now)
                    .bind(row.user_id)
                    .bind(row.tenant_id)
                    .bind(STAMP_SECONDS)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some(),
                    Dialect::Postgres => {
                        // The stamp first: a login that stamps takes the row's write lock
                        // before any share lock, so two logins of one user never both
                        // hold a share lock and then wait for each other's write lock.
                        sqlx::query(
                            "UPDATE users SET last_login_at = $1
                             WHERE id = $2 AND tenant_id = $3 AND active = TRUE
                               AND (last_login_at IS NULL OR last_login_at < $1 - $4)",
                        )
                        .bind(now)
                        .bind(row.user_id)
                        .bind(row.tenant_id)
                        .bind(STAMP_SECONDS)
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query(
                            "SELECT id FROM users WHERE id = $1 AND tenant_id = $2 AND active = TRUE FOR SHARE",
                        )
                        .bind(row.user_id)
                        .bind(row.tenant_id)
                        .fetch_optional(&mut *tx)
                        .await?
                        .is_some()
                    }
                };
                if !active {
                    tx.commit().await?;
                    return Ok(LoginCommitted::UserInactive);
                }
                sqlx::query(
                    "INSERT INTO sessions (id_hash, tenant_id, user_id, name_id, session_index, created_at, last_seen_at, absolute_expiry_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
                )
                .bind(*id_hash)
                .bind(row.tenant_id)
                .bind(row.user_id)
                .bind(&row.name_id)
                .bind(&row.session_index)
                .bind(now)
                .bind(row.absolute_expiry_at)
                .execute(&mut *tx)
                .await?;
                (event, LoginCommitted::Session)
            }
        };
        sqlx::query(
            "INSERT INTO events (tenant_id, incident_id, kind, outcome, subject, detail, created_at)
             VALUES ($1, $2, 'sign_in', $3, $4, $5, $6)",
        )
        .bind(login.tenant_id)
        .bind(event.incident_id)
        .bind(event.outcome)
        .bind(event.subject)
        .bind(event.detail)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(committed)
    }
}
