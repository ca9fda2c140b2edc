//! Tombstone reaping: removing a deleted key from disk once that cannot bring its value back.
//!
//! In a cluster (`keep_tombstones`) `DEL` and expiry store a *tombstone* sibling instead of
//! deleting, so the deletion replicates and a stale replica cannot resurrect the value through
//! read repair. A tombstone may go once it is safe, by one of two paths:
//!
//! - **Every replica holds it.** The cluster layer knows when all N replicas acknowledged a
//!   tombstone write; it then asks each of them to [`Coordinator::reap`] the exact sibling set it
//!   wrote. A replica deletes the key only if it still holds exactly that set and it is all
//!   tombstones: anything written meanwhile (a newer value, a concurrent sibling, a newer
//!   deletion) makes the request a no-op.
//! - **Grace period.** The active sweep (`expiry.rs`) deletes a key whose every sibling is a
//!   tombstone and whose newest tombstone was written at least `tombstone_grace_ms` ago (by its
//!   HLC timestamp), re-checking under the key's lock.
//!
//! Either way the deletion is local: it is not replicated (it is a `Write::Delete`, which the
//! replication outbox ignores), the row cache learns the key is absent, and the counters move
//! (`tombstones` down, `tombstones_reaped` up).

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::feed::Batch;
use super::{object, CoordError, Coordinator};
use crate::storage::keys;
use crate::version::{DvvSet, Hlc};

impl Coordinator {
    /// Deletes this node's copy of `key` iff it is exactly `expected` and every sibling of it is
    /// a tombstone. Returns whether it deleted. Nothing is replicated.
    pub fn reap(&self, key: &[u8], expected: &DvvSet) -> Result<bool, CoordError> {
        let _guard = self.locks.lock_one(key);
        self.fence()?;
        let skey = keys::storage_key(key);
        match self.load(&skey)? {
            Some(stored) if stored == *expected && object::tombstone_only(&stored) => {
                self.remove_tombstone(&skey, &stored)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Deletes the key stored under `skey` if, re-read under its lock, it is a tombstone past
    /// the grace period at `now_ms`. Returns whether it deleted. The caller holds no lock.
    pub(super) fn reap_if_past_grace(&self, skey: &Bytes, now_ms: u64) -> Result<bool, CoordError> {
        let _guard = self.locks.lock_one(&keys::user_key(skey));
        match self.load(skey)? {
            Some(stored) if past_grace(&stored, now_ms, self.cfg.tombstone_grace_ms) => {
                self.remove_tombstone(skey, &stored)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Whether `set` is a tombstone whose grace period is over now: it may be reaped as soon as
    /// every other replica holds it or nothing (anti-entropy does not spread it any more).
    pub fn past_grace(&self, set: &DvvSet) -> bool {
        past_grace(set, self.clock.now_ms(), self.cfg.tombstone_grace_ms)
    }

    /// Deletes a tombstone-only key (caller holds its lock and has checked it).
    fn remove_tombstone(&self, skey: &Bytes, stored: &DvvSet) -> Result<(), CoordError> {
        let mut batch = Batch::new(self.feed.on(), 1);
        batch.delete(skey.clone(), Some(stored), None);
        self.apply(batch, None)?;
        self.account(skey, Some(stored), None);
        self.stats.tombstones_reaped.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Whether `set` is all tombstones and the newest of them is at least `grace_ms` older than
/// `now_ms`: by the wall-clock part of its HLC timestamp, or, for the tombstone of an expiry
/// (the expired value turned into a tombstone in place, which keeps the write's timestamp and
/// expiry), by its `expires_at`, the expiry deadline — the same on every replica, whenever each
/// found the key expired.
pub(super) fn past_grace(set: &DvvSet, now_ms: u64, grace_ms: u64) -> bool {
    object::tombstone_only(set)
        && set
            .siblings()
            .map(|(_, s)| Hlc::millis(s.timestamp).max(s.expires_at.unwrap_or(0)))
            .max()
            .is_some_and(|newest| newest.saturating_add(grace_ms) <= now_ms)
}
