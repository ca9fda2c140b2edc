//! The change feed: every change to this node's stored data, in the order it was applied.
//!
//! Stored data changes in exactly one place, [`Coordinator::apply`]: client writes, merges of
//! versions from other replicas (replication, hint delivery, read repair, quorum-read answers),
//! reaps, expiry and `FLUSHALL` all end there. After each store write it hands every subscriber
//! one [`Change`] per key: the key's slot and position, the key, the [`Digest`] of the version it replaced and
//! the digest of the version now stored ([`Digest::ABSENT`] for "not stored"). `FLUSHALL` is one
//! [`Change::Cleared`] (every key is gone; a subscriber starts again from empty).
//!
//! Subscribers are called synchronously, under the key's lock, right after the write: for one key
//! they see its changes in the order they were applied, and the `old` digest of each change is the
//! `new` digest of the one before — a subscriber that folds the changes into per-slot hashes
//! (anti-entropy's trees) stays exactly in step with the store. [`Coordinator::subscribe`] takes
//! every key lock, so no change is half-planned while a subscriber is added: a change is either
//! applied before the subscriber exists or emitted to it. A subscriber must be quick and must not
//! call back into the coordinator.
//!
//! With nobody subscribed the feed costs one relaxed load per write and allocates nothing.
//!
//! Hints (versions kept for other nodes) are not this node's data and are not in the feed.

use std::hash::Hasher;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use siphasher::sip::SipHasher13;

use super::Coordinator;
use crate::storage::{keys, Snapshot, Space, Write};
use crate::version::{codec, DvvSet};

/// A 64-bit digest of one stored version (SipHash-1-3 of its encoding); never zero for a stored
/// version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub u64);

impl Digest {
    /// The digest of "nothing stored".
    pub const ABSENT: Digest = Digest(0);

    /// The digest of a stored version's encoded bytes.
    pub fn of_bytes(encoded: &[u8]) -> Digest {
        let mut h = SipHasher13::new_with_keys(0x6361_7274_7768_6565, 0x6c5f_6665_6564_0001);
        h.write(encoded);
        Digest(h.finish().max(1))
    }

    /// The digest of a version as it would be stored (`None`: not stored).
    pub fn of(set: Option<&DvvSet>) -> Digest {
        set.map_or(Digest::ABSENT, |s| Digest::of_bytes(&codec::to_bytes(s)))
    }
}

/// One change of this node's stored data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    /// One key's stored version changed from `old` to `new`.
    Key {
        /// The key's slot.
        slot: u16,
        /// The key's 62-bit storage position (`slot << 48 | hash48`, see `storage::keys`).
        position: u64,
        /// The user key.
        key: &'a [u8],
        /// Digest of the version it replaced ([`Digest::ABSENT`]: none).
        old: Digest,
        /// Digest of the version now stored ([`Digest::ABSENT`]: deleted).
        new: Digest,
    },
    /// Every key was removed (`FLUSHALL`).
    Cleared,
}

/// Receives the changes of a node's stored data.
pub trait Subscriber: Send + Sync {
    /// Called once per change, right after it was applied, under the key's lock.
    fn changed(&self, change: &Change<'_>);
}

/// The subscribers of one coordinator.
#[derive(Default)]
pub(super) struct Feed {
    on: AtomicBool,
    subscribers: RwLock<Vec<Arc<dyn Subscriber>>>,
}

impl Feed {
    /// Whether anyone listens (checked while a change is planned, under the key's lock).
    pub(super) fn on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    fn add(&self, s: Arc<dyn Subscriber>) {
        self.subscribers.write().unwrap_or_else(PoisonError::into_inner).push(s);
        self.on.store(true, Ordering::Relaxed);
    }

    fn emit(&self, change: &Change<'_>) {
        for s in self.subscribers.read().unwrap_or_else(PoisonError::into_inner).iter() {
            s.changed(change);
        }
    }
}

/// The writes of one atomic change of stored data, with — when the feed is on — the digest of the
/// version each one replaces. Built under the keys' locks, applied by [`Coordinator::apply`].
pub(super) struct Batch {
    pub(super) writes: Vec<Write>,
    /// One per write when the feed was on while planning; empty otherwise.
    olds: Vec<Digest>,
    feed: bool,
}

impl Batch {
    /// An empty batch; `feed`: whether the feed is on (its digests are then computed).
    pub(super) fn new(feed: bool, capacity: usize) -> Batch {
        Batch { writes: Vec::with_capacity(capacity), olds: Vec::new(), feed }
    }

    /// Stores `new` (encoded) under `skey`, replacing `old`; `digest`: the digest of the replaced
    /// bytes when the caller read them (`None`: computed from `old` if the feed needs it).
    pub(super) fn put(&mut self, skey: bytes::Bytes, new: bytes::Bytes, old: Option<&DvvSet>, digest: Option<Digest>) {
        self.push(Write::Put(Space::Data, skey, new), old, digest);
    }

    /// Deletes `skey`, which held `old` (`digest` as for [`Batch::put`]).
    pub(super) fn delete(&mut self, skey: bytes::Bytes, old: Option<&DvvSet>, digest: Option<Digest>) {
        self.push(Write::Delete(Space::Data, skey), old, digest);
    }

    fn push(&mut self, w: Write, old: Option<&DvvSet>, digest: Option<Digest>) {
        if self.feed {
            // Encoding `old` again costs more than the write's own tree update: callers that read
            // the stored bytes pass their digest.
            self.olds.push(digest.unwrap_or_else(|| Digest::of(old)));
        }
        self.writes.push(w);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
}

impl Coordinator {
    /// Adds a subscriber to this node's change feed. Waits for every key lock: changes being
    /// planned finish first, every later one reaches the subscriber.
    pub fn subscribe(&self, s: Arc<dyn Subscriber>) {
        let _all = self.locks.lock_all();
        self.feed.add(s);
    }

    /// [`Coordinator::subscribe`], and a snapshot of the store taken at the same instant: every
    /// change not in the snapshot reaches the subscriber, every change in it does not (how
    /// anti-entropy rebuilds its trees while the node serves).
    pub fn subscribe_with_snapshot(&self, s: Arc<dyn Subscriber>) -> Box<dyn Snapshot> {
        let _all = self.locks.lock_all();
        self.feed.add(s);
        self.store.snapshot()
    }

    /// Tells the subscribers what an applied batch changed (the batch was planned with the feed on).
    pub(super) fn announce(&self, batch: &Batch) {
        for (w, &old) in batch.writes.iter().zip(&batch.olds) {
            let (skey, new) = match w {
                Write::Put(Space::Data, k, v) => (k, Digest::of_bytes(v)),
                Write::Delete(Space::Data, k) => (k, Digest::ABSENT),
                _ => continue,
            };
            let position = keys::position(skey);
            let slot = (position >> 48) as u16;
            let key = skey.get(keys::PREFIX_LEN..).unwrap_or_default();
            self.feed.emit(&Change::Key { slot, position, key, old, new });
        }
    }

    /// Tells the subscribers that every key is gone.
    pub(super) fn announce_cleared(&self) {
        if self.feed.on() {
            self.feed.emit(&Change::Cleared);
        }
    }
}
