//! Where the pages of an unfiltered, default-order SCIM list ended, so that the next page
//! of an import can start after the last `id` served (`id > $last`, an index seek) instead
//! of skipping `OFFSET` rows. A cursor is used only while the list's `changes` counter
//! (`scim_counts`, kept by triggers) still has the value it had when the cursor was made:
//! then the set of resources is the one that page was read from, and `id > $last` is
//! exactly `OFFSET startIndex - 1`. In memory, per process, bounded; a miss (another
//! instance served the previous page, eviction, a restart) costs only the `OFFSET` query.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::scim::Kind;

/// Cursors kept per process: one per page boundary of a recent import, a few bytes each.
const CAPACITY: usize = 1024;

/// The end of a page already served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    /// The primary key of the last resource of the page.
    pub last_id: i64,
    /// The list's `changes` counter in the snapshot the page was read from.
    pub changes: i64,
}

type Key = (i64, Kind, i64);

#[derive(Debug, Default)]
struct Inner {
    tick: u64,
    map: HashMap<Key, (u64, Cursor)>,
}

/// A small LRU map from (tenant, kind, offset of the next page) to [`Cursor`].
#[derive(Debug, Default)]
pub(crate) struct ScimCursors {
    inner: Mutex<Inner>,
    /// Pages served from a cursor (the tests tell the two paths apart with it).
    #[cfg(test)]
    pub served: std::sync::atomic::AtomicU64,
}

impl ScimCursors {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A cache: whatever a panicking holder left is still a valid (if stale) entry,
        // and every entry is checked against the database before use.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cursor for the page starting at `offset`, if one was remembered.
    pub fn get(&self, tenant_id: i64, kind: Kind, offset: i64) -> Option<Cursor> {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        inner.map.get_mut(&(tenant_id, kind, offset)).map(|e| {
            e.0 = tick;
            e.1
        })
    }

    /// Remember that the page starting at `offset` follows `cursor`; evicts the least
    /// recently used cursor when full.
    pub fn put(&self, tenant_id: i64, kind: Kind, offset: i64, cursor: Cursor) {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        let key = (tenant_id, kind, offset);
        if !inner.map.contains_key(&key) && inner.map.len() >= CAPACITY {
            let oldest = inner.map.iter().min_by_key(|(_, v)| v.0).map(|(k, _)| *k);
            if let Some(k) = oldest {
                inner.map.remove(&k);
            }
        }
        inner.map.insert(key, (tick, cursor));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(last_id: i64) -> Cursor {
        Cursor {
            last_id,
            changes: 7,
        }
    }

    #[test]
    fn remembers_per_tenant_kind_and_offset() {
        let m = ScimCursors::default();
        m.put(1, Kind::User, 100, c(150));
        assert_eq!(m.get(1, Kind::User, 100), Some(c(150)));
        assert_eq!(m.get(1, Kind::User, 200), None);
        assert_eq!(m.get(2, Kind::User, 100), None);
        assert_eq!(m.get(1, Kind::Group, 100), None);
        m.put(1, Kind::User, 100, c(160));
        assert_eq!(m.get(1, Kind::User, 100), Some(c(160)));
    }

    #[test]
    fn bounded_and_evicts_the_least_recently_used() {
        let m = ScimCursors::default();
        for i in 0..CAPACITY as i64 {
            m.put(1, Kind::User, i, c(i));
        }
        // Touch offset 0: offset 1 is now the least recently used.
        assert!(m.get(1, Kind::User, 0).is_some());
        m.put(1, Kind::User, -1, c(-1));
        assert_eq!(m.len(), CAPACITY);
        assert!(m.get(1, Kind::User, 0).is_some());
        assert_eq!(m.get(1, Kind::User, 1), None);
        assert!(m.get(1, Kind::User, -1).is_some());
    }
}
