//! Results: availability and latency per phase kind, the checkers' verdicts, a printed table and
//! a JSON document.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::checker::{ConvergenceVerdict, RegisterVerdict, SiblingVerdict};
use crate::history::{Event, Op, Outcome, Phase};
use crate::mixcheck::MixVerdict;
use crate::rollback::OverwriteVerdict;

/// Operations that started during one kind of phase (all phases of that kind together).
#[derive(Debug, Clone, Default)]
pub struct PhaseStats {
    pub name: String,
    pub secs: f64,
    pub ops: usize,
    pub acked: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl PhaseStats {
    pub fn availability(&self) -> f64 {
        if self.ops == 0 {
            1.0
        } else {
            self.acked as f64 / self.ops as f64
        }
    }
}

/// Groups operations by the kind of phase they started in.
pub fn phase_stats(ops: &[Op], phases: &[Phase], end_ms: u64) -> Vec<PhaseStats> {
    let mut by: BTreeMap<String, (PhaseStats, Vec<u64>)> = BTreeMap::new();
    for (i, p) in phases.iter().enumerate().filter(|(_, p)| p.name != "final") {
        let end = phases.get(i + 1).map_or(end_ms, |n| n.start_ms);
        let e = by
            .entry(p.name.clone())
            .or_insert_with(|| (PhaseStats { name: p.name.clone(), ..PhaseStats::default() }, Vec::new()));
        e.0.secs += end.saturating_sub(p.start_ms) as f64 / 1000.0;
    }
    for o in ops {
        let Some(p) = phases.get(o.phase) else { continue };
        if let Some(e) = by.get_mut(&p.name) {
            e.0.ops += 1;
            if o.outcome == Outcome::Ok {
                e.0.acked += 1;
            }
            e.1.push(o.latency_us);
        }
    }
    by.into_values()
        .map(|(mut s, mut lat)| {
            lat.sort_unstable();
            let q = |f: f64| {
                lat.get(((lat.len() as f64 * f) as usize).min(lat.len().saturating_sub(1)))
                    .map_or(0.0, |&u| u as f64 / 1000.0)
            };
            s.p50_ms = q(0.50);
            s.p99_ms = q(0.99);
            s.max_ms = lat.last().map_or(0.0, |&u| u as f64 / 1000.0);
            s
        })
        .collect()
}

/// Everything one run found.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub name: String,
    pub seed: u64,
    pub nodes: usize,
    pub fault_secs: f64,
    pub faults: usize,
    pub register: RegisterVerdict,
    pub siblings: SiblingVerdict,
    pub overwrite: OverwriteVerdict,
    pub mix: MixVerdict,
    pub convergence: Option<ConvergenceVerdict>,
    pub hints_drained_secs: Option<f64>,
    pub healthy_after_secs: f64,
    pub phases: Vec<PhaseStats>,
    pub events: Vec<Event>,
    /// The commonest error replies and client-side failures, with their counts.
    pub errors: Vec<(String, usize)>,
    /// The history and replica states of keys the rollback checkers flagged.
    pub diagnostics: Vec<String>,
}

/// The `top` commonest errors (first 60 characters of each message).
pub fn top_errors(ops: &[Op], top: usize) -> Vec<(String, usize)> {
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for e in ops.iter().filter_map(|o| o.error.as_deref()) {
        *by.entry(e.chars().take(60).collect()).or_default() += 1;
    }
    let mut v: Vec<(String, usize)> = by.into_iter().collect();
    v.sort_by_key(|b| std::cmp::Reverse(b.1));
    v.truncate(top);
    v
}

impl RunReport {
    /// Whether every safety property held.
    pub fn safe(&self) -> bool {
        let r = &self.register;
        let s = &self.siblings;
        let (o, m) = (&self.overwrite, &self.mix);
        let converged =
            self.convergence.as_ref().is_none_or(|c| c.converged == c.keys && c.on_primaries == c.acked_keys);
        r.lost == 0
            && r.unexpected == 0
            && r.unreadable == 0
            && s.lost == 0
            && s.stale == 0
            && s.unexpected == 0
            && s.unreadable == 0
            && o.rollback == 0
            && o.lost == 0
            && o.unexpected == 0
            && o.unreadable == 0
            && m.rollback == 0
            && m.lost == 0
            && m.unexpected == 0
            && m.unreadable == 0
            && converged
            && self.hints_drained_secs.is_some()
    }

