//! The client workloads, through the ordinary RESP port with the `redis` crate. Each client task
//! is one connection at a time, homed on one node (clients are spread over the nodes); when its
//! node refuses, times out or breaks the connection, it moves on to the next node. Every task is
//! bounded by a stop flag, an operation count and per-request deadlines.
//!
//! - **register**: `SET r:<client>:<seq> v<client>-<seq>` — every key written once.
//! - **siblings**: on a few shared keys, `KV.GET` then `KV.PUT key <context> <unique value>` (or,
//!   one time in ten, `KV.DEL key <context>`). Clients on both sides of a partition write the same
//!   keys concurrently, so siblings appear; the context says exactly which values each write saw.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{FromRedisValue, RedisError};

use crate::cluster::connect;
use crate::history::{Op, Outcome, Recorder};

/// How long a client waits for one reply.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// What every client task shares.
#[derive(Clone)]
pub struct Shared {
    pub urls: Arc<Vec<String>>,
    pub rec: Arc<Recorder>,
    pub stop: Arc<AtomicBool>,
    /// Pause between two operations of one client.
    pub pace: Duration,
    /// At most this many operations per client.
    pub max_ops: u64,
}

/// One client's connection, moving from node to node on failures.
struct Client {
    shared: Shared,
    node: usize,
    conn: Option<MultiplexedConnection>,
}

/// The result of one request: the reply or how it failed, and its latency.
struct Done<T> {
    result: Result<T, (Outcome, String)>,
    start_us: u64,
    latency_us: u64,
    phase: usize,
}

impl Client {
    fn new(id: u32, shared: Shared) -> Client {
        let node = id as usize % shared.urls.len();
        Client { shared, node, conn: None }
    }

    fn next_node(&mut self) {
        self.conn = None;
        self.node = (self.node + 1) % self.shared.urls.len();
    }

    async fn run<T: FromRedisValue>(&mut self, cmd: &redis::Cmd) -> Done<T> {
        let rec = &self.shared.rec;
        let (start_us, phase, started) = (rec.now_us(), rec.phase(), Instant::now());
        let result = self.request(cmd).await;
        let latency_us = started.elapsed().as_micros() as u64;
        if let Err((outcome, _)) = &result {
            if *outcome == Outcome::Unknown || self.conn.is_none() {
                self.next_node();
            }
        }
        Done { result, start_us, latency_us, phase }
    }

    async fn request<T: FromRedisValue>(&mut self, cmd: &redis::Cmd) -> Result<T, (Outcome, String)> {
        if self.conn.is_none() {
            match connect(&self.shared.urls[self.node], RESPONSE_TIMEOUT).await {
                Ok(c) => self.conn = Some(c),
                Err(e) => return Err((Outcome::Fail, e)),
            }
        }
        let Some(conn) = self.conn.as_mut() else { return Err((Outcome::Fail, "no connection".into())) };
        let fut = cmd.query_async::<T>(conn);
        match tokio::time::timeout(RESPONSE_TIMEOUT + Duration::from_secs(1), fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(classify(&e)),
            Err(_) => {
                self.conn = None;
                Err((Outcome::Unknown, "client deadline".into()))
            }
        }
    }

    fn stopped(&self, ops: u64) -> bool {
        self.shared.stop.load(Ordering::Relaxed) || ops >= self.shared.max_ops
    }
}

/// A server's error reply is a definite failure; a timeout or a broken connection is unknown.
fn classify(e: &RedisError) -> (Outcome, String) {
    if e.code().is_some() {
        (Outcome::Fail, e.to_string())
    } else {
        (Outcome::Unknown, e.to_string())
    }
}

