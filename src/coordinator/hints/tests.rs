//! Hint store tests: merge-not-overwrite, delivery only of what was read, bounds, recount.

use std::sync::Arc;

use bytes::Bytes;

use super::*;
use crate::clock::ManualClock;
use crate::coordinator::CoordConfig;
use crate::storage::{Durability, FsyncPolicy, MemStore, Store};
use crate::version::Sibling;

fn coord_with(store: Arc<dyn Store>, limits: HintLimits) -> (Coordinator, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_000_000));
    let durability = Durability::start(Arc::clone(&store), FsyncPolicy::No);
    let cfg = CoordConfig {
        node_id: NodeId([1; 20]),
        max_siblings: 8,
        row_cache_bytes: 0,
        key_filter_bytes: 0,
        keep_tombstones: true,
        hint_limits: limits,
        tombstone_grace_ms: 86_400_000,
        dot_lease: None,
    };
    (Coordinator::open(cfg, store, durability, clock.clone()).unwrap(), clock)
}

fn version(writer: u8, value: &str, ts: u64, after: Option<&DvvSet>) -> DvvSet {
    let context = after.map(DvvSet::join).unwrap_or_default();
    let s = Sibling::value(Bytes::copy_from_slice(value.as_bytes()), ts, None);
    DvvSet::update(DvvSet::with_context(&context, s), after.unwrap_or(&DvvSet::default()), NodeId([writer; 20]))
}

fn values(set: &DvvSet) -> Vec<Bytes> {
    let mut v: Vec<Bytes> = set.siblings().filter_map(|(_, s)| s.value.clone()).collect();
    v.sort();
    v
}

const OWNER: NodeId = NodeId([5; 20]);
const OTHER: NodeId = NodeId([6; 20]);

#[test]
fn a_later_hint_merges_and_never_rolls_back() {
    let (c, _) = coord_with(Arc::new(MemStore::new()), HintLimits::default());
    let v1 = version(2, "v1", 10, None);
    let v2 = version(2, "v2", 20, Some(&v1));
    assert_eq!(c.store_hint(OWNER, b"k", &v2).unwrap(), HintOutcome::Stored);
    // An older version arriving later (a retry, a slower path) does not replace the newer one.
    assert_eq!(c.store_hint(OWNER, b"k", &v1).unwrap(), HintOutcome::Stored);
    let hinted = c.hints_for(b"k").unwrap();
    assert_eq!(hinted.len(), 1);
    assert_eq!(values(&hinted[0].1), vec![Bytes::from_static(b"v2")]);
    // The node's own data is untouched.
    assert_eq!(c.local(b"k").unwrap(), None);
    let t = c.hint_targets();
    assert_eq!((t.len(), t[0].target, t[0].count), (1, OWNER, 1));
    assert_eq!(t[0].oldest_ms, 1_000_000);
}

#[test]
fn delivery_removes_only_what_was_delivered() {
    let (c, _) = coord_with(Arc::new(MemStore::new()), HintLimits::default());
    let v1 = version(2, "v1", 10, None);
    c.store_hint(OWNER, b"a", &v1).unwrap();
    c.store_hint(OWNER, b"b", &v1).unwrap();
    c.store_hint(OTHER, b"a", &v1).unwrap();
    let (page, next) = c.hint_page(&OWNER, b"", 10).unwrap();
    assert_eq!(page.len(), 2, "only OWNER's hints");
    assert!(next.is_none());
    // A concurrent write is hinted for "a" after the page was read: its delivery must not
    // remove the newer hint.
    let concurrent = version(3, "w", 30, None);
    c.store_hint(OWNER, b"a", &concurrent).unwrap();
    let a = page.iter().find(|h| h.key == Bytes::from_static(b"a")).unwrap();
    let b = page.iter().find(|h| h.key == Bytes::from_static(b"b")).unwrap();
    assert!(!c.hint_delivered(a).unwrap(), "changed since read: kept");
    assert!(c.hint_delivered(b).unwrap());
    let (left, _) = c.hint_page(&OWNER, b"", 10).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(values(&codec::decode(&left[0].set).unwrap()).len(), 2, "v1 and w are concurrent");
    assert!(c.hint_delivered(&left[0]).unwrap());
    assert_eq!(c.hint_targets().iter().map(|t| t.target).collect::<Vec<_>>(), vec![OTHER]);
    assert_eq!(c.hint_stats().delivered.load(Ordering::Relaxed), 2);
}

