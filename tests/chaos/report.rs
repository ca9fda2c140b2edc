//! Results: availability and latency per phase kind, the checkers' verdicts, a printed table and
//! a JSON document.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::checker::{ConvergenceVerdict, RegisterVerdict, SiblingVerdict};
use crate::history::{Event, Op, Outcome, Phase};

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
    pub convergence: Option<ConvergenceVerdict>,
    pub hints_drained_secs: Option<f64>,
    pub healthy_after_secs: f64,
    pub phases: Vec<PhaseStats>,
    pub events: Vec<Event>,
    /// The commonest error replies and client-side failures, with their counts.
    pub errors: Vec<(String, usize)>,
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
        let converged = self.convergence.as_ref().is_none_or(|c| c.converged == c.keys);
        r.lost == 0
            && r.unexpected == 0
            && r.unreadable == 0
            && s.lost == 0
            && s.stale == 0
            && s.unexpected == 0
            && s.unreadable == 0
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
        println!(
            "{:<10} {:>8} {:>8} {:>7} {:>7} {:>5} {:>9} {:>10} {:>6}",
            "workload", "ops", "acked", "failed", "unknown", "lost", "recovered", "unexpected", "stale"
        );
        println!(
            "{:<10} {:>8} {:>8} {:>7} {:>7} {:>5} {:>9} {:>10} {:>6}",
            "register", r.attempted, r.acked, r.failed, r.unknown, r.lost, r.recovered, r.unexpected, "-"
        );
        println!(
            "{:<10} {:>8} {:>8} {:>7} {:>7} {:>5} {:>9} {:>10} {:>6}",
            "siblings",
            s.writes + s.deletes,
            s.acked,
            "-",
            "-",
            s.lost,
            "-",
            s.unexpected,
            s.stale
        );
        println!(
            "   siblings: {} keys, {} puts, {} deletes, at most {} siblings per key after the heal",
            s.keys, s.writes, s.deletes, s.max_siblings
        );
        match &self.convergence {
            Some(c) => println!(
                "convergence: {}/{} keys identical on all replicas {:.1} s after the final heal (cluster healthy after {:.1} s, hints drained after {})",
                c.converged,
                c.keys,
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
    }

    /// The JSON document.
    pub fn json(&self) -> Value {
        let r = &self.register;
        let s = &self.siblings;
        json!({
            "name": self.name, "seed": self.seed, "nodes": self.nodes, "fault_secs": self.fault_secs,
            "faults": self.faults, "safe": self.safe(),
            "register": {"attempted": r.attempted, "acked": r.acked, "failed": r.failed, "unknown": r.unknown,
                "lost": r.lost, "recovered": r.recovered, "unexpected": r.unexpected, "unreadable": r.unreadable,
                "examples": r.examples},
            "siblings": {"keys": s.keys, "puts": s.writes, "deletes": s.deletes, "acked_puts": s.acked, "lost": s.lost,
                "stale": s.stale, "unexpected": s.unexpected, "unreadable": s.unreadable, "max_siblings": s.max_siblings,
                "examples": s.examples},
            "convergence": self.convergence.as_ref().map(|c| json!({"keys": c.keys, "converged": c.converged,
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
