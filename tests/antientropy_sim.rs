//! Anti-entropy over the simulated network: replicas that diverged — writes missed during a
//! partition with hints off, a wiped data directory — converge by themselves, with no reads; a
//! value deleted on every replica never comes back from a replica that was away; an exchange
//! finds one differing key among thousands cheaply, and a round with no difference costs little.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use cartwheel::config::Config;
use cartwheel::resp::reply::Reply;
use cartwheel::storage::keys;
use common::sim::{addr, bulk, SimCluster};
use common::wait_until;

const NODES: usize = 3;

/// Exchanges every 300 ms, confirmed 100 ms apart, and no hints: only anti-entropy can repair.
fn aae(cfg: &mut Config) {
    cfg.aae_interval_ms = 300;
    cfg.aae_confirm_ms = 100;
    cfg.hint_max_keys = 0;
}

fn read_repairs(c: &SimCluster) -> u64 {
    (0..NODES).map(|i| c.node(i).cluster.as_ref().unwrap().stats.read_repairs.load(Ordering::Relaxed)).sum()
}

fn repaired(c: &SimCluster) -> u64 {
    (0..NODES)
        .map(|i| {
            let s = &c.node(i).antientropy.as_ref().unwrap().stats;
            s.keys_pulled.load(Ordering::Relaxed) + s.keys_pushed.load(Ordering::Relaxed)
        })
        .sum()
}

async fn run(c: &SimCluster, i: usize, args: &[&str]) -> Reply {
    let mut s = c.session(i);
    c.run(i, &mut s, args).await
}

