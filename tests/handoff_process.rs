//! Always writeable, with real processes (issue 4): `cartwheel` processes on 127.0.0.x, a write
//! load through the `redis` crate, `kill -9` of a replica in the middle of it and a restart. At
//! W = 2 with at least two nodes alive no write may fail, and afterwards every acknowledged key
//! must reach all N of its primary replicas (hinted handoff) within a bounded time, which the
//! test prints.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::cluster::ProcessCluster;
use redis::AsyncCommands;
use tokio::sync::Mutex;

/// Writers per test, each on its own surviving node.
const WRITERS: usize = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_kill9_and_restart_during_writes_lose_nothing() {
    kill9_during_writes(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_kill9_and_restart_during_writes_lose_nothing() {
    kill9_during_writes(5).await;
}

async fn kill9_during_writes(n: usize) {
    let mut c = ProcessCluster::start(n, "").await;
    let victim = n - 1;
    let acked: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let mut conn = c.conn(w).await;
        let (acked, count, stopping) = (Arc::clone(&acked), Arc::clone(&count), Arc::clone(&stopping));
        writers.push(tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut failures = Vec::new();
            for i in 0..100_000 {
                if stopping.load(Ordering::Relaxed) || Instant::now() > deadline {
                    break;
                }
                let key = format!("cart:{w}:{i}");
                match conn.set::<_, _, ()>(&key, i).await {
                    Ok(()) => {
                        acked.lock().await.push(key);
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => failures.push(format!("{key}: {e}")),
                }
            }
            failures
        }));
    }
    let wait_for = |target: usize| {
        let count = Arc::clone(&count);
        async move {
            let start = Instant::now();
            while count.load(Ordering::Relaxed) < target {
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "writes stalled at {}",
                    count.load(Ordering::Relaxed)
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    wait_for(300).await;
    c.kill9(victim);
    let killed_at = count.load(Ordering::Relaxed);
    // Keep writing while the failure detector notices, then for a while with the node down.
    wait_for(killed_at + 1500).await;
    c.restart(victim).await;
    let restarted = Instant::now();
    let restarted_at = count.load(Ordering::Relaxed);
    wait_for(restarted_at + 500).await;
    stopping.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for w in writers {
        failures.extend(w.await.unwrap());
    }
    assert!(
        failures.is_empty(),
        "{} writes failed at W=2 with {} of {n} nodes alive: {:?}",
        failures.len(),
        n - 1,
        &failures[..failures.len().min(5)]
    );
    let keys = acked.lock().await.clone();
    c.wait_converged(Duration::from_secs(30)).await;

    // Every acknowledged key must reach all N of its primary replicas.
    let mut missing = primaries_of(&c, &keys).await;
    let total: usize = missing.values().map(Vec::len).sum();
    let check_start = Instant::now();
    loop {
        for (node, keys) in missing.iter_mut() {
            let mut conn = c.conn(*node).await;
            let mut pipe = redis::pipe();
            for k in keys.iter() {
                pipe.cmd("KV.LOCAL").arg(k);
            }
            let locals: Vec<Vec<redis::Value>> = pipe.query_async(&mut conn).await.unwrap();
            let mut still = Vec::new();
            for (k, local) in keys.iter().zip(locals) {
                if local.is_empty() {
                    still.push(k.clone());
                }
            }
            *keys = still;
        }
        missing.retain(|_, k| !k.is_empty());
        if missing.is_empty() {
            break;
        }
        let left: usize = missing.values().map(Vec::len).sum();
        assert!(
            check_start.elapsed() < Duration::from_secs(60),
            "{left} of {total} replica copies still missing 60 s after the writes stopped"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "{n} nodes: {} acknowledged writes ({} while node {} was down), 0 failed; all {total} replica copies \
         present {:.1} s after the restart ({:.1} s after the load stopped)",
        keys.len(),
        restarted_at - killed_at,
        victim + 1,
        restarted.elapsed().as_secs_f64(),
        check_start.elapsed().as_secs_f64(),
    );
    let mut conn = c.conn(0).await;
    let info: String = redis::cmd("INFO").arg("cartwheel").query_async(&mut conn).await.unwrap();
    let field = |f: &str| info.lines().find(|l| l.starts_with(f)).unwrap_or("").to_string();
    eprintln!("node 1: {} {} {}", field("sloppy_writes"), field("hinted_by_coordinator"), field("hints_delivered"));
}

/// `KV.PREFLIST` → `[slot, [[id, ip, port]…] primaries, fallbacks]`.
type PrefList = (i64, Vec<(String, String, u16)>, redis::Value);

/// Which node (index) must hold which keys: every key under each of its N primaries.
async fn primaries_of(c: &ProcessCluster, keys: &[String]) -> HashMap<usize, Vec<String>> {
    let mut conn = c.conn(0).await;
    let mut out: HashMap<usize, Vec<String>> = HashMap::new();
    for chunk in keys.chunks(500) {
        let mut pipe = redis::pipe();
        for k in chunk {
            pipe.cmd("KV.PREFLIST").arg(k);
        }
        let lists: Vec<PrefList> = pipe.query_async(&mut conn).await.unwrap();
        for (k, (_, primaries, _)) in chunk.iter().zip(lists) {
            for (_, ip, _) in primaries {
                let node = c.slots.iter().position(|s| s.ip == ip).expect("a known node");
                out.entry(node).or_default().push(k.clone());
            }
        }
    }
    out
}
