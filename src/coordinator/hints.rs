//! Hints: versions this node keeps on behalf of another node that could not take them (hinted
//! handoff). They live in the store's separate hints space, never in this node's own
//! data, so a hint is invisible to this node's reads except where a quorum read asks for it.
//!
//! Layout: key `target node id (20 bytes) ‖ storage key`, value `1 ‖ created ms (u64 BE) ‖ encoded
//! DVVSet`. One hint per target and key: a second hint for the same key is *merged* into the first
//! (`DvvSet::sync`), so a hint can never roll back anything, however often a key is rewritten
//! during an outage. A hint is deleted only by [`Coordinator::hint_delivered`], which checks that
//! it is still exactly what was delivered (a newer hint merged in meanwhile stays for the next
//! round).
//!
//! Per target the store is bounded by count, bytes and age ([`HintLimits`]): a hint for a new key
//! beyond the count or byte bound is refused and counted as dropped (anti-entropy repairs those
//! keys later), and the replay worker discards hints older than the age bound. The bound is checked
//! under the key's lock, not a per-target one, so concurrent hints for different keys can pass it
//! by at most the number of writers racing at that instant. The per-target
//! totals are kept in memory and recounted from disk when the node opens.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use bytes::{BufMut, Bytes, BytesMut};

use super::{CoordError, Coordinator};
use crate::storage::{keys, next_page, scan_all, Space, Write};
use crate::version::codec;
use crate::version::{DvvSet, NodeId};

const ID_LEN: usize = 20;
const HEADER_LEN: usize = 9;
const LAYOUT: u8 = 1;

/// Bounds on the hints kept for one target node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HintLimits {
    /// Most keys hinted for one target.
    pub max_count: u64,
    /// Most bytes (keys and values) hinted for one target.
    pub max_bytes: u64,
    /// Hints older than this are discarded instead of delivered (ms).
    pub max_age_ms: u64,
}

impl Default for HintLimits {
    fn default() -> Self {
        HintLimits { max_count: 1_000_000, max_bytes: 1 << 30, max_age_ms: 3 * 3600 * 1000 }
    }
}

/// Hint counters for `INFO`.
#[derive(Debug, Default)]
pub struct HintStats {
    /// Hints stored (new keys and merges).
    pub written: AtomicU64,
    /// Hints delivered to their target and removed.
    pub delivered: AtomicU64,
    /// Hints refused because their target's bound was reached.
    pub dropped: AtomicU64,
    /// Hints discarded because they outlived the age bound.
    pub expired: AtomicU64,
    /// Hints moved to other targets because theirs no longer holds a replica of the key (the
    /// ring changed, or the target was forgotten).
    pub moved: AtomicU64,
}

/// What storing a hint did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HintOutcome {
    /// Stored (or merged into the key's hint).
    Stored,
    /// Refused: the target's count or byte bound is reached.
    Dropped,
}

/// One stored hint, as the replay worker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// The user key.
    pub key: Bytes,
    /// When the first version of it was hinted (ms).
    pub created_ms: u64,
    /// The encoded sibling set to deliver.
    pub set: Bytes,
    /// The hint's key in the hints space.
    raw_key: Bytes,
    /// The stored value, to check at deletion that nothing was merged in meanwhile.
    raw: Bytes,
}

/// Pending hints for one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetSummary {
    /// The target node.
    pub target: NodeId,
    /// Keys hinted.
    pub count: u64,
    /// Bytes hinted (keys and values).
    pub bytes: u64,
    /// Creation time of the oldest hint (ms).
    pub oldest_ms: u64,
}

#[derive(Debug, Default)]
struct Pending {
    count: u64,
    bytes: u64,
    /// Creation times → hints created then (a multiset, for the oldest age).
    created: BTreeMap<u64, u32>,
}

/// The in-memory totals per target.
#[derive(Debug, Default)]
pub(super) struct HintBook {
    targets: Mutex<HashMap<NodeId, Pending>>,
    pub(super) stats: HintStats,
}

impl HintBook {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<NodeId, Pending>> {
        self.targets.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn add(&self, target: NodeId, bytes: u64, created: u64) {
        let mut t = self.lock();
        let p = t.entry(target).or_default();
        p.count += 1;
        p.bytes += bytes;
        *p.created.entry(created).or_default() += 1;
    }

    fn remove(&self, target: &NodeId, bytes: u64, created: u64) {
        let mut t = self.lock();
        let Some(p) = t.get_mut(target) else { return };
        p.count = p.count.saturating_sub(1);
        p.bytes = p.bytes.saturating_sub(bytes);
        if let Some(n) = p.created.get_mut(&created) {
            *n -= 1;
            if *n == 0 {
                p.created.remove(&created);
            }
        }
        if p.count == 0 {
            t.remove(target);
        }
    }

