//! Rpc over the simulated network with paused time: round trips, multiplexing, deadlines,
//! connection death, partitions, one-way loss, drop rate, delay, restarts and coalescing.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use tokio::time::Instant;

use super::{addr, cfg, client, wait_until, TestServer};
use crate::net::{Network, SimNetwork};
use crate::rpc::RpcError;

const SECOND: Duration = Duration::from_secs(1);

fn sim() -> (SimNetwork, Arc<dyn Network>) {
    let net = SimNetwork::new(7);
    let dyn_net: Arc<dyn Network> = Arc::new(net.clone());
    (net, dyn_net)
}

#[tokio::test(start_paused = true)]
async fn round_trip_carries_payload_errors_and_peer_info() {
    let (_, net) = sim();
    let (a, b) = (addr("10.0.0.1:7000"), addr("10.0.0.2:7000"));
    let server = TestServer::start(net.clone(), cfg(b)).await;
    let client_cfg = cfg(a);
    let me = client_cfg.node_id;
    let c = client(net, client_cfg);

    assert_eq!(c.call(b, Bytes::from_static(b"hello"), SECOND).await.unwrap(), "hello");
    assert_eq!(c.call(b, Bytes::new(), SECOND).await.unwrap(), "");
    assert_eq!(c.call(b, Bytes::from_static(b"fail"), SECOND).await, Err(RpcError::Remote("boom".into())));
    let who = c.call(b, Bytes::from_static(b"whoami"), SECOND).await.unwrap();
    let who = std::str::from_utf8(&who).unwrap().to_string();
    assert!(who.starts_with(&format!("{me} 10.0.0.1:7000 10.0.0.1:")), "{who}");

    let stats = c.stats();
    assert_eq!((stats.calls, stats.failures, stats.pending), (4, 1, 0));
    assert_eq!(server.server.stats().calls, 4);
    server.stop().await;
}

#[tokio::test(start_paused = true)]
async fn thousand_concurrent_calls_share_two_connections() {
    let (_, net) = sim();
    let (a, b) = (addr("10.0.0.1:7000"), addr("10.0.0.2:7000"));
    let server = TestServer::start(net.clone(), cfg(b)).await;
    let c = client(net, cfg(a));

    let calls = (0..1000).map(|i| {
        let c = c.clone();
        async move { (i, c.call(b, Bytes::from(format!("req-{i}")), 5 * SECOND).await) }
    });
    for (i, answer) in join_all(calls).await {
        assert_eq!(answer.unwrap(), format!("req-{i}"));
    }
    assert_eq!(c.stats().open_connections, 2);
    assert_eq!(c.stats().connections, 2);
    assert_eq!(server.server.stats().connections, 2);
    assert!(c.stats().flushes < 1000, "requests were coalesced: {:?}", c.stats());
    server.stop().await;
}

#[tokio::test(start_paused = true)]
async fn slow_handler_hits_the_deadline_without_blocking_the_connection() {
    let (_, net) = sim();
    let (a, b) = (addr("10.0.0.1:7000"), addr("10.0.0.2:7000"));
    let server = TestServer::start(net.clone(), cfg(b)).await;
    let mut client_cfg = cfg(a);
    client_cfg.conns_per_peer = 1;
    let c = client(net, client_cfg);
    c.call(b, Bytes::from_static(b"warm up"), SECOND).await.unwrap();

    let start = Instant::now();
    let slow = c.call(b, Bytes::from_static(b"slow"), SECOND);
    let fast = async {
        let answer = c.call(b, Bytes::from_static(b"fast"), SECOND).await;
        (answer, start.elapsed())
    };
    let (slow, (fast, fast_took)) = tokio::join!(slow, fast);
    assert_eq!(fast.unwrap(), "fast");
    assert!(fast_took < Duration::from_millis(10), "fast call waited {fast_took:?}");
    assert_eq!(slow, Err(RpcError::Timeout));
    assert!(start.elapsed() >= SECOND && start.elapsed() < SECOND + Duration::from_millis(10));
    let stats = c.stats();
    assert_eq!((stats.timeouts, stats.pending, stats.open_connections), (1, 0, 1));
    server.stop().await;
}

