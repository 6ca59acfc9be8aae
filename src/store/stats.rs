//! Read-only figures for metrics and readiness: live-row counts, pool statistics, one
//! stored SP key to prove the master key opens it.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::db::{Db, StoreError};
use super::sp_keys::SpKeyRow;

/// Rows that are live at `now` (the purge job deletes the rest every 10 minutes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveCounts {
    pub replay_cache_entries: i64,
    pub sessions: i64,
    pub admin_sessions: i64,
    pub pending_requests: i64,
}

impl Db {
    /// Counts of unexpired replay-cache entries, app sessions, console sessions and
    /// outstanding AuthnRequests, in one statement.
    pub async fn live_counts(&self, now: DateTime<Utc>) -> Result<LiveCounts, StoreError> {
        let r = sqlx::query(
            "SELECT
               (SELECT COUNT(*) FROM used_assertions WHERE expires_at > $1) AS replay,
               (SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL AND absolute_expiry_at > $1) AS sessions,
               (SELECT COUNT(*) FROM admin_sessions WHERE expires_at > $1) AS admin_sessions,
               (SELECT COUNT(*) FROM authn_requests WHERE expires_at > $1 AND consumed = FALSE) AS pending",
        )
        .bind(now.timestamp())
        .fetch_one(self.pool())
        .await?;
        Ok(LiveCounts {
            replay_cache_entries: r.try_get("replay")?,
            sessions: r.try_get("sessions")?,
            admin_sessions: r.try_get("admin_sessions")?,
            pending_requests: r.try_get("pending")?,
        })
    }

    /// The pool: (open connections, idle connections, maximum).
    pub fn pool_stats(&self) -> (u32, usize, u32) {
        let p = self.pool();
        (p.size(), p.num_idle(), p.options().get_max_connections())
    }

    /// Close the pool: every later query fails (readiness tests; shutdown).
    pub async fn close(&self) {
        self.pool().close().await;
    }

    /// One current SP key of any scope (the newest), if any is stored.
    pub async fn any_current_sp_key(&self) -> Result<Option<SpKeyRow>, StoreError> {
        let r =
            sqlx::query("SELECT * FROM sp_keys WHERE state = 'current' ORDER BY id DESC LIMIT 1")
                .fetch_optional(self.pool())
                .await?;
        r.as_ref().map(super::sp_keys::row).transpose()
    }
}
