//! Coordinator tests: per-key atomicity and the row cache's coherence with the store.
//!
//! The coherence tests compare what a cached coordinator answers with what a coordinator
//! *without* a cache, over the very same store, answers: if any path (write, delete, expiry
//! reclaim, FLUSHALL, a racing reader filling the cache) left the cache stale, they disagree.

use std::sync::Arc;
use std::thread;

use bytes::Bytes;

use super::*;
use crate::clock::ManualClock;
use crate::storage::{FsyncPolicy, MemStore};
use crate::version::codec;

/// A coordinator over `store` with `cfg`.
pub(super) fn open(store: &Arc<MemStore>, clock: &Arc<ManualClock>, cfg: CoordConfig) -> Coordinator {
    let store: Arc<dyn Store> = Arc::clone(store) as Arc<dyn Store>;
    let durability = Durability::start(Arc::clone(&store), FsyncPolicy::No);
    let clock: Arc<dyn Clock> = Arc::clone(clock) as Arc<dyn Clock>;
    Coordinator::open(cfg, store, durability, clock).expect("open")
}

/// A standalone node's coordinator (tombstones reaped at once). With `row_cache_bytes == 0` it
/// keeps no copy of anything — no row cache and no key filter, which only knows the keys written
/// through its own coordinator — so it is the truth a cached coordinator over the same store is
/// compared with.
pub(super) fn coordinator(store: &Arc<MemStore>, clock: &Arc<ManualClock>, row_cache_bytes: u64) -> Coordinator {
    let cfg = CoordConfig {
        node_id: NodeId([7; 20]),
        max_siblings: 8,
        row_cache_bytes,
        // Small enough to saturate in the larger tests: false positives must be harmless.
        key_filter_bytes: if row_cache_bytes == 0 { 0 } else { 4096 },
        keep_tombstones: false,
        hint_limits: Default::default(),
        tombstone_grace_ms: 0,
        dot_lease: None,
    };
    open(store, clock, cfg)
}

pub(super) fn value(c: &Coordinator, key: &str) -> Option<Bytes> {
    c.read(&mut Writes::default(), key.as_bytes()).expect("read").value().cloned()
}

pub(super) fn put(c: &Coordinator, key: &str, v: &str) {
    let v = Bytes::copy_from_slice(v.as_bytes());
    c.update(&mut Writes::default(), key.as_bytes(), |_| (Mutation::Put { value: v, expires_at: None }, ()))
        .expect("put");
}

fn assert_same_view(cached: &Coordinator, truth: &Coordinator, keys: &[String]) {
    for k in keys {
        assert_eq!(value(cached, k), value(truth, k), "key {k}");
    }
}

#[test]
fn writes_deletes_and_flush_are_seen_through_the_cache() {
    let store = Arc::new(MemStore::new());
    let clock = Arc::new(ManualClock::new(1_000));
    let c = coordinator(&store, &clock, 1 << 20);
    let truth = coordinator(&store, &clock, 0);

    assert_eq!(value(&c, "a"), None, "absent key is cached as absent");
    put(&c, "a", "1");
    assert_eq!(value(&c, "a").as_deref(), Some(&b"1"[..]));
    put(&c, "a", "2");
    assert_eq!(value(&c, "a").as_deref(), Some(&b"2"[..]));
    c.update(&mut Writes::default(), b"a", |_| (Mutation::Delete, ())).expect("delete");
    assert_eq!(value(&c, "a"), None);

    put(&c, "b", "x");
    c.flush_all(&mut Writes::default()).expect("flush");
    assert_eq!(value(&c, "b"), None);
    assert_eq!(c.dbsize(), 0);
    assert_same_view(&c, &truth, &["a".into(), "b".into()]);
}

#[test]
fn expired_keys_are_reclaimed_from_store_and_cache() {
    let store = Arc::new(MemStore::new());
    let clock = Arc::new(ManualClock::new(1_000));
    let c = coordinator(&store, &clock, 1 << 20);
    let v = Bytes::from_static(b"v");
    c.update(&mut Writes::default(), b"t", |_| (Mutation::Put { value: v, expires_at: Some(1_500) }, ())).expect("put");
    assert!(value(&c, "t").is_some());
    clock.advance(1_000);
    assert_eq!(value(&c, "t"), None);
    assert_eq!(store.get(Space::Data, &keys::storage_key(b"t")).expect("get"), None, "reclaimed on disk");
    assert_eq!(c.stats().expired_keys.load(Ordering::Relaxed), 1);
}

