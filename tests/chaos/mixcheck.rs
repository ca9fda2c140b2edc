//! The rollback checker of the mix workload (`overwrite.rs`): shared keys, several writers, five
//! kinds of writes. The rule is the overwrite checker's, generalised: after the heal every key
//! reads its last acknowledged state or a state written after it whose outcome is unknown;
//! anything an acknowledged later write had replaced is a rollback.
//!
//! With the harness's times, `p` *precedes* `q` when `p` ended (its client had the answer or gave
//! up) before `q` started. An operation is *effective* when it was acknowledged and changed the
//! state: `SET` and `GETSET` always, `DEL` when it answered ≥ 1, `EXPIRE`/`PEXPIRE` when it
//! answered 1 and its deadline has surely passed. Every operation that may have taken effect
//! (acknowledged, an error reply, or timed out) is a *candidate producer* of a state:
//! `SET`/`GETSET` of its value, `DEL` of nil, `EXPIRE`/`PEXPIRE` of nil (the final reads wait
//! until every TTL has run out); the initial state produces nil and precedes everything. An
//! acknowledged `DEL` that answered 0 and an `EXPIRE` that answered 0 wrote nothing and produce
//! nothing. A final state is a **rollback** (a value) or **lost** (nil) when every candidate
//! producer of it precedes some effective operation; a value nobody sent is **unexpected**. A
//! request that timed out never *ends* (it may still run, late, and that is allowed), so it
//! precedes nothing; states that only such a late run explains are counted as `late timeouts`.
//! A request with an error reply ended when the server answered.
//!
//! Clock skew: the nodes keep TTLs in cluster time (the median of their clocks), so one node's
//! skewed clock stretches no deadline, and every `EXPIRE` is judged: it is effective once its
//! deadline (end + TTL + a margin) passed before the reads, whatever clock offsets the nemesis
//! log shows.
//!
//! `GETSET`'s old value is judged by the same rule at the `GETSET`'s start, for information
//! only: a value (or nil) whose every producer had been replaced by an effective operation that
//! ended before the `GETSET` started is a **stale read**.

use std::collections::BTreeMap;

use crate::history::{Event, Op, Outcome, Phase};
use crate::rollback::{phase_name, Finals};

/// Slack on an `EXPIRE`'s deadline.
const DEADLINE_MARGIN_US: u64 = 500_000;

/// The mix workload's verdict.
#[derive(Debug, Default, Clone)]
pub struct MixVerdict {
    pub keys: usize,
    pub ops: usize,
    pub acked: usize,
    /// Never sent (no connection).
    pub failed: usize,
    /// Error replies.
    pub errors: usize,
    /// Timed out or connection broken.
    pub unknown: usize,
    /// Acknowledged operations that changed the state.
    pub effective: usize,
    /// A value came back that an effective operation had replaced.
    pub rollback: usize,
    /// Of `rollback`: the write that came back had had an error reply.
    pub rollback_of_error: usize,
    /// Final states explained only by a request that timed out running late (allowed).
    pub late_timeouts: usize,
    /// Nil, though every operation that could have produced nil had been followed by an
    /// effective write.
    pub lost: usize,
    pub unexpected: usize,
    pub unreadable: usize,
    /// Acknowledged `GETSET`s, and how many returned a replaced value (informational).
    pub getsets: usize,
    pub stale_reads: usize,
    /// `GETSET`s that returned a value nobody sent to that key (informational).
    pub getset_unexpected: usize,
    pub keys_with_siblings: usize,
    /// Rollbacks and lost keys by the phase their latest candidate producer was sent in.
    pub by_phase: BTreeMap<String, usize>,
    pub examples: Vec<String>,
}

/// The latest an `EXPIRE`/`PEXPIRE` `o` can make its key vanish, in real time.
fn latest_deadline(o: &Op) -> u64 {
    o.end_us() + o.ttl_ms.unwrap_or(0) * 1000 + DEADLINE_MARGIN_US
}

fn count(o: &Op) -> i64 {
    o.reply.as_deref().and_then(|r| r.parse().ok()).unwrap_or(0)
}

fn is_expire(o: &Op) -> bool {
    o.kind == "mix.expire" || o.kind == "mix.pexpire"
}

fn writes_value(o: &Op) -> bool {
    o.kind == "mix.set" || o.kind == "mix.getset"
}

/// Whether `o` is effective for a state observed at `at`: acknowledged, changed the state, ended
/// before `at` and (an expiry) surely ran out by then.
fn effective(o: &Op, at: u64) -> bool {
    if o.outcome != Outcome::Ok || o.end_us() >= at {
        return false;
    }
    match o.kind {
        "mix.set" | "mix.getset" => true,
        "mix.del" => count(o) >= 1,
        _ if is_expire(o) => count(o) == 1 && latest_deadline(o) <= at,
        _ => false,
    }
}

/// Whether `o` may have produced nil.
fn produces_nil(o: &Op) -> bool {
    let wrote = match o.outcome {
        Outcome::Ok => count(o) >= 1,
        Outcome::Unknown | Outcome::Error => true,
        Outcome::Fail => false,
    };
    wrote && (o.kind == "mix.del" || is_expire(o))
}

