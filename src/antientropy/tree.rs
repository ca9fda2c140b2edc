//! The hash trees: per slot, [`SEGMENTS`] leaf hashes over the keys' version digests, kept
//! current by XOR (Riak's Tictac AAE): a key with version digest `d` contributes
//! `leaf(position, d)` to its segment, so a change from `old` to `new` is `seg ^= leaf(position,
//! old) ^ leaf(position, new)` — no rebuild and no read on the write path, in any order (XOR
//! commutes), from any number of writers at once (atomic `fetch_xor`). The key enters through its
//! storage position (slot and 48-bit SipHash of the key, already in its storage key), and a leaf
//! is a 64-bit mix of position and digest (the digest is already a SipHash of the version): a few
//! instructions per write instead of hashing the key again. A slot's root is the XOR of its segments,
//! a group's hash the XOR of its slots' roots: three levels, each a summary of the one below.
//!
//! A key's segment is the top [`SEGMENT_BITS`] bits of its 48-bit in-slot hash (`storage::keys`),
//! so a segment is one contiguous range of storage keys: listing a segment's keys is a short
//! range scan. Equal trees mean equal data up to a 64-bit hash collision.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::coordinator::Digest;
use crate::storage::keys::{self, SLOTS};

/// Segments (leaves) per slot.
pub const SEGMENTS: usize = 32;
/// `log2(SEGMENTS)`.
pub const SEGMENT_BITS: u32 = 5;
/// Slots per group (the top level of an exchange).
pub const GROUP_SLOTS: usize = 64;
/// Groups in the keyspace.
pub const GROUPS: usize = SLOTS as usize / GROUP_SLOTS;

/// The segment of a storage position (`slot << 48 | hash48`).
pub fn segment_of_position(position: u64) -> usize {
    ((position >> (48 - SEGMENT_BITS)) as usize) & (SEGMENTS - 1)
}

/// The segment of a user key.
pub fn segment_of(key: &[u8]) -> usize {
    segment_of_position(keys::position_of(key))
}

/// The `[from, to)` storage-key range of one segment of one slot.
pub fn segment_range(slot: u16, segment: usize) -> ([u8; 8], [u8; 8]) {
    let start = (u64::from(slot) << 48) | ((segment as u64) << (48 - SEGMENT_BITS));
    let end = start + (1u64 << (48 - SEGMENT_BITS));
    (keys::seek(start), keys::seek(end))
}

/// The group of a slot.
pub fn group_of(slot: u16) -> usize {
    usize::from(slot) / GROUP_SLOTS
}

/// What the key at storage `position` with version digest `d` contributes to its segment (0 when
/// not stored): the splitmix64 finaliser of the two mixed.
pub fn leaf(position: u64, d: Digest) -> u64 {
    if d == Digest::ABSENT {
        return 0;
    }
    let mut z = d.0 ^ position.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The trees of every slot of one node.
pub struct Trees {
    /// `SLOTS * SEGMENTS` segment hashes, slot-major.
    segments: Box<[AtomicU64]>,
    /// One root per slot: the XOR of its segments.
    roots: Box<[AtomicU64]>,
}

impl Default for Trees {
    fn default() -> Self {
        Trees::new()
    }
}

impl Trees {
    /// Empty trees (every slot empty).
    pub fn new() -> Trees {
        let n = usize::from(SLOTS);
        Trees {
            segments: (0..n * SEGMENTS).map(|_| AtomicU64::new(0)).collect(),
            roots: (0..n).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Folds in one change of the key at storage `position`, from digest `old` to `new`.
    pub fn change(&self, position: u64, old: Digest, new: Digest) {
        let x = leaf(position, old) ^ leaf(position, new);
        if x == 0 {
            return;
        }
        let s = (position >> 48) as usize % usize::from(SLOTS);
        self.segments[s * SEGMENTS + segment_of_position(position)].fetch_xor(x, Ordering::Relaxed);
        self.roots[s].fetch_xor(x, Ordering::Relaxed);
    }

    /// Empties every tree.
    pub fn clear(&self) {
        for a in self.segments.iter().chain(self.roots.iter()) {
            a.store(0, Ordering::Relaxed);
        }
    }

    /// The root of `slot`.
    pub fn root(&self, slot: u16) -> u64 {
        self.roots.get(usize::from(slot)).map_or(0, |r| r.load(Ordering::Relaxed))
    }

    /// The segment hashes of `slot`.
    pub fn segments(&self, slot: u16) -> [u64; SEGMENTS] {
        let mut out = [0; SEGMENTS];
        let s = usize::from(slot);
        if s < usize::from(SLOTS) {
            for (i, o) in out.iter_mut().enumerate() {
                *o = self.segments[s * SEGMENTS + i].load(Ordering::Relaxed);
            }
        }
        out
    }

    /// The hash of every group over the slots `include` says: the XOR of those slots' roots.
    pub fn groups(&self, include: impl Fn(u16) -> bool) -> Vec<u64> {
        let mut out = vec![0; GROUPS];
        for slot in 0..SLOTS {
            if include(slot) {
                out[group_of(slot)] ^= self.root(slot);
            }
        }
        out
    }

    /// Slots whose tree is not empty.
    pub fn nonempty_slots(&self) -> usize {
        self.roots.iter().filter(|r| r.load(Ordering::Relaxed) != 0).count()
    }
}

/// A set of slots as a bitmap (2048 bytes), as it travels in an exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotSet(Vec<u8>);

impl SlotSet {
    /// The empty set.
    pub fn new() -> SlotSet {
        SlotSet(vec![0; usize::from(SLOTS) / 8])
    }

    /// From its wire form; `None` when it is not 2048 bytes.
    pub fn from_bytes(b: &[u8]) -> Option<SlotSet> {
        (b.len() == usize::from(SLOTS) / 8).then(|| SlotSet(b.to_vec()))
    }

    /// The wire form.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Adds a slot.
    pub fn insert(&mut self, slot: u16) {
        if let Some(b) = self.0.get_mut(usize::from(slot) / 8) {
            *b |= 1 << (slot % 8);
        }
    }

    /// Whether it holds `slot`.
    pub fn contains(&self, slot: u16) -> bool {
        self.0.get(usize::from(slot) / 8).is_some_and(|b| b & (1 << (slot % 8)) != 0)
    }

    /// How many slots it holds.
    pub fn len(&self) -> usize {
        self.0.iter().map(|b| b.count_ones() as usize).sum()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|b| *b == 0)
    }
}

impl Default for SlotSet {
    fn default() -> Self {
        SlotSet::new()
    }
}

#[cfg(test)]
#[path = "tree_tests.rs"]
mod tests;
