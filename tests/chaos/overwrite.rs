//! The workloads that overwrite keys, for the rollback checkers (`rollback.rs`). Unlike the
//! homed clients of `workload.rs`, every operation goes to a node picked at random (each client
//! keeps one connection per node), so most of them are forwarded by a node that is not the key's
//! coordinator — the path on which a forward delayed by a fault can execute late.
//!
//! - **overwrite**: each client owns a few keys `o:<client>:<k>` and overwrites them one request
//!   at a time with `SET key <client>-<seq>` (`seq` counts the client's requests, so values are
//!   unique and their order is the client's order).
//! - **mix**: clients share a few keys `m:<k>`; each request is, at random, `SET` or `GETSET` of a
//!   unique value `m<client>-<seq>`, `DEL`, `PEXPIRE` 100..=2000 ms or `EXPIRE` 1..=2 s.
//!
//! Only the final state is checked, so a write that comes back late is seen only if nothing
//! overwrites it afterwards. With key rotation (the default), the keys carry the phase they are
//! written in (`o:<client>:<k>:p<phase>`, `m:<k>:p<phase>`): clients move to fresh keys at every
//! fault and every heal, so what a forward delayed by fault *i* does after the heal stays visible
//! on fault *i*'s keys, not just the last fault's (`CARTWHEEL_CHAOS_ROTATE_KEYS=0`: fixed keys).
//!
//! How a request ended, for these checkers: acknowledged (`Ok`); never sent because no connection
//! could be made (`Fail`: surely did not happen); an error reply such as `NOQUORUM` (`Error`: the
//! coordinator may have stored the write before it answered); a timeout or a broken connection
//! (`Unknown`: may have happened, or may still happen). Every client is bounded by the stop flag,
//! an operation count and per-request deadlines.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::Value;

use crate::checker::text;
use crate::cluster::connect;
use crate::history::{Op, Outcome};
use crate::workload::{Shared, RESPONSE_TIMEOUT};

/// One client: a connection per node (made when first needed, dropped when it fails).
struct Spray {
    shared: Shared,
    conns: Vec<Option<MultiplexedConnection>>,
    rng: fastrand::Rng,
}

/// One request's reply (or how it failed) and its timing.
struct Sent {
    result: Result<Value, (Outcome, String)>,
    start_us: u64,
    latency_us: u64,
    phase: usize,
}

impl Spray {
    fn new(shared: Shared, seed: u64) -> Spray {
        let conns = vec![None; shared.urls.len()];
        Spray { shared, conns, rng: fastrand::Rng::with_seed(seed) }
    }

    /// Sends `cmd` to a random node.
    async fn run(&mut self, cmd: &redis::Cmd) -> Sent {
        let node = self.rng.usize(0..self.conns.len());
        let rec = &self.shared.rec;
        let (start_us, phase, started) = (rec.now_us(), rec.phase(), Instant::now());
        let result = self.request(node, cmd).await;
        Sent { result, start_us, latency_us: started.elapsed().as_micros() as u64, phase }
    }

    async fn request(&mut self, node: usize, cmd: &redis::Cmd) -> Result<Value, (Outcome, String)> {
        if self.conns[node].is_none() {
            match connect(&self.shared.urls[node], RESPONSE_TIMEOUT).await {
                Ok(c) => self.conns[node] = Some(c),
                Err(e) => return Err((Outcome::Fail, e)),
            }
        }
        let Some(conn) = self.conns[node].as_mut() else { return Err((Outcome::Fail, "no connection".into())) };
        let fut = cmd.query_async::<Value>(conn);
        let failure = match tokio::time::timeout(RESPONSE_TIMEOUT + Duration::from_secs(1), fut).await {
            Ok(Ok(v)) => return Ok(v),
            // An error reply: the coordinator may have written before it answered.
            Ok(Err(e)) if e.code().is_some() => return Err((Outcome::Error, e.to_string())),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "client deadline".to_string(),
        };
        self.conns[node] = None;
        Err((Outcome::Unknown, failure))
    }

    fn stopped(&self, ops: u64) -> bool {
        self.shared.stop.load(Ordering::Relaxed) || ops >= self.shared.max_ops
    }

    /// Records one request.
    fn record(&self, kind: &'static str, key: &str, value: Option<String>, ttl_ms: Option<u64>, s: Sent) {
        let (outcome, error, reply) = match s.result {
            Ok(v) => (Outcome::Ok, None, text(&v).filter(|t| t != "OK")),
            Err((o, e)) => (o, Some(e), None),
        };
        self.shared.rec.record(Op {
            kind,
            key: key.to_string(),
            value,
            seen: Vec::new(),
            context: None,
            reply,
            ttl_ms,
            outcome,
            error,
            start_ms: s.start_us / 1000,
            start_us: s.start_us,
            latency_us: s.latency_us,
            phase: s.phase,
        });
    }
}

/// The suffix that puts a key in the current phase (empty without rotation).
fn epoch(shared: &Shared, rotate: bool) -> String {
    if rotate {
        format!(":p{}", shared.rec.phase())
    } else {
        String::new()
    }
}

/// The overwrite workload's client `id`, on its `keys` keys (per phase when `rotate`).
pub async fn overwrite_client(id: u32, shared: Shared, keys: usize, rotate: bool, seed: u64) {
    let mut c = Spray::new(shared.clone(), seed ^ 0x6f77 ^ (u64::from(id) << 32));
    let mut seq = 0u64;
    while !c.stopped(seq) {
        let key = format!("o:{id}:{}{}", c.rng.usize(0..keys.max(1)), epoch(&shared, rotate));
        let value = format!("{id}-{seq}");
        let s = c.run(redis::cmd("SET").arg(&key).arg(&value)).await;
        c.record("ow.set", &key, Some(value), None, s);
        seq += 1;
        tokio::time::sleep(shared.pace).await;
    }
}

/// The mix workload's client `id`, on `keys` shared keys (per phase when `rotate`).
pub async fn mix_client(id: u32, shared: Shared, keys: usize, rotate: bool, seed: u64) {
    let mut c = Spray::new(shared.clone(), seed ^ 0x6d69 ^ (u64::from(id) << 32));
    let mut seq = 0u64;
    while !c.stopped(seq) {
        let key = format!("m:{}{}", c.rng.usize(0..keys.max(1)), epoch(&shared, rotate));
        let value = format!("m{id}-{seq}");
        let roll = c.rng.u32(0..100);
        if roll < 35 {
            let s = c.run(redis::cmd("SET").arg(&key).arg(&value)).await;
            c.record("mix.set", &key, Some(value), None, s);
        } else if roll < 55 {
            let s = c.run(redis::cmd("GETSET").arg(&key).arg(&value)).await;
            c.record("mix.getset", &key, Some(value), None, s);
        } else if roll < 70 {
            let s = c.run(redis::cmd("DEL").arg(&key)).await;
            c.record("mix.del", &key, None, None, s);
        } else if roll < 85 {
            let ms = c.rng.u64(100..=2000);
            let s = c.run(redis::cmd("PEXPIRE").arg(&key).arg(ms)).await;
            c.record("mix.pexpire", &key, None, Some(ms), s);
        } else {
            let secs = c.rng.u64(1..=2);
            let s = c.run(redis::cmd("EXPIRE").arg(&key).arg(secs)).await;
            c.record("mix.expire", &key, None, Some(secs * 1000), s);
        }
        seq += 1;
        tokio::time::sleep(shared.pace).await;
    }
}