/// How a state observed on one key stands against its history.
enum Judgement<'a> {
    Fine,
    /// No operation could have produced it.
    Unexpected,
    /// Every producer was replaced: the latest producer (`None`: the initial state) and the
    /// effective operation that started last before the observation.
    Replaced(Option<&'a Op>, &'a Op),
}

/// When `p` ended for the precedence rule: a request that timed out never did, unless `strict`
/// (then its client's deadline counts, for the `late timeouts` count).
fn settled(p: &Op, strict: bool) -> u64 {
    if p.outcome == Outcome::Unknown && !strict {
        u64::MAX
    } else {
        p.end_us()
    }
}

/// Judges `state` observed on a key with operations `ops`: producers are the candidates that
/// started before `produced_by` (other than `observer`), replacers the effective operations
/// observable at `replaced_by`.
fn judge<'a>(
    ops: &[&'a Op],
    state: Option<&str>,
    (produced_by, replaced_by): (u64, u64),
    observer: Option<&Op>,
    strict: bool,
) -> Judgement<'a> {
    let candidate = |p: &&&Op| {
        p.outcome != Outcome::Fail
            && p.start_us < produced_by
            && observer.is_none_or(|g| !std::ptr::eq(**p, g))
            && match state {
                Some(v) => writes_value(p) && p.value.as_deref() == Some(v),
                None => produces_nil(p),
            }
    };
    let producers: Vec<&'a Op> = ops.iter().filter(candidate).copied().collect();
    if state.is_some() && producers.is_empty() {
        return Judgement::Unexpected;
    }
    let Some(last_effective) = ops.iter().filter(|q| effective(q, replaced_by)).max_by_key(|q| q.start_us).copied()
    else {
        return Judgement::Fine;
    };
    let latest = producers.iter().max_by_key(|p| settled(p, strict)).copied();
    match latest {
        Some(p) if settled(p, strict) >= last_effective.start_us => Judgement::Fine,
        _ => Judgement::Replaced(latest, last_effective),
    }
}

/// One operation for an example line.
fn describe(o: &Op, phases: &[Phase]) -> String {
    let what = match o.kind {
        "mix.set" | "mix.getset" => format!("{} {}", &o.kind[4..], o.value.as_deref().unwrap_or("?")),
        _ => format!("{} {}", &o.kind[4..], o.ttl_ms.map(|t| format!("{t} ms")).unwrap_or_default()),
    };
    let reply = o.reply.as_deref().map(|r| format!(" -> {r}")).unwrap_or_default();
    format!(
        "{}{reply} (+{:.3}..{:.3} s, {}, {:?})",
        what.trim_end(),
        o.start_us as f64 / 1e6,
        o.end_us() as f64 / 1e6,
        phase_name(phases, o.phase),
        o.outcome
    )
}

/// Judges the mix workload's operations (`mix.*`) against the final reads.
pub fn judge_mix(ops: &[Op], finals: &Finals, phases: &[Phase], _events: &[Event]) -> MixVerdict {
    let mut v = MixVerdict::default();
    let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for o in ops.iter().filter(|o| o.kind.starts_with("mix.")) {
        by_key.entry(&o.key).or_default().push(o);
        v.ops += 1;
        match o.outcome {
            Outcome::Ok => v.acked += 1,
            Outcome::Fail => v.failed += 1,
            Outcome::Error => v.errors += 1,
            Outcome::Unknown => v.unknown += 1,
        }
        if effective(o, finals.read_us) {
            v.effective += 1;
        }
    }
    v.keys = by_key.len();
    v.keys_with_siblings = finals.keys_with_siblings(by_key.keys().copied());
    for (key, kops) in &by_key {
        for g in kops.iter().filter(|g| g.kind == "mix.getset" && g.outcome == Outcome::Ok) {
            v.getsets += 1;
            match judge(kops, g.reply.as_deref(), (g.end_us(), g.start_us), Some(g), false) {
                Judgement::Fine => {}
                Judgement::Unexpected => v.getset_unexpected += 1,
                Judgement::Replaced(..) => v.stale_reads += 1,
            }
        }
        let state = match finals.value(key) {
            Ok(s) => s,
            Err(example) => {
                v.unreadable += 1;
                v.examples.push(example);
                continue;
            }
        };
        match judge(kops, state, (u64::MAX, finals.read_us), None, false) {
            Judgement::Fine => {
                if let Judgement::Replaced(..) = judge(kops, state, (u64::MAX, finals.read_us), None, true) {
                    v.late_timeouts += 1;
                }
            }
            Judgement::Unexpected => {
                v.unexpected += 1;
                v.examples.push(format!("{key}: unexpected value {state:?}"));
            }
            Judgement::Replaced(p, q) => {
                if state.is_some() {
                    v.rollback += 1;
                    if p.is_some_and(|p| p.outcome == Outcome::Error) {
                        v.rollback_of_error += 1;
                    }
                } else {
                    v.lost += 1;
                }
                let phase = p.map_or("initial", |p| phase_name(phases, p.phase));
                *v.by_phase.entry(phase.to_string()).or_default() += 1;
                v.examples.push(format!(
                    "{key}: reads {} produced by {} but {} was acknowledged after it; KV.GET {}",
                    state.unwrap_or("nil"),
                    p.map_or("the initial state".into(), |p| describe(p, phases)),
                    describe(q, phases),
                    finals.siblings(key)
                ));
            }
        }
    }
    v
}
