//! One exchange: this node compares the slots it shares with one peer and repairs what differs,
//! in both directions.
//!
//! 1. **Groups.** This node sends the bitmap of the slots both hold (2 KB); the peer answers its
//!    256 group hashes over them. Equal hashes end the exchange: a round with no difference costs
//!    about 5 KB.
//! 2. **Roots** of the shared slots in differing groups.
//! 3. **Segments** of the differing slots that hold more than [`SMALL_SLOT`] keys here; a smaller
//!    slot goes straight to its keys (cheaper than its 32 segment hashes).
//! 4. **Keys**: both sides list `(key, digest)` of the differing segments; the peer's list is
//!    compared with this node's. Keys that differ are compared **a second time** after
//!    `aae-confirm-ms`; only keys that differed the same way both times are repaired, so writes
//!    still travelling between replicas are left to replication.
//! 5. **Repair**: the peer's versions of the confirmed keys are fetched and merged here; then
//!    this node's (merged) versions are sent for the peer to merge (`Replicate`). Merging never
//!    loses a version: what either side held survives, as the newer version or as a sibling. A
//!    tombstone past its grace period is not sent to a peer that holds nothing for the key (see
//!    the module docs).
//!
//! Everything is paced by the byte budget; at most the key budget is repaired per exchange and the
//! rest is found again by the next one.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use thiserror::Error;

use super::budget::Budget;
use super::tree::{segment_of, SlotSet, GROUPS, SEGMENTS};
use super::{key_digests, AntiEntropy};
use crate::cluster::messages::{KeyVersion, Request, Response};
use crate::cluster::{CallError, Cluster, Peer};
use crate::coordinator::{CoordError, Digest};
use crate::storage::keys::{self, SLOTS};
use crate::version::codec;

/// A slot with at most this many live keys here skips the segment level.
pub const SMALL_SLOT: u64 = 64;
/// Slots per roots or segments request.
const SLOTS_PER_REQUEST: usize = 2048;
/// Segment entries per keys request, and keys per answer at most (whole entries).
const ENTRIES_PER_REQUEST: usize = 512;
/// Keys per fetch or replicate request.
const VERSIONS_PER_REQUEST: usize = 256;

/// Why an exchange stopped.
#[derive(Debug, Error)]
pub enum ExchangeError {
    /// This node's trees are still being built.
    #[error("this node's anti-entropy trees are still being built")]
    NotReady,
    /// A request to the peer failed (it may be building its trees: `NOTREADY`).
    #[error("peer request failed: {0}")]
    Call(#[from] CallError),
    /// The peer answered something that does not fit the question.
    #[error("unexpected answer from the peer")]
    Unexpected,
    /// The local replica failed.
    #[error(transparent)]
    Local(#[from] CoordError),
}

/// What one exchange found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Slots both nodes hold.
    pub slots: u64,
    /// Of those, slots whose roots differed.
    pub slots_differing: u64,
    /// Keys that differed twice the same way.
    pub keys_differing: u64,
    /// Keys that differed once only (writes in flight).
    pub keys_unconfirmed: u64,
    /// Keys whose copy here changed by merging the peer's.
    pub pulled: u64,
    /// Keys sent to the peer to merge.
    pub pushed: u64,
    /// Bytes sent and received.
    pub bytes_sent: u64,
    /// See `bytes_sent`.
    pub bytes_received: u64,
}

/// Key → (digest here, digest there); [`Digest::ABSENT`]'s 0 for "not stored".
type Differences = HashMap<Bytes, (u64, u64)>;

struct Talk<'a> {
    ae: &'a AntiEntropy,
    cluster: &'a Cluster,
    addr: SocketAddr,
    bytes: &'a mut Budget,
    out: Outcome,
}