/// `KV.AAE EXCHANGE <node j's cluster address>` on node `i`: the one peer's result map.
async fn exchange(c: &SimCluster, i: usize, j: usize) -> BTreeMap<String, i64> {
    let r = run(c, i, &["KV.AAE", "EXCHANGE", &addr(j).to_string()]).await;
    let Reply::Array(peers) = r else { panic!("KV.AAE EXCHANGE: {r:?}") };
    let [Reply::Map(fields)] = &peers[..] else { panic!("one peer: {peers:?}") };
    fields
        .iter()
        .filter_map(|(k, v)| match (k, v) {
            (Reply::Bulk(k), Reply::Int(n)) => Some((String::from_utf8(k.to_vec()).unwrap(), *n)),
            (Reply::Bulk(k), e) if &k[..] == b"error" => panic!("exchange failed: {e:?}"),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_missed_during_a_partition_reach_the_replica_without_reads_or_hints() {
    let c = SimCluster::start_with(NODES, aae).await;
    c.net.isolate(addr(2));
    c.wait_healthy(&[0, 1], 2).await;
    for i in 0..300 {
        assert_eq!(run(&c, 0, &["SET", &format!("key:{i}"), &format!("v{i}")]).await, Reply::ok());
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(c.stored(2).len(), 0, "node 2 was cut off");
    c.net.heal();
    c.wait_healthy(&[0, 1, 2], 3).await;
    wait_until("node 2 holds every key, as node 0 does", Duration::from_secs(30), || {
        let (here, there) = (c.stored(0), c.stored(2));
        here.len() == 300 && here == there
    })
    .await;
    assert_eq!(c.stored(1), c.stored(0));
    assert_eq!(read_repairs(&c), 0, "no read ran, so no read repair");
    wait_until("the repairs are counted", Duration::from_secs(10), || repaired(&c) >= 300).await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_replica_gets_every_key_back() {
    let mut c = SimCluster::start_with(NODES, |cfg| {
        aae(cfg);
        cfg.write_quorum = 3;
    })
    .await;
    for i in 0..500 {
        assert_eq!(run(&c, 0, &["SET", &format!("key:{i}"), &format!("v{i}")]).await, Reply::ok());
    }
    assert_eq!(c.stored(2).len(), 500);
    c.wipe_node(2).await;
    c.wait_healthy(&[0, 1, 2], 3).await;
    wait_until("the wiped node holds every key again", Duration::from_secs(30), || {
        let (here, there) = (c.stored(0), c.stored(2));
        here.len() == 500 && here == there
    })
    .await;
    assert_eq!(read_repairs(&c), 0);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_deleted_everywhere_does_not_come_back_from_a_replica_that_was_away() {
    let c = SimCluster::start_with(NODES, |cfg| {
        aae(cfg);
        cfg.hz = 50;
        cfg.tombstone_grace_ms = 300;
        // Only the grace path may reap here.
        cfg.tombstone_reap_delay_ms = 600_000;
    })
    .await;
    let mut s = c.session(0);
    c.run(0, &mut s, &["KV.CONSISTENCY", "W", "3"]).await;
    assert_eq!(c.run(0, &mut s, &["SET", "k", "old"]).await, Reply::ok());
    c.net.isolate(addr(2));
    c.wait_healthy(&[0, 1], 2).await;
    assert_eq!(run(&c, 0, &["DEL", "k"]).await, Reply::Int(1));
    // Past the grace period the tombstones stay: node 2, which still holds "old", cannot confirm.
    wait_until("a grace reap was refused", Duration::from_secs(10), || {
        c.node(0).cluster.as_ref().unwrap().stats.grace_reaps_refused.load(Ordering::Relaxed) > 0
    })
    .await;
    assert!(c.node(0).coord.local(b"k").unwrap().is_some(), "node 0 kept its tombstone");
    assert!(c.node(1).coord.local(b"k").unwrap().is_some(), "node 1 kept its tombstone");
    c.net.heal();
    c.wait_healthy(&[0, 1, 2], 3).await;
    // Anti-entropy spreads the tombstone over "old"; then every replica reaps it.
    wait_until("every replica reaped the key", Duration::from_secs(30), || {
        (0..NODES).all(|i| c.node(i).coord.local(b"k").unwrap().is_none())
    })
    .await;
    // And it stays gone, through more exchanges and sweeps.
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        for i in 0..NODES {
            assert_eq!(run(&c, i, &["GET", "k"]).await, Reply::Nil, "node {i}");
            assert!(c.node(i).coord.local(b"k").unwrap().is_none(), "node {i} holds k again");
        }
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_differing_key_among_thousands_is_found_and_repaired_cheaply() {
    // No background exchanges: each one is run by hand and measured.
    let c = SimCluster::start_with(NODES, |cfg| {
        aae(cfg);
        cfg.aae_interval_ms = 0;
        cfg.write_quorum = 3;
    })
    .await;
    let mut s = c.session(0);
    for i in 0..3000 {
        let (k, v) = (format!("key:{i}"), format!("v{i}"));
        assert_eq!(c.run(0, &mut s, &["SET", &k, &v]).await, Reply::ok());
    }
    wait_until("every tree built", Duration::from_secs(10), || {
        (0..NODES).all(|i| c.node(i).antientropy.as_ref().unwrap().ready())
    })
    .await;
    let none = exchange(&c, 0, 2).await;
    assert_eq!((none["slots_differing"], none["keys_differing"]), (0, 0), "{none:?}");
    assert_eq!(none["slots"], 16384, "3 nodes, N = 3: every slot is shared");
    let cost = none["bytes_sent"] + none["bytes_received"];
    assert!(cost <= 16 * 1024, "a round with no difference cost {cost} bytes");

    // One key written while node 2 was cut off.
    c.net.isolate(addr(2));
    c.wait_healthy(&[0, 1], 2).await;
    c.run(0, &mut s, &["KV.CONSISTENCY", "W", "2"]).await;
    assert_eq!(c.run(0, &mut s, &["SET", "key:17", "new"]).await, Reply::ok());
    // The write's background attempts to reach node 2 end at the RPC deadline (300 ms).
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_ne!(run(&c, 2, &["KV.LOCAL", "key:17"]).await, run(&c, 0, &["KV.LOCAL", "key:17"]).await);
    c.net.heal();
    c.wait_healthy(&[0, 1, 2], 3).await;
    let one = exchange(&c, 0, 2).await;
    assert_eq!((one["slots_differing"], one["keys_differing"], one["pushed"]), (1, 1, 1), "{one:?}");
    let cost = one["bytes_sent"] + one["bytes_received"];
    assert!(cost <= 64 * 1024, "finding and repairing one key cost {cost} bytes");
    assert_eq!(c.stored(2), c.stored(0));
    assert_eq!(run(&c, 2, &["KV.LOCAL", "key:17"]).await, run(&c, 0, &["KV.LOCAL", "key:17"]).await);
    let again = exchange(&c, 2, 0).await;
    assert_eq!((again["slots_differing"], again["keys_differing"]), (0, 0), "{again:?}");

    // KV.AAE SLOT shows the same tree on both.
    let slot = keys::slot_of(b"key:17").to_string();
    assert_eq!(run(&c, 0, &["KV.AAE", "SLOT", &slot]).await, run(&c, 2, &["KV.AAE", "SLOT", &slot]).await);
    let Reply::Map(status) = run(&c, 0, &["KV.AAE", "STATUS"]).await else { panic!("STATUS") };
    assert!(status.contains(&(bulk("aae_trees_built"), bulk("1"))), "{status:?}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_leaves_every_replica_with_the_same_bytes() {
    let c = SimCluster::start_with(NODES, |cfg| {
        aae(cfg);
        cfg.aae_interval_ms = 0;
        cfg.write_quorum = 3;
        cfg.hz = 50;
    })
    .await;
    for i in 0..200 {
        assert_eq!(run(&c, 0, &["SET", &format!("ttl:{i}"), "v", "PX", "300"]).await, Reply::ok());
    }
    // Every replica's own sweep turns each expired key into a tombstone, at its own time.
    wait_until("every replica expired every key", Duration::from_secs(20), || {
        (0..NODES).all(|i| c.node(i).coord.tombstones() == 200)
    })
    .await;
    assert_eq!(c.stored(1), c.stored(0));
    assert_eq!(c.stored(2), c.stored(0));
    for j in 1..NODES {
        let out = exchange(&c, 0, j).await;
        assert_eq!((out["slots_differing"], out["keys_differing"]), (0, 0), "with node {j}: {out:?}");
    }
    c.stop().await;
}
