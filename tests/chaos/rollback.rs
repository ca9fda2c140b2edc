//! The rollback checker of the overwrite workload (`overwrite.rs`), and the final reads both
//! rollback checkers judge (this one and the mix checker, `mixcheck.rs`).
//!
//! After the heal, once the cluster converged and every TTL the mix workload set has run out,
//! every key is read with plain `GET` at R = N (`KV.CONSISTENCY ALL`), and with `KV.GET` for
//! information (its siblings). A key of the overwrite workload has one writer, so the order of its
//! writes is the client's: with `last_ack` the newest acknowledged write, the key must read
//! `last_ack`'s value or a newer one that was not acknowledged. An older value is a **rollback**:
//! a write that an acknowledged later write had replaced came back. That holds for an older write
//! that had an error reply too (counted apart, `of error replies`): the server had answered it
//! before the later write was sent, so it must not take effect after that one. An older write
//! that *timed out* is different — its request may still be in a buffer somewhere, and running it
//! late is allowed — so it is only counted, as `late timeouts`. Nil while some write was
//! acknowledged is **lost**; a value never sent is **unexpected**.

use std::collections::{BTreeMap, HashMap};

use redis::Value;

use crate::checker::{connections, items, read_all, text};
use crate::history::{Op, Outcome, Phase, Recorder};

/// What every key read after the heal.
#[derive(Debug, Default, Clone)]
pub struct Finals {
    /// When the reads started, in microseconds since the run started.
    pub read_us: u64,
    /// Plain `GET` at R = N: the value, nil (`None`), or why it could not be read.
    pub get: HashMap<String, Result<Option<String>, String>>,
    /// `KV.GET` at R = N: every sibling (empty when unreadable).
    pub kv: HashMap<String, Vec<String>>,
}

impl Finals {
    /// Keys whose `KV.GET` still had more than one sibling.
    pub fn keys_with_siblings<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> usize {
        keys.into_iter().filter(|k| self.kv.get(*k).is_some_and(|v| v.len() > 1)).count()
    }

    /// The value `GET` read for `key` (`None`: nil), or why there is none (unreadable, not read),
    /// as an example line.
    pub fn value(&self, key: &str) -> Result<Option<&str>, String> {
        match self.get.get(key) {
            Some(Ok(v)) => Ok(v.as_deref()),
            Some(Err(e)) => Err(format!("{key}: unreadable ({e})")),
            None => Err(format!("{key}: not read")),
        }
    }

    /// The siblings of `key`, for an example line.
    pub fn siblings(&self, key: &str) -> String {
        format!("{:?}", self.kv.get(key).map(Vec::as_slice).unwrap_or(&[]))
    }
}

/// Reads `keys` with `GET` and `KV.GET` at R = N through every node.
pub async fn read_finals(urls: &[String], keys: &[String], rec: &Recorder) -> Result<Finals, String> {
    let all = connections(urls, &["ALL"]).await?;
    let read_us = rec.now_us();
    let gets = read_all(&all, keys, |k| redis::cmd("GET").arg(k).clone()).await;
    let kvs = read_all(&all, keys, |k| redis::cmd("KV.GET").arg(k).clone()).await;
    let mut f = Finals { read_us, ..Finals::default() };
    for ((key, get), kv) in keys.iter().zip(gets).zip(kvs) {
        let value = match get {
            Ok(Value::Nil) => Ok(None),
            Ok(v) => text(&v).map(Some).ok_or_else(|| format!("odd reply {v:?}")),
            Err(e) => Err(e),
        };
        f.get.insert(key.clone(), value);
        let siblings = kv.ok().map(|v| items(&v).get(1).map(items).unwrap_or(&[]).iter().filter_map(text).collect());
        f.kv.insert(key.clone(), siblings.unwrap_or_default());
    }
    Ok(f)
}