    /// The tables.
    pub fn print(&self) {
        let r = &self.register;
        let s = &self.siblings;
        println!();
        println!(
            "== {}: seed {}, {} nodes, {:.0} s of faults ({} faults)",
            self.name, self.seed, self.nodes, self.fault_secs, self.faults
        );
        let (o, m) = (&self.overwrite, &self.mix);
        let row = |cells: [String; 10]| {
            println!(
                "{:<10} {:>8} {:>8} {:>7} {:>7} {:>5} {:>9} {:>10} {:>6} {:>8}",
                cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6], cells[7], cells[8], cells[9]
            )
        };
        let n = |x: usize| x.to_string();
        let dash = || "-".to_string();
        row(["workload", "ops", "acked", "failed", "unknown", "lost", "recovered", "unexpected", "stale", "rollback"]
            .map(String::from));
        row([
            "register".into(),
            n(r.attempted),
            n(r.acked),
            n(r.failed),
            n(r.unknown),
            n(r.lost),
            n(r.recovered),
            n(r.unexpected),
            dash(),
            dash(),
        ]);
        row([
            "siblings".into(),
            n(s.writes + s.deletes),
            n(s.acked),
            dash(),
            dash(),
            n(s.lost),
            dash(),
            n(s.unexpected),
            n(s.stale),
            dash(),
        ]);
        row([
            "overwrite".into(),
            n(o.attempted),
            n(o.acked),
            n(o.failed + o.errors),
            n(o.unknown),
            n(o.lost),
            n(o.newer_than_ack),
            n(o.unexpected),
            dash(),
            n(o.rollback),
        ]);
        row([
            "mix".into(),
            n(m.ops),
            n(m.acked),
            n(m.failed + m.errors),
            n(m.unknown),
            n(m.lost),
            dash(),
            n(m.unexpected),
            dash(),
            n(m.rollback),
        ]);
        println!(
            "   siblings: {} keys, {} puts, {} deletes, at most {} siblings per key after the heal",
            s.keys, s.writes, s.deletes, s.max_siblings
        );
        println!(
            "   overwrite: {} keys, {} error replies; {} rolled back ({} of them to a write that had an error reply), \
             undoing up to {} acknowledged writes; {} read a newer unacknowledged write; {} a write that timed out \
             and ran late (allowed); {} keys with siblings",
            o.keys,
            o.errors,
            o.rollback,
            o.rollback_of_error,
            o.max_acked_undone,
            o.newer_than_ack,
            o.late_timeouts,
            o.keys_with_siblings
        );
        println!(
            "   mix: {} keys, {} error replies, {} effective acknowledged ops; {} rolled back ({} to a write that had an \
             error reply), {} lost; {} explained only by a timed-out request running late (allowed); {} keys \
             with siblings",
            m.keys,
            m.errors,
            m.effective,
            m.rollback,
            m.rollback_of_error,
            m.lost,
            m.late_timeouts,
            m.keys_with_siblings
        );
        println!(
            "   getset (informational): {} acknowledged, {} returned a replaced value, {} a value nobody wrote",
            m.getsets, m.stale_reads, m.getset_unexpected
        );
        for (what, by) in [("overwrite", &o.by_phase), ("mix", &m.by_phase)] {
            if !by.is_empty() {
                let list: Vec<String> = by.iter().map(|(p, c)| format!("{p} {c}")).collect();
                println!("   {what} rollbacks by the phase the write that came back was sent in: {}", list.join(", "));
            }
        }
        match &self.convergence {
            Some(c) => println!(
                "convergence: {}/{} keys identical on all replicas, {}/{} acknowledged SETs on all their final primaries, {:.1} s after the final heal (cluster healthy after {:.1} s, hints drained after {})",
                c.converged,
                c.keys,
                c.on_primaries,
                c.acked_keys,
                c.secs_after_heal,
                self.healthy_after_secs,
                self.hints_drained_secs.map_or("NEVER".into(), |h| format!("{h:.1} s"))
            ),
            None => println!("convergence: not checked"),
        }
        println!(
            "{:<10} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
            "phase", "secs", "ops", "acked", "avail", "p50 ms", "p99 ms", "max ms"
        );
        for p in &self.phases {
            println!(
                "{:<10} {:>7.1} {:>8} {:>8} {:>7.1}% {:>8.2} {:>8.2} {:>9.1}",
                p.name,
                p.secs,
                p.ops,
                p.acked,
                p.availability() * 100.0,
                p.p50_ms,
                p.p99_ms,
                p.max_ms
            );
        }
        for (e, n) in &self.errors {
            println!("   error x{n}: {e}");
        }
        for e in r.examples.iter().chain(&s.examples).chain(self.convergence.iter().flat_map(|c| &c.examples)).take(20)
        {
            println!("   ! {e}");
        }
        for e in o.examples.iter().take(10).chain(m.examples.iter().take(10)) {
            println!("   ! {e}");
        }
        for e in &self.diagnostics {
            println!("   (explain) {e}");
        }
    }

    /// The JSON document.
    pub fn json(&self) -> Value {
        let r = &self.register;
        let s = &self.siblings;
        let (o, m) = (&self.overwrite, &self.mix);
        json!({
            "name": self.name, "seed": self.seed, "nodes": self.nodes, "fault_secs": self.fault_secs,
            "faults": self.faults, "safe": self.safe(),
            "register": {"attempted": r.attempted, "acked": r.acked, "failed": r.failed, "unknown": r.unknown,
                "lost": r.lost, "recovered": r.recovered, "unexpected": r.unexpected, "unreadable": r.unreadable,
                "examples": r.examples},
            "siblings": {"keys": s.keys, "puts": s.writes, "deletes": s.deletes, "acked_puts": s.acked, "lost": s.lost,
                "stale": s.stale, "unexpected": s.unexpected, "unreadable": s.unreadable, "max_siblings": s.max_siblings,
                "examples": s.examples},
            "overwrite": {"keys": o.keys, "attempted": o.attempted, "acked": o.acked, "failed": o.failed,
                "errors": o.errors, "unknown": o.unknown, "rollback": o.rollback,
                "rollback_of_error": o.rollback_of_error, "late_timeouts": o.late_timeouts,
                "max_acked_undone": o.max_acked_undone, "lost": o.lost, "unexpected": o.unexpected,
                "unreadable": o.unreadable, "newer_than_ack": o.newer_than_ack,
                "keys_with_siblings": o.keys_with_siblings, "rollback_by_phase": o.by_phase, "examples": o.examples},
            "mix": {"keys": m.keys, "ops": m.ops, "acked": m.acked, "failed": m.failed, "errors": m.errors,
                "unknown": m.unknown, "effective": m.effective, "rollback": m.rollback,
                "rollback_of_error": m.rollback_of_error, "late_timeouts": m.late_timeouts,
                "lost": m.lost, "unexpected": m.unexpected, "unreadable": m.unreadable,
                "getsets": m.getsets, "getset_stale_reads": m.stale_reads,
                "getset_unexpected": m.getset_unexpected, "keys_with_siblings": m.keys_with_siblings,
                "rollback_by_phase": m.by_phase, "examples": m.examples},
            "convergence": self.convergence.as_ref().map(|c| json!({"keys": c.keys, "converged": c.converged,
                "acked_keys": c.acked_keys, "on_primaries": c.on_primaries,
                "secs_after_heal": c.secs_after_heal, "examples": c.examples})),
            "hints_drained_secs": self.hints_drained_secs,
            "healthy_after_secs": self.healthy_after_secs,
            "errors": self.errors.iter().map(|(e, n)| json!({"error": e, "count": n})).collect::<Vec<_>>(),
            "phases": self.phases.iter().map(|p| json!({"name": p.name, "secs": p.secs, "ops": p.ops, "acked": p.acked,
                "availability": p.availability(), "p50_ms": p.p50_ms, "p99_ms": p.p99_ms, "max_ms": p.max_ms})).collect::<Vec<_>>(),
            "nemesis": self.events.iter().map(|e| json!({"t_ms": e.t_ms, "unix_ms": e.unix_ms, "action": e.action,
                "fault": e.fault})).collect::<Vec<_>>(),
        })
    }
}
