//! The replay-cache port: an assertion ID is accepted at most once while it could
//! still be valid. Shared (database) stores implement the same trait in later layers;
//! here is the in-memory implementation used by the CLI and single-process tests.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

/// Failure of the store itself (not a replay).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("replay cache unavailable: {0}")]
pub struct ReplayStoreError(pub String);

/// Records assertion IDs until they expire.
pub trait ReplayCache {
    /// Atomically record `(issuer, id)` until `expires_at`. Returns `Ok(true)` when the
    /// pair was new, `Ok(false)` when it was already recorded and not yet expired.
    fn check_and_record(
        &mut self,
        issuer: &str,
        id: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, ReplayStoreError>;
}

/// A process-local replay cache.
#[derive(Debug, Default)]
pub struct InMemoryReplayCache {
    seen: HashMap<(String, String), DateTime<Utc>>,
}

impl InMemoryReplayCache {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

impl ReplayCache for InMemoryReplayCache {
    fn check_and_record(
        &mut self,
        issuer: &str,
        id: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, ReplayStoreError> {
        if self.seen.len() > 10_000 {
            self.seen.retain(|_, exp| *exp > now);
        }
        let key = (issuer.to_string(), id.to_string());
        match self.seen.get(&key) {
            Some(exp) if *exp > now => Ok(false),
            _ => {
                self.seen.insert(key, expires_at);
                Ok(true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn second_use_is_refused_until_expiry() {
        let mut c = InMemoryReplayCache::new();
        let t0 = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        let exp = Utc.with_ymd_and_hms(2026, 6, 1, 12, 10, 0).unwrap();
        assert!(c.check_and_record("idp", "a1", exp, t0).unwrap());
        assert!(!c.check_and_record("idp", "a1", exp, t0).unwrap());
        assert!(c.check_and_record("other", "a1", exp, t0).unwrap());
        let later = Utc.with_ymd_and_hms(2026, 6, 1, 13, 0, 0).unwrap();
        assert!(c.check_and_record("idp", "a1", later, later).unwrap());
    }
}
