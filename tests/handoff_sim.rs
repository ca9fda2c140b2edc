//! Sloppy quorum, hinted handoff and safe deletes over the simulated network: real nodes
//! in one process, node-to-node traffic through `SimNetwork`, so replicas can be isolated, healed
//! and restarted deterministically.

mod common;

use std::time::Duration;

use cartwheel::resp::reply::Reply;
use common::eventually;
use common::sim::{addr, bulk, SimCluster};

fn others(n: usize, except: &[usize]) -> Vec<usize> {
    (0..n).filter(|i| !except.contains(i)).collect()
}

/// On four nodes: `SET k old` while `k`'s third replica is cut off, so its first fallback keeps a
/// hint; then the replica comes back and the fallback is cut off, hint and all. Returns `k`'s
/// primaries and that fallback.
async fn old_hint_on_a_fallback_that_went_away(c: &SimCluster) -> (Vec<usize>, usize) {
    let (p, f) = c.placement(0, "k");
    let (coord, down, fallback) = (p[0], p[2], f[0]);
    c.net.isolate(addr(down));
    c.wait_healthy(&others(4, &[down]), 3).await;
    let mut s = c.session(coord);
    assert_eq!(c.run(coord, &mut s, &["SET", "k", "old"]).await, Reply::ok());
    eventually("the fallback to keep a hint", 10, || async { c.hint_targets(fallback, "k").await.len() == 1 }).await;
    c.net.heal();
    c.net.isolate(addr(fallback));
    c.wait_healthy(&others(4, &[fallback]), 3).await;
    (p, fallback)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_replica_gets_its_write_from_the_fallback_after_healing() {
    let c = SimCluster::start(4).await;
    let (p, f) = c.placement(0, "cart:1");
    let (coord, down, fallback) = (p[0], p[2], f[0]);
    c.net.isolate(addr(down));
    c.wait_healthy(&others(4, &[down]), 3).await;

    let mut s = c.session(coord);
    assert_eq!(c.run(coord, &mut s, &["SET", "cart:1", "apple"]).await, Reply::ok(), "W=2 met");
    assert_eq!(c.local_len(down, "cart:1").await, 0, "the isolated replica missed it");
    let target = c.id(down).to_string();
    // The reply came after W = 2 acks; the fallback's may come a moment later.
    eventually("the fallback to keep a hint", 10, || async {
        c.hint_targets(fallback, "cart:1").await == vec![target.clone()]
    })
    .await;
    assert_eq!(c.local_len(fallback, "cart:1").await, 0, "...apart from its own data");
    assert!(c.info_field(coord, "sloppy_writes").await.parse::<u64>().unwrap() >= 1);

    c.net.heal();
    c.wait_healthy(&[0, 1, 2, 3], 4).await;
    eventually("the hint to reach its owner", 20, || async {
        c.local(down, "cart:1").await == c.local(coord, "cart:1").await
            && c.hint_targets(fallback, "cart:1").await.is_empty()
    })
    .await;
    assert_eq!(c.info_field(fallback, "hints_pending").await, "0");
    assert!(c.info_field(fallback, "hints_delivered").await.parse::<u64>().unwrap() >= 1);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_down_sloppy_writes_succeed_and_strict_ones_answer_noquorum() {
    let c = SimCluster::start(5).await;
    let (p, _) = c.placement(0, "k");
    let coord = p[0];
    c.net.isolate(addr(p[1]));
    c.net.isolate(addr(p[2]));
    c.wait_healthy(&others(5, &[p[1], p[2]]), 3).await;

    let mut s = c.session(coord);
    assert_eq!(c.run(coord, &mut s, &["SET", "k", "sloppy"]).await, Reply::ok(), "local + a fallback = W=2");
    // The write is readable at R=2 although only one primary holds it: a fallback answers.
    let mut reader = c.session(coord);
    assert_eq!(c.run(coord, &mut reader, &["GET", "k"]).await, bulk("sloppy"));

    assert_eq!(c.run(coord, &mut s, &["KV.CONSISTENCY", "W", "2", "STRICT"]).await, Reply::ok());
    match c.run(coord, &mut s, &["SET", "k", "strict"]).await {
        Reply::Error(e) => assert_eq!(e, "NOQUORUM needed W=2 acks, got 1 (2 replicas unreachable)"),
        r => panic!("expected NOQUORUM, got {r:?}"),
    }
    assert_eq!(c.run(coord, &mut s, &["KV.CONSISTENCY", "SLOPPY"]).await, Reply::ok());
    assert_eq!(c.run(coord, &mut s, &["SET", "k", "sloppy again"]).await, Reply::ok());

    c.net.heal();
    c.wait_healthy(&[0, 1, 2, 3, 4], 5).await;
    for &replica in &p {
        eventually("every primary to hold the last write", 20, || async {
            let mut r = c.session(replica);
            c.run(replica, &mut r, &["KV.CONSISTENCY", "R", "1"]).await;
            c.run(replica, &mut r, &["GET", "k"]).await == bulk("sloppy again")
        })
        .await;
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_hint_never_rolls_back_a_newer_write() {
    let c = SimCluster::start(4).await;
    let (p, fallback) = old_hint_on_a_fallback_that_went_away(&c).await;
    let (coord, down) = (p[0], p[2]);
    let mut s = c.session(coord);
    // The owner is back and takes a newer write.
    assert_eq!(c.run(coord, &mut s, &["SET", "k", "new"]).await, Reply::ok());
    eventually("the owner to take the newer write", 10, || async {
        let mut r = c.session(down);
        c.run(down, &mut r, &["KV.CONSISTENCY", "R", "1"]).await;
        c.run(down, &mut r, &["GET", "k"]).await == bulk("new")
    })
    .await;

    // Now the old hint arrives: merged by version, it changes nothing.
    c.net.heal();
    c.wait_healthy(&[0, 1, 2, 3], 4).await;
    eventually("the old hint to be delivered", 20, || async { c.hint_targets(fallback, "k").await.is_empty() }).await;
    assert_eq!(c.local_len(down, "k").await, 1, "one sibling: the newer write superseded the hinted one");
    let mut r = c.session(down);
    c.run(down, &mut r, &["KV.CONSISTENCY", "R", "1"]).await;
    assert_eq!(c.run(down, &mut r, &["GET", "k"]).await, bulk("new"));
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fallback_restarted_before_delivery_still_delivers() {
    let mut c = SimCluster::start(4).await;
    let (p, f) = c.placement(0, "k");
    let (coord, down, fallback) = (p[0], p[2], f[0]);
    c.net.isolate(addr(down));
    c.wait_healthy(&others(4, &[down]), 3).await;
    let mut s = c.session(coord);
    assert_eq!(c.run(coord, &mut s, &["SET", "k", "kept"]).await, Reply::ok());
    eventually("the fallback to keep a hint", 10, || async { c.hint_targets(fallback, "k").await.len() == 1 }).await;

    c.restart_node(fallback).await;
    assert_eq!(c.hint_targets(fallback, "k").await.len(), 1, "the hint survived the restart");
    assert_eq!(c.info_field(fallback, "hints_pending").await, "1", "its totals were recounted");
    c.net.heal();
    c.wait_healthy(&[0, 1, 2, 3], 4).await;
    eventually("the restarted fallback to deliver", 20, || async {
        c.hint_targets(fallback, "k").await.is_empty() && c.local_len(down, "k").await == 1
    })
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_hint_bound_drops_new_hints_and_counts_them() {
    let c = SimCluster::start_with(4, |cfg| cfg.hint_max_keys = 3).await;
    let down = 3;
    c.net.isolate(addr(down));
    c.wait_healthy(&[0, 1, 2], 3).await;
    let mut s = c.session(0);
    let mut written = 0;
    for i in 0..60 {
        let key = format!("k{i}");
        if !c.placement(0, &key).0.contains(&down) {
            continue;
        }
        // Writes keep succeeding: the bound costs hints, not availability.
        assert_eq!(c.run(0, &mut s, &["SET", &key, "v"]).await, Reply::ok());
        written += 1;
    }
    assert!(written >= 20, "enough keys live on the isolated node ({written})");
    // Hints sent after the W = 2 reply may still be landing: wait for both to show.
    eventually("hints kept and hints dropped", 10, || async {
        let (mut pending, mut dropped) = (0, 0);
        for i in 0..3 {
            let p: u64 = c.info_field(i, "hints_pending").await.parse().unwrap();
            assert!(p <= 3, "node {i} keeps at most 3 hints for the one target, has {p}");
            pending += p;
            dropped += c.info_field(i, "hints_dropped").await.parse::<u64>().unwrap();
        }
        pending > 0 && dropped > 0
    })
    .await;
    c.net.heal();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_during_a_partition_stays_deleted_and_a_concurrent_write_survives() {
    let c = SimCluster::start(3).await;
    let (mut a, mut b) = (c.session(0), c.session(1));
    assert_eq!(c.run(0, &mut a, &["SET", "gone", "v"]).await, Reply::ok());
    assert_eq!(c.run(0, &mut a, &["SET", "both", "v"]).await, Reply::ok());
    for node in 0..3 {
        eventually("every replica to hold both keys", 10, || async {
            c.local_len(node, "gone").await == 1 && c.local_len(node, "both").await == 1
        })
        .await;
    }
    c.net.partition(&[addr(0)], &[addr(1), addr(2)]);
    c.wait_healthy(&[0], 1).await;
    c.wait_healthy(&[1, 2], 2).await;
    // The majority side deletes both keys; the lonely side (W=1) writes one of them afterwards,
    // without having seen the delete.
    assert_eq!(c.run(1, &mut b, &["DEL", "gone", "both"]).await, Reply::Int(2));
    assert_eq!(c.run(0, &mut a, &["KV.CONSISTENCY", "W", "1", "R", "1"]).await, Reply::ok());
    assert_eq!(c.run(0, &mut a, &["SET", "both", "concurrent"]).await, Reply::ok());
    c.net.heal();
    c.wait_healthy(&[0, 1, 2], 3).await;
    for node in 0..3 {
        eventually("every node to agree after the heal", 20, || async {
            let mut r = c.session(node);
            c.run(node, &mut r, &["KV.CONSISTENCY", "R", "3"]).await;
            c.run(node, &mut r, &["GET", "gone"]).await == Reply::Nil
                && c.run(node, &mut r, &["GET", "both"]).await == bulk("concurrent")
        })
        .await;
    }
    // The surviving write is a sibling of the delete it had not seen.
    let mut r = c.session(2);
    c.run(2, &mut r, &["KV.CONSISTENCY", "R", "3"]).await;
    match c.run(2, &mut r, &["KV.GET", "both"]).await {
        Reply::Array(v) => assert_eq!(v[1], Reply::Array(vec![bulk("concurrent")])),
        r => panic!("KV.GET: {r:?}"),
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tombstone_every_replica_acknowledged_is_reaped_and_one_that_missed_a_replica_is_kept() {
    let c = SimCluster::start_with(3, |cfg| cfg.tombstone_reap_delay_ms = 50).await;
    let mut s = c.session(0);
    assert_eq!(c.run(0, &mut s, &["SET", "k", "v"]).await, Reply::ok());
    assert_eq!(c.run(0, &mut s, &["DEL", "k"]).await, Reply::Int(1));
    for node in 0..3 {
        eventually("the tombstone to be reaped on every replica", 10, || async { c.local_len(node, "k").await == 0 })
            .await;
    }

    assert_eq!(c.run(0, &mut s, &["SET", "kept", "v"]).await, Reply::ok());
    for node in 0..3 {
        eventually("every replica to hold the value", 10, || async { c.local_len(node, "kept").await == 1 }).await;
    }
    c.net.isolate(addr(2));
    c.wait_healthy(&[0, 1], 2).await;
    assert_eq!(c.run(0, &mut s, &["DEL", "kept"]).await, Reply::Int(1));
    tokio::time::sleep(Duration::from_millis(300)).await; // several reap delays
    assert_eq!(c.local_len(0, "kept").await, 1, "a replica missed the delete: the tombstone stays");
    c.net.heal();
    c.stop().await;
}

/// The all-N reap against a hint still waiting on a fallback (found by the fault-injection
/// checker's long run: a fallback partitioned for 26 s kept a hint of a `SET` that an acknowledged
/// `DEL` had replaced; every replica reaped the tombstone, the hint was delivered, and the
/// replaced value came back as new). A tombstone is reaped only once no member keeps a hint of
/// its key; until then it stays, and the late hint merges into it and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hint_delivered_after_a_delete_never_brings_the_deleted_value_back() {
    let c = SimCluster::start_with(4, |cfg| cfg.tombstone_reap_delay_ms = 100).await;
    let (p, fallback) = old_hint_on_a_fallback_that_went_away(&c).await;
    let coord = p[0];
    let mut s = c.session(coord);
    // The owner is back; the key is deleted on all N.
    c.run(coord, &mut s, &["KV.CONSISTENCY", "W", "3"]).await;
    assert_eq!(c.run(coord, &mut s, &["DEL", "k"]).await, Reply::Int(1));
    let decided = || async {
        let sent = c.info_field(coord, "tombstone_reaps_sent").await;
        let deferred = common::sim::info_text(c.node(coord)).await;
        let deferred = deferred.lines().find_map(|l| l.strip_prefix("tombstone_reaps_deferred:")).unwrap_or("0");
        sent.trim() != "0" || deferred.trim() != "0"
    };
    eventually("the coordinator to reap or defer the tombstone", 10, decided).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    // Now the old hint arrives.
    c.net.heal();
    c.wait_healthy(&[0, 1, 2, 3], 4).await;
    eventually("the old hint to be delivered", 20, || async { c.hint_targets(fallback, "k").await.is_empty() }).await;
    for i in p {
        let mut r = c.session(i);
        c.run(i, &mut r, &["KV.CONSISTENCY", "R", "3"]).await;
        assert_eq!(c.run(i, &mut r, &["GET", "k"]).await, Reply::Nil, "the deleted value came back (node {i})");
    }
    assert_ne!(c.info_field(coord, "tombstone_reaps_deferred").await.trim(), "0");
    c.stop().await;
}
