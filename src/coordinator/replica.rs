//! The coordinator's replica side: what the cluster layer needs from this node's copy of the data.
//!
//! - [`capture`] runs a command and collects every version it wrote locally ([`Replicated`]), so
//!   the cluster layer can send exactly those versions to the other replicas and count their
//!   acknowledgements. Outside `capture` (a single node) nothing is collected and nothing costs.
//! - [`Coordinator::merge`] is how a replica applies a version it receives (a replicated write, a
//!   read repair, a quorum read's answers): `DvvSet::sync` with what it holds, under the key's
//!   lock, written only when something changed. Merging never loses a sibling the other side has
//!   not seen, so the order in which versions arrive does not matter.
//! - [`Coordinator::scan_ranges`] and [`Coordinator::slot_keys`] serve cluster-wide `SCAN`,
//!   `DBSIZE` and `CLUSTER COUNTKEYSINSLOT`.

use std::cell::RefCell;
use std::future::Future;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::{CoordError, Coordinator};
use crate::storage::{keys, Write};
use crate::version::codec;
use crate::version::DvvSet;

tokio::task_local! {
    static OUTBOX: RefCell<Vec<Replicated>>;
}

/// One version a command stored locally, to be sent to the key's other replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replicated {
    /// The user key.
    pub key: Bytes,
    /// The key's whole sibling set as stored, encoded ([`codec`]).
    pub set: Bytes,
}

/// Runs `f` and returns its output with the versions it wrote through the coordinator.
pub async fn capture<F: Future>(f: F) -> (F::Output, Vec<Replicated>) {
    OUTBOX
        .scope(RefCell::new(Vec::new()), async move {
            let out = f.await;
            let written = OUTBOX.with(|o| o.take());
            (out, written)
        })
        .await
}

/// Called by the coordinator after a successful local write.
pub(super) fn record(batch: &[Write]) {
    let _ = OUTBOX.try_with(|o| {
        let mut o = o.borrow_mut();
        for w in batch {
            if let Write::Put(skey, set) = w {
                let key = keys::user_key(skey);
                // A command that writes a key twice (MSET k 1 k 2 is one write; SET then a
                // lazy reclaim is two) replicates its last state only.
                if let Some(prev) = o.iter_mut().find(|r| r.key == key) {
                    prev.set = set.clone();
                } else {
                    o.push(Replicated { key, set: set.clone() });
                }
            }
        }
    });
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
        let local = self.load(&skey)?;
        if let Some(ts) = incoming.siblings().map(|(_, s)| s.timestamp).max() {
            self.hlc.observe(ts);
        }
        let Some(local) = local else {
            self.account(&skey, None, Some(incoming));
            self.write(&[Write::Put(skey, codec::to_bytes(incoming))])?;
            return Ok(Merged { set: incoming.clone(), changed: true, sender_stale: false });
        };
        let merged = local.sync(incoming);
        let changed = merged != local;
        let sender_stale = merged != *incoming;
        if changed {
            self.account(&skey, Some(&local), Some(&merged));
            self.write(&[Write::Put(skey, codec::to_bytes(&merged))])?;
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
            out.extend(self.store.scan(from, to, limit - out.len())?);
        }
        Ok(out)
    }

    /// Live keys this node holds in `slot`.
    pub fn slot_keys(&self, slot: u16) -> u64 {
        self.slot_keys.get(usize::from(slot)).map_or(0, |c| c.load(Ordering::Relaxed).max(0) as u64)
    }
}
