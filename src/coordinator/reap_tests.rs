//! Tombstone reaping tests: [`Coordinator::reap`] deletes exactly the tombstone it was asked
//! to and nothing written since; the grace sweep deletes only tombstones older than the grace
//! period and never a key with a value; the counters and the row cache follow; a standalone
//! node is unchanged. Time is a [`ManualClock`], so "older than the grace period" is exact.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use super::tests::{coordinator, open, put, value};
use super::*;
use crate::clock::ManualClock;
use crate::storage::MemStore;

const DAY: u64 = 86_400_000;

/// A cluster replica's coordinator: tombstones kept, reaped after `grace_ms`.
fn replica(store: &Arc<MemStore>, clock: &Arc<ManualClock>, node: u8, grace_ms: u64, cache: u64) -> Coordinator {
    let cfg = CoordConfig {
        node_id: NodeId([node; 20]),
        max_siblings: 8,
        row_cache_bytes: cache,
        key_filter_bytes: 4096,
        keep_tombstones: true,
        hint_limits: Default::default(),
        tombstone_grace_ms: grace_ms,
        dot_lease: None,
    };
    open(store, clock, cfg)
}

fn del(c: &Coordinator, key: &str) {
    c.update(&mut Writes::default(), key.as_bytes(), |_| (Mutation::Delete, ())).expect("delete");
}

fn set_of(c: &Coordinator, key: &str) -> DvvSet {
    c.local(key.as_bytes()).expect("local").expect("stored")
}

fn on_disk(store: &MemStore, key: &str) -> bool {
    store.get(Space::Data, &keys::storage_key(key.as_bytes())).expect("get").is_some()
}

/// `(DBSIZE, tombstones, tombstones_reaped)`.
fn counts(c: &Coordinator) -> (u64, u64, u64) {
    (c.dbsize(), c.tombstones(), c.stats().tombstones_reaped.load(Ordering::Relaxed))
}

/// One full pass of the active sweep, in pages of two keys (so the cursor is exercised).
fn sweep(c: &Coordinator) {
    let mut cursor = Vec::new();
    for _ in 0..1_000 {
        match expiry::sweep_page(c, &cursor, 2).expect("sweep") {
            Some(next) => cursor = next,
            None => return,
        }
    }
    panic!("the sweep did not finish in 1000 pages");
}

#[tokio::test]
async fn reap_deletes_an_unchanged_tombstone_locally_only() {
    let store = Arc::new(MemStore::new());
    let clock = Arc::new(ManualClock::new(1_000));
    let c = replica(&store, &clock, 7, DAY, 1 << 20);
    assert!(!c.reap(b"k", &DvvSet::default()).expect("reap"), "nothing stored, nothing reaped");
    put(&c, "k", "v");
    let live = set_of(&c, "k");
    assert!(!c.reap(b"k", &live).expect("reap"), "a value is never reaped, even when asked exactly");
    del(&c, "k");
    assert_eq!(counts(&c), (0, 1, 0));
    let tomb = set_of(&c, "k");
    assert!(!c.reap(b"k", &live).expect("reap"), "not the stored set");
    assert!(on_disk(&store, "k"));

    // Reaping takes no request's `Writes`: it is never replicated.
    assert!(c.reap(b"k", &tomb).expect("reap"));
    assert!(!on_disk(&store, "k"));
    assert_eq!(c.local(b"k").expect("local"), None, "the row cache forgot the tombstone");
    assert_eq!(replica(&store, &clock, 7, DAY, 0).local(b"k").expect("local"), None);
    assert_eq!(counts(&c), (0, 0, 1));
    assert!(!c.reap(b"k", &tomb).expect("reap"), "already gone");
    assert_eq!(counts(&c), (0, 0, 1));
}

