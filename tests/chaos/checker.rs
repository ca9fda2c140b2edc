//! The checkers. They run after every fault has healed, read through the ordinary RESP port, and
//! judge the recorded history; none of them trusts the server's own counters.
//!
//! - [`register`]: every acknowledged `SET` must read back its value (`lost`), a value nobody
//!   wrote is `unexpected`, an unacknowledged write that is there anyway is `recovered`.
//! - [`siblings`]: with `seen(p)` the values the read before write `p` returned (exactly what its
//!   context covers), a value `v` is *superseded* by `p` when `v ∈ seen(p)`. After the heal,
//!   `KV.GET` must hold every acknowledged value not superseded by a write that may have happened
//!   (else `lost`), and no value superseded by a write that surely happened — acknowledged, or
//!   its own value observed — (else `stale`: an overwritten or deleted value came back).
//! - [`convergence`]: every replica of every written key holds the same versions (`KV.LOCAL`,
//!   a tombstone-only set counting as empty) within a bound, and every acknowledged `SET` is held
//!   by **each of its primaries in the final ring** (replicas that agree on holding nothing are no
//!   comfort: a write acknowledged by nodes that are not its replicas is lost to every read);
//!   reports when that was reached. It runs before any checker reads, so only anti-entropy (and
//!   hints) can have made them agree.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use redis::aio::MultiplexedConnection;
use redis::Value;

use crate::cluster::connect;
use crate::history::{Op, Outcome};

/// Requests in flight during the final reads.
const IN_FLIGHT: usize = 64;

/// Connections to every node, optionally with a `KV.CONSISTENCY` setting.
pub async fn connections(urls: &[String], consistency: &[&str]) -> Result<Vec<MultiplexedConnection>, String> {
    let mut conns = Vec::new();
    for url in urls {
        let mut c = connect(url, Duration::from_secs(10)).await?;
        if !consistency.is_empty() {
            let _: () = redis::cmd("KV.CONSISTENCY")
                .arg(consistency)
                .query_async(&mut c)
                .await
                .map_err(|e| format!("KV.CONSISTENCY on {url}: {e}"))?;
        }
        conns.push(c);
    }
    Ok(conns)
}

