//! The coordinator: every read and write of a key goes through here.
//!
//! Commands describe *what* they want ("the current value of k", "replace k's value with v
//! keeping its TTL"); the coordinator decides *how*: which replicas hold the key, how its causal
//! version is advanced, when the write is acknowledged. On a single node this is the cluster of
//! one (N = 1): the replica set is this node's [`Store`], versions are still full DVVSet sibling
//! sets, and the cluster layer plugs the quorum fan-out in at the same seams
//! ([`Coordinator::read`], [`Coordinator::update`], [`Coordinator::update_many`]).
//!
//! Writes to one key are serialised by striped [`locks::KeyLocks`] held across the synchronous
//! read–modify–write, so read-modify-write commands are atomic. Storage calls run inline on the
//! async worker: with manual journal persistence they touch only the memtable, the journal buffer
//! and the block cache; durability waits (fsync) happen asynchronously in
//! [`crate::storage::Durability::commit`].

mod cache;
mod dots;
mod expiry;
mod feed;
mod fence;
mod filter;
mod hints;
pub mod locks;
mod object;
mod offload;
mod reap;
mod replica;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use thiserror::Error;

pub use expiry::{run_sweeper, ReapGate};
pub use feed::{Change, Digest, Subscriber};
pub use fence::fenced;
pub use hints::{Hint, HintLimits, HintOutcome, HintStats, TargetSummary};
pub(crate) use object::tombstone_only;
pub use object::{Current, Mutation};
pub use replica::{Merged, Replicated, Writes};

use crate::clock::Clock;
use crate::storage::{keys, scan_all, Durability, Space, StorageError, Store, Write};
use crate::version::codec::{self, DecodeError};
use crate::version::{DvvSet, Hlc, NodeId, Sibling};
use cache::{Cached, RowCache};
use feed::{Batch, Feed};
use filter::KeyFilter;
use locks::KeyLocks;

