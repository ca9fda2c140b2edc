//! Faults, each reversible and logged with timestamps, on a random schedule drawn from a seeded
//! generator (the same seed replays the same schedule).
//!
//! | kind | what | healed by |
//! |---|---|---|
//! | `kill` | `kill -9` of 1..=⌊(n-1)/2⌋ nodes | restart (same data dir, same id) |
//! | `pause` | `SIGSTOP` of 1..=⌊(n-1)/2⌋ nodes | `SIGCONT` |
//! | `partition` | the nodes split in two random halves, both ways | rules flushed |
//! | `isolate` | one node cut from all others | rules flushed |
//! | `one-way` | one group's packets to the others dropped, not the reverse | rules flushed |
//! | `bridge` | two halves cut from each other, one bridge node sees both | rules flushed |
//! | `flaky` | 25% of packets between any two nodes dropped | rules flushed |
//! | `skew` | one node's wall clock moved by ±30..300 s (libfaketime) | offset back to 0 |
//! | `combo` | a process fault plus a network fault (plus, half the time, a skew) | all of them |

use std::time::{Duration, Instant};

use crate::cluster::Cluster;
use crate::history::Recorder;
use crate::netfilter::Netfilter;

/// One fault.
#[derive(Debug, Clone)]
pub enum Fault {
    Kill(Vec<usize>),
    Pause(Vec<usize>),
    Partition(Vec<usize>, Vec<usize>),
    Isolate(usize),
    OneWay(Vec<usize>, Vec<usize>),
    Bridge(Vec<usize>, Vec<usize>, usize),
    Flaky(f64),
    Skew(usize, i64),
    Combo(Vec<Fault>),
}

impl Fault {
    /// The kind, used as the phase name.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Kill(_) => "kill",
            Fault::Pause(_) => "pause",
            Fault::Partition(..) => "partition",
            Fault::Isolate(_) => "isolate",
            Fault::OneWay(..) => "one-way",
            Fault::Bridge(..) => "bridge",
            Fault::Flaky(_) => "flaky",
            Fault::Skew(..) => "skew",
            Fault::Combo(_) => "combo",
        }
    }

    /// A line for the log, nodes numbered from 1 like their data dirs.
    pub fn describe(&self) -> String {
        let ns = |v: &[usize]| v.iter().map(|i| format!("n{}", i + 1)).collect::<Vec<_>>().join(",");
        match self {
            Fault::Kill(v) => format!("kill -9 {}", ns(v)),
            Fault::Pause(v) => format!("SIGSTOP {}", ns(v)),
            Fault::Partition(a, b) => format!("partition {{{}}} | {{{}}}", ns(a), ns(b)),
            Fault::Isolate(i) => format!("isolate n{}", i + 1),
            Fault::OneWay(a, b) => format!("one-way {{{}}} -/-> {{{}}}", ns(a), ns(b)),
            Fault::Bridge(a, b, x) => format!("bridge {{{}}} | {{{}}} via n{}", ns(a), ns(b), x + 1),
            Fault::Flaky(p) => format!("flaky links, {:.0}% packet loss", p * 100.0),
            Fault::Skew(i, s) => format!("clock of n{} {s:+} s", i + 1),
            Fault::Combo(v) => v.iter().map(Fault::describe).collect::<Vec<_>>().join(" + "),
        }
    }
}

/// Which faults a schedule draws from, and how long they and the quiet gaps last.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub kinds: Vec<&'static str>,
    pub fault_secs: (u64, u64),
    pub quiet_secs: (u64, u64),
}

/// Every kind of fault.
pub const KINDS: [&str; 9] = ["kill", "pause", "partition", "isolate", "one-way", "bridge", "flaky", "skew", "combo"];

impl Schedule {
    /// Every kind of fault.
    pub fn mixed(fault_secs: (u64, u64), quiet_secs: (u64, u64)) -> Schedule {
        Schedule { kinds: KINDS.to_vec(), fault_secs, quiet_secs }
    }

    /// Only the kinds named in `list` (comma-separated, e.g. `isolate,kill`).
    pub fn only(self, list: &str) -> Result<Schedule, String> {
        let mut kinds = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let kind = KINDS
                .iter()
                .find(|k| **k == name)
                .ok_or_else(|| format!("unknown nemesis {name:?} (known: {})", KINDS.join(", ")))?;
            kinds.push(*kind);
        }
        if kinds.is_empty() {
            return Err("no nemesis named".into());
        }
        Ok(Schedule { kinds, ..self })
    }
}