fn op<T>(
    kind: &'static str,
    key: &str,
    value: Option<String>,
    seen: Vec<String>,
    context: Option<String>,
    d: &Done<T>,
) -> Op {
    let (outcome, error) = match &d.result {
        Ok(_) => (Outcome::Ok, None),
        Err((o, e)) => (*o, Some(e.clone())),
    };
    Op {
        kind,
        key: key.to_string(),
        value,
        seen,
        context,
        reply: None,
        ttl_ms: None,
        outcome,
        error,
        start_ms: d.start_us / 1000,
        start_us: d.start_us,
        latency_us: d.latency_us,
        phase: d.phase,
    }
}

/// The register workload: unique keys, each written once.
pub async fn register_client(id: u32, shared: Shared) {
    let mut c = Client::new(id, shared.clone());
    let mut seq = 0u64;
    while !c.stopped(seq) {
        let key = format!("r:{id}:{seq}");
        let value = format!("v{id}-{seq}");
        let d: Done<()> = c.run(redis::cmd("SET").arg(&key).arg(&value)).await;
        shared.rec.record(op("set", &key, Some(value), Vec::new(), None, &d));
        seq += 1;
        tokio::time::sleep(shared.pace).await;
    }
}

/// Writes through node `node` the moment it answers after a restart: polls it every 5 ms (for
/// at most 30 s), then sends `count` `SET q:n<node>:<restart>:<j>` one after the other, 2 ms
/// apart, recorded like the register workload's (so every acknowledged one must read back, and be
/// on its primaries). A node restarted on a partial view of the members used to acknowledge such
/// writes where no read ever looks.
pub async fn restart_writer(node: usize, restart: u64, count: u64, shared: Shared) {
    let url = &shared.urls[node];
    let until = Instant::now() + Duration::from_secs(30);
    let mut conn = loop {
        if Instant::now() > until || shared.stop.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(mut c) = connect(url, RESPONSE_TIMEOUT).await {
            if redis::cmd("PING").query_async::<String>(&mut c).await.is_ok() {
                break c;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    for j in 0..count {
        let key = format!("q:n{}:{restart}:{j}", node + 1);
        let value = format!("q{restart}-{j}");
        let rec = &shared.rec;
        let (start_us, phase, started) = (rec.now_us(), rec.phase(), Instant::now());
        let cmd = redis::cmd("SET").arg(&key).arg(&value).clone();
        let fut = cmd.query_async::<()>(&mut conn);
        let result = match tokio::time::timeout(RESPONSE_TIMEOUT + Duration::from_secs(1), fut).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(classify(&e)),
            Err(_) => Err((Outcome::Unknown, "client deadline".to_string())),
        };
        let d = Done { result, start_us, latency_us: started.elapsed().as_micros() as u64, phase };
        rec.record(op("set", &key, Some(value), Vec::new(), None, &d));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The siblings workload on `keys` shared keys.
pub async fn sibling_client(id: u32, shared: Shared, keys: usize, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed ^ (u64::from(id) << 32));
    let mut c = Client::new(id, shared.clone());
    let mut seq = 0u64;
    while !c.stopped(seq) {
        seq += 1;
        let key = format!("s:{}", rng.usize(0..keys));
        let d: Done<(String, Vec<String>)> = c.run(redis::cmd("KV.GET").arg(&key)).await;
        let seen = d.result.as_ref().map(|(_, v)| v.clone()).unwrap_or_default();
        let got = d.result.as_ref().ok().map(|(c, _)| c.clone());
        shared.rec.record(op("kv.get", &key, None, seen.clone(), got, &d));
        if let Ok((context, _)) = d.result {
            if rng.f64() < 0.1 {
                let d: Done<()> = c.run(redis::cmd("KV.DEL").arg(&key).arg(&context)).await;
                shared.rec.record(op("kv.del", &key, None, seen, Some(context), &d));
            } else {
                let value = format!("c{id}-{seq}");
                let d: Done<()> = c.run(redis::cmd("KV.PUT").arg(&key).arg(&context).arg(&value)).await;
                shared.rec.record(op("kv.put", &key, Some(value), seen, Some(context), &d));
            }
        }
        tokio::time::sleep(shared.pace).await;
    }
}
