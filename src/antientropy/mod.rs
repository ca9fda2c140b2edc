//! Anti-entropy: replicas that share slots find and repair their differences by themselves, with
//! no reads and no hints — Dynamo's Merkle trees, kept the way Riak's Tictac AAE keeps them.
//!
//! - [`tree`] — per slot, 32 segment hashes over the keys' version digests, folded from the
//!   coordinator's change feed by XOR (no rebuild, no read on the write path); slot roots and
//!   256 group hashes above them.
//! - [`build`] — at start the trees are rebuilt from a store snapshot taken at the instant the
//!   node subscribed to the feed, by a throttled scan; the node serves meanwhile, and the XOR
//!   algebra makes `feed since the snapshot ⊕ snapshot = now` exact.
//! - [`exchange`] — one comparison with one peer: group hashes over the slots both hold, then the
//!   roots of differing groups' slots, then segments (or whole small slots), then key digests,
//!   twice, `aae-confirm-ms` apart, so that writes in flight are not "repaired"; then the versions
//!   of the confirmed keys travel both ways and each side **merges** them (never overwrites).
//! - [`budget`] — the keys/s and bytes/s budget every exchange is paced by.
//!
//! The worker (`INFO workers`: `anti_entropy`) builds the trees, then every `aae-interval-ms`
//! exchanges with the next peer it shares slots with, round robin. Both sides count what an
//! exchange cost (`INFO anti_entropy`); `KV.AAE` shows a slot's tree and forces an exchange.
//!
//! **Deletes and expiry.** A tombstone travels like any version, so a replica that missed a `DEL`
//! gets it. An expired value becomes a tombstone in place on every replica (same bytes), so expiry
//! leaves every tree the same way. Reaping (removing a tombstone from disk) happens on all replicas
//! of a key at nearly the same time, or not at all: after all N acknowledged it, or, past the
//! grace period, only once every other replica confirmed it holds the same tombstone or nothing
//! (`cluster/reap.rs`): so no replica can keep an older value that an exchange would bring back.
//! A past-grace tombstone is not sent to a replica that holds nothing for the key: it is about to
//! be reaped, and the hints of older versions that could still reach that replica are gone by then
//! (hints never outlive the grace period).

pub mod budget;
pub mod build;
pub mod exchange;
pub mod tree;
pub mod worker;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;

use crate::cluster::messages::{Request, Response};
use crate::coordinator::{Change, CoordError, Coordinator, Digest, Subscriber};
use crate::storage::keys::{self, SLOTS};
use crate::version::NodeId;
use tree::{SlotSet, Trees, SEGMENTS};

/// Anti-entropy settings (`aae-*`).
#[derive(Debug, Clone)]
pub struct AaeSettings {
    /// How often this node starts an exchange with its next peer (zero: never; it still answers).
    pub interval: Duration,
    /// Keys repaired per second at most (both directions together).
    pub keys_per_sec: u64,
    /// Bytes per second at most, sent and received, counted by the node starting the exchange.
    pub bytes_per_sec: u64,
    /// Wait between the two comparisons of key digests.
    pub confirm_delay: Duration,
    /// Keys per second the start-up rebuild reads.
    pub rebuild_keys_per_sec: u64,
}

/// Counters for `INFO anti_entropy`.
#[derive(Debug, Default)]
pub struct AaeStats {
    /// Keys the start-up rebuild read.
    pub rebuild_keys: AtomicU64,
    /// Exchanges this node started and finished.
    pub exchanges: AtomicU64,
    /// Exchanges this node started that failed (peer down, not ready, error).
    pub exchange_failures: AtomicU64,
    /// Slots compared (both sides hold them), over all exchanges.
    pub slots_compared: AtomicU64,
    /// Slots whose roots differed.
    pub slots_differing: AtomicU64,
    /// Keys whose digests differed twice in a row (repaired or, past the budget, left for later).
    pub keys_differing: AtomicU64,
    /// Keys that differed once but not the same way the second time (writes in flight).
    pub keys_unconfirmed: AtomicU64,
    /// Keys whose copy here changed by merging the peer's version.
    pub keys_pulled: AtomicU64,
    /// Keys whose version was sent to the peer to merge.
    pub keys_pushed: AtomicU64,
    /// Bytes of anti-entropy messages sent (requests this node made, answers it gave).
    pub bytes_sent: AtomicU64,
    /// Bytes of anti-entropy messages received.
    pub bytes_received: AtomicU64,
}