#[test]
fn concurrent_readers_never_leave_the_cache_stale() {
    let store = Arc::new(MemStore::new());
    let clock = Arc::new(ManualClock::new(1_000));
    // A tiny cache, so entries are evicted and refilled by racing readers all the time.
    let c = Arc::new(coordinator(&store, &clock, 4 << 10));
    let keys: Vec<String> = (0..16).map(|i| format!("k{i}")).collect();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (c, keys) = (Arc::clone(&c), keys.clone());
            thread::spawn(move || {
                for i in 0..2_000 {
                    let k = &keys[(i * 7 + w) % keys.len()];
                    if i % 5 == 0 {
                        c.update(&mut Writes::default(), k.as_bytes(), |_| (Mutation::Delete, ())).expect("delete");
                    } else {
                        put(&c, k, &format!("{w}:{i}"));
                    }
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..4)
        .map(|r| {
            let (c, keys) = (Arc::clone(&c), keys.clone());
            thread::spawn(move || {
                for i in 0..4_000 {
                    let _ = value(&c, &keys[(i + r) % keys.len()]);
                }
            })
        })
        .collect();
    for t in writers.into_iter().chain(readers) {
        t.join().expect("thread");
    }
    let truth = coordinator(&store, &clock, 0);
    assert_same_view(&c, &truth, &keys);
}

#[test]
fn concurrent_increments_are_atomic_with_the_cache() {
    let store = Arc::new(MemStore::new());
    let clock = Arc::new(ManualClock::new(1_000));
    let c = Arc::new(coordinator(&store, &clock, 1 << 20));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let c = Arc::clone(&c);
            thread::spawn(move || {
                for _ in 0..500 {
                    c.update(&mut Writes::default(), b"n", |cur| {
                        let n: u64 = cur.value().map_or(0, |v| std::str::from_utf8(v).unwrap().parse().unwrap());
                        (Mutation::Put { value: Bytes::from((n + 1).to_string()), expires_at: None }, ())
                    })
                    .expect("incr");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(value(&c, "n").as_deref(), Some(&b"4000"[..]));
    let truth = coordinator(&store, &clock, 0);
    assert_eq!(value(&truth, "n").as_deref(), Some(&b"4000"[..]));
}

#[test]
fn keys_with_a_ttl_are_counted_through_every_change() {
    let store = Arc::new(MemStore::new());
    let clock = Arc::new(ManualClock::new(1_000));
    let c = coordinator(&store, &clock, 1 << 20);
    let put_ttl = |key: &[u8], ttl: Option<u64>| {
        let v = Bytes::from_static(b"v");
        c.update(&mut Writes::default(), key, |_| (Mutation::Put { value: v, expires_at: ttl.map(|t| 1_000 + t) }, ()))
            .expect("put");
    };
    put_ttl(b"a", Some(500));
    put_ttl(b"b", Some(5_000));
    put_ttl(b"c", None);
    assert_eq!((c.dbsize(), c.volatile_keys()), (3, 2));
    put_ttl(b"b", None); // like PERSIST / a plain SET
    assert_eq!(c.volatile_keys(), 1);
    put_ttl(b"c", Some(5_000)); // like EXPIRE
    assert_eq!(c.volatile_keys(), 2);
    c.update(&mut Writes::default(), b"c", |_| (Mutation::Delete, ())).expect("delete");
    assert_eq!((c.dbsize(), c.volatile_keys()), (2, 1));
    let reopened = coordinator(&store, &clock, 0);
    assert_eq!((reopened.dbsize(), reopened.volatile_keys()), (2, 1), "recounted at open");
    clock.advance(1_000);
    assert_eq!(value(&c, "a"), None, "a expired and is reclaimed");
    assert_eq!((c.dbsize(), c.volatile_keys()), (1, 0));
    put_ttl(b"d", Some(10_000));
    c.flush_all(&mut Writes::default()).expect("flush");
    assert_eq!((c.dbsize(), c.volatile_keys()), (0, 0));
}

#[test]
fn writes_record_what_a_request_wrote_and_keep_versions_only_when_asked() {
    let store = Arc::new(MemStore::new());
    let clock = Arc::new(ManualClock::new(1_000));
    let c = coordinator(&store, &clock, 1 << 20);
    let put_in = |w: &mut Writes, key: &str, v: &str| {
        let value = Bytes::copy_from_slice(v.as_bytes());
        c.update(w, key.as_bytes(), |_| (Mutation::Put { value, expires_at: None }, ())).expect("put");
    };
    let mut plain = Writes::default();
    put_in(&mut plain, "outside", "x");
    assert!(plain.take_durable(), "a write makes the reply wait for a commit");
    assert!(!plain.take_durable(), "taken once");
    assert!(plain.take_captured().is_empty(), "versions are kept only when asked");
    c.update(&mut plain, b"outside", |_| (Mutation::Keep, ())).expect("keep");
    assert!(value(&c, "outside").is_some());
    assert!(!plain.take_durable(), "nothing written, nothing to wait for");

    let mut w = Writes::default();
    w.start_capture();
    put_in(&mut w, "a", "1");
    put_in(&mut w, "a", "2");
    put_in(&mut w, "b", "3");
    let written = w.take_captured();
    let keys: Vec<&[u8]> = written.iter().map(|r| &r.key[..]).collect();
    assert_eq!(keys, vec![&b"a"[..], &b"b"[..]], "one entry per key, its last state");
    let a = codec::decode(&written[0].set).unwrap();
    assert_eq!(a.winner().and_then(|s| s.value.clone()).as_deref(), Some(&b"2"[..]));
    assert!(w.take_durable());
}

#[test]
fn merge_keeps_the_newer_version_and_concurrent_ones_as_siblings() {
    let store = Arc::new(MemStore::new());
    let clock = Arc::new(ManualClock::new(1_000));
    let a = coordinator(&store, &clock, 1 << 20);
    let other_store = Arc::new(MemStore::new());
    let b = {
        let cfg = CoordConfig {
            node_id: NodeId([9; 20]),
            max_siblings: 8,
            row_cache_bytes: 0,
            key_filter_bytes: 4096,
            keep_tombstones: true,
            hint_limits: Default::default(),
            tombstone_grace_ms: 0,
            dot_lease: None,
        };
        open(&other_store, &clock, cfg)
    };
    put(&a, "k", "old");
    let old = a.local(b"k").unwrap().unwrap();
    // b learns "old", then overwrites it: b's version supersedes a's.
    assert!(b.merge(b"k", &old).unwrap().changed);
    put(&b, "k", "new");
    let new = b.local(b"k").unwrap().unwrap();
    let m = a.merge(b"k", &new).unwrap();
    assert!(m.changed && !m.sender_stale);
    assert_eq!(value(&a, "k").as_deref(), Some(&b"new"[..]));
    // Merging the old version again changes nothing and says the sender is stale.
    let m = a.merge(b"k", &old).unwrap();
    assert!(!m.changed && m.sender_stale);
    // Concurrent writes on both sides become siblings on merge.
    put(&a, "k", "left");
    put(&b, "k", "right");
    let right = b.local(b"k").unwrap().unwrap();
    let m = a.merge(b"k", &right).unwrap();
    assert_eq!(m.set.len(), 2, "both concurrent values are kept");
    assert_eq!(a.dbsize(), 1);
}

#[test]
fn keys_stored_before_open_are_found_and_new_keys_skip_the_store() {
    let store = Arc::new(MemStore::new());
    let clock = Arc::new(ManualClock::new(1_000));
    let keys: Vec<String> = (0..2_000).map(|i| format!("k{i}")).collect();
    {
        let first = coordinator(&store, &clock, 1 << 20);
        for k in &keys {
            put(&first, k, k);
        }
    }
    // A new process: its filter knows the stored keys only from the count at open, and its
    // row cache (too small to hold them) cannot answer for most of them.
    let reopened = coordinator(&store, &clock, 4096);
    for k in &keys {
        assert_eq!(value(&reopened, k).as_deref(), Some(k.as_bytes()), "key {k} after reopen");
    }
    assert_eq!(value(&reopened, "never-written"), None);
    put(&reopened, "new", "v");
    assert_eq!(value(&reopened, "new").as_deref(), Some(&b"v"[..]));
    reopened.flush_all(&mut Writes::default()).expect("flushall");
    assert_eq!(reopened.key_filter_fill(), Some(0.0), "FLUSHALL clears the filter");
    put(&reopened, "k1", "again");
    assert_eq!(value(&reopened, "k1").as_deref(), Some(&b"again"[..]));
}