    fn resize(&self, target: &NodeId, old: u64, new: u64) {
        if let Some(p) = self.lock().get_mut(target) {
            p.bytes = p.bytes.saturating_sub(old) + new;
        }
    }

    fn room(&self, target: &NodeId, limits: &HintLimits, new_key: bool, grow: u64) -> bool {
        let t = self.lock();
        // A target with no hint yet holds 0 keys and 0 bytes: the same bounds apply (with
        // `max_count = 0` its first hint used to pass).
        let (count, bytes) = t.get(target).map_or((0, 0), |p| (p.count, p.bytes));
        (!new_key || count < limits.max_count) && bytes + grow <= limits.max_bytes
    }

    /// The targets with pending hints.
    fn targets(&self) -> Vec<NodeId> {
        self.lock().keys().copied().collect()
    }

    fn summaries(&self) -> Vec<TargetSummary> {
        let t = self.lock();
        let mut out: Vec<TargetSummary> = t
            .iter()
            .map(|(id, p)| TargetSummary {
                target: *id,
                count: p.count,
                bytes: p.bytes,
                oldest_ms: p.created.keys().next().copied().unwrap_or(0),
            })
            .collect();
        out.sort_by_key(|s| s.target);
        out
    }

    fn clear(&self) {
        self.lock().clear();
    }
}

fn hint_key(target: &NodeId, skey: &[u8]) -> Bytes {
    let mut k = BytesMut::with_capacity(ID_LEN + skey.len());
    k.put_slice(&target.0);
    k.put_slice(skey);
    k.freeze()
}

fn hint_value(created_ms: u64, set: &[u8]) -> Bytes {
    let mut v = BytesMut::with_capacity(HEADER_LEN + set.len());
    v.put_u8(LAYOUT);
    v.put_u64(created_ms);
    v.put_slice(set);
    v.freeze()
}

/// `(created ms, encoded set)` of a stored hint value.
fn parse_value(v: &Bytes) -> Result<(u64, Bytes), CoordError> {
    if v.len() < HEADER_LEN || v[0] != LAYOUT {
        return Err(CoordError::Corrupt(codec::DecodeError::Malformed));
    }
    let mut ms = [0u8; 8];
    ms.copy_from_slice(&v[1..HEADER_LEN]);
    Ok((u64::from_be_bytes(ms), v.slice(HEADER_LEN..)))
}

fn target_of(raw_key: &[u8]) -> Option<NodeId> {
    let id: [u8; ID_LEN] = raw_key.get(..ID_LEN)?.try_into().ok()?;
    Some(NodeId(id))
}

/// The first hints-space key after every hint for `target`.
fn target_end(target: &NodeId) -> Option<Vec<u8>> {
    let mut end = target.0.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

impl Coordinator {
    /// How many of `user_keys` this node keeps a hint of, for any target: versions that could
    /// still reach a replica (which is why such a key's tombstone must not be reaped yet).
    pub fn hinted_keys(&self, user_keys: &[Bytes]) -> Result<u64, CoordError> {
        let targets = self.hints.targets();
        let mut n = 0;
        for key in user_keys {
            let skey = keys::storage_key(key);
            for target in &targets {
                if self.store.get(Space::Hints, &hint_key(target, &skey))?.is_some() {
                    n += 1;
                    break;
                }
            }
        }
        Ok(n)
    }

    /// Stores (merges) a version of `key` that `target` should have had.
    pub fn store_hint(&self, target: NodeId, key: &[u8], incoming: &DvvSet) -> Result<HintOutcome, CoordError> {
        let _guard = self.locks.lock_one(key);
        let hkey = hint_key(&target, &keys::storage_key(key));
        let now = self.clock.now_ms();
        let existing = match self.store.get(Space::Hints, &hkey)? {
            Some(v) => Some((parse_value(&v)?, v.len() as u64)),
            None => None,
        };
        let (created, merged, old_len) = match existing {
            Some(((created, set), len)) => (created, codec::decode(&set)?.sync(incoming), Some(len)),
            None => (now, incoming.clone(), None),
        };
        let value = hint_value(created, &codec::to_bytes(&merged));
        let new_len = (hkey.len() + value.len()) as u64;
        let old_total = old_len.map_or(0, |l| l + hkey.len() as u64);
        if !self.hints.room(&target, &self.cfg.hint_limits, old_len.is_none(), new_len.saturating_sub(old_total)) {
            self.hints.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(HintOutcome::Dropped);
        }
        self.store.write(&[Write::Put(Space::Hints, hkey, value)])?;
        match old_len {
            Some(_) => self.hints.resize(&target, old_total, new_len),
            None => self.hints.add(target, new_len, created),
        }
        self.hints.stats.written.fetch_add(1, Ordering::Relaxed);
        Ok(HintOutcome::Stored)
    }

    /// Every hint this node holds for `key`, by target (only targets with pending hints are looked
    /// at, so this costs nothing while no hints are pending).
    pub fn hints_for(&self, key: &[u8]) -> Result<Vec<(NodeId, DvvSet)>, CoordError> {
        let targets = self.hints.targets();
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let skey = keys::storage_key(key);
        let mut out = Vec::new();
        for target in targets {
            if let Some(v) = self.store.get(Space::Hints, &hint_key(&target, &skey))? {
                let (_, set) = parse_value(&v)?;
                out.push((target, codec::decode(&set)?));
            }
        }
        out.sort_by_key(|(t, _)| *t);
        Ok(out)
    }

    /// Up to `limit` hints for `target` whose key comes after `after` (an empty `after`: from the
    /// start), in storage-key order; the second value is where the next page starts (`None` at the
    /// end).
    pub fn hint_page(
        &self,
        target: &NodeId,
        after: &[u8],
        limit: usize,
    ) -> Result<(Vec<Hint>, Option<Vec<u8>>), CoordError> {
        let from = if after.is_empty() { target.0.to_vec() } else { after.to_vec() };
        let end = target_end(target);
        let page = self.store.scan(Space::Hints, &from, end.as_deref(), limit)?;
        let next = next_page(&page, limit);
        let mut out = Vec::with_capacity(page.len());
        for (raw_key, raw) in page {
            let (created_ms, set) = parse_value(&raw)?;
            let key = keys::user_key(&raw_key.slice(ID_LEN..));
            out.push(Hint { key, created_ms, set, raw_key, raw });
        }
        Ok((out, next))
    }

    /// Removes a hint its target has acknowledged, unless a newer version was merged into it
    /// since it was read (then it stays, to be delivered next round). Whether it was removed.
    pub fn hint_delivered(&self, hint: &Hint) -> Result<bool, CoordError> {
        let removed = self.remove_hint_if_unchanged(hint)?;
        if removed {
            self.hints.stats.delivered.fetch_add(1, Ordering::Relaxed);
        }
        Ok(removed)
    }

    /// Removes a hint whose version now sits elsewhere (merged here, or hinted for the key's
    /// current replicas), if unchanged since read.
    pub fn hint_moved(&self, hint: &Hint) -> Result<bool, CoordError> {
        let removed = self.remove_hint_if_unchanged(hint)?;
        if removed {
            self.hints.stats.moved.fetch_add(1, Ordering::Relaxed);
        }
        Ok(removed)
    }

    /// Discards a hint that outlived the age bound (if unchanged since read).
    pub fn hint_expired(&self, hint: &Hint) -> Result<bool, CoordError> {
        let removed = self.remove_hint_if_unchanged(hint)?;
        if removed {
            self.hints.stats.expired.fetch_add(1, Ordering::Relaxed);
        }
        Ok(removed)
    }

    fn remove_hint_if_unchanged(&self, hint: &Hint) -> Result<bool, CoordError> {
        let Some(target) = target_of(&hint.raw_key) else { return Ok(false) };
        let _guard = self.locks.lock_one(&hint.key);
        if self.store.get(Space::Hints, &hint.raw_key)?.as_ref() != Some(&hint.raw) {
            return Ok(false);
        }
        self.store.write(&[Write::Delete(Space::Hints, hint.raw_key.clone())])?;
        self.hints.remove(&target, (hint.raw_key.len() + hint.raw.len()) as u64, hint.created_ms);
        Ok(true)
    }

    /// Pending hints per target, sorted by target id.
    pub fn hint_targets(&self) -> Vec<TargetSummary> {
        self.hints.summaries()
    }

    /// Hint counters.
    pub fn hint_stats(&self) -> &HintStats {
        &self.hints.stats
    }

    /// The hint bounds.
    pub fn hint_limits(&self) -> HintLimits {
        self.cfg.hint_limits
    }

    /// Bytes the hints space takes on disk.
    pub fn hints_disk_space(&self) -> u64 {
        self.store.space_disk_space(Space::Hints)
    }

    /// Gives back the disk room of delivered hints (blocking; run it off the async workers).
    pub fn compact_hints(&self) -> Result<(), CoordError> {
        Ok(self.store.compact(Space::Hints)?)
    }

    /// Rebuilds the per-target totals from disk (at open).
    pub(super) fn recount_hints(&self) -> Result<(), CoordError> {
        self.hints.clear();
        for entry in scan_all(self.store.as_ref(), Space::Hints, &[], None, 1024) {
            let (k, v) = entry?;
            let (Some(target), Ok((created, _))) = (target_of(&k), parse_value(&v)) else { continue };
            self.hints.add(target, (k.len() + v.len()) as u64, created);
        }
        Ok(())
    }

    /// Forgets the hint totals (after the store was cleared).
    pub(super) fn clear_hint_totals(&self) {
        self.hints.clear();
    }
}

#[cfg(test)]
mod tests;
