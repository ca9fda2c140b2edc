//! The late-request fence over the simulated network, with skewed clocks and slow links: a
//! forwarded `SET` is held on its way to the key's coordinator past its deadline (as TCP keeps
//! retransmitting across a partition), the forwarding node gives up and resends it elsewhere, the
//! client's next `SET` is acknowledged, and only then is the held forward delivered. The
//! coordinator must drop it: run late, it would overwrite the acknowledged write.
//!
//! The nodes' wall clocks are five minutes apart in both directions, so a fence that compared
//! wall-clock deadlines would accept the late forward on the node that is behind; the fence works
//! on each node's own monotonic clock and a bound learnt from the peer's stamps (`rpc/clock.rs`).

mod common;

use std::time::Duration;

use common::sim::{addr, bulk, SimCluster};

/// Right, five minutes ahead, five minutes behind.
const SKEW_MS: [i64; 3] = [0, 300_000, -300_000];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_held_past_its_deadline_is_dropped_by_a_coordinator_whose_clock_is_behind() {
    held_forward_is_dropped(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_held_past_its_deadline_is_dropped_by_a_coordinator_whose_clock_is_ahead() {
    held_forward_is_dropped(1).await;
}

/// Node 0 forwards to `coordinator`; the link between them holds the forward.
async fn held_forward_is_dropped(coordinator: usize) {
    let c = SimCluster::start_skewed(3, |_| {}, &SKEW_MS).await;
    c.net.set_delay(Duration::from_millis(5));
    let key = (0..1000)
        .map(|i| format!("held:{i}"))
        .find(|k| c.placement(0, k).0.first() == Some(&coordinator))
        .expect("a key coordinated by the chosen node");
    let mut s = c.session(0);
    // Open every pooled connection from node 0 to the coordinator, so the forward below is
    // written on an established connection (not stuck in a handshake).
    for _ in 0..8 {
        assert_eq!(c.run(0, &mut s, &["SET", &key, "v0"]).await, cartwheel::resp::reply::Reply::ok());
    }
    let before = read_in(&c, coordinator).await;

    c.net.hold(addr(0), addr(coordinator));
    let r1 = c.run(0, &mut s, &["SET", &key, "v1"]).await;
    let r2 = c.run(0, &mut s, &["SET", &key, "v2"]).await;
    assert_eq!(r1, cartwheel::resp::reply::Reply::ok(), "v1 resent to the next replica after the timeout");
    assert_eq!(r2, cartwheel::resp::reply::Reply::ok());
    c.net.release();

    // The held forward reaches the coordinator now, well after its deadline.
    let mut seen = before;
    for _ in 0..200 {
        seen = read_in(&c, coordinator).await;
        if seen > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(seen > before, "the held forward never reached node {coordinator}");
    c.wait_healthy(&[0, 1, 2], 3).await;

    for i in 0..3 {
        let mut r3 = c.session(i);
        c.run(i, &mut r3, &["KV.CONSISTENCY", "R", "3"]).await;
        let got = c.run(i, &mut r3, &["GET", &key]).await;
        let siblings = c.run(i, &mut r3, &["KV.GET", &key]).await;
        assert_eq!(got, bulk("v2"), "node {i}: the acknowledged v2 was rolled back ({siblings:?})");
    }
    let late = c.info_field(coordinator, "late_requests_dropped").await;
    assert_ne!(late, "0", "node {coordinator} did not count the held forward as late");
    c.stop().await;
}

/// Forwarded requests node `i` has read: run, or dropped as late (`INFO` has no
/// `late_requests_dropped` before the fence existed).
async fn read_in(c: &SimCluster, i: usize) -> u64 {
    let text = c.info_field(i, "forwarded_requests_in").await;
    let late = common::sim::info_text(c.node(i)).await;
    let late = late.lines().find_map(|l| l.strip_prefix("late_requests_dropped:")).unwrap_or("0").trim();
    text.parse::<u64>().unwrap() + late.parse::<u64>().unwrap()
}

/// A forward whose connection dies under it while the coordinator is alive and still gets it: the
/// forwarding node must not answer the client before the forward's deadline (found by reading
/// the code after a fault-injection failure: an error reply went out at once, the client's next
/// write was acknowledged, and the first forward — still on its way — ran after it). `APPEND` is
/// never resent, so the error reply is all the client gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_reply_for_a_forward_whose_connection_closed_comes_only_after_its_deadline() {
    let c = SimCluster::start(3).await;
    let coordinator = 1;
    let key = (0..1000)
        .map(|i| format!("reset:{i}"))
        .find(|k| c.placement(0, k).0.first() == Some(&coordinator))
        .expect("a key coordinated by node 1");
    let (mut s0, mut s2) = (c.session(0), c.session(2));
    for _ in 0..8 {
        assert_eq!(c.run(0, &mut s0, &["SET", &key, "a"]).await, cartwheel::resp::reply::Reply::ok());
    }
    let before = read_in(&c, coordinator).await;

    // The APPEND's forward is held on its way; then its connection dies under it.
    c.net.hold(addr(0), addr(coordinator));
    let started = tokio::time::Instant::now();
    let append = ["APPEND", key.as_str(), "b"];
    let (appended, ()) = tokio::join!(c.run(0, &mut s0, &append), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        c.net.reset(addr(0), addr(coordinator));
    });
    let answered_after = started.elapsed();
    assert!(matches!(appended, cartwheel::resp::reply::Reply::Error(_)), "{appended:?}");
    // The client, told the APPEND failed, writes again (through another node) and is acknowledged.
    assert_eq!(c.run(2, &mut s2, &["SET", &key, "c"]).await, cartwheel::resp::reply::Reply::ok());
    c.net.release();

    let mut seen = before;
    for _ in 0..200 {
        seen = read_in(&c, coordinator).await;
        if seen > before + 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(seen > before + 1, "the held APPEND never reached node {coordinator}");
    c.wait_healthy(&[0, 1, 2], 3).await;
    let mut r3 = c.session(2);
    c.run(2, &mut r3, &["KV.CONSISTENCY", "R", "3"]).await;
    let got = c.run(2, &mut r3, &["GET", &key]).await;
    assert_eq!(
        got,
        bulk("c"),
        "the APPEND answered with an error after {answered_after:?} ran after the acknowledged SET"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_del_whose_answer_is_lost_is_not_resent_to_be_answered_0() {
    // A DEL's reply counts what it deleted. Its coordinator deletes the key and the answer is lost;
    // resent to the next replica, which already holds the tombstone, it would be answered 0 — a
    // lock released "only if DEL answered 1" would be fooled (the fault-injection checker saw it
    // under packet loss). The client must hear that the outcome is unknown instead.
    let c = SimCluster::start(3).await;
    let key = (0..1000)
        .map(|i| format!("del:{i}"))
        .find(|k| c.placement(0, k).0 == [1, 2, 0])
        .expect("a key coordinated by node 1, then node 2");
    let mut s = c.session(0);
    for _ in 0..8 {
        assert_eq!(c.run(0, &mut s, &["SET", &key, "v"]).await, cartwheel::resp::reply::Reply::ok());
    }
    c.net.hold(addr(1), addr(0));
    let reply = c.run(0, &mut s, &["DEL", &key]).await;
    c.net.release();
    match &reply {
        cartwheel::resp::reply::Reply::Error(e) => assert!(e.starts_with("NOQUORUM coordinator"), "{e}"),
        other => panic!("DEL answered {other:?} although its outcome is unknown to node 0"),
    }
    // It did run on node 1.
    let mut s2 = c.session(2);
    assert_eq!(c.run(2, &mut s2, &["GET", &key]).await, cartwheel::resp::reply::Reply::Nil);
    c.stop().await;
}
