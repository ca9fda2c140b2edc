//! The trees stay exactly what a fresh build from the store would make, whatever happens to the
//! data: writes, overwrites, deletes (tombstones), expiry (lazy, into tombstones), merges of
//! other replicas' versions, reaps and `FLUSHALL` — and whether the changes came before the
//! start-up build, during it, or after (property test).

use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::coordinator::{CoordConfig, Mutation, Writes};
use crate::storage::{scan_all, Durability, FsyncPolicy, MemStore, Space, Store};
use crate::version::codec;

fn replica(store: &Arc<MemStore>, clock: &Arc<ManualClock>, node: u8) -> Coordinator {
    let cfg = CoordConfig {
        node_id: NodeId([node; 20]),
        max_siblings: 4,
        row_cache_bytes: 1 << 16,
        key_filter_bytes: 1024,
        keep_tombstones: true,
        hint_limits: Default::default(),
        tombstone_grace_ms: 1000,
        dot_lease: None,
    };
    let store: Arc<dyn Store> = Arc::clone(store) as Arc<dyn Store>;
    let durability = Durability::start(Arc::clone(&store), FsyncPolicy::No);
    Coordinator::open(cfg, store, durability, Arc::clone(clock) as Arc<dyn Clock>).expect("open")
}

/// Trees built from scratch from what `store` holds now.
fn fresh(store: &MemStore) -> Trees {
    let t = Trees::new();
    for entry in scan_all(store, Space::Data, &[], None, 64) {
        let (skey, bytes) = entry.expect("scan");
        t.change(keys::position(&skey), Digest::ABSENT, Digest::of_bytes(&bytes));
    }
    t
}

fn assert_same(a: &Trees, b: &Trees, step: &str) {
    for slot in 0..SLOTS {
        assert_eq!(a.segments(slot), b.segments(slot), "slot {slot} after {step}");
        assert_eq!(a.root(slot), b.root(slot), "slot {slot} root after {step}");
    }
}

#[derive(Debug, Clone)]
enum Op {
    Set(u8, u8),
    SetTtl(u8, u8, u16),
    Del(u8),
    /// The other replica writes the key, and its version is merged here.
    Merge(u8, u8),
    /// The other replica deletes the key, and its tombstone is merged here.
    MergeDel(u8),
    Advance(u16),
    /// A read: lazy expiry turns an expired key into a tombstone.
    Read(u8),
    /// The stored tombstone (if that is what is stored) is reaped.
    Reap(u8),
    FlushAll,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..24, any::<u8>()).prop_map(|(k, v)| Op::Set(k, v)),
        2 => (0u8..24, any::<u8>(), 1u16..3000).prop_map(|(k, v, t)| Op::SetTtl(k, v, t)),
        2 => (0u8..24).prop_map(Op::Del),
        2 => (0u8..24, any::<u8>()).prop_map(|(k, v)| Op::Merge(k, v)),
        1 => (0u8..24).prop_map(Op::MergeDel),
        2 => (1u16..2000).prop_map(Op::Advance),
        2 => (0u8..24).prop_map(Op::Read),
        2 => (0u8..24).prop_map(Op::Reap),
        1 => Just(Op::FlushAll),
    ]
}

fn key(k: u8) -> Vec<u8> {
    // A few keys share a hash tag, so they share a slot and some share a segment.
    if k % 3 == 0 {
        format!("{{tag}}k{k}").into_bytes()
    } else {
        format!("k{k}").into_bytes()
    }
}

fn run(here: &Coordinator, other: &Coordinator, clock: &ManualClock, op: &Op) {
    let mut w = Writes::default();
    let put = |c: &Coordinator, w: &mut Writes, k: u8, v: u8, ttl: Option<u16>| {
        let expires_at = ttl.map(|t| clock.now_ms() + u64::from(t));
        c.update(w, &key(k), |_| (Mutation::Put { value: Bytes::from(vec![v]), expires_at }, ())).expect("put");
    };
    match *op {
        Op::Set(k, v) => put(here, &mut w, k, v, None),
        Op::SetTtl(k, v, t) => put(here, &mut w, k, v, Some(t)),
        Op::Del(k) => here.update(&mut w, &key(k), |_| (Mutation::Delete, ())).expect("del"),
        Op::Merge(k, v) => {
            put(other, &mut w, k, v, None);
            let set = other.local(&key(k)).expect("local").expect("just written");
            here.merge(&key(k), &set).expect("merge");
        }
        Op::MergeDel(k) => {
            other.update(&mut w, &key(k), |_| (Mutation::Delete, ())).expect("del");
            if let Some(set) = other.local(&key(k)).expect("local") {
                here.merge(&key(k), &set).expect("merge");
            }
        }
        Op::Advance(ms) => clock.advance(u64::from(ms)),
        Op::Read(k) => {
            here.read(&mut w, &key(k)).expect("read");
        }
        Op::Reap(k) => {
            if let Some(set) = here.local(&key(k)).expect("local") {
                here.reap(&key(k), &set).expect("reap");
            }
        }
        Op::FlushAll => here.flush_all(&mut w).expect("flush"),
    }
}

