//! Honest cluster state, on real `cartwheel` processes over loopback TCP: `CLUSTER INFO` says
//! `cluster_state:fail` while this node cannot reach a write quorum or has not joined its
//! cluster, and `ok` again once it can; quorums beyond N are refused; a node with another N is
//! refused at join; `--cluster-secret` alone starts a cluster node.

mod common;

use std::time::{Duration, Instant};

use common::cluster::{ProcessCluster, SECRET};
use common::{free_port, log_tail, Process};

async fn conn(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap()
}

fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|l| l.strip_prefix(&format!("{name}:"))).map(str::trim)
}

async fn cluster_info(url: &str) -> String {
    redis::cmd("CLUSTER").arg("INFO").query_async(&mut conn(url).await).await.unwrap()
}

async fn info(url: &str, section: &str) -> String {
    redis::cmd("INFO").arg(section).query_async(&mut conn(url).await).await.unwrap()
}

/// Waits until `CLUSTER INFO` of the node at `url` says `cluster_state:<state>`.
async fn wait_state(url: &str, state: &str, within: Duration) -> String {
    let start = Instant::now();
    loop {
        let text = cluster_info(url).await;
        if field(&text, "cluster_state") == Some(state) {
            return text;
        }
        assert!(start.elapsed() < within, "cluster_state never became {state} on {url}:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_write_quorum_fails_the_cluster_state_and_it_recovers() {
    let mut c = ProcessCluster::start(3, "").await;
    let ok = wait_state(&c.url(0), "ok", Duration::from_secs(10)).await;
    assert_eq!(field(&ok, "cluster_slots_ok"), Some("16384"));
    assert_eq!(field(&ok, "cluster_state_reason"), Some("ok"));
    c.kill9(1);
    c.kill9(2);
    // suspect-after-ms is 1.5 s in these clusters.
    let fail = wait_state(&c.url(0), "fail", Duration::from_secs(15)).await;
    assert_eq!(field(&fail, "cluster_slots_ok"), Some("0"), "W=2 of N=3 with one node up: no slot\n{fail}");
    assert_eq!(field(&fail, "cluster_state_reason"), Some("no_write_quorum"));
    let stats = info(&c.url(0), "cluster").await;
    assert_eq!(field(&stats, "cluster_state"), Some("fail"), "{stats}");
    assert_eq!(field(&stats, "cluster_state_reason"), Some("no_write_quorum"), "{stats}");
    // One node back is enough for W=2.
    c.restart(1).await;
    let ok = wait_state(&c.url(0), "ok", Duration::from_secs(30)).await;
    assert_eq!(field(&ok, "cluster_slots_ok"), Some("16384"));
    c.restart(2).await;
    c.wait_converged(Duration::from_secs(30)).await;
    wait_state(&c.url(2), "ok", Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_the_wrong_secret_reports_fail() {
    let c = ProcessCluster::start(1, "").await;
    wait_state(&c.url(0), "ok", Duration::from_secs(10)).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let seed = format!("{}:{}", c.slots[0].ip, c.slots[0].cluster_port);
    let cport = free_port().to_string();
    let _stranger = Process::start_at(
        "127.0.0.9",
        port,
        dir.path(),
        &["--cluster-secret", "wrong", "--seed", &seed, "--cluster-port", &cport],
    )
    .await;
    let url = format!("redis://127.0.0.9:{port}/");
    let text = wait_state(&url, "fail", Duration::from_secs(10)).await;
    assert_eq!(field(&text, "cluster_state_reason"), Some("not_joined"), "{text}");
    // Still failed after patience ran out and it serves on its own.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let text = cluster_info(&url).await;
    assert_eq!(field(&text, "cluster_state"), Some("fail"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_consistency_beyond_n_is_an_error() {
    let c = ProcessCluster::start(3, "").await;
    let mut s = c.conn(0).await;
    for args in [["W", "5"], ["R", "4"], ["W", "0"]] {
        let r: redis::RedisResult<()> = redis::cmd("KV.CONSISTENCY").arg(&args[..]).query_async(&mut s).await;
        let e = r.expect_err("a quorum outside 1..=N must be refused");
        assert!(e.to_string().contains("between 1 and 3") || args[1] == "0", "{args:?}: {e}");
    }
    let () = redis::cmd("KV.CONSISTENCY").arg("W").arg(3).arg("R").arg(1).query_async(&mut s).await.unwrap();
    let shown: Vec<redis::Value> = redis::cmd("KV.CONSISTENCY").query_async(&mut s).await.unwrap();
    let (r, w) = (shown.get(3), shown.get(5));
    assert_eq!((r, w), (Some(&redis::Value::Int(1)), Some(&redis::Value::Int(3))), "{shown:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_another_replica_count_is_refused_at_join() {
    let c = ProcessCluster::start(2, "").await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let seed = format!("{}:{}", c.slots[0].ip, c.slots[0].cluster_port);
    let cport = free_port().to_string();
    let _odd = Process::start_at(
        "127.0.0.9",
        port,
        dir.path(),
        &[
            "--cluster-secret",
            SECRET,
            "--seed",
            &seed,
            "--cluster-port",
            &cport,
            "--replicas",
            "2",
            "--read-quorum",
            "1",
            "--write-quorum",
            "1",
        ],
    )
    .await;
    let start = Instant::now();
    loop {
        let text = info(&c.url(0), "cluster").await;
        if field(&text, "cluster_members_refused") == Some("1") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "the member with N=2 was not refused:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let nodes = c.cluster_nodes(0).await.unwrap();
    assert_eq!(nodes.lines().count(), 2, "the refused node is no member: {nodes}");
    let url = format!("redis://127.0.0.9:{port}/");
    let text = wait_state(&url, "fail", Duration::from_secs(10)).await;
    assert_eq!(field(&text, "cluster_state_reason"), Some("not_joined"), "{text}");
    let log = log_tail(dir.path(), 200);
    assert!(log.contains("refus"), "the refused node says why in its log:\n{log}");
    let log = log_tail(&c.slots[0].dir, 200);
    assert!(log.contains("refus"), "the member says why in its log:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_secret_alone_starts_a_cluster_node() {
    let dir = tempfile::tempdir().unwrap();
    let p = Process::start(dir.path(), free_port(), &["--cluster-secret", "s3cret"]).await;
    let text = info(&p.url(), "cluster").await;
    assert_eq!(field(&text, "cluster_enabled"), Some("1"), "{text}");
    let text = cluster_info(&p.url()).await;
    assert_eq!(field(&text, "cluster_state"), Some("ok"), "a cluster of one without seeds is whole:\n{text}");
}
