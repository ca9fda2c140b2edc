//! Real processes and `kill -9`: with `fsync = always`, every acknowledged write survives; with
//! the default policy a graceful restart keeps everything and the node id.

mod common;

use common::{free_port, Process};
use redis::AsyncCommands;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_with_fsync_always() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut p = Process::start(dir.path(), port, &["--fsync", "always"]).await;
    // Several writers; each records what the server acknowledged.
    let mut tasks = Vec::new();
    for w in 0..8 {
        let url = p.url();
        tasks.push(tokio::spawn(async move {
            let mut c = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
            let mut acked = Vec::new();
            for i in 0..200 {
                let key = format!("w{w}:{i}");
                let r: redis::RedisResult<()> = c.set(&key, i).await;
                if r.is_ok() {
                    acked.push(key);
                }
            }
            acked
        }));
    }
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    p.kill9();
    let p = Process::start(dir.path(), port, &["--fsync", "always"]).await;
    let mut c = redis::Client::open(p.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    for key in &acked {
        let v: Option<i64> = c.get(key).await.unwrap();
        assert!(v.is_some(), "acknowledged write {key} lost after kill -9");
    }
    assert_eq!(acked.len(), 1600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_survive_kill_9_with_the_default_policy_and_the_node_id_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut p = Process::start(dir.path(), port, &[]).await;
    let mut c = redis::Client::open(p.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    for i in 0..500 {
        let _: () = c.set(format!("k{i}"), i).await.unwrap();
    }
    let id1 = std::fs::read_to_string(dir.path().join("node.id")).unwrap();
    // The journal buffer is handed to the OS before each reply, so a process crash loses nothing.
    p.kill9();
    let p = Process::start(dir.path(), port, &[]).await;
    let mut c = redis::Client::open(p.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    for i in 0..500 {
        let v: i64 = c.get(format!("k{i}")).await.unwrap();
        assert_eq!(v, i);
    }
    let n: i64 = redis::cmd("DBSIZE").query_async(&mut c).await.unwrap();
    assert_eq!(n, 500);
    assert_eq!(std::fs::read_to_string(dir.path().join("node.id")).unwrap(), id1);
}