#[tokio::test(start_paused = true)]
async fn pending_calls_fail_at_once_when_the_connection_dies() {
    let (_, net) = sim();
    let (a, b) = (addr("10.0.0.1:7000"), addr("10.0.0.2:7000"));
    let server = TestServer::start(net.clone(), cfg(b)).await;
    let c = client(net, cfg(a));
    c.call(b, Bytes::from_static(b"warm up"), SECOND).await.unwrap();

    let start = Instant::now();
    let slow = tokio::spawn({
        let c = c.clone();
        async move { c.call(b, Bytes::from_static(b"slow"), 60 * SECOND).await }
    });
    let handler = Arc::clone(&server.handler);
    wait_until("the slow request reached the server", SECOND, || async {
        handler.requests.load(Ordering::SeqCst) == 2
    })
    .await;
    server.stop().await;
    assert_eq!(slow.await.unwrap(), Err(RpcError::Closed));
    assert!(start.elapsed() < SECOND);
    assert_eq!(c.stats().pending, 0);
}

#[tokio::test(start_paused = true)]
async fn partition_fails_calls_and_heal_restores_them() {
    let (sim, net) = sim();
    let (a, b) = (addr("10.0.0.1:7000"), addr("10.0.0.2:7000"));
    let server = TestServer::start(net.clone(), cfg(b)).await;
    let mut client_cfg = cfg(a);
    client_cfg.conns_per_peer = 1;
    let c = client(net.clone(), client_cfg);
    c.call(b, Bytes::from_static(b"before"), SECOND).await.unwrap();

    sim.partition(&[a], &[b]);
    // Open connections stop delivering: the call runs into its deadline.
    assert_eq!(c.call(b, Bytes::from_static(b"during"), SECOND).await, Err(RpcError::Timeout));
    // A fresh client cannot connect at all and fails fast.
    let fresh = client(net, cfg(a));
    let start = Instant::now();
    let err = fresh.call(b, Bytes::from_static(b"during"), 5 * SECOND).await.unwrap_err();
    assert!(matches!(err, RpcError::Unreachable(_)), "{err:?}");
    assert!(err.retryable());
    assert!(start.elapsed() < SECOND);
    // Backoff: the next call does not even dial.
    let err = fresh.call(b, Bytes::from_static(b"during"), 5 * SECOND).await.unwrap_err();
    assert!(matches!(&err, RpcError::Unreachable(m) if m.contains("backing off")), "{err:?}");

    sim.heal();
    assert_eq!(c.call(b, Bytes::from_static(b"after"), SECOND).await.unwrap(), "after");
    wait_until("the fresh client connects after the heal", 10 * SECOND, || async {
        fresh.call(b, Bytes::from_static(b"after"), SECOND).await.is_ok()
    })
    .await;
    server.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_live_connection_carries_calls_while_its_sibling_backs_off() {
    let (sim, net) = sim();
    let (a, b) = (addr("10.0.0.1:7000"), addr("10.0.0.2:7000"));
    let server = TestServer::start(net.clone(), cfg(b)).await;
    let mut client_cfg = cfg(a);
    client_cfg.conns_per_peer = 2;
    let c = client(net, client_cfg);
    // The first call opens one connection; the second slot stays empty.
    c.call(b, Bytes::from_static(b"one"), SECOND).await.unwrap();
    sim.partition(&[a], &[b]);
    // Calls alternate between the slots: the empty one cannot dial (the pool backs off), the open
    // one times out. Three calls end on a failed dial, so the backoff is still running at the heal.
    let mut dial_failures = 0;
    for _ in 0..3 {
        if matches!(c.call(b, Bytes::from_static(b"during"), SECOND).await, Err(RpcError::Unreachable(_))) {
            dial_failures += 1;
        }
    }
    assert_eq!(dial_failures, 2);
    sim.heal();
    // Right after the heal, every call succeeds: the slot still backing off hands its calls to
    // the connection that survived the partition.
    for i in 0..4 {
        let r = c.call(b, Bytes::from_static(b"after"), SECOND).await;
        assert!(r.is_ok(), "call {i} after heal: {r:?}");
    }
    server.stop().await;
}

#[tokio::test(start_paused = true)]
async fn isolated_node_is_unreachable_until_healed() {
    let (sim, net) = sim();
    let (a, b) = (addr("10.0.0.1:7000"), addr("10.0.0.2:7000"));
    let server = TestServer::start(net.clone(), cfg(b)).await;
    sim.isolate(b);
    let c = client(net, cfg(a));
    let err = c.call(b, Bytes::from_static(b"x"), SECOND).await.unwrap_err();
    assert!(matches!(err, RpcError::Unreachable(_)), "{err:?}");
    sim.heal();
    wait_until("the node is reachable again", 10 * SECOND, || async {
        c.call(b, Bytes::from_static(b"x"), SECOND).await.is_ok()
    })
    .await;
    server.stop().await;
}

#[tokio::test(start_paused = true)]
async fn one_way_loss_drops_one_direction_only() {
    let (sim, net) = sim();
    let (a, b) = (addr("10.0.0.1:7000"), addr("10.0.0.2:7000"));
    let server = TestServer::start(net.clone(), cfg(b)).await;
    let handler = Arc::clone(&server.handler);
    let c = client(net, cfg(a));
    c.call(b, Bytes::from_static(b"warm up"), SECOND).await.unwrap();
    c.call(b, Bytes::from_static(b"warm up"), SECOND).await.unwrap();

    // Replies lost: requests still arrive and run, one-way messages still arrive.
    sim.cut_one_way(b, a);
    assert_eq!(c.call(b, Bytes::from_static(b"lost reply"), SECOND).await, Err(RpcError::Timeout));
    assert_eq!(handler.requests.load(Ordering::SeqCst), 3);
    c.send(b, Bytes::from_static(b"gossip"));
    wait_until("the one-way message arrived", SECOND, || async { handler.one_way_count() == 1 }).await;

    // Requests lost: nothing reaches the handler.
    sim.heal();
    sim.cut_one_way(a, b);
    assert_eq!(c.call(b, Bytes::from_static(b"lost request"), SECOND).await, Err(RpcError::Timeout));
    c.send(b, Bytes::from_static(b"gossip"));
    tokio::time::sleep(SECOND).await; // paused time: every in-flight frame has been handled by now
    assert_eq!(handler.requests.load(Ordering::SeqCst), 3);
    assert_eq!(handler.one_way_count(), 1);
    assert!(sim.stats().dropped >= 3);

    sim.heal();
    assert_eq!(c.call(b, Bytes::from_static(b"healed"), SECOND).await.unwrap(), "healed");
    server.stop().await;
}

#[tokio::test(start_paused = true)]
async fn drop_rate_loses_a_seeded_share_of_frames() {
    let (sim, net) = sim();
    let (a, b) = (addr("10.0.0.1:7000"), addr("10.0.0.2:7000"));
    let server = TestServer::start(net.clone(), cfg(b)).await;
    let handler = Arc::clone(&server.handler);
    let c = client(net, cfg(a));
    c.call(b, Bytes::from_static(b"warm up"), SECOND).await.unwrap();
    c.call(b, Bytes::from_static(b"warm up"), SECOND).await.unwrap();

    sim.set_drop_rate(0.5);
    for i in 0..400 {
        c.send(b, Bytes::from(format!("gossip {i}")));
    }
    tokio::time::sleep(SECOND).await; // paused time: all frames have been delivered or dropped
    let arrived = handler.one_way_count();
    assert!((120..=280).contains(&arrived), "{arrived} of 400 arrived at drop rate 0.5");
    assert_eq!(sim.stats().dropped, 400 - arrived as u64);

    sim.set_drop_rate(0.0);
    for i in 0..100 {
        c.send(b, Bytes::from(format!("gossip {i}")));
    }
    wait_until("every message arrives without drops", SECOND, || async { handler.one_way_count() == arrived + 100 })
        .await;
    server.stop().await;
}

#[tokio::test(start_paused = true)]
async fn delay_is_added_to_every_frame() {
    let (sim, net) = sim();
    let (a, b) = (addr("10.0.0.1:7000"), addr("10.0.0.2:7000"));
    let server = TestServer::start(net.clone(), cfg(b)).await;
    let c = client(net, cfg(a));
    c.call(b, Bytes::from_static(b"warm up"), SECOND).await.unwrap();
    c.call(b, Bytes::from_static(b"warm up"), SECOND).await.unwrap();

    sim.set_delay(Duration::from_millis(100));
    let start = Instant::now();
    c.call(b, Bytes::from_static(b"delayed"), SECOND).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(200));
    assert_eq!(c.call(b, Bytes::from_static(b"x"), Duration::from_millis(150)).await, Err(RpcError::Timeout));
    server.stop().await;
}