/// Why the coordinator could not serve a request.
#[derive(Debug, Error)]
pub enum CoordError {
    /// The local store failed. Not retryable.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Stored bytes could not be decoded. Not retryable.
    #[error("corrupt stored version: {0}")]
    Corrupt(#[from] DecodeError),
    /// A request from another node reached the point of writing after its sender stopped
    /// waiting for it (the late-request fence, `fence.rs`); nothing was written.
    #[error("LATE the request arrived after its sender's deadline; nothing was written")]
    Late,
}

/// Counters reported by `INFO`.
#[derive(Debug, Default)]
pub struct CoordStats {
    /// Keys whose newest version is a value (expired-but-unreclaimed keys included, like Redis).
    pub live_keys: AtomicI64,
    /// Of those, keys whose newest value has a TTL (Redis's `expires` count).
    pub volatile_keys: AtomicI64,
    /// Keys removed because their TTL passed.
    pub expired_keys: AtomicU64,
    /// Siblings dropped because a key exceeded `max-siblings`.
    pub collapsed_siblings: AtomicU64,
    /// Writes that left a key with more than one sibling.
    pub sibling_writes: AtomicU64,
    /// Keys stored whose every sibling is a tombstone (kept until reaped; cluster mode only).
    pub tombstones: AtomicI64,
    /// Tombstone-only keys removed from disk after being stored: every replica held them
    /// ([`Coordinator::reap`]) or the grace period passed (the sweep).
    pub tombstones_reaped: AtomicU64,
    /// Writes of requests from other nodes refused because their sender had stopped waiting
    /// (the late-request fence, `fence.rs`).
    pub late_writes_refused: AtomicU64,
}

/// Settings of the coordinator.
#[derive(Debug, Clone)]
pub struct CoordConfig {
    /// This node's id (the actor in version vectors).
    pub node_id: NodeId,
    /// Cap on siblings per key; beyond it the oldest collapse (last writer wins).
    pub max_siblings: usize,
    /// Row cache budget in bytes (0 = no row cache).
    pub row_cache_bytes: u64,
    /// Size of the Bloom filter of stored keys in bytes (0 = none); see [`filter`].
    pub key_filter_bytes: u64,
    /// Keep tombstones (and turn expired keys into tombstones) instead of deleting them at once.
    /// A cluster (N > 1) needs this so that deletes replicate and stale replicas cannot bring
    /// a deleted or expired value back through read repair; a single node reaps at once.
    pub keep_tombstones: bool,
    /// Bounds on the hints kept for each other node (hinted handoff).
    pub hint_limits: HintLimits,
    /// With `keep_tombstones`, the active sweep deletes a key whose every sibling is a
    /// tombstone once the newest of them is at least this old (ms; 0 = at the next sweep).
    pub tombstone_grace_ms: u64,
    /// Where the floor of new dot counters is persisted (`None`: memory only); see [`dots`].
    pub dot_lease: Option<std::path::PathBuf>,
}

/// Reads and writes keys on behalf of commands.
pub struct Coordinator {
    cfg: CoordConfig,
    store: Arc<dyn Store>,
    durability: Arc<Durability>,
    clock: Arc<dyn Clock>,
    hlc: Hlc,
    locks: KeyLocks,
    cache: RowCache,
    /// Keys that may be stored: a lookup of any other key skips the store.
    filter: KeyFilter,
    stats: CoordStats,
    /// Live keys per slot (`CLUSTER COUNTKEYSINSLOT`, cluster-wide `DBSIZE`).
    slot_keys: Box<[AtomicI64]>,
    /// Stored keys per slot, tombstone-only ones included (which slots offloading looks at).
    slot_stored: Box<[AtomicI64]>,
    /// Per-target totals of the hints this node holds.
    hints: hints::HintBook,
    /// Every dot counter issued so far is at most its floor.
    dots: dots::DotFloor,
    /// Who is told of every change of the stored data ([`Coordinator::apply`]).
    feed: Feed,
}

impl Coordinator {
    /// A coordinator over `store`; counts the live keys already stored.
    pub fn open(
        cfg: CoordConfig,
        store: Arc<dyn Store>,
        durability: Arc<Durability>,
        clock: Arc<dyn Clock>,
    ) -> Result<Coordinator, CoordError> {
        let dots = dots::DotFloor::open(cfg.dot_lease.clone())
            .map_err(|e| CoordError::Storage(StorageError::Engine(format!("dot lease: {e}"))))?;
        let c = Coordinator {
            dots,
            cache: RowCache::new(cfg.row_cache_bytes),
            filter: KeyFilter::new(cfg.key_filter_bytes),
            cfg,
            store,
            durability,
            clock,
            hlc: Hlc::new(),
            locks: KeyLocks::new(4096),
            stats: CoordStats::default(),
            slot_keys: (0..usize::from(keys::SLOTS)).map(|_| AtomicI64::new(0)).collect(),
            slot_stored: (0..usize::from(keys::SLOTS)).map(|_| AtomicI64::new(0)).collect(),
            hints: hints::HintBook::default(),
            feed: Feed::default(),
        };
        c.recount()?;
        c.recount_hints()?;
        Ok(c)
    }

    fn recount(&self) -> Result<(), CoordError> {
        let (mut live, mut volatile, mut tombstones) = (0i64, 0i64, 0i64);
        for entry in scan_all(self.store.as_ref(), Space::Data, &[], None, 1024) {
            let (k, v) = entry?;
            self.filter.insert(&k);
            let set = codec::decode(&v)?;
            live += i64::from(object::present(&set));
            volatile += i64::from(object::volatile(&set));
            tombstones += i64::from(object::tombstone_only(&set));
            self.slot_counter(&k).fetch_add(i64::from(object::present(&set)), Ordering::Relaxed);
            self.slot_stored[slot_index(&k)].fetch_add(1, Ordering::Relaxed);
        }
        self.stats.live_keys.store(live, Ordering::Relaxed);
        self.stats.volatile_keys.store(volatile, Ordering::Relaxed);
        self.stats.tombstones.store(tombstones, Ordering::Relaxed);
        Ok(())
    }

    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.cfg.node_id
    }