fn build(ae: &AntiEntropy, snapshot: Box<dyn crate::storage::Snapshot>) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    let (_stop, mut shutdown) = tokio::sync::watch::channel(false);
    rt.block_on(ae.build(snapshot, &mut shutdown));
    assert!(ae.ready());
}

fn settings() -> AaeSettings {
    AaeSettings {
        interval: std::time::Duration::ZERO,
        keys_per_sec: 1000,
        bytes_per_sec: 1 << 20,
        confirm_delay: std::time::Duration::ZERO,
        rebuild_keys_per_sec: u64::MAX / 2,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_trees_always_equal_a_fresh_build(
        before in proptest::collection::vec(op(), 0..30),
        during in proptest::collection::vec(op(), 0..30),
        after in proptest::collection::vec(op(), 0..60),
    ) {
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        let (store, other_store) = (Arc::new(MemStore::new()), Arc::new(MemStore::new()));
        let here = replica(&store, &clock, 1);
        let other = replica(&other_store, &clock, 2);
        for op in &before {
            run(&here, &other, &clock, op);
        }
        // Subscribed with a snapshot; changes happen before the build reads the snapshot.
        let (ae, snapshot) = AntiEntropy::attach(settings(), &here);
        for op in &during {
            run(&here, &other, &clock, op);
        }
        build(&ae, snapshot);
        assert_same(&ae.trees, &fresh(&store), "the build");
        for (i, op) in after.iter().enumerate() {
            run(&here, &other, &clock, op);
            assert_same(&ae.trees, &fresh(&store), &format!("step {i}: {op:?}"));
        }
    }
}

#[test]
fn key_digests_list_exactly_the_asked_segments() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let (store, other_store) = (Arc::new(MemStore::new()), Arc::new(MemStore::new()));
    let here = replica(&store, &clock, 1);
    let other = replica(&other_store, &clock, 2);
    for k in 0..200u8 {
        run(&here, &other, &clock, &Op::Set(k, k));
    }
    let k = key(7);
    let slot = keys::slot_of(&k);
    let seg = tree::segment_of(&k);
    let (covered, listed) = key_digests(&here, &[(slot, 1 << seg)], 10).expect("digests");
    assert_eq!(covered, 1);
    let stored = here.local(&k).expect("local").expect("stored");
    assert!(listed.contains(&(Bytes::from(k.clone()), Digest::of_bytes(&codec::to_bytes(&stored)).0)));
    assert!(listed.iter().all(|(key, _)| keys::slot_of(key) == slot && tree::segment_of(key) == seg));
    // Whole entries only: a budget of one key still covers the first entry, and no more.
    let all: Vec<(u16, u32)> = (0..SLOTS).map(|s| (s, u32::MAX)).collect();
    let (covered, listed) = key_digests(&here, &all, 1).expect("digests");
    assert!(covered >= 1 && covered < all.len());
    let in_covered = listed.iter().all(|(key, _)| usize::from(keys::slot_of(key)) < covered);
    assert!(in_covered);
}

#[test]
fn key_digests_of_a_mask_are_the_keys_of_exactly_its_segments() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let (store, other_store) = (Arc::new(MemStore::new()), Arc::new(MemStore::new()));
    let here = replica(&store, &clock, 1);
    let other = replica(&other_store, &clock, 2);
    // 600 keys of one hash tag: one slot, every segment populated.
    let mut w = Writes::default();
    for i in 0..600 {
        let k = format!("{{one}}:{i}");
        here.update(&mut w, k.as_bytes(), |_| (Mutation::Put { value: Bytes::from("v"), expires_at: None }, ()))
            .expect("put");
    }
    drop(other);
    let slot = keys::slot_of(b"{one}");
    for mask in [u32::MAX, 1, 0b11, 0b1010_0111, 1 << 31, 0x8000_0001] {
        let (covered, listed) = key_digests(&here, &[(slot, mask)], usize::MAX).expect("digests");
        assert_eq!(covered, 1);
        let want: std::collections::BTreeSet<Vec<u8>> = (0..600)
            .map(|i| format!("{{one}}:{i}").into_bytes())
            .filter(|k| mask & (1 << tree::segment_of(k)) != 0)
            .collect();
        let got: std::collections::BTreeSet<Vec<u8>> = listed.iter().map(|(k, _)| k.to_vec()).collect();
        assert_eq!(got, want, "mask {mask:#x}");
    }
}
