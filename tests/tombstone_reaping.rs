//! Tombstone reaping end to end: three in-process nodes over the simulated network with
//! `tombstone-grace-ms = 0`, so a `DEL` leaves a tombstone on every replica and each replica's
//! active sweep then removes it from disk; the deleted value stays deleted, and `INFO cartwheel`
//! and `CONFIG GET` report the counters and the setting. A standalone node keeps deleting at once.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use cartwheel::command::Context;
use cartwheel::resp::reply::Reply;
use common::sim::{info_field, run_on, session_of, SimCluster};
use common::{wait_until, TestNode};

const NODES: usize = 3;

async fn run(node: &Arc<Context>, args: &[&str]) -> Reply {
    run_on(node, &mut session_of(node), args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_key_is_reaped_on_every_replica_after_the_grace_period() {
    // The all-replicas reap is pushed out of the way so that only the grace sweep can reap.
    let c = SimCluster::start_with(NODES, |cfg| {
        cfg.hz = 50;
        cfg.tombstone_grace_ms = 0;
        cfg.tombstone_reap_delay_ms = 600_000;
    })
    .await;
    let node = |i: usize| c.node(i);
    assert_eq!(
        run(node(0), &["CONFIG", "GET", "tombstone-grace-ms"]).await,
        Reply::Map(vec![(Reply::bulk("tombstone-grace-ms"), Reply::bulk("0"))])
    );

    assert_eq!(run(node(0), &["SET", "k", "v"]).await, Reply::ok());
    wait_until("every replica holds the value", Duration::from_secs(10), || {
        (0..NODES).all(|i| node(i).coord.local(b"k").unwrap().is_some())
    })
    .await;
    assert_eq!(run(node(1), &["DEL", "k"]).await, Reply::Int(1));
    wait_until("every replica reaped the tombstone", Duration::from_secs(10), || {
        (0..NODES).all(|i| {
            let c = &node(i).coord;
            c.local(b"k").unwrap().is_none() && c.stats().tombstones_reaped.load(Ordering::Relaxed) >= 1
        })
    })
    .await;
    for i in 0..NODES {
        assert_eq!(run(node(i), &["GET", "k"]).await, Reply::Nil, "node {i}");
        assert_eq!(info_field(node(i), "tombstones").await, "0");
        assert_ne!(info_field(node(i), "tombstones_reaped").await, "0");
    }
    assert_eq!(info_field(node(1), "tombstone_reaps_sent").await, "0", "the grace sweep reaped it");
    c.stop().await;
}

#[tokio::test]
async fn a_standalone_node_reports_the_default_grace_and_stores_no_tombstone() {
    let n = TestNode::start().await;
    let node = n.handle.as_ref().unwrap().node().clone();
    assert_eq!(
        run(&node, &["CONFIG", "GET", "tombstone-*"]).await,
        Reply::Map(vec![(Reply::bulk("tombstone-grace-ms"), Reply::bulk("86400000"))])
    );
    assert_eq!(run(&node, &["SET", "k", "v"]).await, Reply::ok());
    assert_eq!(run(&node, &["DEL", "k"]).await, Reply::Int(1));
    assert_eq!(node.coord.local(b"k").unwrap(), None, "deleted by the DEL itself");
    assert_eq!(info_field(&node, "tombstones").await, "0");
    assert_eq!(info_field(&node, "tombstones_reaped").await, "0");
    n.stop().await;
}