    /// Counters for `INFO`.
    pub fn stats(&self) -> &CoordStats {
        &self.stats
    }

    /// The wall clock the coordinator uses for expiry.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The clock itself.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The durability policy.
    pub fn durability(&self) -> &Arc<Durability> {
        &self.durability
    }

    /// The number of keys (Redis `DBSIZE` semantics).
    pub fn dbsize(&self) -> u64 {
        self.stats.live_keys.load(Ordering::Relaxed).max(0) as u64
    }

    /// The number of keys with a TTL (`INFO keyspace` `expires=`).
    pub fn volatile_keys(&self) -> u64 {
        self.stats.volatile_keys.load(Ordering::Relaxed).max(0) as u64
    }

    /// The number of stored keys whose every sibling is a tombstone (`INFO cartwheel`).
    pub fn tombstones(&self) -> u64 {
        self.stats.tombstones.load(Ordering::Relaxed).max(0) as u64
    }

    /// Bytes held by the row cache.
    pub fn row_cache_bytes(&self) -> u64 {
        self.cache.weight()
    }

    /// The fraction of the key filter's bits that are set (`None`: no filter).
    pub fn key_filter_fill(&self) -> Option<f64> {
        self.filter.enabled().then(|| self.filter.fill_ratio())
    }

    /// Bytes the store uses on disk.
    pub fn disk_space(&self) -> u64 {
        self.store.disk_space()
    }

    /// The current state of `key`. A key whose every version has expired is reclaimed on the way
    /// (a write, recorded in `w`).
    pub fn read(&self, w: &mut Writes, key: &[u8]) -> Result<Current, CoordError> {
        let skey = keys::storage_key(key);
        let now = self.clock.now_ms();
        let set = self.load_unlocked(key, &skey)?;
        let current = Current::new(set, now);
        if current.is_reclaimable() {
            let _guard = self.locks.lock_one(key);
            return self.reclaim_if_expired(&skey, now, Some(w));
        }
        Ok(current)
    }

    /// The stored sibling set of a key exactly as this node holds it (`KV.LOCAL`).
    pub fn local(&self, key: &[u8]) -> Result<Option<DvvSet>, CoordError> {
        self.load_unlocked(key, &keys::storage_key(key))
    }

    /// Atomically reads `key`, lets `f` decide a [`Mutation`] from its current state, and
    /// applies it, recording the write in `w`. Returns `f`'s result.
    pub fn update<R>(
        &self,
        w: &mut Writes,
        key: &[u8],
        f: impl FnOnce(&Current) -> (Mutation, R),
    ) -> Result<R, CoordError> {
        let _guard = self.locks.lock_one(key);
        self.fence()?;
        let skey = keys::storage_key(key);
        let now_us = self.clock.now_us();
        let (set, digest) = self.load_digested(&skey)?;
        let current = Current::digested(set, now_us / 1000, digest);
        let (mutation, result) = f(&current);
        let mut batch = Batch::new(self.feed.on(), 1);
        self.plan(skey, current, mutation, now_us, &mut batch);
        self.apply(batch, Some(w))?;
        Ok(result)
    }

