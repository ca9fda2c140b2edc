//! The change feed: every path that changes stored data emits, and a key's changes chain.
//!
//! A subscriber folds the feed into `key → digest` and, after every step, that map must equal
//! the digests of what the store holds: a path that changed data without emitting, or emitted
//! with a wrong `old`, breaks the fold.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::tests::{open, put};
use super::*;
use crate::clock::ManualClock;
use crate::storage::MemStore;

const DAY: u64 = 86_400_000;

/// Folds every change into the digest it leaves per key; counts changes; fails on a broken chain.
#[derive(Default)]
struct Fold {
    digests: Mutex<BTreeMap<Vec<u8>, Digest>>,
    changes: Mutex<Vec<String>>,
}

impl Subscriber for Fold {
    fn changed(&self, change: &Change<'_>) {
        let mut digests = self.digests.lock().unwrap();
        match *change {
            Change::Key { slot, position, key, old, new } => {
                assert_eq!(slot, keys::slot_of(key), "slot of {key:?}");
                assert_eq!(position, keys::position_of(key), "position of {key:?}");
                let held = digests.get(key).copied().unwrap_or(Digest::ABSENT);
                assert_eq!(old, held, "{key:?}: the old digest is not the previous change's new");
                assert_ne!(old, new, "{key:?}: a change that changed nothing");
                if new == Digest::ABSENT {
                    digests.remove(key);
                } else {
                    digests.insert(key.to_vec(), new);
                }
                self.changes.lock().unwrap().push(String::from_utf8_lossy(key).into_owned());
            }
            Change::Cleared => {
                digests.clear();
                self.changes.lock().unwrap().push("<cleared>".into());
            }
        }
    }
}

impl Fold {
    /// The changes since the last call.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.changes.lock().unwrap())
    }

    /// The fold equals the digests of every stored version.
    fn assert_matches(&self, c: &Coordinator, step: &str) {
        let stored: BTreeMap<Vec<u8>, Digest> = c
            .scan(&[], 10_000)
            .unwrap()
            .into_iter()
            .map(|(skey, cur)| (keys::user_key(&skey).to_vec(), Digest::of(cur.set())))
            .collect();
        assert_eq!(*self.digests.lock().unwrap(), stored, "after {step}: the feed and the store disagree");
    }
}

fn replica(store: &Arc<MemStore>, clock: &Arc<ManualClock>, node: u8, keep_tombstones: bool) -> Coordinator {
    let cfg = CoordConfig {
        node_id: NodeId([node; 20]),
        max_siblings: 8,
        row_cache_bytes: 1 << 20,
        key_filter_bytes: 4096,
        keep_tombstones,
        hint_limits: Default::default(),
        tombstone_grace_ms: DAY,
        dot_lease: None,
    };
    open(store, clock, cfg)
}

fn sweep(c: &Coordinator) {
    let mut cursor = Vec::new();
    while let Some(next) = expiry::sweep_page(c, &cursor, 2).unwrap() {
        cursor = next;
    }
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[tokio::test]
async fn every_path_that_changes_stored_data_emits_and_a_keys_digests_chain() {
    let clock = Arc::new(ManualClock::new(1_000_000));
    let (store, other_store) = (Arc::new(MemStore::new()), Arc::new(MemStore::new()));
    let c = replica(&store, &clock, 1, true);
    let other = replica(&other_store, &clock, 2, true);
    put(&c, "before", "subscribing");
    let fold = Arc::new(Fold::default());
    // The subscriber starts from what is stored (anti-entropy builds its trees the same way).
    for (skey, cur) in c.scan(&[], 100).unwrap() {
        fold.digests.lock().unwrap().insert(keys::user_key(&skey).to_vec(), Digest::of(cur.set()));
    }
    c.subscribe(Arc::clone(&fold) as Arc<dyn Subscriber>);

    let step = |name: &str, expected: &[&str], run: &dyn Fn()| {
        run();
        assert_eq!(fold.take(), expected, "{name}: changes emitted");
        fold.assert_matches(&c, name);
    };
    step("a client write", &["a"], &|| put(&c, "a", "1"));
    step("an overwrite", &["a"], &|| put(&c, "a", "2"));
    step("a multi-key write", &["a", "m"], &|| {
        let puts = vec![Mutation::Put { value: b("3"), expires_at: None }; 2];
        c.update_many(&mut Writes::default(), &["a", "m"], |_| (puts, ())).unwrap();
    });
    step("an unchanged key", &[], &|| c.update(&mut Writes::default(), b"a", |_| (Mutation::Keep, ())).unwrap());
    step("a merge of a new key (replication, hint delivery, read repair)", &["r"], &|| {
        put(&other, "r", "from the other replica");
        c.merge(b"r", &other.local(b"r").unwrap().unwrap()).unwrap();
    });
    step("a merge of a concurrent version (siblings)", &["a"], &|| {
        put(&other, "a", "concurrent");
        c.merge(b"a", &other.local(b"a").unwrap().unwrap()).unwrap();
    });
    step("a merge that changes nothing", &[], &|| {
        c.merge(b"a", &other.local(b"a").unwrap().unwrap()).unwrap();
    });
    step("a delete (a tombstone in a cluster)", &["m"], &|| {
        c.update(&mut Writes::default(), b"m", |_| (Mutation::Delete, ())).unwrap();
    });
    step("a reap once every replica holds the tombstone", &["m"], &|| {
        assert!(c.reap(b"m", &c.local(b"m").unwrap().unwrap()).unwrap());
    });
    step("a write with a TTL", &["t"], &|| {
        let expires_at = Some(clock.now_ms() + 1_000);
        c.update(&mut Writes::default(), b"t", |_| (Mutation::Put { value: b("v"), expires_at }, ())).unwrap();
    });
    step("lazy expiry on read (the value becomes a tombstone)", &["t"], &|| {
        clock.advance(2_000);
        assert!(c.read(&mut Writes::default(), b"t").unwrap().value().is_none());
    });
    step("the grace sweep reaping the expiry's tombstone", &["t"], &|| {
        clock.advance(DAY);
        sweep(&c);
    });
    step("the active sweep expiring a key", &["u", "u"], &|| {
        let expires_at = Some(clock.now_ms() + 1_000);
        c.update(&mut Writes::default(), b"u", |_| (Mutation::Put { value: b("v"), expires_at }, ())).unwrap();
        clock.advance(2_000);
        sweep(&c);
    });
    step("FLUSHALL", &["<cleared>"], &|| c.flush_all(&mut Writes::default()).unwrap());
    step("a write after FLUSHALL", &["a"], &|| put(&c, "a", "again"));
}

#[test]
fn a_standalone_node_emits_its_immediate_deletes_and_expiries() {
    let clock = Arc::new(ManualClock::new(1_000_000));
    let store = Arc::new(MemStore::new());
    let c = replica(&store, &clock, 1, false);
    let fold = Arc::new(Fold::default());
    c.subscribe(Arc::clone(&fold) as Arc<dyn Subscriber>);
    put(&c, "k", "v");
    c.update(&mut Writes::default(), b"k", |_| (Mutation::Delete, ())).unwrap();
    let expires_at = Some(clock.now_ms() + 1_000);
    c.update(&mut Writes::default(), b"e", |_| (Mutation::Put { value: b("v"), expires_at }, ())).unwrap();
    clock.advance(2_000);
    assert!(c.read(&mut Writes::default(), b"e").unwrap().value().is_none());
    assert_eq!(fold.take(), ["k", "k", "e", "e"]);
    fold.assert_matches(&c, "deletes and expiry");
    assert!(fold.digests.lock().unwrap().is_empty());
}
