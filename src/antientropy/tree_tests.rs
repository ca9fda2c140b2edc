//! The tree's arithmetic: XOR folding in any order, segment ranges, slot sets.

use super::*;
use crate::storage::keys::{position_of, slot_of, storage_key};

fn p(key: &[u8]) -> u64 {
    position_of(key)
}

#[test]
fn a_change_and_its_undo_leave_nothing_and_order_does_not_matter() {
    let t = Trees::new();
    let (a, b) = (Digest(11), Digest(22));
    let slot = slot_of(b"k");
    t.change(p(b"k"), Digest::ABSENT, a);
    t.change(p(b"j"), Digest::ABSENT, b);
    let root = t.root(slot_of(b"k"));
    assert_ne!(t.root(slot), 0);
    // The same changes in another order on another tree: the same hashes.
    let u = Trees::new();
    u.change(p(b"j"), Digest::ABSENT, b);
    u.change(p(b"k"), Digest::ABSENT, a);
    let slot_j = slot_of(b"j");
    assert_eq!((u.root(slot_j), u.segments(slot_j)), (t.root(slot_j), t.segments(slot_j)));
    assert_eq!((u.root(slot), u.segments(slot)), (t.root(slot), t.segments(slot)));
    // k: a → b → absent; the tree is then what j alone makes.
    t.change(p(b"k"), a, b);
    t.change(p(b"k"), b, Digest::ABSENT);
    let j_only = Trees::new();
    j_only.change(p(b"j"), Digest::ABSENT, b);
    assert_eq!(t.root(slot_of(b"j")), j_only.root(slot_of(b"j")));
    assert_ne!(root, t.root(slot));
    // The root is the XOR of the segments; groups are XORs of roots.
    assert_eq!(t.segments(slot).iter().fold(0, |x, s| x ^ s), t.root(slot));
    let groups = t.groups(|s| s == slot);
    assert_eq!(groups[group_of(slot)], t.root(slot));
    assert_eq!(groups.iter().filter(|g| **g != 0).count(), usize::from(t.root(slot) != 0));
    t.clear();
    assert_eq!(t.root(slot), 0);
    assert_eq!(t.nonempty_slots(), 0);
}

#[test]
fn the_same_digest_under_two_keys_does_not_cancel() {
    let t = Trees::new();
    // Two keys with one hash tag share a slot; equal digests must still leave a trace.
    let slot = slot_of(b"{t}a");
    assert_eq!(slot, slot_of(b"{t}b"));
    t.change(p(b"{t}a"), Digest::ABSENT, Digest(5));
    t.change(p(b"{t}b"), Digest::ABSENT, Digest(5));
    assert_ne!(t.root(slot), 0);
}

#[test]
fn a_segment_is_the_storage_range_its_keys_sort_in() {
    for i in 0..2000u32 {
        let key = format!("key:{i}");
        let slot = slot_of(key.as_bytes());
        let seg = segment_of(key.as_bytes());
        assert_eq!(seg, segment_of_position(position_of(key.as_bytes())));
        let (from, to) = segment_range(slot, seg);
        let skey = storage_key(key.as_bytes());
        assert!(skey[..] >= from[..] && skey[..] < to[..], "{key} outside its segment's range");
    }
    // The segments of a slot tile it: the last one ends where the next slot starts.
    let (_, end) = segment_range(7, SEGMENTS - 1);
    assert_eq!(end, keys::slot_start(8));
    assert_eq!(segment_range(7, 0).0, keys::slot_start(7));
}

#[test]
fn slot_sets_round_trip() {
    let mut s = SlotSet::new();
    assert!(s.is_empty());
    for slot in [0, 7, 8, 16383] {
        s.insert(slot);
    }
    assert_eq!(s.len(), 4);
    assert!(s.contains(16383) && s.contains(7) && !s.contains(9));
    assert_eq!(SlotSet::from_bytes(s.as_bytes()), Some(s.clone()));
    assert_eq!(SlotSet::from_bytes(&[0; 10]), None);
}