    /// Like [`Coordinator::update`] for several keys at once (`MSET`, `RENAME`…): all keys are
    /// locked, `f` sees all current states (in the order given) and returns one mutation per key;
    /// the writes are applied as one atomic batch.
    pub fn update_many<K: AsRef<[u8]>, R>(
        &self,
        w: &mut Writes,
        keys_in: &[K],
        f: impl FnOnce(&[Current]) -> (Vec<Mutation>, R),
    ) -> Result<R, CoordError> {
        let _held = self.locks.lock_many(keys_in);
        self.fence()?;
        let now_us = self.clock.now_us();
        let now = now_us / 1000;
        let skeys: Vec<Bytes> = keys_in.iter().map(|k| keys::storage_key(k.as_ref())).collect();
        let mut currents = Vec::with_capacity(skeys.len());
        for sk in &skeys {
            let (set, digest) = self.load_digested(sk)?;
            currents.push(Current::digested(set, now, digest));
        }
        let (mutations, result) = f(&currents);
        // A key named twice (MSET k 1 k 2) keeps its last mutation, as in Redis.
        let mut batch = Batch::new(self.feed.on(), skeys.len());
        let mut planned: Vec<(Bytes, Current, Mutation)> = Vec::with_capacity(skeys.len());
        for ((sk, cur), m) in skeys.into_iter().zip(currents).zip(mutations) {
            if matches!(m, Mutation::Keep) {
                continue;
            }
            if let Some(p) = planned.iter_mut().find(|p| p.0 == sk) {
                p.2 = m;
            } else {
                planned.push((sk, cur, m));
            }
        }
        for (sk, cur, m) in planned {
            self.plan(sk, cur, m, now_us, &mut batch);
        }
        self.apply(batch, Some(w))?;
        Ok(result)
    }

