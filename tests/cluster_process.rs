//! Real-process cluster tests: `cartwheel` processes on 127.0.0.2, 127.0.0.3, … talking over
//! real TCP, driven by the `redis` crate (plain and cluster clients) and `redis-cli -c`.

mod common;

use std::time::{Duration, Instant};

use common::cluster::ProcessCluster;
use redis::AsyncCommands;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_write_through_one_read_through_every_other() {
    let c = ProcessCluster::start(3, "").await;
    let mut n1 = c.conn(0).await;
    for i in 0..200 {
        let () = n1.set(format!("key:{i}"), format!("value:{i}")).await.unwrap();
    }
    for node in 1..3 {
        let mut conn = c.conn(node).await;
        for i in 0..200 {
            let v: Option<String> = conn.get(format!("key:{i}")).await.unwrap();
            assert_eq!(v.as_deref(), Some(format!("value:{i}").as_str()), "node {node} key:{i}");
        }
        let size: i64 = redis::cmd("DBSIZE").query_async(&mut conn).await.unwrap();
        assert_eq!(size, 200, "DBSIZE is cluster-wide on node {node}");
        let keys: Vec<String> = conn.keys("key:*").await.unwrap();
        assert_eq!(keys.len(), 200, "KEYS is cluster-wide on node {node}");
    }
    // With N = 3 on 3 nodes every node ends up holding every key (W = 2 acks, the third copy
    // arrives in the background).
    let start = Instant::now();
    'all: loop {
        for node in 0..3 {
            let mut conn = c.conn(node).await;
            let local: Vec<redis::Value> = redis::cmd("KV.LOCAL").arg("key:7").query_async(&mut conn).await.unwrap();
            if local.is_empty() {
                assert!(start.elapsed() < Duration::from_secs(10), "node {node} never got its replica of key:7");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue 'all;
            }
        }
        break;
    }
    // Read-modify-write stays atomic through forwarding: INCR from every node.
    let mut conns = [c.conn(0).await, c.conn(1).await, c.conn(2).await];
    for round in 0..30 {
        let _: i64 = conns[round % 3].incr("counter", 1).await.unwrap();
    }
    let total: i64 = conns[2].get("counter").await.unwrap();
    assert_eq!(total, 30);
    // MGET / MSET / DEL split across coordinators, no CROSSSLOT.
    let () = conns[1].mset(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]).await.unwrap();
    let got: Vec<Option<String>> = conns[2].mget(&["d", "nope", "a", "c", "b"]).await.unwrap();
    assert_eq!(got, vec![Some("4".into()), None, Some("1".into()), Some("3".into()), Some("2".into())]);
    let deleted: i64 = conns[0].del(&["a", "b", "c", "d", "nope"]).await.unwrap();
    assert_eq!(deleted, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_of_one_node_does_not_fail_quorum_traffic_and_it_rejoins_with_its_id() {
    let mut c = ProcessCluster::start(3, "").await;
    let id_before: String = redis::cmd("CLUSTER").arg("MYID").query_async(&mut c.conn(2).await).await.unwrap();
    c.kill9(2);
    // W = 2 / R = 2 traffic through the two survivors: no errors, even before the failure
    // detector has noticed (requests to the dead node fail fast and go to the next replica).
    let mut conns = [c.conn(0).await, c.conn(1).await];
    for i in 0..300 {
        let conn = &mut conns[i % 2];
        let () = conn.set(format!("k{i}"), i).await.unwrap_or_else(|e| panic!("SET k{i}: {e}"));
        let v: i64 = conns[(i + 1) % 2].get(format!("k{i}")).await.unwrap_or_else(|e| panic!("GET k{i}: {e}"));
        assert_eq!(v, i as i64);
    }
    // The survivors mark it failed.
    let start = Instant::now();
    while !c.cluster_nodes(0).await.unwrap().contains("fail") {
        assert!(start.elapsed() < Duration::from_secs(15), "node 3 never reported failed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.restart(2).await;
    c.wait_converged(Duration::from_secs(30)).await;
    let mut n3 = c.conn(2).await;
    let id_after: String = redis::cmd("CLUSTER").arg("MYID").query_async(&mut n3).await.unwrap();
    assert_eq!(id_before, id_after, "a restarted node keeps its id");
    // Keys written while it was down are readable through it (quorum read + read repair).
    for i in 0..300 {
        let v: i64 = n3.get(format!("k{i}")).await.unwrap();
        assert_eq!(v, i as i64);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_cluster_client_and_redis_cli_route_to_the_coordinator() {
    let c = ProcessCluster::start(5, "").await;
    // The redis crate's cluster client reads CLUSTER SLOTS and goes straight to coordinators.
    let client = redis::cluster::ClusterClient::new(vec![c.url(0)]).unwrap();
    let mut cc = client.get_async_connection().await.unwrap();
    for i in 0..100 {
        let () = cc.set(format!("user:{i}"), i).await.unwrap();
    }
    let before: u64 = forwarded(&c).await;
    for i in 0..100 {
        let v: i64 = cc.get(format!("user:{i}")).await.unwrap();
        assert_eq!(v, i);
    }
    // With N = 3 of 5 nodes, a plain client reads through a node that may hold no replica; the
    // cluster client never needs a hop.
    for node in 0..5 {
        let mut conn = c.conn(node).await;
        for i in (0..100).step_by(7) {
            let v: i64 = conn.get(format!("user:{i}")).await.unwrap();
            assert_eq!(v, i);
        }
    }
    let after: u64 = forwarded(&c).await;
    assert!(after > before, "plain clients on non-replica nodes are forwarded");
    let mut n2 = c.conn(1).await;
    let pl: Vec<redis::Value> = redis::cmd("KV.PREFLIST").arg("user:1").query_async(&mut n2).await.unwrap();
    let primaries = match &pl[1] {
        redis::Value::Array(a) => a.len(),
        v => panic!("unexpected preflist {v:?}"),
    };
    assert_eq!(primaries, 3);
    // redis-cli -c, when installed (CI installs it).
    if let Ok(out) = std::process::Command::new("redis-cli")
        .args(["-c", "-h", &c.slots[3].ip, "-p", &c.slots[3].port.to_string(), "get", "user:42"])
        .output()
    {
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42");
    }
}

async fn forwarded(c: &ProcessCluster) -> u64 {
    let mut total = 0;
    for node in 0..c.slots.len() {
        let info: String = redis::cmd("INFO").arg("cartwheel").query_async(&mut c.conn(node).await).await.unwrap();
        total += info
            .lines()
            .find_map(|l| l.strip_prefix("forwarded_requests:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_the_wrong_secret_cannot_join_nor_coordinate_and_says_why() {
    let c = ProcessCluster::start(2, "").await;
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let seed = format!("{}:{}", c.slots[0].ip, c.slots[0].cluster_port);
    let cport = common::free_port().to_string();
    let stranger = common::Process::start_at(
        "127.0.0.9",
        port,
        dir.path(),
        &["--cluster-secret", "wrong", "--seed", &seed, "--cluster-port", &cport],
    )
    .await;
    // Give gossip a few rounds: the stranger keeps trying, the members keep refusing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let nodes = c.cluster_nodes(0).await.unwrap();
    assert_eq!(nodes.lines().count(), 2, "the stranger must not appear: {nodes}");
    let mut s = redis::Client::open(format!("redis://127.0.0.9:{port}/"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let known: String = redis::cmd("CLUSTER").arg("NODES").query_async(&mut s).await.unwrap();
    assert_eq!(known.lines().count(), 1, "the stranger learns nobody: {known}");
    // It never coordinates as a cluster of one (it used to, 5 s after it started), and says why.
    let url = format!("redis://127.0.0.9:{port}/");
    common::refuses_for(&url, 5).await;
    let info = common::info_cluster(&url).await;
    assert_eq!(info["cluster_state_reason"], "not_joined");
    let why = &info["cluster_not_coordinating_because"];
    assert!(why.contains(&seed) && why.contains("last failed exchange"), "{why}");
    drop(stranger);
}

/// `field:calls=N,…` of `INFO commandstats`, or 0 when the command never ran.
fn calls(commandstats: &str, command: &str) -> u64 {
    let prefix = format!("cmdstat_{command}:calls=");
    commandstats
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

async fn info_section(conn: &mut redis::aio::MultiplexedConnection, section: &str) -> String {
    redis::cmd("INFO").arg(section).query_async(conn).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_command_is_counted_once_across_the_cluster() {
    let c = ProcessCluster::start(3, "").await;
    let mut conns = [c.conn(0).await, c.conn(1).await, c.conn(2).await];
    for conn in conns.iter_mut() {
        let () = redis::cmd("CONFIG").arg("RESETSTAT").query_async(conn).await.unwrap();
    }
    // All through node 1: with three nodes about two keys in three have another coordinator.
    for i in 0..60 {
        let () = conns[0].set(format!("counted:{i}"), i).await.unwrap();
        let _: i64 = redis::cmd("INCR").arg(format!("counted:{i}")).query_async(&mut conns[0]).await.unwrap();
    }
    let forwarded: u64 = field_of(&info_section(&mut conns[0], "cartwheel").await, "forwarded_requests");
    assert!(forwarded > 0, "no SET was forwarded: the test would prove nothing");
    let mut sets = 0;
    let mut incrs = 0;
    for conn in conns.iter_mut() {
        let stats = info_section(conn, "commandstats").await;
        sets += calls(&stats, "set");
        incrs += calls(&stats, "incr");
    }
    assert_eq!((sets, incrs), (60, 60), "each command is counted once, on the client's node ({forwarded} forwarded)");
}

fn field_of(info: &str, name: &str) -> u64 {
    let prefix = format!("{name}:");
    info.lines().find_map(|l| l.strip_prefix(prefix.as_str())).map_or(0, |v| v.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_lists_its_cluster_workers() {
    let c = ProcessCluster::start(2, "").await;
    for i in 0..2 {
        let mut conn = c.conn(i).await;
        let started = Instant::now();
        loop {
            let text = info_section(&mut conn, "workers").await;
            let state = |name: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(format!("worker_{name}:").as_str()))
                    .map(|v| v.split(',').map(str::to_string).collect::<Vec<_>>())
            };
            let names: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("worker_")?.split(':').next()).collect();
            assert_eq!(
                names,
                ["gossip", "hint_replay", "offload", "anti_entropy", "join", "topology", "rates", "expiry_sweep"],
                "node {i}"
            );
            // Joining is done once the node coordinates (the cluster converged before this);
            // anti-entropy's first round is its tree build.
            let join = state("join").unwrap();
            let gossip = state("gossip").unwrap();
            let aae = state("anti_entropy").unwrap();
            if join[0] == "state=stopped"
                && gossip[0] == "state=running"
                && gossip[1] != "rounds=0"
                && aae[0] == "state=running"
                && aae[1] != "rounds=0"
            {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "node {i} workers:\n{text}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