#[tokio::test(start_paused = true)]
async fn client_reconnects_after_the_peer_restarts() {
    let (_, net) = sim();
    let (a, b) = (addr("10.0.0.1:7000"), addr("10.0.0.2:7000"));
    let server = TestServer::start(net.clone(), cfg(b)).await;
    let c = client(net.clone(), cfg(a));
    c.call(b, Bytes::from_static(b"first life"), SECOND).await.unwrap();
    server.stop().await;
    wait_until("the client noticed", SECOND, || async { c.stats().open_connections == 0 }).await;
    let err = c.call(b, Bytes::from_static(b"down"), SECOND).await.unwrap_err();
    assert!(err.retryable(), "{err:?}");

    let restarted = TestServer::start(net, cfg(b)).await;
    wait_until("calls succeed again", 10 * SECOND, || async {
        c.call(b, Bytes::from_static(b"second life"), SECOND).await.is_ok()
    })
    .await;
    assert_eq!(c.stats().connections, 2, "one connection per life");
    restarted.stop().await;
}

#[tokio::test(start_paused = true)]
async fn queued_one_way_frames_leave_in_one_flush() {
    let (_, net) = sim();
    let (a, b) = (addr("10.0.0.1:7000"), addr("10.0.0.2:7000"));
    let server = TestServer::start(net.clone(), cfg(b)).await;
    let handler = Arc::clone(&server.handler);
    let mut client_cfg = cfg(a);
    client_cfg.conns_per_peer = 1;
    let c = client(net, client_cfg);
    c.call(b, Bytes::from_static(b"warm up"), SECOND).await.unwrap();

    let before = c.stats();
    // No await between sends: the writer task only runs once all 100 are queued.
    for i in 0..100 {
        c.send(b, Bytes::from(format!("gossip {i}")));
    }
    wait_until("all 100 arrived", SECOND, || async { handler.one_way_count() == 100 }).await;
    let after = c.stats();
    assert_eq!(after.frames_sent - before.frames_sent, 100);
    assert_eq!(after.flushes - before.flushes, 1);
    let order: Vec<_> = handler.one_ways.lock().unwrap().iter().take(3).cloned().collect();
    assert_eq!(order, ["gossip 0", "gossip 1", "gossip 2"]);
    server.stop().await;
}