impl Talk<'_> {
    async fn ask(&mut self, req: Request) -> Result<Response, ExchangeError> {
        let (result, sent, received) = self.cluster.call_measured(self.addr, &req).await;
        self.out.bytes_sent += sent;
        self.out.bytes_received += received;
        self.ae.stats.bytes_sent.fetch_add(sent, Ordering::Relaxed);
        self.ae.stats.bytes_received.fetch_add(received, Ordering::Relaxed);
        self.bytes.spend(sent + received).await;
        Ok(result?)
    }

    async fn hashes(&mut self, req: Request, expected: usize) -> Result<Vec<u64>, ExchangeError> {
        match self.ask(req).await? {
            Response::Hashes(h) if h.len() == expected => Ok(h),
            _ => Err(ExchangeError::Unexpected),
        }
    }

    /// The keys that differ between here and the peer in `wanted` (slot, segment mask).
    async fn differences(&mut self, wanted: &[(u16, u32)], cap: usize) -> Result<Differences, ExchangeError> {
        let coord = self.cluster.coord();
        let mut diffs = Differences::new();
        let mut rest = wanted;
        while !rest.is_empty() && diffs.len() < cap {
            let chunk = &rest[..rest.len().min(ENTRIES_PER_REQUEST)];
            let (covered, theirs) = match self.ask(Request::AaeKeys(chunk.to_vec())).await? {
                Response::KeyDigests { covered, keys } if covered >= 1 && covered as usize <= chunk.len() => {
                    (covered as usize, keys)
                }
                _ => return Err(ExchangeError::Unexpected),
            };
            let (_, ours) = key_digests(coord, &chunk[..covered], usize::MAX)?;
            let mut mine: HashMap<Bytes, u64> = ours.into_iter().collect();
            for (key, d) in theirs {
                let here = mine.remove(&key).unwrap_or(0);
                if here != d {
                    diffs.insert(key, (here, d));
                }
            }
            diffs.extend(mine.into_iter().map(|(k, d)| (k, (d, 0))));
            rest = &rest[covered..];
        }
        Ok(diffs)
    }
}

/// The slots `me` and `peer` both hold, as the current topology places them.
pub fn shared_slots(cluster: &Cluster, peer: &Peer) -> SlotSet {
    let topo = cluster.topology();
    let me = topo.me();
    let mut set = SlotSet::new();
    for slot in 0..SLOTS {
        let mut mine = false;
        let mut theirs = false;
        for p in topo.primaries(slot) {
            mine |= p.member.id == me;
            theirs |= p.member.id == peer.member.id;
        }
        if mine && theirs {
            set.insert(slot);
        }
    }
    set
}

/// Compares the slots this node shares with `peer` and repairs at most `max_keys` differing keys.
pub async fn exchange(
    ae: &AntiEntropy,
    cluster: &Cluster,
    peer: &Peer,
    bytes: &mut Budget,
    max_keys: usize,
) -> Result<Outcome, ExchangeError> {
    if !ae.ready() {
        return Err(ExchangeError::NotReady);
    }
    let shared = shared_slots(cluster, peer);
    let mut talk = Talk { ae, cluster, addr: peer.member.cluster_addr, bytes, out: Outcome::default() };
    talk.out.slots = shared.len() as u64;
    if shared.is_empty() {
        return Ok(talk.out);
    }

    // 1. Groups.
    let theirs = talk.hashes(Request::AaeGroups(Bytes::copy_from_slice(shared.as_bytes())), GROUPS).await?;
    let ours = ae.group_hashes(&shared);
    let groups: Vec<bool> = ours.iter().zip(&theirs).map(|(a, b)| a != b).collect();
    let candidates: Vec<u16> = (0..SLOTS).filter(|&s| shared.contains(s) && groups[super::tree::group_of(s)]).collect();

    // 2. Roots.
    let mut differing = Vec::new();
    for chunk in candidates.chunks(SLOTS_PER_REQUEST) {
        let theirs = talk.hashes(Request::AaeRoots(chunk.to_vec()), chunk.len()).await?;
        differing.extend(chunk.iter().zip(theirs).filter(|(&s, r)| ae.trees.root(s) != *r).map(|(&s, _)| s));
    }
    talk.out.slots_differing = differing.len() as u64;
    if differing.is_empty() {
        return Ok(finish(ae, talk.out));
    }

    // 3. Segments of the large slots; the small ones are listed whole.
    let coord = cluster.coord();
    let (large, small): (Vec<u16>, Vec<u16>) = differing.iter().partition(|&&s| coord.slot_keys(s) > SMALL_SLOT);
    let mut wanted: Vec<(u16, u32)> = small.iter().map(|&s| (s, u32::MAX)).collect();
    for chunk in large.chunks(SLOTS_PER_REQUEST / SEGMENTS) {
        let theirs = talk.hashes(Request::AaeSegments(chunk.to_vec()), chunk.len() * SEGMENTS).await?;
        for (i, &slot) in chunk.iter().enumerate() {
            let ours = ae.trees.segments(slot);
            let mask = (0..SEGMENTS).filter(|&g| ours[g] != theirs[i * SEGMENTS + g]).fold(0u32, |m, g| m | 1 << g);
            if mask != 0 {
                wanted.push((slot, mask));
            }
        }
    }
    wanted.sort_unstable();

    // 4. Keys, twice.
    let cap = max_keys.saturating_mul(4).max(1024);
    let first = talk.differences(&wanted, cap).await?;
    if first.is_empty() {
        return Ok(finish(ae, talk.out));
    }
    tokio::time::sleep(ae.settings.confirm_delay).await;
    let mut again: BTreeMap<u16, u32> = BTreeMap::new();
    for key in first.keys() {
        *again.entry(keys::slot_of(key)).or_default() |= 1 << segment_of(key);
    }
    let again: Vec<(u16, u32)> = again.into_iter().collect();
    let second = talk.differences(&again, cap).await?;
    let found = first.len();
    let mut confirmed: Vec<(Bytes, (u64, u64))> = first.into_iter().filter(|(k, d)| second.get(k) == Some(d)).collect();
    talk.out.keys_unconfirmed = (found - confirmed.len()) as u64;
    talk.out.keys_differing = confirmed.len() as u64;
    confirmed.truncate(max_keys);

    // 5. Repair: theirs merged here, then ours (merged) sent there.
    repair(&mut talk, confirmed).await?;
    Ok(finish(ae, talk.out))
}