#[test]
fn reap_refuses_when_a_newer_version_arrived() {
    let clock = Arc::new(ManualClock::new(1_000));
    let (store_a, store_b) = (Arc::new(MemStore::new()), Arc::new(MemStore::new()));
    let a = replica(&store_a, &clock, 7, DAY, 1 << 20);
    let b = replica(&store_b, &clock, 9, DAY, 1 << 20);
    put(&a, "k", "v");
    del(&a, "k");
    let tomb = set_of(&a, "k");
    // b learns of the deletion, then a new value is written through b; a receives it.
    assert!(b.merge(b"k", &tomb).expect("merge").changed);
    clock.advance(10);
    put(&b, "k", "new");
    let newer = set_of(&b, "k");
    assert!(a.merge(b"k", &newer).expect("merge").changed);
    assert!(!a.reap(b"k", &tomb).expect("reap"), "the tombstone was superseded");
    assert_eq!(value(&a, "k").as_deref(), Some(&b"new"[..]));
    assert_eq!(counts(&a), (1, 0, 0));
    assert!(!b.reap(b"k", &newer).expect("reap"), "a value is never reaped");

    // A newer deletion changes the set too: only the newest tombstone set is reaped.
    del(&a, "k");
    let tomb2 = set_of(&a, "k");
    assert_ne!(tomb, tomb2);
    assert_eq!(counts(&a), (0, 1, 0));
    assert!(!a.reap(b"k", &tomb).expect("reap"));
    assert!(a.reap(b"k", &tomb2).expect("reap"));
    assert_eq!(counts(&a), (0, 0, 1));
    assert!(!on_disk(&store_a, "k"));
}

#[test]
fn reap_refuses_a_tombstone_with_a_concurrent_value() {
    let clock = Arc::new(ManualClock::new(1_000));
    let (store_a, store_b) = (Arc::new(MemStore::new()), Arc::new(MemStore::new()));
    let a = replica(&store_a, &clock, 7, DAY, 1 << 20);
    let b = replica(&store_b, &clock, 9, DAY, 0);
    put(&a, "k", "v");
    del(&a, "k");
    let tomb = set_of(&a, "k");
    // b writes without having seen a's history (two sides of a partition).
    clock.advance(10);
    put(&b, "k", "x");
    a.merge(b"k", &set_of(&b, "k")).expect("merge");
    let both = set_of(&a, "k");
    assert_eq!(both.len(), 2, "the tombstone and the concurrent value are siblings");
    assert!(!a.reap(b"k", &tomb).expect("reap"));
    assert!(!a.reap(b"k", &both).expect("reap"), "exactly the stored set, but it holds a value");
    assert_eq!(value(&a, "k").as_deref(), Some(&b"x"[..]));
    assert_eq!(counts(&a), (1, 0, 0));
}

#[test]
fn grace_sweep_reaps_only_tombstones_older_than_the_grace_period() {
    const GRACE: u64 = 10_000;
    let clock = Arc::new(ManualClock::new(1_000));
    let store = Arc::new(MemStore::new());
    let c = replica(&store, &clock, 7, GRACE, 1 << 20);
    let b = replica(&Arc::new(MemStore::new()), &clock, 9, GRACE, 0);
    // t = 1000: "old" deleted; "live" written; "mixed" deleted here and, concurrently, written
    // on b later (so it holds an old tombstone and a value).
    put(&c, "old", "v");
    del(&c, "old");
    put(&c, "live", "v");
    put(&c, "mixed", "v");
    del(&c, "mixed");
    clock.advance(5_000);
    // t = 6000: "young" deleted.
    put(&c, "young", "v");
    del(&c, "young");
    put(&b, "mixed", "x");
    c.merge(b"mixed", &set_of(&b, "mixed")).expect("merge");
    assert_eq!(counts(&c), (2, 2, 0));

    sweep(&c);
    assert_eq!(counts(&c), (2, 2, 0), "nothing is old enough yet");
    clock.advance(4_999); // t = 10999: "old" is 1 ms short of the grace period
    sweep(&c);
    assert_eq!(counts(&c), (2, 2, 0));
    clock.advance(1); // t = 11000
    sweep(&c);
    assert_eq!(counts(&c), (2, 1, 1));
    assert!(!on_disk(&store, "old"));
    assert!(on_disk(&store, "young") && on_disk(&store, "mixed") && on_disk(&store, "live"));
    clock.advance(5_000); // t = 16000
    sweep(&c);
    assert_eq!(counts(&c), (2, 0, 2));
    assert!(!on_disk(&store, "young"));
    clock.advance(100 * DAY);
    sweep(&c);
    assert_eq!(counts(&c), (2, 0, 2), "a key with a value is never reaped");
    assert_eq!(value(&c, "mixed").as_deref(), Some(&b"x"[..]));
    assert_eq!(set_of(&c, "mixed").len(), 2);
    assert_eq!(value(&c, "live").as_deref(), Some(&b"v"[..]));

    // The cache agrees with the store, and a reopened node counts the same.
    let truth = replica(&store, &clock, 7, GRACE, 0);
    for k in ["old", "young", "mixed", "live"] {
        assert_eq!(c.local(k.as_bytes()).expect("local"), truth.local(k.as_bytes()).expect("local"), "{k}");
    }
    assert_eq!((truth.dbsize(), truth.tombstones()), (2, 0));
}

