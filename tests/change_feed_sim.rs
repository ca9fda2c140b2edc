//! The change feed on a running cluster: each node's feed, folded key by key, always comes back to
//! exactly what the node stores — through client writes, forwarding, replication, hint delivery
//! after a partition, deletes, all-replica reaps and `FLUSHALL` — and a key's digests chain.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use cartwheel::coordinator::{Change, Digest, Subscriber};
use cartwheel::resp::reply::Reply;
use cartwheel::storage::keys;
use common::eventually;
use common::sim::{addr, SimCluster};

const NODES: usize = 4;

/// One node's feed folded into `key → digest`; chain breaks are kept, not panicked on (a panic
/// would happen under the coordinator's key lock).
#[derive(Default)]
struct Fold {
    digests: Mutex<BTreeMap<Vec<u8>, Digest>>,
    breaks: Mutex<Vec<String>>,
    changes: Mutex<u64>,
}

impl Subscriber for Fold {
    fn changed(&self, change: &Change<'_>) {
        let mut digests = self.digests.lock().unwrap();
        *self.changes.lock().unwrap() += 1;
        match *change {
            Change::Key { slot, key, old, new, .. } => {
                let held = digests.get(key).copied().unwrap_or(Digest::ABSENT);
                if held != old || slot != keys::slot_of(key) {
                    let key = String::from_utf8_lossy(key);
                    self.breaks.lock().unwrap().push(format!("{key}: held {held:?}, change from {old:?}"));
                }
                if new == Digest::ABSENT {
                    digests.remove(key);
                } else {
                    digests.insert(key.to_vec(), new);
                }
            }
            Change::Cleared => digests.clear(),
        }
    }
}

impl Fold {
    fn changes(&self) -> u64 {
        *self.changes.lock().unwrap()
    }
}

/// Every node's fold equals what it stores (once background replication has settled), and no
/// chain broke.
async fn in_step(c: &SimCluster, folds: &[Arc<Fold>], step: &str) {
    for (i, fold) in folds.iter().enumerate() {
        eventually(&format!("node {i}'s feed to match its store after {step}"), 10, || async {
            *fold.digests.lock().unwrap() == c.stored(i)
        })
        .await;
        let breaks = fold.breaks.lock().unwrap().clone();
        assert!(breaks.is_empty(), "node {i}, {step}: digests did not chain: {breaks:?}");
    }
}

/// An `INFO` number summed over every node.
async fn total(c: &SimCluster, field: &str) -> u64 {
    let mut sum = 0;
    for i in 0..NODES {
        sum += c.info_field(i, field).await.parse::<u64>().unwrap();
    }
    sum
}

async fn ok(c: &SimCluster, node: usize, args: &[&str]) {
    let mut s = c.session(node);
    let reply = c.run(node, &mut s, args).await;
    assert!(!matches!(reply, Reply::Error(_)), "{args:?} on node {node}: {reply:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_nodes_feed_follows_its_store_through_replication_handoff_reaps_and_flush() {
    let c = SimCluster::start_with(NODES, |cfg| {
        cfg.hz = 50;
        cfg.tombstone_reap_delay_ms = 50;
    })
    .await;
    let folds: Vec<Arc<Fold>> = (0..NODES).map(|_| Arc::new(Fold::default())).collect();
    for (i, fold) in folds.iter().enumerate() {
        c.node(i).coord.subscribe(Arc::clone(fold) as Arc<dyn Subscriber>);
    }

    // Client writes from every node: coordinated here or forwarded, then replicated.
    for i in 0..60 {
        ok(&c, i % NODES, &["SET", &format!("key:{i}"), &format!("v{i}")]).await;
    }
    in_step(&c, &folds, "writes").await;
    assert!(folds.iter().all(|f| f.changes() > 0), "every node stores some keys");

    // One replica cut off: its writes go to a fallback as hints, delivered after healing.
    let (p, _) = c.placement(0, "cart");
    let down = p[2];
    let before = folds[down].changes();
    c.net.isolate(addr(down));
    let up: Vec<usize> = (0..NODES).filter(|&i| i != down).collect();
    c.wait_healthy(&up, NODES - 1).await;
    for i in 0..30 {
        ok(&c, p[0], &["SET", &format!("cart:{i}"), "while one replica was away"]).await;
    }
    in_step(&c, &folds, "writes with a replica away").await;
    c.net.heal();
    c.wait_healthy(&(0..NODES).collect::<Vec<_>>(), NODES).await;
    eventually("every hint to be delivered", 30, || async { total(&c, "hints_pending").await == 0 }).await;
    in_step(&c, &folds, "hint delivery").await;
    assert!(folds[down].changes() > before, "the healed replica's copies arrived through its feed");

    // Deletes: tombstones everywhere, then reaped once every replica holds them.
    for i in 0..20 {
        ok(&c, i % NODES, &["DEL", &format!("key:{i}")]).await;
    }
    eventually("the tombstones to be reaped", 30, || async { total(&c, "tombstones").await == 0 }).await;
    in_step(&c, &folds, "deletes and reaps").await;

    ok(&c, 1, &["FLUSHALL"]).await;
    in_step(&c, &folds, "FLUSHALL").await;
    assert!(folds.iter().all(|f| f.digests.lock().unwrap().is_empty()));
    c.stop().await;
}
