//! Placement over the simulated network: a node restarted while gossip cannot reach it places
//! nothing on the partial view it has (the first node of the README's cluster, restarted without
//! seeds, used to coordinate as a cluster of one); a cluster restarted all at once confirms the
//! membership its nodes saved; a value found outside its replicas is handed to them and dropped
//! (offloading); replica writes and forwarded commands for slots a node does not replicate are
//! refused.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use cartwheel::cluster::messages::{Forward, KeyVersion, Request, Response};
use cartwheel::coordinator::{Mutation, Writes};
use cartwheel::resp::reply::Reply;
use common::sim::{addr, bulk, SimCluster};
use common::wait_until;

const NODES: usize = 5;

/// A key none of whose primaries (as node 1 sees them) is node `not`.
fn key_not_on(c: &SimCluster, not: usize, prefix: &str) -> String {
    (0..).map(|i| format!("{prefix}:{i}")).find(|k| !c.placement(1, k).0.contains(&not)).unwrap()
}

/// Whether every node reads `value` for `key`, and every primary of `key` holds it.
async fn in_place(c: &SimCluster, key: &str, value: &str) -> Result<(), String> {
    for i in 0..NODES {
        let mut s = c.session(i);
        let got = c.run(i, &mut s, &["GET", key]).await;
        if got != bulk(value) {
            return Err(format!("{key} reads {got:?} through node {i}"));
        }
    }
    for p in c.placement(1, key).0 {
        if !format!("{:?}", c.local(p, key).await).contains(value) {
            return Err(format!("{key}: primary {p} holds {:?}", c.local(p, key).await));
        }
    }
    Ok(())
}