#[test]
fn grace_reaping_rechecks_the_stored_version_under_the_lock() {
    let clock = Arc::new(ManualClock::new(1_000));
    let store = Arc::new(MemStore::new());
    let c = replica(&store, &clock, 7, 0, 1 << 20);
    put(&c, "k", "v");
    del(&c, "k");
    let skey = keys::storage_key(b"k");
    // What a sweep page saw (an old tombstone) is stale by the time it takes the lock.
    assert!(reap::past_grace(&set_of(&c, "k"), clock.now_ms(), 0));
    put(&c, "k", "again");
    assert!(!c.reap_if_past_grace(&skey, clock.now_ms()).expect("reap"));
    assert_eq!(value(&c, "k").as_deref(), Some(&b"again"[..]));
    assert_eq!(counts(&c), (1, 0, 0));
}

#[test]
fn grace_zero_reaps_at_the_next_sweep_and_expired_keys_go_through_a_tombstone() {
    let clock = Arc::new(ManualClock::new(1_000));
    let store = Arc::new(MemStore::new());
    let c = replica(&store, &clock, 7, 0, 1 << 20);
    put(&c, "k", "v");
    del(&c, "k");
    assert!(on_disk(&store, "k"), "kept until a sweep");
    sweep(&c);
    assert!(!on_disk(&store, "k"));
    assert_eq!(counts(&c), (0, 0, 1));

    let v = Bytes::from_static(b"v");
    c.update(&mut Writes::default(), b"t", |_| (Mutation::Put { value: v, expires_at: Some(1_100) }, ())).expect("put");
    clock.advance(200);
    sweep(&c);
    assert_eq!(c.stats().expired_keys.load(Ordering::Relaxed), 1);
    assert!(on_disk(&store, "t"), "the expiry is a tombstone first, so that it replicates");
    assert_eq!(counts(&c), (0, 1, 1));
    sweep(&c);
    assert!(!on_disk(&store, "t"));
    assert_eq!(counts(&c), (0, 0, 2));
}

#[test]
fn tombstone_gauge_follows_merges_reopening_and_flush() {
    let clock = Arc::new(ManualClock::new(1_000));
    let (store_a, store_b) = (Arc::new(MemStore::new()), Arc::new(MemStore::new()));
    let a = replica(&store_a, &clock, 7, DAY, 1 << 20);
    let b = replica(&store_b, &clock, 9, DAY, 1 << 20);
    put(&a, "k", "v");
    put(&a, "j", "v");
    b.merge(b"j", &set_of(&a, "j")).expect("merge");
    del(&a, "k");
    del(&a, "j");
    assert_eq!(counts(&a), (0, 2, 0));
    b.merge(b"k", &set_of(&a, "k")).expect("merge");
    b.merge(b"j", &set_of(&a, "j")).expect("merge");
    assert_eq!(counts(&b), (0, 2, 0), "a replicated tombstone counts, over nothing or a value");
    let reopened = replica(&store_b, &clock, 9, DAY, 0);
    assert_eq!(counts(&reopened), (0, 2, 0), "recounted at open");
    b.flush_all(&mut Writes::default()).expect("flush");
    assert_eq!(counts(&b), (0, 0, 0));
}

