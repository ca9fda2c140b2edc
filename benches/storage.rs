//! Micro-benchmarks of the storage layer: the [`Store`] trait, the storage key layout and the
//! stored value codec.
//!
//! What is measured, each on [`FjallStore`] (on disk, in a fresh `tempfile::tempdir()`, 64 MiB
//! block cache) and on [`MemStore`], both preloaded with 100 000 keys of 64-byte values:
//!
//! - `get_hit`: `Store::get` of a present key (keys visited in a scattered order);
//! - `get_miss`: `Store::get` of an absent key;
//! - `write_put`: `Store::write` of a one-`Put` batch overwriting a present key with a new
//!   64-byte value. For fjall this is the buffered journal plus the memtable (journal persistence
//!   is manual: no flush or fsync per write); the cost of `Store::flush`/`sync` is not measured.
//!
//! 100 000 entries of 82 bytes (8-byte prefix + 10-byte user key + value) fit in fjall's active
//! memtable (64 MiB by default), and the gets run before any write, so the fjall `get` numbers
//! are the in-memory fast path a hot working set sees, not block reads from disk. `write_put`
//! keeps appending overwrites to the memtable, which fjall may rotate and flush to disk in the
//! background while it is measured.
//!
//! And, without a store:
//!
//! - `keys/storage_key`: `cartwheel::storage::keys::storage_key` of a user key (slot CRC16 +
//!   48-bit SipHash + copy);
//! - `codec/encode` and `codec/decode`: `version::codec::to_bytes` / `decode` of a one-sibling
//!   DVVSet holding a 64-byte value, built the way the coordinator builds the first write of a
//!   key (`DvvSet::update(DvvSet::with_context(&old.join(), sibling), &old, node)`).
//!
//! Run with `cargo bench --bench storage` (about a minute on two cores; add a filter such as
//! `cargo bench --bench storage -- fjall` to run some). Criterion keeps the previous run under
//! `target/criterion/` and reports the change against it.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use cartwheel::storage::keys::storage_key;
use cartwheel::storage::{FjallStore, MemStore, Space, Store, Write};
use cartwheel::version::codec;
use cartwheel::version::{DvvSet, Hlc, NodeId, Sibling};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};

/// Keys preloaded into each store.
const KEYS: usize = 100_000;
/// Bytes of every stored value.
const VALUE_LEN: usize = 64;
/// Keys per batch while preloading.
const PRELOAD_BATCH: usize = 1_000;
/// fjall block cache size.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;
/// Visiting step through the key list: coprime with `KEYS`, so every key is visited, in a
/// scattered order rather than storage order.
const STRIDE: usize = 7_919;

fn user_key(i: usize) -> String {
    format!("key:{i:06}")
}

fn value(i: usize) -> Bytes {
    let mut v = vec![b'v'; VALUE_LEN];
    v[..8].copy_from_slice(&(i as u64).to_be_bytes());
    Bytes::from(v)
}

/// The storage keys of the preloaded user keys, in preload order.
fn present_keys() -> Vec<Bytes> {
    (0..KEYS).map(|i| storage_key(user_key(i).as_bytes())).collect()
}

/// Storage keys that are never written.
fn absent_keys() -> Vec<Bytes> {
    (0..KEYS).map(|i| storage_key(format!("missing:{i:06}").as_bytes())).collect()
}

fn preload(store: &dyn Store, keys: &[Bytes]) {
    for (n, chunk) in keys.chunks(PRELOAD_BATCH).enumerate() {
        let batch: Vec<Write> = chunk
            .iter()
            .enumerate()
            .map(|(i, k)| Write::Put(Space::Data, k.clone(), value(n * PRELOAD_BATCH + i)))
            .collect();
        store.write(&batch).expect("preload write");
    }
    store.flush().expect("preload flush");
}

/// get hit / get miss / single put on one preloaded store.
fn bench_store(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, name: &str, store: &dyn Store) {
    let present = present_keys();
    let absent = absent_keys();
    preload(store, &present);
    assert!(store.get(Space::Data, &present[KEYS - 1]).expect("get").is_some());
    assert!(store.get(Space::Data, &absent[0]).expect("get").is_none());

    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function(format!("{name}/get_hit"), |b| {
        b.iter(|| {
            i = (i + STRIDE) % KEYS;
            black_box(store.get(Space::Data, black_box(&present[i])).expect("get"))
        })
    });
    let mut i = 0;
    group.bench_function(format!("{name}/get_miss"), |b| {
        b.iter(|| {
            i = (i + STRIDE) % KEYS;
            black_box(store.get(Space::Data, black_box(&absent[i])).expect("get"))
        })
    });
    // Overwrites keep the key count at KEYS however many iterations criterion runs. The batch
    // (two refcount bumps) is built inside the timed loop, as the coordinator builds it.
    let new_value = Bytes::from(vec![b'w'; VALUE_LEN]);
    let mut i = 0;
    group.bench_function(format!("{name}/write_put"), |b| {
        b.iter(|| {
            i = (i + STRIDE) % KEYS;
            store.write(black_box(&[Write::Put(Space::Data, present[i].clone(), new_value.clone())])).expect("write")
        })
    });
}

fn bench_stores(c: &mut Criterion) {
    let mut group = c.benchmark_group("store");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(50);

    let dir = tempfile::tempdir().expect("tempdir");
    let fjall = FjallStore::open(dir.path(), CACHE_BYTES).expect("open fjall");
    bench_store(&mut group, "fjall", &fjall);
    drop(fjall);
    drop(dir);

    let mem = MemStore::new();
    bench_store(&mut group, "mem", &mem);
    group.finish();
}

fn bench_keys(c: &mut Criterion) {
    let mut group = c.benchmark_group("keys");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(50);
    group.throughput(Throughput::Elements(1));
    group.bench_function("storage_key", |b| b.iter(|| storage_key(black_box(b"key:000123"))));
    group.finish();
}

/// A key's first write as the coordinator makes it (`Coordinator::plan` for a `Put` on an
/// absent key): context from the empty old state, a fresh HLC timestamp, the node's next dot.
fn one_sibling_set() -> DvvSet {
    let hlc = Hlc::new();
    let node = NodeId([0x5a; 20]);
    let old = DvvSet::default();
    let wall_ms = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    let sibling = Sibling::value(value(123), hlc.now(wall_ms), None);
    DvvSet::update(DvvSet::with_context(&old.join(), sibling), &old, node)
}

fn bench_codec(c: &mut Criterion) {
    let set = one_sibling_set();
    assert_eq!(set.len(), 1);
    let encoded = codec::to_bytes(&set);
    assert_eq!(codec::decode(&encoded).as_ref(), Ok(&set));

    let mut group = c.benchmark_group("codec");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(50);
    group.throughput(Throughput::Bytes(encoded.len() as u64));
    group.bench_function("encode", |b| b.iter(|| codec::to_bytes(black_box(&set))));
    group.bench_function("decode", |b| b.iter(|| codec::decode(black_box(&encoded)).expect("decode")));
    group.finish();
}

criterion_group!(benches, bench_keys, bench_codec, bench_stores);
criterion_main!(benches);