/// The late-request fence's arithmetic end to end: whatever the two nodes' clocks read and however
/// slow the link, the deadline a request arrives with is never after its caller's deadline, and
/// is earlier by no more than about one one-way delay.
#[tokio::test(start_paused = true)]
async fn a_request_arrives_with_its_callers_deadline_in_the_receivers_clock() {
    for (skew_us, delay_ms) in [(0i64, 0u64), (3_600_000_000, 40), (-3_600_000_000, 40), (-1_700_000_000_000_000, 5)] {
        let (sim_net, net) = sim();
        sim_net.set_delay(Duration::from_millis(delay_ms));
        let (a, b) = (addr("10.0.0.1:7000"), addr("10.0.0.2:7000"));
        let mut server_cfg = cfg(b);
        let base = 1_800_000_000_000_000u64;
        server_cfg.clock = crate::rpc::LocalClock::starting_at(base.saturating_add_signed(skew_us));
        let mut client_cfg = cfg(a);
        client_cfg.clock = crate::rpc::LocalClock::starting_at(base);
        let server = TestServer::start(net.clone(), server_cfg).await;
        let c = client(net, client_cfg);
        for timeout in [SECOND, 10 * SECOND] {
            let called = Instant::now();
            c.call(b, Bytes::from_static(b"hi"), timeout).await.unwrap();
            let arrived = server.handler.deadlines.lock().unwrap().pop().flatten().expect("a deadline");
            let caller = called + timeout;
            assert!(arrived <= caller, "skew {skew_us} µs: the receiver's deadline is after the caller's");
            let slack = Duration::from_millis(delay_ms) + timeout / 1000 + Duration::from_millis(1);
            assert!(arrived + slack >= caller, "skew {skew_us} µs: deadline {:?} too early", caller - arrived);
        }
        server.stop().await;
    }
}
