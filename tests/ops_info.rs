//! `INFO` numbers that must move like Redis's, read from a real `cartwheel` process over TCP:
//! `keyspace_hits` / `keyspace_misses` per key looked up by a read, and the `instantaneous_*`
//! rates (sampled every 100 ms over 16 samples) under load and back to 0 after it.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_port, Process};
use redis::AsyncCommands;

async fn info(conn: &mut redis::aio::MultiplexedConnection, section: &str) -> String {
    redis::cmd("INFO").arg(section).query_async(conn).await.unwrap()
}

fn field(info: &str, name: &str) -> Option<f64> {
    info.lines().find_map(|l| l.strip_prefix(&format!("{name}:"))).and_then(|v| v.trim().parse().ok())
}

async fn start() -> (Process, tempfile::TempDir, redis::aio::MultiplexedConnection) {
    let dir = tempfile::tempdir().unwrap();
    let p = Process::start(dir.path(), free_port(), &["--fsync", "no"]).await;
    let conn = redis::Client::open(p.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    (p, dir, conn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspace_hits_and_misses_count_each_key_a_read_looks_up() {
    let (_p, _dir, mut c) = start().await;
    let () = c.set("here", "1").await.unwrap();
    let _: Option<String> = c.get("here").await.unwrap();
    let _: Option<String> = c.get("absent").await.unwrap();
    let _: Vec<Option<String>> = c.mget(&["here", "absent", "here"]).await.unwrap();
    let _: i64 = c.strlen("absent").await.unwrap();
    let stats = info(&mut c, "stats").await;
    assert_eq!(field(&stats, "keyspace_hits"), Some(3.0), "GET here + MGET here here:\n{stats}");
    assert_eq!(field(&stats, "keyspace_misses"), Some(3.0), "GET absent + MGET absent + STRLEN absent:\n{stats}");
    // Writes are not lookups.
    let () = c.set("other", "2").await.unwrap();
    let stats = info(&mut c, "stats").await;
    assert_eq!(field(&stats, "keyspace_hits"), Some(3.0));
    let () = redis::cmd("CONFIG").arg("RESETSTAT").query_async(&mut c).await.unwrap();
    let stats = info(&mut c, "stats").await;
    assert_eq!((field(&stats, "keyspace_hits"), field(&stats, "keyspace_misses")), (Some(0.0), Some(0.0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instantaneous_rates_follow_the_load() {
    let (p, _dir, mut c) = start().await;
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let stop = Arc::clone(&stop);
        let mut conn = redis::Client::open(p.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let mut pipe = redis::pipe();
                for i in 0..50 {
                    pipe.set(format!("k{i}"), "some value").ignore().get(format!("k{i}")).ignore();
                }
                let () = pipe.query_async(&mut conn).await.unwrap();
            }
        })
    };
    let start = Instant::now();
    loop {
        let stats = info(&mut c, "stats").await;
        let ops = field(&stats, "instantaneous_ops_per_sec").unwrap_or(0.0);
        let kin = field(&stats, "instantaneous_input_kbps").unwrap_or(0.0);
        let kout = field(&stats, "instantaneous_output_kbps").unwrap_or(0.0);
        if ops > 100.0 && kin > 0.0 && kout > 0.0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "rates never rose under load:\n{stats}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    // 16 samples of 100 ms: the rate falls back once the samples taken under load are gone.
    let start = Instant::now();
    loop {
        let stats = info(&mut c, "stats").await;
        // Our own INFO calls are the only load left: at most a few dozen per second.
        if field(&stats, "instantaneous_ops_per_sec").unwrap_or(f64::MAX) < 50.0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "rates never fell after the load:\n{stats}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `worker_<name>:state=…,rounds=…,last_round_ms_ago=…` lines of `INFO workers`, by name.
fn workers(info: &str) -> Vec<(String, String, u64)> {
    info.lines()
        .filter_map(|l| l.strip_prefix("worker_"))
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let get = |k: &str| rest.split(',').find_map(|kv| kv.trim().strip_prefix(k)).map(str::to_string);
            Some((name.to_string(), get("state=")?, get("rounds=")?.parse().ok()?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_workers_lists_each_background_worker_with_its_rounds() {
    let (_p, _dir, mut c) = start().await;
    let started = Instant::now();
    loop {
        let listed = workers(&info(&mut c, "workers").await);
        let names: Vec<&str> = listed.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names, ["rates", "expiry_sweep"], "a standalone node's workers");
        assert!(listed.iter().all(|(_, state, _)| state == "running"), "{listed:?}");
        if listed.iter().all(|(_, _, rounds)| *rounds > 0) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "a worker never finished a round: {listed:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let default = info(&mut c, "default").await;
    assert!(default.contains("# Workers"), "INFO with no argument includes the workers:\n{default}");
}
