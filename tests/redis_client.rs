//! The `redis` crate (a real client library) against a node, over RESP2 and RESP3: commands
//! behave like Redis, read-modify-write commands are atomic under concurrency, `KV.*` exposes
//! contexts and siblings.

mod common;

use common::TestNode;
use redis::AsyncCommands;

async fn conn(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap()
}

async fn string_commands(url: String) {
    let mut c = conn(&url).await;
    let _: () = c.set("s", "hello").await.unwrap();
    let v: String = c.get("s").await.unwrap();
    assert_eq!(v, "hello");
    let n: i64 = c.append("s", " world").await.unwrap();
    assert_eq!(n, 11);
    let r: String = redis::cmd("GETRANGE").arg("s").arg(-5).arg(-1).query_async(&mut c).await.unwrap();
    assert_eq!(r, "world");
    let _: () = c.set_ex("t", "v", 100).await.unwrap();
    let ttl: i64 = c.ttl("t").await.unwrap();
    assert!((99..=100).contains(&ttl));
    let old: Option<String> =
        redis::cmd("SET").arg("t").arg("w").arg("KEEPTTL").arg("GET").query_async(&mut c).await.unwrap();
    assert_eq!(old.as_deref(), Some("v"));
    let ttl: i64 = c.ttl("t").await.unwrap();
    assert!(ttl > 0);
    let nx: Option<String> = redis::cmd("SET").arg("t").arg("x").arg("NX").query_async(&mut c).await.unwrap();
    assert_eq!(nx, None);
    let _: () = c.mset(&[("a", "1"), ("b", "2")]).await.unwrap();
    let got: Vec<Option<String>> = c.mget(&["a", "b", "zz"]).await.unwrap();
    assert_eq!(got, vec![Some("1".into()), Some("2".into()), None]);
    let n: i64 = c.incr("a", 41).await.unwrap();
    assert_eq!(n, 42);
    let f: f64 = redis::cmd("INCRBYFLOAT").arg("a").arg("0.5").query_async(&mut c).await.unwrap();
    assert_eq!(f, 42.5);
    let e: redis::RedisResult<i64> = c.incr("s", 1).await;
    assert!(e.unwrap_err().to_string().contains("not an integer"));
    let deleted: i64 = c.del(&["a", "b", "nope"]).await.unwrap();
    assert_eq!(deleted, 2);
    let exists: i64 = c.exists(&["a", "s"]).await.unwrap();
    assert_eq!(exists, 1);
    let _: () = c.rename("s", "s2").await.unwrap();
    let t: String = redis::cmd("TYPE").arg("s2").query_async(&mut c).await.unwrap();
    assert_eq!(t, "string");
}

#[tokio::test]
async fn strings_over_resp2() {
    let node = TestNode::start().await;
    string_commands(node.url()).await;
    node.stop().await;
}

