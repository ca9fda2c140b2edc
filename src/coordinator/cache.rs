//! The row cache: the newest stored bytes of recently used keys, in memory, so that a `GET` or
//! the read half of a read–modify–write does not search fjall's memtable skip list (a pointer
//! chase through hundreds of thousands of nodes that profiling showed to be most of a node's CPU
//! time under load) or its tables.
//!
//! The cache holds *encoded* DVVSets keyed by storage key, and also remembers keys known to be
//! absent, so that writing a new key costs no store lookup either. It is bounded in bytes
//! (`row-cache-mb`, 0 disables it) and evicts with quick_cache's S3-FIFO policy.
//!
//! **Coherence rule.** The store is the truth and the cache a copy, kept exact by the
//! coordinator's key locks: an entry is only inserted or replaced by a holder of the key's stripe
//! lock, after the store has been written (or read) under that same lock. A lock-free reader can
//! therefore only observe a value that the store held at some moment during its read. Anything
//! that changes the store without the key lock (`FLUSHALL`) takes every stripe first.

use bytes::Bytes;
use quick_cache::sync::Cache;
use quick_cache::Weighter;

use crate::storage::{Space, Write};

/// Per-entry bookkeeping bytes counted on top of key and value (hash-table slot, `Bytes`
/// headers, allocator overhead), so that many tiny entries cannot exceed the budget by much.
const ENTRY_OVERHEAD: u64 = 96;

#[derive(Clone)]
struct ByteWeight;

impl Weighter<Bytes, Option<Bytes>> for ByteWeight {
    fn weight(&self, key: &Bytes, val: &Option<Bytes>) -> u64 {
        key.len() as u64 + val.as_ref().map_or(0, |v| v.len() as u64) + ENTRY_OVERHEAD
    }
}

/// What the cache knows about one storage key.
pub enum Cached {
    /// Not cached: ask the store.
    Unknown,
    /// The store holds nothing under the key.
    Absent,
    /// The store holds these bytes.
    Present(Bytes),
}

/// A bounded cache of stored rows (see the module docs for the coherence rule).
pub struct RowCache {
    inner: Option<Cache<Bytes, Option<Bytes>, ByteWeight>>,
}

impl RowCache {
    /// A cache of at most `bytes` bytes; 0 disables caching.
    pub fn new(bytes: u64) -> RowCache {
        if bytes == 0 {
            return RowCache { inner: None };
        }
        let estimated_items = (bytes / 256).clamp(16, 1 << 24) as usize;
        RowCache { inner: Some(Cache::with_weighter(estimated_items, bytes, ByteWeight)) }
    }

    /// What is known about `skey`.
    pub fn get(&self, skey: &[u8]) -> Cached {
        match self.inner.as_ref().and_then(|c| c.get(skey)) {
            None => Cached::Unknown,
            Some(None) => Cached::Absent,
            Some(Some(v)) => Cached::Present(v),
        }
    }

    /// Records what the store returned for `skey` (caller holds the key's lock). Values read
    /// from the store are copied, so a cached row never pins a larger storage block.
    pub fn fill(&self, skey: &[u8], stored: Option<&Bytes>) {
        if let Some(c) = &self.inner {
            c.insert(Bytes::copy_from_slice(skey), stored.map(|v| Bytes::copy_from_slice(v)));
        }
    }

    /// Records writes the store has just applied (caller holds the keys' locks).
    pub fn apply(&self, batch: &[Write]) {
        if let Some(c) = &self.inner {
            for w in batch {
                match w {
                    Write::Put(Space::Data, k, v) => c.insert(k.clone(), Some(v.clone())),
                    Write::Delete(Space::Data, k) => c.insert(k.clone(), None),
                    _ => {}
                }
            }
        }
    }

    /// Forgets the keys of a batch whose outcome in the store is unknown (a failed write).
    pub fn forget(&self, batch: &[Write]) {
        if let Some(c) = &self.inner {
            for w in batch {
                if let Write::Put(Space::Data, k, _) | Write::Delete(Space::Data, k) = w {
                    c.remove(k.as_ref());
                }
            }
        }
    }

    /// Forgets everything (caller holds every key lock).
    pub fn clear(&self) {
        if let Some(c) = &self.inner {
            c.clear();
        }
    }

    /// Bytes currently accounted to cached rows.
    pub fn weight(&self) -> u64 {
        self.inner.as_ref().map_or(0, |c| c.weight())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn remembers_values_and_absence() {
        let c = RowCache::new(1 << 20);
        assert!(matches!(c.get(b"k"), Cached::Unknown));
        c.fill(b"k", None);
        assert!(matches!(c.get(b"k"), Cached::Absent));
        c.apply(&[Write::Put(Space::Data, b("k"), b("v1"))]);
        assert!(matches!(c.get(b"k"), Cached::Present(v) if v == "v1"));
        c.apply(&[Write::Delete(Space::Data, b("k"))]);
        assert!(matches!(c.get(b"k"), Cached::Absent));
        c.forget(&[Write::Delete(Space::Data, b("k"))]);
        assert!(matches!(c.get(b"k"), Cached::Unknown));
    }

    #[test]
    fn disabled_cache_knows_nothing() {
        let c = RowCache::new(0);
        c.apply(&[Write::Put(Space::Data, b("k"), b("v"))]);
        assert!(matches!(c.get(b"k"), Cached::Unknown));
        assert_eq!(c.weight(), 0);
    }

    #[test]
    fn stays_within_its_byte_budget() {
        let budget = 64 << 10;
        let c = RowCache::new(budget);
        for i in 0..10_000 {
            c.apply(&[Write::Put(Space::Data, Bytes::from(format!("key:{i}")), Bytes::from(vec![b'x'; 100]))]);
        }
        assert!(c.weight() <= budget, "weight {} > budget {budget}", c.weight());
        assert!(c.weight() > budget / 2);
    }
}