/// What this node knows of its exchanges with one peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerRound {
    /// The peer's cluster address.
    pub addr: String,
    /// Exchanges finished with it.
    pub exchanges: u64,
    /// Unix ms when the last one finished (0: none yet).
    pub last_ms: u64,
    /// Keys pulled and pushed in the last one.
    pub last_pulled: u64,
    /// See `last_pulled`.
    pub last_pushed: u64,
}

/// This node's anti-entropy: its trees, counters and the state of its exchanges.
pub struct AntiEntropy {
    settings: AaeSettings,
    trees: Trees,
    /// Whether the trees cover every stored key (the start-up rebuild finished).
    ready: AtomicBool,
    /// Bumped by `FLUSHALL` (under `lock`): a rebuild in progress stops adding its snapshot.
    cleared: AtomicU64,
    /// Serialises `FLUSHALL`'s clearing with the rebuild's pages.
    lock: Mutex<()>,
    /// Per peer id: the last exchanges.
    rounds: Mutex<BTreeMap<NodeId, PeerRound>>,
    /// Counters.
    pub stats: AaeStats,
}

impl AntiEntropy {
    /// Anti-entropy over `coord`'s data: subscribes to its change feed and returns, with it, the
    /// snapshot of the store taken at that instant, from which [`build`] completes the trees.
    pub fn attach(settings: AaeSettings, coord: &Coordinator) -> (Arc<AntiEntropy>, Box<dyn crate::storage::Snapshot>) {
        let ae = Arc::new(AntiEntropy {
            settings,
            trees: Trees::new(),
            ready: AtomicBool::new(false),
            cleared: AtomicU64::new(0),
            lock: Mutex::new(()),
            rounds: Mutex::new(BTreeMap::new()),
            stats: AaeStats::default(),
        });
        let snapshot = coord.subscribe_with_snapshot(Arc::clone(&ae) as Arc<dyn Subscriber>);
        (ae, snapshot)
    }

    /// The settings.
    pub fn settings(&self) -> &AaeSettings {
        &self.settings
    }

    /// The trees.
    pub fn trees(&self) -> &Trees {
        &self.trees
    }

    /// Whether the trees cover every stored key.
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// What this node knows of its exchanges, per peer.
    pub fn rounds(&self) -> Vec<(NodeId, PeerRound)> {
        self.rounds.lock().unwrap_or_else(PoisonError::into_inner).iter().map(|(k, v)| (*k, v.clone())).collect()
    }

    fn record_round(&self, peer: NodeId, addr: String, now_ms: u64, pulled: u64, pushed: u64) {
        let mut rounds = self.rounds.lock().unwrap_or_else(PoisonError::into_inner);
        let r = rounds.entry(peer).or_default();
        r.addr = addr;
        r.exchanges += 1;
        r.last_ms = now_ms;
        r.last_pulled = pulled;
        r.last_pushed = pushed;
    }

    /// Counts the bytes of one anti-entropy message pair answered here.
    pub fn count_answered(&self, received: usize, sent: usize) {
        self.stats.bytes_received.fetch_add(received as u64, Ordering::Relaxed);
        self.stats.bytes_sent.fetch_add(sent as u64, Ordering::Relaxed);
    }

    /// Group hashes over the slots of `slots` (the first level of an exchange).
    pub fn group_hashes(&self, slots: &SlotSet) -> Vec<u64> {
        self.trees.groups(|s| slots.contains(s))
    }