/// Runs `build(key)` for every key, spread over `conns`, up to 3 tries each; replies in key order.
pub async fn read_all(
    conns: &[MultiplexedConnection],
    keys: &[String],
    build: fn(&str) -> redis::Cmd,
) -> Vec<Result<Value, String>> {
    let mut out: Vec<(usize, Result<Value, String>)> = stream::iter(keys.iter().enumerate())
        .map(|(i, key)| {
            let mut conn = conns[i % conns.len()].clone();
            let cmd = build(key);
            async move {
                let mut last = String::new();
                for _ in 0..3 {
                    match cmd.query_async::<Value>(&mut conn).await {
                        Ok(v) => return (i, Ok(v)),
                        Err(e) => last = e.to_string(),
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                (i, Err(last))
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// A string out of a bulk, simple or integer reply.
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

pub fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) | Value::Set(a) => a,
        _ => &[],
    }
}

/// The register workload's verdict.
#[derive(Debug, Default, Clone)]
pub struct RegisterVerdict {
    pub attempted: usize,
    pub acked: usize,
    pub failed: usize,
    pub unknown: usize,
    pub lost: usize,
    pub recovered: usize,
    pub unexpected: usize,
    pub unreadable: usize,
    pub examples: Vec<String>,
}

/// Reads back every key the register workload tried to write.
pub async fn register(ops: &[Op], conns: &[MultiplexedConnection]) -> RegisterVerdict {
    let writes: Vec<&Op> = ops.iter().filter(|o| o.kind == "set").collect();
    let keys: Vec<String> = writes.iter().map(|o| o.key.clone()).collect();
    let reads = read_all(conns, &keys, |k| redis::cmd("GET").arg(k).clone()).await;
    let mut v = RegisterVerdict { attempted: writes.len(), ..RegisterVerdict::default() };
    for (w, read) in writes.iter().zip(reads) {
        match w.outcome {
            Outcome::Ok => v.acked += 1,
            Outcome::Fail | Outcome::Error => v.failed += 1,
            Outcome::Unknown => v.unknown += 1,
        }
        let got = match read {
            Ok(Value::Nil) => None,
            Ok(val) => text(&val),
            Err(e) => {
                v.unreadable += 1;
                v.examples.push(format!("{}: unreadable ({e})", w.key));
                continue;
            }
        };
        let right = got.as_deref() == w.value.as_deref();
        if got.is_some() && !right {
            v.unexpected += 1;
            v.examples.push(format!("{}: unexpected {got:?}", w.key));
        }
        match (w.outcome, right) {
            (Outcome::Ok, false) => {
                v.lost += 1;
                if v.examples.len() < 20 {
                    v.examples
                        .push(format!("{} = {:?} acknowledged at +{} ms, read {got:?}", w.key, w.value, w.start_ms));
                }
            }
            (Outcome::Fail | Outcome::Unknown | Outcome::Error, true) => v.recovered += 1,
            _ => {}
        }
    }
    v
}

/// The siblings workload's verdict.
#[derive(Debug, Default, Clone)]
pub struct SiblingVerdict {
    pub keys: usize,
    pub writes: usize,
    pub acked: usize,
    pub deletes: usize,
    pub lost: usize,
    pub stale: usize,
    pub unexpected: usize,
    pub unreadable: usize,
    /// Values per key after the heal, at most.
    pub max_siblings: usize,
    pub examples: Vec<String>,
}

/// Reads every shared key with `KV.GET` and judges it against the causal history.
pub async fn siblings(ops: &[Op], conns: &[MultiplexedConnection]) -> SiblingVerdict {
    let mut v = SiblingVerdict::default();
    let mut keys: Vec<String> = ops.iter().filter(|o| o.key.starts_with("s:")).map(|o| o.key.clone()).collect();
    keys.sort();
    keys.dedup();
    v.keys = keys.len();
    let reads = read_all(conns, &keys, |k| redis::cmd("KV.GET").arg(k).clone()).await;
    let mut finals: HashMap<&str, HashSet<String>> = HashMap::new();
    for (key, read) in keys.iter().zip(reads) {
        match read {
            Ok(val) => {
                let values: HashSet<String> =
                    items(&val).get(1).map(items).unwrap_or(&[]).iter().filter_map(text).collect();
                v.max_siblings = v.max_siblings.max(values.len());
                finals.insert(key, values);
            }
            Err(e) => {
                v.unreadable += 1;
                v.examples.push(format!("{key}: unreadable ({e})"));
            }
        }
    }
    // Which values were written (by which key), and which were ever observed.
    let mut written: HashMap<&str, &str> = HashMap::new();
    let mut observed: HashSet<&str> = HashSet::new();
    for o in ops {
        if o.kind == "kv.put" {
            if let Some(val) = &o.value {
                written.insert(val, &o.key);
            }
        }
        if o.kind == "kv.get" {
            observed.extend(o.seen.iter().map(String::as_str));
        }
    }
    observed.extend(finals.values().flatten().map(String::as_str));
    let mut maybe_superseded: HashSet<&str> = HashSet::new();
    let mut surely_superseded: HashSet<&str> = HashSet::new();
    for o in ops.iter().filter(|o| o.kind == "kv.put" || o.kind == "kv.del") {
        let happened = o.outcome == Outcome::Ok || o.value.as_deref().is_some_and(|val| observed.contains(val));
        for seen in &o.seen {
            maybe_superseded.insert(seen);
            if happened {
                surely_superseded.insert(seen);
            }
        }
        if o.kind == "kv.put" {
            v.writes += 1;
        } else {
            v.deletes += 1;
        }
    }
    for o in ops.iter().filter(|o| o.kind == "kv.put" && o.outcome == Outcome::Ok) {
        v.acked += 1;
        let Some(val) = o.value.as_deref() else { continue };
        let Some(fin) = finals.get(o.key.as_str()) else { continue };
        if !fin.contains(val) && !maybe_superseded.contains(val) {
            v.lost += 1;
            if v.examples.len() < 20 {
                v.examples.push(format!("{}: acknowledged {val} (+{} ms) missing, have {fin:?}", o.key, o.start_ms));
            }
        }
    }
    for (key, fin) in &finals {
        for val in fin {
            if surely_superseded.contains(val.as_str()) {
                v.stale += 1;
                v.examples.push(format!("{key}: {val} came back after a write that saw it"));
            }
            if written.get(val.as_str()) != Some(key) {
                v.unexpected += 1;
                v.examples.push(format!("{key}: unexpected value {val}"));
            }
        }
    }
    v
}

/// The convergence verdict.
#[derive(Debug, Default, Clone)]
pub struct ConvergenceVerdict {
    pub keys: usize,
    pub converged: usize,
    /// Keys with an acknowledged `SET`, and of those, the ones every final primary holds.
    pub acked_keys: usize,
    pub on_primaries: usize,
    /// Seconds from the final heal until the last key agreed on all replicas.
    pub secs_after_heal: f64,
    pub examples: Vec<String>,
}

/// The comparable content of a `KV.LOCAL` reply: siblings as text, tombstone-only = empty.
fn local_state(v: &Value) -> String {
    let mut siblings = Vec::new();
    let mut live = false;
    for s in items(v) {
        let pairs: Vec<(String, &Value)> = match s {
            Value::Map(m) => m.iter().map(|(k, x)| (text(k).unwrap_or_default(), x)).collect(),
            other => items(other)
                .chunks(2)
                .filter(|c| c.len() == 2)
                .map(|c| (text(&c[0]).unwrap_or_default(), &c[1]))
                .collect(),
        };
        live |= pairs.iter().any(|(k, x)| k == "tombstone" && matches!(x, Value::Int(0)));
        siblings.push(format!("{pairs:?}"));
    }
    if live {
        siblings.sort();
        siblings.join("|")
    } else {
        String::new()
    }
}

/// One sibling of a `KV.LOCAL` reply (a map in RESP3, a flat array in RESP2) as `(field, text)`.
fn sibling_fields(s: &Value) -> Vec<(String, String)> {
    match s {
        Value::Map(m) => m.iter().map(|(k, x)| (text(k).unwrap_or_default(), text(x).unwrap_or_default())).collect(),
        other => items(other)
            .chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| (text(&c[0]).unwrap_or_default(), text(&c[1]).unwrap_or_default()))
            .collect(),
    }
}

/// A `KV.LOCAL` reply in short: each sibling's dot (node id shortened), HLC timestamp, expiry and
/// value or `tombstone`.
fn describe_local(v: &Value) -> String {
    let mut out = Vec::new();
    for s in items(v) {
        let pairs = sibling_fields(s);
        let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map_or("", |(_, x)| x.as_str());
        let dot = get("dot");
        let dot = match dot.split_once(':') {
            Some((node, counter)) => format!("{}:{counter}", &node[..node.len().min(8)]),
            None => dot.to_string(),
        };
        let what = if get("tombstone") == "1" { "tombstone".to_string() } else { format!("{:?}", get("value")) };
        let expires = get("expires_at");
        let expires = if expires.is_empty() { String::new() } else { format!(" expires {expires}") };
        out.push(format!("{dot} ts {} {what}{expires}", get("timestamp")));
    }
    format!("[{}]", out.join(" | "))
}

/// Whether a `KV.LOCAL` reply holds a live sibling whose value is `value`.
fn holds_value(v: &Value, value: &str) -> bool {
    items(v).iter().any(|s| {
        let pairs = sibling_fields(s);
        pairs.iter().any(|(k, x)| k == "value" && x == value)
            && !pairs.iter().any(|(k, x)| k == "tombstone" && x == "1")
    })
}

/// Waits until all replicas of every key hold the same versions — and every primary of a key in
/// `acked` holds its acknowledged value — or `within` passes.
pub async fn convergence(
    urls: &[String],
    keys: &[String],
    acked: &HashMap<String, String>,
    healed: Instant,
    within: Duration,
) -> ConvergenceVerdict {
    let acked_keys = keys.iter().filter(|k| acked.contains_key(*k)).count();
    let mut v = ConvergenceVerdict { keys: keys.len(), acked_keys, ..ConvergenceVerdict::default() };
    let Ok(conns) = connections(urls, &[]).await else {
        v.examples.push("cannot connect".into());
        return v;
    };
    let by_addr: HashMap<String, usize> = urls
        .iter()
        .enumerate()
        .map(|(i, u)| (u.trim_start_matches("redis://").trim_end_matches('/').to_string(), i))
        .collect();
    // Each key's replicas (node indexes), from KV.PREFLIST.
    let pref = read_all(&conns, keys, |k| redis::cmd("KV.PREFLIST").arg(k).clone()).await;
    let mut pending: Vec<(String, Vec<usize>)> = Vec::new();
    for (key, p) in keys.iter().zip(pref) {
        let replicas: Vec<usize> = p
            .ok()
            .as_ref()
            .and_then(|p| items(p).get(1).map(items))
            .unwrap_or(&[])
            .iter()
            .filter_map(|n| {
                let n = items(n);
                let addr = format!("{}:{}", text(n.get(1)?)?, text(n.get(2)?)?);
                by_addr.get(&addr).copied()
            })
            .collect();
        pending.push((key.clone(), replicas));
    }
    let mut rounds = 0;
    loop {
        let mut still = Vec::new();
        let mut off_primaries = 0;
        for chunk in pending.chunks(4096) {
            let checks: Vec<(String, Vec<usize>, bool, bool)> = stream::iter(chunk.iter().cloned())
                .map(|(key, replicas)| {
                    let conns = &conns;
                    async move {
                        let mut states = HashSet::new();
                        let mut ok = replicas.len() >= 2;
                        let mut held = true;
                        for &r in &replicas {
                            let mut c = conns[r].clone();
                            match redis::cmd("KV.LOCAL").arg(&key).query_async::<Value>(&mut c).await {
                                Ok(val) => {
                                    held &= acked.get(&key).is_none_or(|value| holds_value(&val, value));
                                    states.insert(local_state(&val));
                                }
                                Err(_) => ok = false,
                            }
                        }
                        let same = ok && states.len() == 1;
                        (key, replicas, same, held)
                    }
                })
                .buffer_unordered(IN_FLIGHT)
                .collect()
                .await;
            for (key, replicas, same, held) in checks {
                if !(same && held) {
                    off_primaries += usize::from(!held);
                    still.push((key, replicas));
                }
            }
        }
        v.converged = keys.len() - still.len();
        v.on_primaries = acked_keys - off_primaries;
        v.secs_after_heal = healed.elapsed().as_secs_f64();
        rounds += 1;
        // A big run's first rounds can take longer than `within` by themselves.
        if still.is_empty() || (healed.elapsed() > within && rounds >= 3) {
            v.examples = still.iter().take(10).map(|(k, r)| format!("{k} (replicas {r:?})")).collect();
            // What the replicas of the first few hold, for the report.
            for (key, replicas) in still.iter().take(3) {
                for &r in replicas {
                    let mut c = conns[r].clone();
                    let state = redis::cmd("KV.LOCAL").arg(key).query_async::<Value>(&mut c).await;
                    let shown = state.map_or_else(|e| e.to_string(), |s| describe_local(&s));
                    v.examples.push(format!("{key} on n{}: {shown}", r + 1));
                }
            }
            return v;
        }
        pending = still;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// What each replica of `key` holds (`KV.LOCAL`, shortened), for explaining a flagged key.
pub async fn replica_states(urls: &[String], conns: &[MultiplexedConnection], key: &str) -> Vec<String> {
    let by_addr: HashMap<String, usize> = urls
        .iter()
        .enumerate()
        .map(|(i, u)| (u.trim_start_matches("redis://").trim_end_matches('/').to_string(), i))
        .collect();
    let Some(first) = conns.first() else { return vec!["no connection".into()] };
    let mut c = first.clone();
    let pref = match redis::cmd("KV.PREFLIST").arg(key).query_async::<Value>(&mut c).await {
        Ok(p) => p,
        Err(e) => return vec![format!("{key}: KV.PREFLIST failed: {e}")],
    };
    let replicas: Vec<usize> = items(&pref)
        .get(1)
        .map(items)
        .unwrap_or(&[])
        .iter()
        .filter_map(|n| {
            let n = items(n);
            by_addr.get(&format!("{}:{}", text(n.get(1)?)?, text(n.get(2)?)?)).copied()
        })
        .collect();
    let mut out = Vec::new();
    for r in replicas {
        let mut c = conns[r].clone();
        let state = redis::cmd("KV.LOCAL").arg(key).query_async::<Value>(&mut c).await;
        out.push(format!("{key} on n{}: {}", r + 1, state.map_or_else(|e| e.to_string(), |s| describe_local(&s))));
    }
    out
}