/// Draws one fault of `kind` for `n` nodes.
fn draw(rng: &mut fastrand::Rng, kind: &str, n: usize, can_skew: bool) -> Fault {
    let mut order: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut order);
    let max_down = ((n - 1) / 2).max(1);
    match kind {
        "kill" => Fault::Kill(order[..rng.usize(1..=max_down)].to_vec()),
        "pause" => Fault::Pause(order[..rng.usize(1..=max_down)].to_vec()),
        "partition" => {
            let cut = rng.usize(1..=n / 2);
            Fault::Partition(order[..cut].to_vec(), order[cut..].to_vec())
        }
        "isolate" => Fault::Isolate(order[0]),
        "one-way" => {
            let cut = rng.usize(1..=n / 2);
            Fault::OneWay(order[..cut].to_vec(), order[cut..].to_vec())
        }
        "bridge" if n >= 3 => {
            let rest = &order[1..];
            let cut = rest.len() / 2;
            Fault::Bridge(rest[..cut].to_vec(), rest[cut..].to_vec(), order[0])
        }
        "bridge" => Fault::Isolate(order[0]),
        "flaky" => Fault::Flaky(0.25),
        "skew" if can_skew => {
            let secs = rng.i64(30..=300);
            Fault::Skew(order[0], if rng.bool() { secs } else { -secs })
        }
        "skew" => Fault::Pause(vec![order[0]]),
        _ => {
            let which = if rng.bool() { "kill" } else { "pause" };
            let process = draw(rng, which, n, can_skew);
            let net = ["partition", "isolate", "one-way", "bridge", "flaky"][rng.usize(0..5)];
            let mut parts = vec![process, draw(rng, net, n, can_skew)];
            if can_skew && rng.bool() {
                parts.push(draw(rng, "skew", n, can_skew));
            }
            Fault::Combo(parts)
        }
    }
}

/// Puts `fault` in force.
pub fn apply(c: &mut Cluster, net: &mut Netfilter, fault: &Fault) -> Result<(), String> {
    let ip = |c: &Cluster, v: &[usize]| v.iter().map(|&i| c.nodes[i].ip.clone()).collect::<Vec<_>>();
    match fault {
        Fault::Kill(v) => v.iter().for_each(|&i| c.kill(i)),
        Fault::Pause(v) => v.iter().for_each(|&i| c.pause(i)),
        Fault::Partition(a, b) | Fault::Bridge(a, b, _) => {
            let (a, b) = (ip(c, a), ip(c, b));
            net.split(&refs(&a), &refs(&b))?;
        }
        Fault::Isolate(i) => {
            let rest: Vec<usize> = (0..c.nodes.len()).filter(|j| j != i).collect();
            let (a, b) = (ip(c, &[*i]), ip(c, &rest));
            net.split(&refs(&a), &refs(&b))?;
        }
        Fault::OneWay(a, b) => {
            for x in ip(c, a) {
                for y in ip(c, b) {
                    net.drop_between(&x, &y, None)?;
                }
            }
        }
        Fault::Flaky(p) => {
            let all = ip(c, &(0..c.nodes.len()).collect::<Vec<_>>());
            for x in &all {
                for y in all.iter().filter(|y| *y != x) {
                    net.drop_between(x, y, Some(*p))?;
                }
            }
        }
        Fault::Skew(i, s) => c.set_skew(*i, *s)?,
        Fault::Combo(v) => {
            for f in v {
                apply(c, net, f)?;
            }
        }
    }
    Ok(())
}

/// Ends `fault`: restarts, resumes, flushes the rules, puts clocks back. The nodes it restarted
/// are added to `restarted`.
pub fn heal(c: &mut Cluster, net: &mut Netfilter, fault: &Fault, restarted: &mut Vec<usize>) -> Result<(), String> {
    match fault {
        Fault::Kill(v) => {
            for &i in v {
                c.start(i)?;
                restarted.push(i);
            }
        }
        Fault::Pause(v) => v.iter().for_each(|&i| c.resume(i)),
        Fault::Partition(..) | Fault::Isolate(_) | Fault::OneWay(..) | Fault::Bridge(..) | Fault::Flaky(_) => {
            net.heal()?
        }
        Fault::Skew(i, _) => c.set_skew(*i, 0)?,
        Fault::Combo(v) => {
            for f in v.iter().rev() {
                heal(c, net, f, restarted)?;
            }
        }
    }
    Ok(())
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Runs faults from `schedule` for `total`, each followed by a quiet gap; leaves everything healed.
/// `restarted(node)` is called for every node restarted after a `kill` (the writes sent through a
/// node the moment it answers again).
pub async fn drive(
    c: &mut Cluster,
    net: &mut Netfilter,
    rec: &Recorder,
    schedule: &Schedule,
    seed: u64,
    total: Duration,
    on_restart: impl Fn(usize),
) -> Result<usize, String> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let n = c.nodes.len();
    let started = Instant::now();
    let mut count = 0;
    while started.elapsed() < total {
        let quiet = rng.u64(schedule.quiet_secs.0..=schedule.quiet_secs.1);
        tokio::time::sleep(Duration::from_secs(quiet)).await;
        let kind = schedule.kinds[rng.usize(0..schedule.kinds.len())];
        let fault = draw(&mut rng, kind, n, c.can_skew());
        let len = rng.u64(schedule.fault_secs.0..=schedule.fault_secs.1);
        rec.enter(fault.kind());
        rec.event("start", fault.describe());
        let applied = apply(c, net, &fault);
        if applied.is_ok() {
            tokio::time::sleep(Duration::from_secs(len)).await;
        }
        let mut restarted = Vec::new();
        let healed = heal(c, net, &fault, &mut restarted);
        restarted.into_iter().for_each(&on_restart);
        rec.event("heal", fault.describe());
        rec.enter("healthy");
        applied?;
        healed?;
        count += 1;
    }
    Ok(count)
}