#[test]
fn pages_walk_every_hint_of_a_target() {
    let (c, _) = coord_with(Arc::new(MemStore::new()), HintLimits::default());
    for i in 0..25 {
        c.store_hint(OWNER, format!("k{i}").as_bytes(), &version(2, "v", 10, None)).unwrap();
    }
    c.store_hint(OTHER, b"zz", &version(2, "v", 10, None)).unwrap();
    let (mut seen, mut after) = (0, Vec::new());
    loop {
        let (page, next) = c.hint_page(&OWNER, &after, 10).unwrap();
        seen += page.len();
        match next {
            Some(n) => after = n,
            None => break,
        }
    }
    assert_eq!(seen, 25);
}

#[test]
fn bounds_drop_new_keys_and_say_so() {
    let limits = HintLimits { max_count: 2, ..HintLimits::default() };
    let (c, _) = coord_with(Arc::new(MemStore::new()), limits);
    let v = version(2, "v", 10, None);
    assert_eq!(c.store_hint(OWNER, b"a", &v).unwrap(), HintOutcome::Stored);
    assert_eq!(c.store_hint(OWNER, b"b", &v).unwrap(), HintOutcome::Stored);
    assert_eq!(c.store_hint(OWNER, b"c", &v).unwrap(), HintOutcome::Dropped);
    // A merge into an existing key is not a new key; another target has its own bound.
    assert_eq!(c.store_hint(OWNER, b"a", &version(2, "v2", 20, Some(&v))).unwrap(), HintOutcome::Stored);
    assert_eq!(c.store_hint(OTHER, b"c", &v).unwrap(), HintOutcome::Stored);
    assert_eq!(c.hint_stats().dropped.load(Ordering::Relaxed), 1);

    // A bound of 0 keys keeps no hint at all, not even a target's first one.
    let none = HintLimits { max_count: 0, ..HintLimits::default() };
    let (c, _) = coord_with(Arc::new(MemStore::new()), none);
    assert_eq!(c.store_hint(OWNER, b"a", &v).unwrap(), HintOutcome::Dropped);
    assert!(c.hint_targets().is_empty());

    let small = HintLimits { max_bytes: 100, ..HintLimits::default() };
    let (c, _) = coord_with(Arc::new(MemStore::new()), small);
    let big = version(2, &"x".repeat(200), 10, None);
    assert_eq!(c.store_hint(OWNER, b"a", &big).unwrap(), HintOutcome::Dropped);
    assert!(c.hint_targets().is_empty());
}

#[test]
fn totals_are_recounted_when_the_node_opens() {
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let (c, clock) = coord_with(Arc::clone(&store), HintLimits::default());
    c.store_hint(OWNER, b"a", &version(2, "v", 10, None)).unwrap();
    clock.advance(500);
    c.store_hint(OWNER, b"b", &version(2, "v", 10, None)).unwrap();
    let before = c.hint_targets();
    drop(c);
    let (reopened, _) = coord_with(store, HintLimits::default());
    assert_eq!(reopened.hint_targets(), before);
    assert_eq!(before[0].count, 2);
    assert_eq!(before[0].oldest_ms, 1_000_000);
    reopened.flush_all(&mut crate::coordinator::Writes::default()).unwrap();
    assert!(reopened.hint_targets().is_empty());
    assert!(reopened.hints_for(b"a").unwrap().is_empty());
}

#[test]
fn an_expired_hint_is_counted_apart() {
    let (c, _) = coord_with(Arc::new(MemStore::new()), HintLimits::default());
    c.store_hint(OWNER, b"a", &version(2, "v", 10, None)).unwrap();
    let (page, _) = c.hint_page(&OWNER, b"", 10).unwrap();
    assert!(c.hint_expired(&page[0]).unwrap());
    assert_eq!(c.hint_stats().expired.load(Ordering::Relaxed), 1);
    assert_eq!(c.hint_stats().delivered.load(Ordering::Relaxed), 0);
    assert!(c.hint_targets().is_empty());
}