#[test]
fn a_standalone_node_still_deletes_at_once_and_keeps_no_tombstone() {
    let clock = Arc::new(ManualClock::new(1_000));
    let store = Arc::new(MemStore::new());
    let c = coordinator(&store, &clock, 1 << 20);
    put(&c, "k", "v");
    put(&c, "live", "v");
    del(&c, "k");
    assert!(!on_disk(&store, "k"), "deleted by the DEL itself");
    assert_eq!(counts(&c), (1, 0, 0), "no tombstone is stored, so none is counted or reaped");
    let v = Bytes::from_static(b"v");
    c.update(&mut Writes::default(), b"t", |_| (Mutation::Put { value: v, expires_at: Some(1_100) }, ())).expect("put");
    clock.advance(200);
    sweep(&c);
    assert!(!on_disk(&store, "t"), "an expired key is deleted outright");
    assert_eq!(c.stats().expired_keys.load(Ordering::Relaxed), 1);
    assert_eq!(counts(&c), (1, 0, 0));
    assert_eq!(value(&c, "live").as_deref(), Some(&b"v"[..]));
}

/// The chaos checker's lost write: after a reap the key's counter restarted at 1, so a client
/// holding a context read before the reap covered the new dots without having seen them, and its
/// write superseded an acknowledged value. New dots now start above everything this node issued.
#[tokio::test]
async fn a_context_from_before_a_reap_does_not_cover_new_writes() {
    let store = Arc::new(MemStore::new());
    let clock = Arc::new(ManualClock::new(1_000));
    let c = replica(&store, &clock, 7, DAY, 1 << 20);
    for i in 0..5 {
        put(&c, "k", &format!("old{i}"));
    }
    let stale_context = set_of(&c, "k").join();
    del(&c, "k");
    let tomb = set_of(&c, "k");
    assert!(c.reap(b"k", &tomb).expect("reap"));

    put(&c, "k", "acknowledged");
    let fresh = set_of(&c, "k");
    let me = NodeId([7; 20]);
    assert!(
        fresh.join().get(&me) > stale_context.get(&me),
        "the new dot must be above every dot issued before the reap: {:?} vs {stale_context:?}",
        fresh.join()
    );
    // A client that read before the reap writes with its old context: both values stay.
    let ctx = stale_context.clone();
    c.update(&mut Writes::default(), b"k", move |_| {
        (Mutation::Causal { context: ctx, value: Some(Bytes::from_static(b"late")), expires_at: None }, ())
    })
    .expect("causal put");
    let values: Vec<Bytes> = set_of(&c, "k").siblings().filter_map(|(_, s)| s.value.clone()).collect();
    assert!(values.contains(&Bytes::from_static(b"acknowledged")), "the acknowledged write survives: {values:?}");
    assert!(values.contains(&Bytes::from_static(b"late")), "{values:?}");
}

/// Expiry in a cluster, against concurrent writes (found by the fault-injection checker's mix
/// workload: an expiry processed on a replica that had not yet seen a later `SET` hid it for
/// good). The last writer wins over *all* siblings, an expired winner included, and the
/// tombstone an expiry becomes keeps the expired write's timestamp: a write made after the
/// expired one still wins, a write made before it still loses — before and after the sweep.
#[test]
fn an_expiry_orders_against_concurrent_writes_as_the_expired_write_did() {
    let clock = Arc::new(ManualClock::new(1_000));
    let stores: Vec<Arc<MemStore>> = (0..3).map(|_| Arc::new(MemStore::new())).collect();
    let a = replica(&stores[0], &clock, 7, DAY, 1 << 20);
    let before = replica(&stores[1], &clock, 9, DAY, 1 << 20);
    let after = replica(&stores[2], &clock, 11, DAY, 1 << 20);
    put(&before, "k", "written before");
    put(&before, "j", "written before");
    clock.advance(10);
    for key in ["k", "j"] {
        let v = Bytes::from_static(b"expires");
        a.update(&mut Writes::default(), key.as_bytes(), |_| (Mutation::Put { value: v, expires_at: Some(1_100) }, ()))
            .expect("put");
    }
    clock.advance(10);
    put(&after, "k", "written after");
    clock.advance(200);

    // Unswept: the expired write hides the older one and loses to the newer one.
    a.merge(b"j", &set_of(&before, "j")).expect("merge");
    assert_eq!(value(&a, "j"), None, "the value the expired write replaced came back");
    // Swept: the same answers from the tombstone.
    sweep(&a);
    assert!(object::tombstone_only(&set_of(&a, "k")), "k expired into a tombstone");
    a.merge(b"k", &set_of(&after, "k")).expect("merge");
    a.merge(b"k", &set_of(&before, "k")).expect("merge");
    assert_eq!(value(&a, "k").as_deref(), Some(&b"written after"[..]), "the expiry hid a later write");
    assert_eq!(value(&a, "j"), None);
    // A replica that receives the tombstone agrees.
    after.merge(b"k", &set_of(&a, "k")).expect("merge");
    assert_eq!(value(&after, "k").as_deref(), Some(&b"written after"[..]));
}