async fn repair(talk: &mut Talk<'_>, confirmed: Vec<(Bytes, (u64, u64))>) -> Result<(), ExchangeError> {
    let coord = talk.cluster.coord();
    // (key, whether this node held it when the difference was confirmed)
    let pull: Vec<(Bytes, bool)> =
        confirmed.iter().filter(|(_, (_, there))| *there != 0).map(|(k, (here, _))| (k.clone(), *here != 0)).collect();
    for chunk in pull.chunks(VERSIONS_PER_REQUEST) {
        let keys: Vec<Bytes> = chunk.iter().map(|(k, _)| k.clone()).collect();
        let sets = match talk.ask(Request::Fetch(keys)).await? {
            Response::Sets(s) if s.len() == chunk.len() => s,
            _ => return Err(ExchangeError::Unexpected),
        };
        for ((key, held), set) in chunk.iter().zip(sets) {
            let Some(bytes) = set else { continue };
            let Ok(set) = codec::decode(&bytes) else {
                tracing::warn!(peer = %talk.addr, "anti-entropy: undecodable version from the peer");
                continue;
            };
            // A tombstone about to be reaped there is not worth storing here if nothing is.
            if !held && coord.past_grace(&set) {
                continue;
            }
            if coord.merge(key, &set)?.changed {
                talk.out.pulled += 1;
            }
        }
    }
    if talk.out.pulled > 0 {
        if let Err(e) = coord.durability().commit().await {
            tracing::warn!(error = %e, "anti-entropy: durability commit failed");
        }
    }
    let mut push = Vec::new();
    for (key, (_, there)) in &confirmed {
        let Some(set) = coord.local(key)? else { continue };
        let bytes = codec::to_bytes(&set);
        if Digest::of_bytes(&bytes).0 == *there || (*there == 0 && coord.past_grace(&set)) {
            continue;
        }
        push.push(KeyVersion { key: key.clone(), set: bytes });
    }
    for chunk in push.chunks(VERSIONS_PER_REQUEST) {
        match talk.ask(Request::Replicate(chunk.to_vec())).await? {
            Response::Ack => talk.out.pushed += chunk.len() as u64,
            // The peer refused the keys of slots it does not hold in its view (views differ).
            Response::Stored(taken) => talk.out.pushed += taken.iter().filter(|t| **t).count() as u64,
            _ => return Err(ExchangeError::Unexpected),
        }
    }
    Ok(())
}

fn finish(ae: &AntiEntropy, out: Outcome) -> Outcome {
    let s = &ae.stats;
    s.exchanges.fetch_add(1, Ordering::Relaxed);
    s.slots_compared.fetch_add(out.slots, Ordering::Relaxed);
    s.slots_differing.fetch_add(out.slots_differing, Ordering::Relaxed);
    s.keys_differing.fetch_add(out.keys_differing, Ordering::Relaxed);
    s.keys_unconfirmed.fetch_add(out.keys_unconfirmed, Ordering::Relaxed);
    s.keys_pulled.fetch_add(out.pulled, Ordering::Relaxed);
    s.keys_pushed.fetch_add(out.pushed, Ordering::Relaxed);
    out
}
