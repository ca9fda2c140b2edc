//! Tombstone reaping end to end: three in-process nodes over the simulated network with
//! `tombstone-grace-ms = 0`, so a `DEL` leaves a tombstone on every replica and each replica's
//! active sweep then removes it from disk; the deleted value stays deleted, and `INFO cartwheel`
//! and `CONFIG GET` report the counters and the setting. A standalone node keeps deleting at once.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cartwheel::command::{self, Session};
use cartwheel::config::Config;
use cartwheel::net::{Network, SimNetwork};
use cartwheel::node::{Node, NodeHandle};
use cartwheel::resp::clients::ClientEntry;
use cartwheel::resp::reply::Reply;
use common::{wait_until, TestNode};

const NODES: usize = 3;

fn addr(i: usize) -> SocketAddr {
    format!("10.0.1.{}:7000", i + 1).parse().unwrap()
}

async fn start_cluster(net: &SimNetwork, dirs: &[tempfile::TempDir]) -> Vec<NodeHandle> {
    let mut nodes = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let mut cfg = Config::for_test(dir.path());
        cfg.cluster_enabled = true;
        cfg.cluster_secret = Some("sim".into());
        cfg.cluster_announce_ip = Some(format!("10.0.1.{}", i + 1));
        cfg.cluster_port = 7000;
        if i > 0 {
            cfg.seeds = vec![addr(0).to_string()];
        }
        cfg.gossip_interval_ms = 100;
        cfg.suspect_after_ms = 600;
        cfg.rpc_timeout_ms = 300;
        cfg.hz = 50;
        cfg.tombstone_grace_ms = 0;
        let shared: Arc<dyn Network> = Arc::new(net.clone());
        nodes.push(NodeHandle::start_on(cfg, Some(shared)).await.unwrap());
    }
    wait_until("all members healthy everywhere", Duration::from_secs(20), || {
        nodes.iter().all(|n| {
            let t = n.node().cluster.as_ref().unwrap().topology();
            t.peers().iter().filter(|p| p.healthy).count() == NODES
        })
    })
    .await;
    nodes
}

async fn run(node: &Arc<Node>, args: &[&str]) -> Reply {
    let a = node.addrs[0];
    let mut s = Session::new(ClientEntry::detached(a, a), true);
    let args = args.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
    let reply = command::execute(node, &mut s, args).await;
    if s.wrote {
        node.coord.durability().commit().await.unwrap();
    }
    reply
}

async fn info_field(node: &Arc<Node>, field: &str) -> String {
    let Reply::Verbatim(text) = run(node, &["INFO", "cartwheel"]).await else { panic!("INFO is verbatim text") };
    let text = String::from_utf8(text.to_vec()).unwrap();
    let prefix = format!("{field}:");
    let line = text.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no {field} in {text}"));
    line[prefix.len()..].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_key_is_reaped_on_every_replica_after_the_grace_period() {
    let net = SimNetwork::new(11);
    let dirs: Vec<_> = (0..NODES).map(|_| tempfile::tempdir().unwrap()).collect();
    let nodes = start_cluster(&net, &dirs).await;
    let node = |i: usize| nodes[i].node();
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
    for n in nodes {
        n.stop().await;
    }
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
