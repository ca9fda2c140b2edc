//! The coordinator's replica side: what the cluster layer needs from this node's copy of the data.
//!
//! - [`Writes`] is what one request wrote: every coordinator call that may write takes the
//!   request's `&mut Writes`, and [`Coordinator::apply`] records into it. It says whether the
//!   reply must wait for a durability commit (anything was written), and, when the cluster layer
//!   asked for it ([`Writes::capturing`]), holds every version the request stored
//!   ([`Replicated`]), so that exactly those are sent to the other replicas and their
//!   acknowledgements counted. A single node collects nothing and allocates nothing.
//! - [`Coordinator::merge`] is how a replica applies a version it receives (a replicated write, a
//!   read repair, a quorum read's answers): `DvvSet::sync` with what it holds, under the key's
//!   lock, written only when something changed. Merging never loses a sibling the other side has
//!   not seen, so the order in which versions arrive does not matter.
//! - [`Coordinator::scan_ranges`] and [`Coordinator::slot_keys`] serve cluster-wide `SCAN`,
//!   `DBSIZE` and `CLUSTER COUNTKEYSINSLOT`.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::feed::Batch;
use super::{CoordError, Coordinator};
use crate::storage::{keys, Space, Write};
use crate::version::codec;
use crate::version::DvvSet;

/// One version a command stored locally, to be sent to the key's other replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replicated {
    /// The user key.
    pub key: Bytes,
    /// The key's whole sibling set as stored, encoded ([`codec`]).
    pub set: Bytes,
}

/// What one request wrote through the coordinator (see the module doc).
#[derive(Debug, Default)]
pub struct Writes {
    wrote: bool,
    captured: Option<Vec<Replicated>>,
}

impl Writes {
    /// Starts keeping the versions written from now on (the cluster layer, before it runs a
    /// command as its keys' coordinator).
    pub fn start_capture(&mut self) {
        self.captured = Some(Vec::new());
    }

    /// The versions written since [`Writes::start_capture`], one per key (its last state); stops
    /// capturing.
    pub fn take_captured(&mut self) -> Vec<Replicated> {
        self.captured.take().unwrap_or_default()
    }

    /// Whether anything was written since the last call: the reply must then wait for a
    /// durability commit. Resets.
    pub fn take_durable(&mut self) -> bool {
        std::mem::take(&mut self.wrote)
    }

    /// Records that the request changed stored data without a batch of key writes (`FLUSHALL`
    /// clears the store): its reply waits for a durability commit.
    pub(super) fn mark_written(&mut self) {
        self.wrote = true;
    }

    /// Called by [`Coordinator::apply`] after a successful local write.
    pub(super) fn record(&mut self, batch: &[Write]) {
        self.wrote = true;
        let Some(out) = self.captured.as_mut() else { return };
        for w in batch {
            if let Write::Put(Space::Data, skey, set) = w {
                let key = keys::user_key(skey);
                // A command that writes a key twice (MSET k 1 k 2 is one write; SET then a
                // lazy reclaim is two) replicates its last state only.
                if let Some(prev) = out.iter_mut().find(|r| r.key == key) {
                    prev.set = set.clone();
                } else {
                    out.push(Replicated { key, set: set.clone() });
                }
            }
        }
    }
}

/// What [`Coordinator::merge`] did.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The set now stored (the merge of the local and the incoming one).
    pub set: DvvSet,
    /// Whether the local copy changed (it lacked something the incoming set had).
    pub changed: bool,
    /// Whether the incoming set lacked something the local copy had (its sender is stale).
    pub sender_stale: bool,
}

impl Coordinator {
    /// Merges a version received from another replica into this node's copy of `key`.
    pub fn merge(&self, key: &[u8], incoming: &DvvSet) -> Result<Merged, CoordError> {
        let _guard = self.locks.lock_one(key);
        let skey = keys::storage_key(key);
        let (local, digest) = self.load_digested(&skey)?;
        if let Some(ts) = incoming.siblings().map(|(_, s)| s.timestamp).max() {
            self.hlc.observe(ts);
        }
        let Some(local) = local else {
            self.account(&skey, None, Some(incoming));
            let mut batch = Batch::new(self.feed.on(), 1);
            batch.put(skey, codec::to_bytes(incoming), None, digest);
            self.apply(batch, None)?;
            return Ok(Merged { set: incoming.clone(), changed: true, sender_stale: false });
        };
        let merged = local.sync(incoming);
        let changed = merged != local;
        let sender_stale = merged != *incoming;
        if changed {
            self.account(&skey, Some(&local), Some(&merged));
            // Built only when something changed: a quorum read merges an unchanged copy on every
            // read, and that must not allocate.
            let mut batch = Batch::new(self.feed.on(), 1);
            batch.put(skey, codec::to_bytes(&merged), Some(&local), digest);
            self.apply(batch, None)?;
        }
        Ok(Merged { set: merged, changed, sender_stale })
    }

    /// Up to `limit` stored keys from several ascending `[from, to)` ranges (an empty `to`: no
    /// upper bound), in storage order.
    pub fn scan_ranges(&self, ranges: &[(Bytes, Bytes)], limit: usize) -> Result<Vec<(Bytes, Bytes)>, CoordError> {
        let mut out = Vec::new();
        for (from, to) in ranges {
            if out.len() >= limit {
                break;
            }
            let to = if to.is_empty() { None } else { Some(&to[..]) };
            out.extend(self.store.scan(Space::Data, from, to, limit - out.len())?);
        }
        Ok(out)
    }

    /// Every stored key in `[from, to)` with its encoded set, in storage order (a short range:
    /// one anti-entropy segment).
    pub fn scan_range(&self, from: &[u8], to: &[u8]) -> Result<Vec<(Bytes, Bytes)>, CoordError> {
        let mut out = Vec::new();
        for entry in crate::storage::scan_all(self.store.as_ref(), Space::Data, from, Some(to), 256) {
            out.push(entry?);
        }
        Ok(out)
    }

    /// Live keys this node holds in `slot`.
    pub fn slot_keys(&self, slot: u16) -> u64 {
        self.slot_keys.get(usize::from(slot)).map_or(0, |c| c.load(Ordering::Relaxed).max(0) as u64)
    }
}
