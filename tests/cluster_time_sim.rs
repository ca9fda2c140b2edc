//! Cluster time over the simulated network: three nodes whose wall clocks are right, five
//! minutes ahead and five minutes behind agree on one time (the median of their clocks), so
//! last-writer-wins orders concurrent writes by when they really happened and TTLs run out when
//! they should, whichever node coordinated them.
//!
//! Without it, a write coordinated by the node that is ahead beat every write made elsewhere in
//! the next five minutes, and a write coordinated by the node that is behind lost to writes made
//! up to five minutes before it — an acknowledged write rolled back either way.

mod common;

use std::time::Duration;

use cartwheel::clock::{Clock, SystemClock};
use cartwheel::resp::reply::Reply;
use common::sim::{addr, bulk, SimCluster};

/// Right, five minutes ahead, five minutes behind.
const SKEW_MS: [i64; 3] = [0, 300_000, -300_000];
const AHEAD: usize = 1;
const BEHIND: usize = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skewed_nodes_keep_time_with_the_majority() {
    let c = SimCluster::start_skewed(3, |_| {}, &SKEW_MS).await;
    for (i, skew) in SKEW_MS.iter().enumerate() {
        let now_ms = SystemClock.now_ms() as i64;
        let mut s = c.session(i);
        let Reply::Array(t) = c.run(i, &mut s, &["TIME"]).await else { panic!("TIME") };
        let secs: i64 = text(&t[0]).parse().unwrap();
        assert!((secs * 1000 - now_ms).abs() <= 2_000, "node {i}: TIME is {secs}, the real time {now_ms} ms");
        let error: i64 = c.info_field(i, "own_clock_error_ms").await.parse().unwrap();
        assert!((error - skew).abs() <= 1_000, "node {i} reports its clock {error} ms off");
    }
    // A TTL set through the node that is ahead runs out on time everywhere.
    let mut s = c.session(AHEAD);
    c.run(AHEAD, &mut s, &["SET", "ttl", "v", "PX", "1500"]).await;
    for i in 0..3 {
        let mut r = c.session(i);
        let Reply::Int(pttl) = c.run(i, &mut r, &["PTTL", "ttl"]).await else { panic!("PTTL") };
        assert!((1..=1500).contains(&pttl), "node {i}: PTTL {pttl}");
    }
    c.stop().await;
}

/// A key whose coordinator, as node `from` sees it, is `node`.
fn key_coordinated_by(c: &SimCluster, from: usize, node: usize, prefix: &str) -> String {
    (0..1000)
        .map(|i| format!("{prefix}:{i}"))
        .find(|k| c.placement(from, k).0.first() == Some(&node))
        .expect("a key coordinated by the node")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_made_later_on_a_well_clocked_node_beats_one_made_earlier_on_a_node_ahead() {
    let c = SimCluster::start_skewed(3, |_| {}, &SKEW_MS).await;
    let key = key_coordinated_by(&c, AHEAD, AHEAD, "ahead");
    // The node that is ahead, cut off, takes a write alone (W = 1)…
    c.net.isolate(addr(AHEAD));
    let mut early = c.session(AHEAD);
    c.run(AHEAD, &mut early, &["KV.CONSISTENCY", "W", "1"]).await;
    assert_eq!(c.run(AHEAD, &mut early, &["SET", &key, "early"]).await, Reply::ok());
    // …and the other two take a later one.
    c.wait_healthy(&[0, BEHIND], 2).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut late = c.session(0);
    assert_eq!(c.run(0, &mut late, &["SET", &key, "late"]).await, Reply::ok());
    settle_and_expect(&c, &key, "late").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_made_later_on_a_node_behind_beats_one_made_earlier_on_a_well_clocked_node() {
    let c = SimCluster::start_skewed(3, |_| {}, &SKEW_MS).await;
    let key = key_coordinated_by(&c, BEHIND, BEHIND, "behind");
    // The node that is behind is cut off before the first write, so it never sees it.
    c.net.isolate(addr(BEHIND));
    c.wait_healthy(&[0, AHEAD], 2).await;
    let mut early = c.session(0);
    assert_eq!(c.run(0, &mut early, &["SET", &key, "early"]).await, Reply::ok());
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut late = c.session(BEHIND);
    c.run(BEHIND, &mut late, &["KV.CONSISTENCY", "W", "1"]).await;
    assert_eq!(c.run(BEHIND, &mut late, &["SET", &key, "late"]).await, Reply::ok());
    settle_and_expect(&c, &key, "late").await;
}

/// Heals, and expects every node to read `want` with all three replicas (R = 3).
async fn settle_and_expect(c: &SimCluster, key: &str, want: &str) {
    c.net.heal();
    c.wait_healthy(&[0, 1, 2], 3).await;
    for i in 0..3 {
        let mut r = c.session(i);
        c.run(i, &mut r, &["KV.CONSISTENCY", "R", "3"]).await;
        // Right after the heal a link may still be reconnecting: wait for an answer at R = 3.
        let mut got = c.run(i, &mut r, &["GET", key]).await;
        let give_up = std::time::Instant::now() + Duration::from_secs(10);
        while matches!(got, Reply::Error(_)) && std::time::Instant::now() < give_up {
            tokio::time::sleep(Duration::from_millis(50)).await;
            got = c.run(i, &mut r, &["GET", key]).await;
        }
        let siblings = c.run(i, &mut r, &["KV.GET", key]).await;
        let local = c.local(i, key).await;
        assert_eq!(got, bulk(want), "node {i}: the later write lost to the earlier one ({siblings:?}) {local:?}");
    }
}

fn text(r: &Reply) -> String {
    match r {
        Reply::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
        other => panic!("not a bulk: {other:?}"),
    }
}