    /// The roots of `slots`.
    pub fn roots(&self, slots: &[u16]) -> Vec<u64> {
        slots.iter().map(|&s| self.trees.root(s)).collect()
    }

    /// The segment hashes of `slots`, [`SEGMENTS`] per slot.
    pub fn segment_hashes(&self, slots: &[u16]) -> Vec<u64> {
        slots.iter().flat_map(|&s| self.trees.segments(s)).collect()
    }
}

/// One key as an exchange compares it: the user key and the digest of the version stored.
pub type KeyDigest = (Bytes, u64);

/// The keys this node stores in the segments `wanted` (slot, bitmask of its segments), with their
/// digests, for as many whole `wanted` entries as fit in `max_keys` (at least one): returns how
/// many entries it covered and the keys.
pub fn key_digests(
    coord: &Coordinator,
    wanted: &[(u16, u32)],
    max_keys: usize,
) -> Result<(usize, Vec<KeyDigest>), CoordError> {
    let mut out = Vec::new();
    let mut covered = 0;
    for &(slot, mask) in wanted {
        if slot >= SLOTS {
            covered += 1;
            continue;
        }
        let mut entry = Vec::new();
        // One range scan per run of adjacent segments (a whole slot is one scan).
        let mut seg = 0;
        while seg < SEGMENTS {
            if mask & (1 << seg) == 0 {
                seg += 1;
                continue;
            }
            let first = seg;
            while seg < SEGMENTS && mask & (1 << seg) != 0 {
                seg += 1;
            }
            let (from, _) = tree::segment_range(slot, first);
            let (_, to) = tree::segment_range(slot, seg - 1);
            for (skey, bytes) in coord.scan_range(&from, &to)? {
                entry.push((keys::user_key(&skey), Digest::of_bytes(&bytes).0));
            }
        }
        if covered > 0 && out.len() + entry.len() > max_keys {
            break;
        }
        out.extend(entry);
        covered += 1;
    }
    Ok((covered, out))
}

/// Keys one `AaeKeys` answer lists at most (whole segment entries; at least one entry).
pub const KEYS_PER_ANSWER: usize = 20_000;
/// Slots or entries one request may name at most.
const MAX_ASKED: usize = SLOTS as usize;

/// Answers a peer's anti-entropy request (levels 1 to 4 of its exchange).
pub fn answer(ae: &AntiEntropy, coord: &Coordinator, req: Request) -> Response {
    if !ae.ready() {
        return Response::Error("NOTREADY anti-entropy trees are still being built".into());
    }
    let too_many = |n: usize| n > MAX_ASKED;
    match req {
        Request::AaeGroups(bitmap) => match SlotSet::from_bytes(&bitmap) {
            Some(slots) => Response::Hashes(ae.group_hashes(&slots)),
            None => Response::Error("ERR malformed slot set".into()),
        },
        Request::AaeRoots(slots) if !too_many(slots.len()) => Response::Hashes(ae.roots(&slots)),
        Request::AaeSegments(slots) if !too_many(slots.len()) => Response::Hashes(ae.segment_hashes(&slots)),
        Request::AaeKeys(wanted) if !too_many(wanted.len()) => match key_digests(coord, &wanted, KEYS_PER_ANSWER) {
            Ok((covered, keys)) => Response::KeyDigests { covered: covered as u32, keys },
            Err(e) => Response::Error(e.to_string()),
        },
        _ => Response::Error("ERR not an anti-entropy request, or one naming too many slots".into()),
    }
}

impl Subscriber for AntiEntropy {
    fn changed(&self, change: &Change<'_>) {
        match *change {
            Change::Key { position, old, new, .. } => self.trees.change(position, old, new),
            Change::Cleared => {
                let _rebuild = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
                self.trees.clear();
                self.cleared.fetch_add(1, Ordering::AcqRel);
            }
        }
    }
}

#[cfg(test)]
mod tests;