fn ready(c: &SimCluster, i: usize) -> bool {
    c.node(i).cluster.as_ref().unwrap().ready()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_while_gossip_is_held_places_nothing_on_a_partial_view() {
    let mut c = SimCluster::start(NODES).await;
    // Node 0 is the README's first node: no seeds. Restart it while every frame the others send it
    // is held in flight — it hears from nobody, as when gossip is slow to reach a restarted node.
    c.stop_node(0).await;
    for i in 1..NODES {
        c.net.hold(addr(i), addr(0));
    }
    c.restart_node(0).await;
    let mut acked = Vec::new();
    let mut s = c.session(0);
    for j in 0..10 {
        let (key, value) = (format!("held:{j}"), format!("v{j}"));
        if c.run(0, &mut s, &["SET", &key, &value]).await == Reply::ok() {
            acked.push((key, value));
        }
    }
    assert!(acked.is_empty(), "nothing may be acknowledged on a view nobody confirmed: {acked:?}");
    assert!(!ready(&c, 0), "node 0 cannot have confirmed its view: it heard from nobody");
    // The frames arrive (late): node 0 confirms its view and serves. Writes sent the moment it can
    // hear again must land on their primaries too.
    c.net.release();
    let mut errors = Vec::new();
    for j in 0..100 {
        let (key, value) = (format!("released:{j}"), format!("v{j}"));
        match c.run(0, &mut s, &["SET", &key, &value]).await {
            Reply::Status(_) => acked.push((key, value)),
            other => errors.push(other),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    wait_until("node 0 coordinates", Duration::from_secs(20), || ready(&c, 0)).await;
    // Until its next gossip round node 0 still hears nobody (-TRYAGAIN); then it forwards.
    assert!(acked.len() >= 50, "only {} of 100 writes acknowledged once node 0 could hear: {errors:?}", acked.len());
    c.wait_healthy(&(0..NODES).collect::<Vec<_>>(), NODES).await;
    for (key, value) in &acked {
        let mut last = Err(String::new());
        for _ in 0..100 {
            last = in_place(&c, key, value).await;
            if last.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        last.unwrap();
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_restarted_all_at_once_confirms_its_saved_membership() {
    let mut c = SimCluster::start(NODES).await;
    let mut s = c.session(2);
    assert_eq!(c.run(2, &mut s, &["SET", "before", "1"]).await, Reply::ok());
    for i in 0..NODES {
        c.stop_node(i).await;
    }
    // Last to first: each seeded node starts while its seed (node 0) is down. Nobody serves, so a
    // view is confirmed by a majority of the saved members (3 of 5).
    for i in (0..NODES).rev() {
        c.restart_node(i).await;
        if i == 3 {
            assert!(!ready(&c, 3) && !ready(&c, 4), "two of five are no majority");
        }
    }
    wait_until("every node coordinates", Duration::from_secs(20), || (0..NODES).all(|i| ready(&c, i))).await;
    for i in 0..NODES {
        let members = c.node(i).cluster.as_ref().unwrap().topology().peers().len();
        assert_eq!(members, NODES, "node {i} places keys with every member");
    }
    c.wait_healthy(&(0..NODES).collect::<Vec<_>>(), NODES).await;
    let mut s = c.session(4);
    assert_eq!(c.run(4, &mut s, &["GET", "before"]).await, bulk("1"));
    assert_eq!(c.run(4, &mut s, &["SET", "after", "2"]).await, Reply::ok());
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_found_outside_its_replicas_is_handed_to_them_and_dropped() {
    let c = SimCluster::start_with(NODES, |cfg| cfg.offload_interval_ms = 200).await;
    let stray = key_not_on(&c, 4, "stray");
    let newer = key_not_on(&c, 4, "newer");
    let mut s = c.session(1);
    assert_eq!(c.run(1, &mut s, &["SET", &newer, "old"]).await, Reply::ok());
    // What the placement bug left behind: node 4 holding, as its own data, a key it does not
    // replicate — one nobody else has, and a newer version of one its replicas hold.
    let plant = |key: &str, value: &'static str| {
        let put = Mutation::Put { value: Bytes::from_static(value.as_bytes()), expires_at: None };
        c.node(4).coord.update(&mut Writes::default(), key.as_bytes(), |_| (put, ())).unwrap();
    };
    plant(&stray, "only-here");
    plant(&newer, "new");
    assert_eq!(c.local_len(4, &stray).await, 1);
    let cluster = c.node(4).cluster.as_ref().unwrap();
    wait_until("node 4 drops both copies", Duration::from_secs(20), || {
        cluster.stats.offload_keys_dropped.load(Ordering::Relaxed) >= 2
    })
    .await;
    assert_eq!((c.local_len(4, &stray).await, c.local_len(4, &newer).await), (0, 0), "node 4 keeps no copy");
    in_place(&c, &stray, "only-here").await.unwrap();
    in_place(&c, &newer, "new").await.unwrap();
    let pending = || cluster.stats.offload_slots_pending.load(Ordering::Relaxed);
    wait_until("no slot left to offload", Duration::from_secs(5), || pending() == 0).await;
    assert_eq!(c.info_field(4, "offload_keys_dropped").await, "2");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_writes_and_forwarded_commands_for_a_slot_the_node_does_not_replicate_are_refused() {
    let c = SimCluster::start(NODES).await;
    let key = key_not_on(&c, 4, "refused");
    let from = c.node(1).cluster.as_ref().unwrap();
    // A replica write of that key's slot, sent to node 4 (as a sender with another view would).
    let set = {
        let mut s = c.session(1);
        assert_eq!(c.run(1, &mut s, &["SET", &key, "v"]).await, Reply::ok());
        let primary = c.placement(1, &key).0[0];
        c.node(primary).coord.local(key.as_bytes()).unwrap().unwrap()
    };
    let versions = vec![KeyVersion { key: Bytes::from(key.clone()), set: cartwheel::version::codec::to_bytes(&set) }];
    let answer = from.call(addr(4), &Request::Replicate(versions)).await.unwrap();
    assert!(matches!(answer, Response::Stored(ref taken) if taken == &[false]), "{answer:?}");
    assert_eq!(c.local_len(4, &key).await, 0, "nothing stored outside the key's replicas");
    // A command forwarded to node 4 as if it were the key's coordinator: nothing runs there.
    let forward =
        Forward { args: vec!["SET".into(), Bytes::from(key.clone()), "w".into()], r: None, w: None, strict: false };
    let answer = from.call(addr(4), &Request::Forward(forward)).await.unwrap();
    let Response::Reply(Reply::Error(e)) = answer else { panic!("{answer:?}") };
    assert!(e.starts_with("TRYAGAIN this node holds no replica of slot"), "{e}");
    assert_eq!(c.local_len(4, &key).await, 0);
    assert_eq!(c.info_field(4, "replica_writes_refused").await, "1");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hints_for_a_forgotten_node_move_to_the_keys_new_replicas() {
    // No anti-entropy, no offloading, no reads: only the hint can bring the key to its new replica.
    let mut c = SimCluster::start_with(NODES, |cfg| {
        cfg.aae_interval_ms = 0;
        cfg.offload_interval_ms = 0;
    })
    .await;
    let key = (0..).map(|i| format!("moved:{i}")).find(|k| c.placement(0, k).0.contains(&4)).unwrap();
    c.stop_node(4).await;
    c.wait_healthy(&[0, 1, 2, 3], 4).await;
    let mut s = c.session(0);
    assert_eq!(c.run(0, &mut s, &["SET", &key, "kept"]).await, Reply::ok());
    let gone = c.id(4).to_string();
    let holder = (0..4).find(|&i| c.node(i).coord.hint_targets().iter().any(|t| t.target == c.id(4)));
    assert!(holder.is_some(), "a hint for node 4 was written");
    // Node 4 is gone for good.
    assert_eq!(c.run(0, &mut s, &["CLUSTER", "FORGET", &gone]).await, Reply::ok());
    wait_until("every node forgot node 4", Duration::from_secs(20), || {
        (0..4).all(|i| c.node(i).cluster.as_ref().unwrap().topology().peers().len() == 4)
    })
    .await;
    let primaries = c.placement(0, &key).0;
    assert_eq!(primaries.len(), 3);
    for _ in 0..200 {
        let mut held = 0;
        for &p in &primaries {
            held += usize::from(c.local_len(p, &key).await > 0);
        }
        if held == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for &p in &primaries {
        assert_eq!(c.local_len(p, &key).await, 1, "new primary {p} holds the key");
    }
    let moved: u64 = {
        let mut n = 0;
        for i in 0..4 {
            n += c.info_field(i, "hints_moved").await.parse::<u64>().unwrap();
        }
        n
    };
    assert!(moved >= 1, "the hint was moved, not left for a node that is gone");
    assert!((0..4).all(|i| c.node(i).coord.hint_targets().iter().all(|t| t.target != c.id(4))));
    c.stop().await;
}
