//! In-process cluster tests over the simulated network: three real nodes (fjall on disk, the
//! whole command path) whose node-to-node traffic goes through `SimNetwork`, so partitions and
//! isolation are switched on and off at will. Commands are run as a client session would run
//! them (`router::execute`).

mod common;

use std::time::Duration;

use cartwheel::resp::reply::Reply;
use common::sim::{addr, bulk, SimCluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_writes_and_reads_cross_the_simulated_network() {
    let c = SimCluster::start(3).await;
    let mut s0 = c.session(0);
    for i in 0..50 {
        assert_eq!(c.run(0, &mut s0, &["SET", &format!("k{i}"), &format!("v{i}")]).await, Reply::ok());
    }
    for node in 1..3 {
        let mut s = c.session(node);
        for i in 0..50 {
            assert_eq!(c.run(node, &mut s, &["GET", &format!("k{i}")]).await, bulk(&format!("v{i}")));
        }
    }
    assert!(c.net.stats().delivered > 0, "traffic went through the simulator");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_replica_fails_strict_quorums_with_noquorum() {
    let c = SimCluster::start(3).await;
    c.net.isolate(addr(2));
    c.wait_healthy(&[0, 1], 2).await;
    let mut s = c.session(0);
    assert_eq!(c.run(0, &mut s, &["SET", "k", "v"]).await, Reply::ok(), "W=2 still met");
    assert_eq!(c.run(0, &mut s, &["KV.CONSISTENCY", "W", "3", "R", "3"]).await, Reply::ok());
    match c.run(0, &mut s, &["SET", "k", "v2"]).await {
        Reply::Error(e) => assert_eq!(e, "NOQUORUM needed W=3 acks, got 2 (1 replica unreachable)"),
        r => panic!("expected NOQUORUM, got {r:?}"),
    }
    match c.run(0, &mut s, &["GET", "k"]).await {
        Reply::Error(e) => assert_eq!(e, "NOQUORUM needed R=3 answers, got 2 (1 replica unreachable)"),
        r => panic!("expected NOQUORUM, got {r:?}"),
    }
    c.net.heal();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_repair_brings_a_stale_replica_up_to_date() {
    // No hints (a bound of 0 drops them all), so only read repair can bring node 3 up to date.
    let c = SimCluster::start_with(3, |cfg| cfg.hint_max_keys = 0).await;
    c.net.isolate(addr(2));
    c.wait_healthy(&[0, 1], 2).await;
    let mut s = c.session(0);
    assert_eq!(c.run(0, &mut s, &["SET", "fruit", "apple"]).await, Reply::ok());
    assert_eq!(c.local_len(2, "fruit").await, 0, "the isolated replica missed the write");
    c.net.heal();
    c.wait_healthy(&[0, 1, 2], 3).await;
    // A read that asks all three replicas finds node 3 stale and repairs it after replying.
    assert_eq!(c.run(0, &mut s, &["KV.CONSISTENCY", "R", "3"]).await, Reply::ok());
    assert_eq!(c.run(0, &mut s, &["GET", "fruit"]).await, bulk("apple"));
    for _ in 0..200 {
        if c.local_len(2, "fruit").await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(c.local_len(2, "fruit").await, 1, "read repair reached node 3");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_makes_siblings_that_kv_put_resolves() {
    let c = SimCluster::start(3).await;
    let (mut a, mut b) = (c.session(0), c.session(1));
    assert_eq!(c.run(0, &mut a, &["SET", "cart", "base"]).await, Reply::ok());
    c.net.partition(&[addr(0)], &[addr(1), addr(2)]);
    c.wait_healthy(&[0], 1).await;
    c.wait_healthy(&[1, 2], 2).await;
    // Both sides accept a write (W = 1 on the lonely side), each coordinated locally.
    assert_eq!(c.run(0, &mut a, &["KV.CONSISTENCY", "W", "1", "R", "1"]).await, Reply::ok());
    assert_eq!(c.run(0, &mut a, &["SET", "cart", "left"]).await, Reply::ok());
    assert_eq!(c.run(1, &mut b, &["SET", "cart", "right"]).await, Reply::ok());
    c.net.heal();
    c.wait_healthy(&[0, 1, 2], 3).await;
    let mut r = c.session(2);
    assert_eq!(c.run(2, &mut r, &["KV.CONSISTENCY", "R", "3"]).await, Reply::ok());
    let (context, values) = match c.run(2, &mut r, &["KV.GET", "cart"]).await {
        Reply::Array(mut v) if v.len() == 2 => {
            let values = v.pop().unwrap();
            (v.pop().unwrap(), values)
        }
        other => panic!("KV.GET: {other:?}"),
    };
    let mut values = match values {
        Reply::Array(v) => v,
        other => panic!("values: {other:?}"),
    };
    values.sort_by_key(|v| format!("{v:?}"));
    assert_eq!(values, vec![bulk("left"), bulk("right")], "both concurrent writes survive as siblings");
    let Reply::Bulk(context) = context else { panic!("context") };
    let context = String::from_utf8(context.to_vec()).unwrap();
    assert_eq!(c.run(2, &mut r, &["KV.PUT", "cart", &context, "merged"]).await, Reply::ok());
    for node in 0..3 {
        let mut s = c.session(node);
        assert_eq!(c.run(node, &mut s, &["KV.CONSISTENCY", "R", "3"]).await, Reply::ok());
        match c.run(node, &mut s, &["KV.GET", "cart"]).await {
            Reply::Array(v) => assert_eq!(v[1], Reply::Array(vec![bulk("merged")]), "node {node}"),
            other => panic!("KV.GET: {other:?}"),
        }
    }
    c.stop().await;
}
