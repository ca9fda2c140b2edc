//! The late-forward fence, with real processes: a forwarded write that reaches its coordinator
//! after the forwarding node stopped waiting for it must not take effect, or it would roll back
//! writes acknowledged in the meantime.
//!
//! The scenario, deterministic: three nodes (N = 3, R = W = 2); the client talks to node A, which
//! is not the coordinator C of the key. C is frozen with SIGSTOP, so A's forward of `SET k v1`
//! waits in C's socket buffer; A's call times out and A resends the `SET` to the next replica,
//! which acknowledges it; the client's next `SET k v2` is acknowledged too. Then C is thawed
//! (SIGCONT): it reads the stale forward. Without the fence C ran it with its *then* context and
//! a new timestamp, so `v1` superseded the acknowledged `v2` — every replica read `v1` after the
//! heal. With the fence C drops it as late, and `v2` stays.

mod common;

use std::time::Duration;

use common::cluster::ProcessCluster;
use redis::aio::MultiplexedConnection;
use redis::Value;

/// The node id of the coordinator (first primary) of `key`, from `KV.PREFLIST`.
async fn coordinator_of(conn: &mut MultiplexedConnection, key: &str) -> String {
    let v: Value = redis::cmd("KV.PREFLIST").arg(key).query_async(conn).await.unwrap();
    let Value::Array(parts) = v else { panic!("KV.PREFLIST answered {v:?}") };
    let Value::Array(primaries) = &parts[1] else { panic!("no primaries in {parts:?}") };
    let Value::Array(first) = &primaries[0] else { panic!("bad entry {primaries:?}") };
    redis::from_redis_value(first[0].clone()).unwrap()
}

/// Forwarded requests node `conn` has read: run, or dropped as late.
async fn forwards_in(conn: &mut MultiplexedConnection) -> u64 {
    info_field(conn, "cartwheel", "forwarded_requests_in").await.unwrap_or(0)
        + info_field(conn, "cartwheel", "late_requests_dropped").await.unwrap_or(0)
}

async fn info_field(conn: &mut MultiplexedConnection, section: &str, field: &str) -> Option<u64> {
    let text: String = redis::cmd("INFO").arg(section).query_async(conn).await.ok()?;
    text.lines().find_map(|l| l.strip_prefix(&format!("{field}:"))).and_then(|v| v.trim().parse().ok())
}

/// A connection to node `i` that waits long enough for a forward to time out and be resent.
async fn patient(c: &ProcessCluster, i: usize) -> MultiplexedConnection {
    let cfg = redis::AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(20)));
    redis::Client::open(c.url(i)).unwrap().get_multiplexed_async_connection_with_config(&cfg).await.unwrap()
}

fn signal(c: &ProcessCluster, i: usize, sig: i32) {
    let pid = c.procs[i].as_ref().and_then(|p| p.child.as_ref()).map(|ch| ch.id()).expect("node runs");
    // SAFETY: kill(2) with a pid we spawned and a valid signal number.
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0, "kill({pid}, {sig})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_delivered_after_its_deadline_does_not_roll_back_later_writes() {
    let c = ProcessCluster::start(3, "").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let mut conn = c.conn(i).await;
        ids.push(redis::cmd("CLUSTER").arg("MYID").query_async::<String>(&mut conn).await.unwrap());
    }
    // A key whose coordinator is node 2 (C); the client uses node 0 (A).
    let mut a = patient(&c, 0).await;
    let mut key = String::new();
    for i in 0..1000 {
        let k = format!("late:{i}");
        if coordinator_of(&mut a, &k).await == ids[2] {
            key = k;
            break;
        }
    }
    assert!(!key.is_empty(), "no key coordinated by node 2 among 1000");
    // Forwarded writes open A's connections to C (every pooled one), so the next forward is
    // written on an established connection rather than stuck in a handshake.
    for _ in 0..8 {
        let _: () = redis::cmd("SET").arg(&key).arg("v0").query_async(&mut a).await.unwrap();
    }

    let mut cc = c.conn(2).await;
    let before = forwards_in(&mut cc).await;
    signal(&c, 2, libc::SIGSTOP);
    // A forwards to C (still healthy in its view); the call times out, the SET is resent to the
    // next replica and acknowledged there.
    let r1: redis::RedisResult<()> = redis::cmd("SET").arg(&key).arg("v1").query_async(&mut a).await;
    let r2: redis::RedisResult<()> = redis::cmd("SET").arg(&key).arg("v2").query_async(&mut a).await;
    signal(&c, 2, libc::SIGCONT);
    r1.expect("SET v1 acknowledged by the next replica");
    r2.expect("SET v2 acknowledged");

    // C reads the forward it was sent while frozen (executed before the fence, dropped after).
    let mut seen = before;
    for _ in 0..100 {
        seen = forwards_in(&mut cc).await;
        if seen > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen > before, "node 2 never read the forward sent to it while frozen");
    let dropped = info_field(&mut cc, "cartwheel", "late_requests_dropped").await.unwrap_or(0)
        + info_field(&mut cc, "cartwheel", "late_writes_refused").await.unwrap_or(0);
    println!("node 2: {} forwarded requests read since the freeze, {dropped} refused as late", seen - before);
    c.wait_converged(Duration::from_secs(30)).await;

    // Every node, reading all three replicas (R = 3, so read repair settles any difference),
    // must say v2.
    for i in 0..3 {
        let mut conn = c.conn(i).await;
        let _: () = redis::cmd("KV.CONSISTENCY").arg("R").arg(3).query_async(&mut conn).await.unwrap();
        let got: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut conn).await.unwrap();
        let siblings: Value = redis::cmd("KV.GET").arg(&key).query_async(&mut conn).await.unwrap();
        assert_eq!(
            got.as_deref(),
            Some("v2"),
            "node {i}: the acknowledged v2 was rolled back by the late forward of v1 (KV.GET: {siblings:?})"
        );
    }
}