/// The grace period of an expiry's tombstone runs from the expiry deadline it keeps: not from
/// the write (which may be long before), nor from when a replica's sweep or read happened to
/// find the key expired (which differs between replicas), so every replica reaps it at the same
/// cluster time.
#[test]
fn an_expiry_tombstone_is_reaped_a_grace_period_after_its_deadline() {
    let clock = Arc::new(ManualClock::new(1_000));
    let store = Arc::new(MemStore::new());
    let c = replica(&store, &clock, 7, 5_000, 1 << 20);
    let v = Bytes::from_static(b"v");
    c.update(&mut Writes::default(), b"k", |_| (Mutation::Put { value: v, expires_at: Some(3_000) }, ())).expect("put");
    clock.advance(6_000); // t = 7000: past the write's grace period, not the deadline's
    sweep(&c);
    assert!(on_disk(&store, "k"), "made into a tombstone now, 4 s after its deadline");
    assert!(object::tombstone_only(&set_of(&c, "k")));
    clock.advance(999); // t = 7999
    sweep(&c);
    assert!(on_disk(&store, "k"), "reaped before its grace period");
    clock.advance(1); // t = 8000: the deadline's grace period is over, the tombstone is 1 s old
    sweep(&c);
    assert!(!on_disk(&store, "k"));
}

/// Expiry is deterministic across replicas: two replicas that hold the same version of a key
/// with a TTL and expire it independently — one by the sweep, the other by a read, at different
/// times — store the same bytes, so merging one into the other changes nothing (what Merkle
/// anti-entropy, comparing digests of the stored encoding, needs). An expired value becomes a
/// tombstone in place: same dot, timestamp and expiry, no new event.
#[test]
fn replicas_that_expire_the_same_version_store_the_same_bytes() {
    let (clock_a, clock_b) = (Arc::new(ManualClock::new(1_000)), Arc::new(ManualClock::new(1_000)));
    let (store_a, store_b) = (Arc::new(MemStore::new()), Arc::new(MemStore::new()));
    let a = replica(&store_a, &clock_a, 7, DAY, 1 << 20);
    let b = replica(&store_b, &clock_b, 9, DAY, 0);
    let v = Bytes::from_static(b"v");
    a.update(&mut Writes::default(), b"k", |_| (Mutation::Put { value: v, expires_at: Some(1_500) }, ())).expect("put");
    let written = set_of(&a, "k");
    assert!(b.merge(b"k", &written).expect("merge").changed);

    // a's sweep finds it expired at 2000; b reads it at 7000.
    clock_a.advance(1_000);
    sweep(&a);
    let expired = set_of(&a, "k");
    assert!(object::tombstone_only(&expired));
    assert_eq!(expired.join(), written.join(), "no new event");
    // Before b expires it: b's unexpired copy does not change a's, a's expired one replaces b's.
    let m = a.merge(b"k", &set_of(&b, "k")).expect("merge");
    assert!(!m.changed && m.sender_stale, "the unexpired form of a dot loses to the expired one");
    clock_b.advance(6_000);
    assert_eq!(value(&b, "k"), None);
    assert_eq!(b.stats().expired_keys.load(Ordering::Relaxed), 1);
    assert_eq!(codec::to_bytes(&set_of(&a, "k")), codec::to_bytes(&set_of(&b, "k")), "byte-identical copies");
    let m = b.merge(b"k", &set_of(&a, "k")).expect("merge");
    assert!(!m.changed && !m.sender_stale);
    let m = a.merge(b"k", &set_of(&b, "k")).expect("merge");
    assert!(!m.changed && !m.sender_stale);
    assert_eq!((counts(&a), counts(&b)), ((0, 1, 0), (0, 1, 0)));
}