    /// Removes every key (a write, recorded in `w`).
    pub fn flush_all(&self, w: &mut Writes) -> Result<(), CoordError> {
        let _all = self.locks.lock_all();
        self.fence()?;
        let cleared = self.store.clear();
        self.cache.clear();
        if cleared.is_ok() {
            self.filter.clear();
        }
        self.clear_hint_totals();
        cleared?;
        w.mark_written();
        self.announce_cleared();
        self.stats.live_keys.store(0, Ordering::Relaxed);
        self.stats.volatile_keys.store(0, Ordering::Relaxed);
        self.stats.tombstones.store(0, Ordering::Relaxed);
        for c in self.slot_keys.iter().chain(self.slot_stored.iter()) {
            c.store(0, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Up to `limit` stored keys starting at storage key `from` (inclusive), for SCAN/KEYS:
    /// `(storage key, current state)` in storage order.
    pub fn scan(&self, from: &[u8], limit: usize) -> Result<Vec<(Bytes, Current)>, CoordError> {
        let now = self.clock.now_ms();
        let page = self.store.scan(Space::Data, from, None, limit)?;
        let mut out = Vec::with_capacity(page.len());
        for (k, v) in page {
            out.push((k, Current::new(Some(codec::decode(&v)?), now)));
        }
        Ok(out)
    }

    /// What the row cache says of `skey`, decoded; `None` when it does not know.
    fn cached(&self, skey: &[u8]) -> Option<Result<Option<DvvSet>, CoordError>> {
        match self.cache.get(skey) {
            Cached::Present(bytes) => Some(codec::decode(&bytes).map(Some).map_err(CoordError::from)),
            Cached::Absent => Some(Ok(None)),
            Cached::Unknown => None,
        }
    }

    /// The stored set under `skey`, for a caller that does not hold the key's lock: a cache
    /// hit needs no lock; a miss takes it, so that filling the cache cannot race a writer.
    fn load_unlocked(&self, key: &[u8], skey: &[u8]) -> Result<Option<DvvSet>, CoordError> {
        if let Some(hit) = self.cached(skey) {
            return hit;
        }
        let _guard = self.locks.lock_one(key);
        self.load(skey)
    }

    /// The stored set under `skey` (caller holds the key's lock), decoded from
    /// [`Coordinator::stored_bytes`].
    fn load(&self, skey: &[u8]) -> Result<Option<DvvSet>, CoordError> {
        match self.stored_bytes(skey)? {
            Some(bytes) => Ok(Some(codec::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    /// [`Coordinator::load`], plus — when the change feed is on — the digest of the stored bytes
    /// (what a change of the key reports as its `old`), so that planning need not encode the set
    /// again. The caller holds the key's lock.
    fn load_digested(&self, skey: &[u8]) -> Result<(Option<DvvSet>, Option<Digest>), CoordError> {
        let bytes = self.stored_bytes(skey)?;
        let digest = self.feed.on().then(|| bytes.as_deref().map_or(Digest::ABSENT, Digest::of_bytes));
        match bytes {
            Some(b) => Ok((Some(codec::decode(&b)?), digest)),
            None => Ok((None, digest)),
        }
    }

    /// The stored bytes under `skey` (caller holds the key's lock): from the row cache, else from
    /// the store (unless the key filter rules it out), filling the cache.
    fn stored_bytes(&self, skey: &[u8]) -> Result<Option<Bytes>, CoordError> {
        match self.cache.get(skey) {
            Cached::Present(b) => return Ok(Some(b)),
            Cached::Absent => return Ok(None),
            Cached::Unknown => {}
        }
        if !self.filter.may_contain(skey) {
            self.cache.fill(skey, None);
            return Ok(None);
        }
        let stored = self.store.get(Space::Data, skey)?;
        self.cache.fill(skey, stored.as_ref());
        Ok(stored)
    }

    /// Moves the `DBSIZE`, per-slot, `expires` and tombstone counters from what `old` counted
    /// for to what `new` does (`None`: the key is not stored).
    fn account(&self, skey: &[u8], old: Option<&DvvSet>, new: Option<&DvvSet>) {
        let count = |f: fn(&DvvSet) -> bool| i64::from(new.is_some_and(f)) - i64::from(old.is_some_and(f));
        let live = count(object::present);
        if live != 0 {
            self.stats.live_keys.fetch_add(live, Ordering::Relaxed);
            self.slot_counter(skey).fetch_add(live, Ordering::Relaxed);
        }
        let stored = i64::from(new.is_some()) - i64::from(old.is_some());
        if stored != 0 {
            self.slot_stored[slot_index(skey)].fetch_add(stored, Ordering::Relaxed);
        }
        self.stats.volatile_keys.fetch_add(count(object::volatile), Ordering::Relaxed);
        self.stats.tombstones.fetch_add(count(object::tombstone_only), Ordering::Relaxed);
    }

    /// The live-key counter of the slot a storage key belongs to.
    fn slot_counter(&self, skey: &[u8]) -> &AtomicI64 {
        &self.slot_keys[slot_index(skey)]
    }

    /// The one place stored data changes (`FLUSHALL` aside, which clears it): applies a batch to
    /// the store, then to the row cache, hands the written versions to replication (inside
    /// the request's [`Writes`], when the change is a request's) and tells the change feed
    /// ([`feed`]). The caller holds the keys' locks.
    fn apply(&self, batch: Batch, w: Option<&mut Writes>) -> Result<(), CoordError> {
        if batch.is_empty() {
            return Ok(());
        }
        // Into the filter first: a key must never be stored while the filter denies it.
        for w in &batch.writes {
            if let Write::Put(Space::Data, k, _) = w {
                self.filter.insert(k);
            }
        }
        match self.store.write(&batch.writes) {
            Ok(()) => {
                self.cache.apply(&batch.writes);
                if let Some(w) = w {
                    w.record(&batch.writes);
                }
                self.announce(&batch);
                Ok(())
            }
            Err(e) => {
                self.cache.forget(&batch.writes);
                Err(e.into())
            }
        }
    }

    /// Turns a mutation into storage writes: a new DVVSet event of this node, stamped at
    /// `now_us` (µs of cluster time) — except for an expiry, which is no event: the expired
    /// values become tombstones in place ([`DvvSet::expired_at`]), the same on every replica.
    fn plan(&self, skey: Bytes, current: Current, mutation: Mutation, now_us: u64, batch: &mut Batch) {
        let digest = current.stored_digest();
        let stored = current.into_set();
        let was_stored = stored.is_some();
        let old = stored.unwrap_or_default();
        let (context, sibling) = match mutation {
            Mutation::Keep => return,
            Mutation::Put { value, expires_at } => {
                (old.join(), Sibling::value(value, self.hlc.now_us(now_us), expires_at))
            }
            Mutation::Delete => (old.join(), Sibling::tombstone(self.hlc.now_us(now_us))),
            Mutation::Expired => {
                let new = old.expired_at(now_us / 1000);
                return self.store_planned(skey, (was_stored.then_some(&old), digest), new, batch);
            }
            Mutation::Causal { context, value, expires_at } => {
                let ts = self.hlc.now_us(now_us);
                let s = match value {
                    Some(v) => Sibling::value(v, ts, expires_at),
                    None => Sibling::tombstone(ts),
                };
                (context, s)
            }
        };
        let me = self.cfg.node_id;
        let mut new = DvvSet::update_above(DvvSet::with_context(&context, sibling), &old, me, self.dots.floor());
        if let Err(e) = self.dots.issued(new.counter(&me)) {
            // The counter is still unique in this run; only a restart before the lease is written
            // could issue it again.
            tracing::error!(error = %e, "could not persist the dot counter lease");
        }
        let collapsed = new.collapse_to(self.cfg.max_siblings);
        if collapsed > 0 {
            self.stats.collapsed_siblings.fetch_add(collapsed as u64, Ordering::Relaxed);
        }
        if new.len() > 1 {
            self.stats.sibling_writes.fetch_add(1, Ordering::Relaxed);
        }
        self.store_planned(skey, (was_stored.then_some(&old), digest), new, batch);
    }

    /// Adds the write of `new` over `old` (`None`: nothing stored; with the digest of its stored
    /// bytes when known) to `batch`, moving the counters.
    fn store_planned(&self, skey: Bytes, old: (Option<&DvvSet>, Option<Digest>), new: DvvSet, batch: &mut Batch) {
        let (old, digest) = old;
        // With N = 1 every replica holds a tombstone as soon as it is written, so a key whose
        // every sibling is a tombstone is reaped at once. A cluster keeps it
        // until it is safe to reap (see `reap.rs`).
        let reap_now = !self.cfg.keep_tombstones && object::tombstone_only(&new);
        self.account(&skey, old, (!reap_now).then_some(&new));
        if reap_now {
            batch.delete(skey, old, digest);
        } else {
            batch.put(skey, codec::to_bytes(&new), old, digest);
        }
    }

    /// Deletes `skey` if every version of it has expired at `now` (caller holds the key's lock).
    fn reclaim_if_expired(&self, skey: &Bytes, now: u64, w: Option<&mut Writes>) -> Result<Current, CoordError> {
        let current = Current::new(self.load(skey)?, now);
        if !current.is_reclaimable() {
            return Ok(current);
        }
        let mut batch = Batch::new(self.feed.on(), 1);
        if self.cfg.keep_tombstones {
            self.plan(skey.clone(), current, Mutation::Expired, now.saturating_mul(1000), &mut batch);
            self.apply(batch, w)?;
        } else {
            batch.delete(skey.clone(), current.set(), current.stored_digest());
            self.apply(batch, w)?;
            self.account(skey, current.set(), None);
        }
        self.stats.expired_keys.fetch_add(1, Ordering::Relaxed);
        Ok(Current::new(None, now))
    }
}

/// The slot of a storage key, as an index into the per-slot counters (always in range).
fn slot_index(skey: &[u8]) -> usize {
    (keys::position(skey) >> 48) as usize % usize::from(keys::SLOTS)
}

#[cfg(test)]
mod feed_tests;
#[cfg(test)]
mod reap_tests;
#[cfg(test)]
mod tests;