/// The overwrite workload's verdict.
#[derive(Debug, Default, Clone)]
pub struct OverwriteVerdict {
    pub keys: usize,
    pub attempted: usize,
    pub acked: usize,
    /// Never sent (no connection).
    pub failed: usize,
    /// Error replies.
    pub errors: usize,
    /// Timed out or connection broken.
    pub unknown: usize,
    pub rollback: usize,
    /// Of `rollback`: the write that came back had had an error reply.
    pub rollback_of_error: usize,
    /// Keys reading a write that timed out before a later write was acknowledged (allowed).
    pub late_timeouts: usize,
    /// The most acknowledged writes one rollback undid.
    pub max_acked_undone: usize,
    pub lost: usize,
    pub unexpected: usize,
    pub unreadable: usize,
    /// Keys reading a write newer than the last acknowledged one (its outcome was unknown).
    pub newer_than_ack: usize,
    pub keys_with_siblings: usize,
    /// Rollbacks by the phase the write that came back was sent in.
    pub by_phase: BTreeMap<String, usize>,
    pub examples: Vec<String>,
}

/// The name of phase `i`.
pub fn phase_name(phases: &[Phase], i: usize) -> &str {
    phases.get(i).map_or("?", |p| p.name.as_str())
}

/// Judges the overwrite workload's operations (`ow.set`) against the final reads.
pub fn judge_overwrite(ops: &[Op], finals: &Finals, phases: &[Phase]) -> OverwriteVerdict {
    let mut v = OverwriteVerdict::default();
    let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for o in ops.iter().filter(|o| o.kind == "ow.set") {
        by_key.entry(&o.key).or_default().push(o);
        v.attempted += 1;
        match o.outcome {
            Outcome::Ok => v.acked += 1,
            Outcome::Fail => v.failed += 1,
            Outcome::Error => v.errors += 1,
            Outcome::Unknown => v.unknown += 1,
        }
    }
    v.keys = by_key.len();
    v.keys_with_siblings = finals.keys_with_siblings(by_key.keys().copied());
    for (key, writes) in &mut by_key {
        // One client, one request at a time: start order is the client's order.
        writes.sort_by_key(|o| o.start_us);
        let last_ack = writes.iter().rposition(|o| o.outcome == Outcome::Ok);
        let got = match finals.value(key) {
            Ok(g) => g.map(str::to_string),
            Err(example) => {
                v.unreadable += 1;
                v.examples.push(example);
                continue;
            }
        };
        let Some(got) = got else {
            if let Some(a) = last_ack {
                v.lost += 1;
                let w = writes[a];
                v.examples.push(format!(
                    "{key}: nil, but {} was acknowledged at +{:.3} s ({} writes to it)",
                    w.value.as_deref().unwrap_or("?"),
                    w.end_us() as f64 / 1e6,
                    writes.len()
                ));
            }
            continue;
        };
        let found = writes.iter().position(|o| o.value.as_deref() == Some(got.as_str()));
        let Some(i) = found.filter(|&i| writes[i].outcome != Outcome::Fail) else {
            v.unexpected += 1;
            v.examples.push(format!("{key}: unexpected value {got:?}"));
            continue;
        };
        match last_ack {
            Some(a) if i < a && writes[i].outcome == Outcome::Unknown => v.late_timeouts += 1,
            Some(a) if i < a => {
                let w = writes[i];
                let undone = writes[i + 1..=a].iter().filter(|o| o.outcome == Outcome::Ok).count();
                v.rollback += 1;
                if w.outcome == Outcome::Error {
                    v.rollback_of_error += 1;
                }
                v.max_acked_undone = v.max_acked_undone.max(undone);
                *v.by_phase.entry(phase_name(phases, w.phase).to_string()).or_default() += 1;
                let last = writes[a];
                v.examples.push(format!(
                    "{key}: reads {got} (sent +{:.3} s during {}, {:?}{}) but {} was acknowledged at +{:.3} s, \
                     {undone} acknowledged writes later; KV.GET {}",
                    w.start_us as f64 / 1e6,
                    phase_name(phases, w.phase),
                    w.outcome,
                    w.error
                        .as_deref()
                        .map(|e| format!(": {}", e.chars().take(50).collect::<String>()))
                        .unwrap_or_default(),
                    last.value.as_deref().unwrap_or("?"),
                    last.end_us() as f64 / 1e6,
                    finals.siblings(key)
                ));
            }
            Some(a) if i > a => v.newer_than_ack += 1,
            None => v.newer_than_ack += 1,
            Some(_) => {}
        }
    }
    v
}