#[tokio::test]
async fn strings_over_resp3() {
    let node = TestNode::start().await;
    string_commands(format!("{}?protocol=resp3", node.url())).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clients_incr_a_thousand_times_leave_exactly_fifty_thousand() {
    let node = TestNode::start().await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let url = node.url();
        tasks.push(tokio::spawn(async move {
            let mut c = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
            for _ in 0..1000 {
                let _: i64 = c.incr("counter", 1).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut c = conn(&node.url()).await;
    let v: i64 = c.get("counter").await.unwrap();
    assert_eq!(v, 50_000);
    node.stop().await;
}

#[tokio::test]
async fn scan_returns_every_key_exactly_once_without_concurrent_writes() {
    let node = TestNode::start().await;
    let mut c = conn(&node.url()).await;
    for i in 0..1000 {
        let _: () = c.set(format!("key:{i}"), i).await.unwrap();
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) =
            redis::cmd("SCAN").arg(cursor).arg("COUNT").arg(37).query_async(&mut c).await.unwrap();
        for k in keys {
            assert!(seen.insert(k));
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen.len(), 1000);
    let n: i64 = redis::cmd("DBSIZE").query_async(&mut c).await.unwrap();
    assert_eq!(n, 1000);
    let matching: Vec<String> = c.keys("key:99*").await.unwrap();
    assert_eq!(matching.len(), 11);
    node.stop().await;
}

#[tokio::test]
async fn kv_put_with_a_stale_context_makes_siblings_and_a_merge_resolves_them() {
    let node = TestNode::start().await;
    let mut c = conn(&node.url()).await;
    let _: () = c.set("cart", "apple").await.unwrap();
    let (ctx, values): (String, Vec<String>) = redis::cmd("KV.GET").arg("cart").query_async(&mut c).await.unwrap();
    assert_eq!(values, vec!["apple"]);
    // Two writers both read `ctx`, then write concurrently.
    let _: () = redis::cmd("KV.PUT").arg("cart").arg(&ctx).arg("apple,banana").query_async(&mut c).await.unwrap();
    let _: () = redis::cmd("KV.PUT").arg("cart").arg(&ctx).arg("apple,cherry").query_async(&mut c).await.unwrap();
    let (ctx2, mut values): (String, Vec<String>) = redis::cmd("KV.GET").arg("cart").query_async(&mut c).await.unwrap();
    values.sort();
    assert_eq!(values, vec!["apple,banana", "apple,cherry"]);
    // Plain GET still returns one value: the newest.
    let plain: String = c.get("cart").await.unwrap();
    assert_eq!(plain, "apple,cherry");
    // The client merges with the context it read: one value again.
    let _: () =
        redis::cmd("KV.PUT").arg("cart").arg(&ctx2).arg("apple,banana,cherry").query_async(&mut c).await.unwrap();
    let (_, values): (String, Vec<String>) = redis::cmd("KV.GET").arg("cart").query_async(&mut c).await.unwrap();
    assert_eq!(values, vec!["apple,banana,cherry"]);
    let bad: redis::RedisResult<()> =
        redis::cmd("KV.PUT").arg("cart").arg("garbage").arg("x").query_async(&mut c).await;
    assert!(bad.unwrap_err().to_string().contains("invalid causal context"));
    node.stop().await;
}

#[tokio::test]
async fn expired_keys_vanish_lazily_and_actively() {
    let node = TestNode::start_with(|c| c.hz = 50).await;
    let mut c = conn(&node.url()).await;
    for i in 0..20 {
        let _: () =
            redis::cmd("SET").arg(format!("e{i}")).arg("v").arg("PX").arg(50).query_async(&mut c).await.unwrap();
    }
    let _: () = c.set("keep", "v").await.unwrap();
    let coord = std::sync::Arc::clone(&node.handle.as_ref().unwrap().node().coord);
    common::wait_until("active expiry to reclaim keys", std::time::Duration::from_secs(5), || coord.dbsize() == 1)
        .await;
    let v: Option<String> = c.get("e3").await.unwrap();
    assert_eq!(v, None);
    node.stop().await;
}

#[tokio::test]
async fn info_keyspace_counts_expires_and_client_list_names_subcommands() {
    let node = TestNode::start().await;
    let mut c = conn(&node.url()).await;
    let _: () = c.set_ex("t1", "v", 100).await.unwrap();
    let _: () = c.set_ex("t2", "v", 100).await.unwrap();
    let _: () = c.set("p", "v").await.unwrap();
    let info: String = redis::cmd("INFO").arg("keyspace").query_async(&mut c).await.unwrap();
    assert!(info.contains("db0:keys=3,expires=2,avg_ttl=0"), "{info}");
    let _: bool = c.persist("t1").await.unwrap();
    let info: String = redis::cmd("INFO").arg("keyspace").query_async(&mut c).await.unwrap();
    assert!(info.contains("db0:keys=3,expires=1,"), "{info}");
    let list: String = redis::cmd("CLIENT").arg("LIST").query_async(&mut c).await.unwrap();
    assert!(list.contains(" cmd=client|list "), "{list}");
    node.stop().await;
}
