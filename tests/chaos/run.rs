//! One run: start the cluster, run the workloads while the nemesis injects faults, heal, let
//! the cluster settle, then check.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::checker::{self, connections};
use crate::cluster::{fresh_dir, Cluster};
use crate::history::{Op, Outcome, Recorder};
use crate::mixcheck::judge_mix;
use crate::nemesis::{self, Schedule};
use crate::netfilter::Netfilter;
use crate::overwrite::{mix_client, overwrite_client};
use crate::report::{phase_stats, top_errors, RunReport};
use crate::rollback::{judge_overwrite, read_finals};
use crate::workload::{register_client, restart_writer, sibling_client, Shared};

/// Writes sent through a node the moment it answers after a restart.
const RESTART_WRITES: u64 = 50;

/// What to run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub name: &'static str,
    pub nodes: usize,
    pub seed: u64,
    pub faults_for: Duration,
    pub schedule: Schedule,
    /// TOML lines added to every node's config.
    pub extra_toml: String,
    pub register_clients: u32,
    pub sibling_clients: u32,
    pub sibling_keys: usize,
    /// Clients of the overwrite workload, and keys each of them owns.
    pub overwrite_clients: u32,
    pub overwrite_keys: usize,
    /// Clients of the mix workload, and the keys they share.
    pub mix_clients: u32,
    pub mix_keys: usize,
    /// Whether the overwrite and mix clients move to fresh keys at every phase.
    pub rotate_keys: bool,
    pub pace: Duration,
    pub max_ops: u64,
    pub check_convergence: bool,
}

/// Runs `spec` with the `cartwheel` binary `bin`, node data under `root`.
pub async fn run(spec: &RunSpec, bin: &Path, root: &Path) -> Result<RunReport, String> {
    fresh_dir(root)?;
    let mut cluster = Cluster::create(root, spec.nodes, bin, &spec.extra_toml)?;
    let result = run_on(spec, &mut cluster).await;
    if result.is_err() {
        for i in 0..cluster.nodes.len() {
            eprintln!("--- n{} log tail ---\n{}", i + 1, cluster.log_tail(i, 15));
        }
    }
    cluster.stop_all();
    result
}

async fn run_on(spec: &RunSpec, cluster: &mut Cluster) -> Result<RunReport, String> {
    for i in 0..spec.nodes {
        cluster.start(i)?;
    }
    let boot = cluster.wait_healthy(Duration::from_secs(60)).await?;
    println!(
        "  {} nodes healthy after {:.1} s{}",
        spec.nodes,
        boot.as_secs_f64(),
        if cluster.can_skew() { "" } else { " (no libfaketime: skew faults become pauses)" }
    );
    let mut net = Netfilter::install()?;
    let rec = Arc::new(Recorder::new());
    let urls: Vec<String> = cluster.nodes.iter().map(|n| n.url()).collect();
    let shared = Shared {
        urls: Arc::new(urls.clone()),
        rec: Arc::clone(&rec),
        stop: Arc::new(AtomicBool::new(false)),
        pace: spec.pace,
        max_ops: spec.max_ops,
    };
    let mut tasks = JoinSet::new();
    for id in 0..spec.register_clients {
        tasks.spawn(register_client(id, shared.clone()));
    }
    for id in 0..spec.sibling_clients {
        tasks.spawn(sibling_client(100 + id, shared.clone(), spec.sibling_keys, spec.seed));
    }
    for id in 0..spec.overwrite_clients {
        tasks.spawn(overwrite_client(id, shared.clone(), spec.overwrite_keys, spec.rotate_keys, spec.seed));
    }
    for id in 0..spec.mix_clients {
        tasks.spawn(mix_client(id, shared.clone(), spec.mix_keys, spec.rotate_keys, spec.seed));
    }
    let started = Instant::now();
    // Every node restarted after a kill takes writes the moment it answers.
    let restarts = std::sync::atomic::AtomicU64::new(0);
    let bursts = std::sync::Mutex::new(Vec::new());
    let on_restart = |node: usize| {
        let n = restarts.fetch_add(1, Ordering::Relaxed);
        let task = tokio::spawn(restart_writer(node, n, RESTART_WRITES, shared.clone()));
        bursts.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(task);
    };
    let faults = nemesis::drive(cluster, &mut net, &rec, &spec.schedule, spec.seed, spec.faults_for, on_restart).await;
    let fault_secs = started.elapsed().as_secs_f64();
    let healed = Instant::now();
    // A little healthy traffic after the last heal, then stop the clients.
    tokio::time::sleep(Duration::from_secs(3)).await;
    shared.stop.store(true, Ordering::Relaxed);
    while tasks.join_next().await.is_some() {}
    for burst in bursts.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
        let _ = burst.await;
    }
    rec.enter("final");
    let end_ms = rec.now_ms();
    let faults = faults?;
    drop(net);

    cluster.wait_healthy(Duration::from_secs(120)).await?;
    let healthy_after_secs = healed.elapsed().as_secs_f64();
    let hints_drained_secs = wait_hints_drained(cluster, healed, Duration::from_secs(120)).await;
    let ops = rec.ops();
    write_history(&cluster.root, &ops)?;
    println!("  {} operations recorded; checking", ops.len());
    let overwritten = keys_of(&ops, |o| o.kind.starts_with("ow.") || o.kind.starts_with("mix."));
    // Checked before any checker reads (a read repairs), with no read pass of its own: the
    // replicas must converge by themselves (anti-entropy) within 60 s of the final heal — every
    // key the workloads wrote, the overwrite and mix keys included.
    let convergence = if spec.check_convergence {
        let mut keys = keys_of(&ops, |o| o.kind == "set" || o.kind == "kv.get");
        keys.extend(overwritten.iter().cloned());
        // An acknowledged SET (written once, never deleted) must be on every one of its primaries
        // in the final ring, not only the same wherever it is.
        let acked: std::collections::HashMap<String, String> = ops
            .iter()
            .filter(|o| o.kind == "set" && o.outcome == Outcome::Ok)
            .filter_map(|o| Some((o.key.clone(), o.value.clone()?)))
            .collect();
        Some(checker::convergence(&urls, &keys, &acked, healed, Duration::from_secs(60)).await)
    } else {
        None
    };
    let conns = connections(&urls, &[]).await?;
    let register = checker::register(&ops, &conns).await;
    let siblings = checker::siblings(&ops, &conns).await;
    // The rollback checkers: every TTL the mix workload set has run out, then every key is read
    // at R = N.
    wait_ttls(&ops, &rec).await;
    let finals = read_finals(&urls, &overwritten, &rec).await?;
    let (phases, events) = (rec.phases(), rec.events());
    let overwrite = judge_overwrite(&ops, &finals, &phases);
    let mix = judge_mix(&ops, &finals, &phases, &events);
    let flagged: Vec<&str> = overwrite
        .examples
        .iter()
        .chain(&mix.examples)
        .filter(|e| e.contains(": reads "))
        .filter_map(|e| e.split(": ").next())
        .take(4)
        .collect();
    let diagnostics = explain(&urls, &ops, &flagged).await;
    Ok(RunReport {
        name: spec.name.to_string(),
        seed: spec.seed,
        nodes: spec.nodes,
        fault_secs,
        faults,
        register,
        siblings,
        overwrite,
        mix,
        convergence,
        hints_drained_secs,
        healthy_after_secs,
        phases: phase_stats(&ops, &phases, end_ms),
        events,
        errors: top_errors(&ops, 6),
        diagnostics,
    })
}

/// For keys a rollback checker flagged: every operation on them (client times) and what each
/// replica holds now, so that a failure in CI can be explained from its log alone.
async fn explain(urls: &[String], ops: &[Op], keys: &[&str]) -> Vec<String> {
    let Ok(conns) = connections(urls, &[]).await else { return vec!["cannot connect to explain".into()] };
    let mut out = Vec::new();
    for key in keys {
        for o in ops.iter().filter(|o| o.key == *key && o.outcome != Outcome::Fail) {
            let what = match (&o.value, o.ttl_ms) {
                (Some(v), _) => v.clone(),
                (None, Some(t)) => format!("{t} ms"),
                _ => String::new(),
            };
            out.push(format!(
                "{key}: {} {what} -> {} {:?} (+{:.3}..{:.3} s){}",
                o.kind,
                o.reply.as_deref().unwrap_or("-"),
                o.outcome,
                o.start_us as f64 / 1e6,
                o.end_us() as f64 / 1e6,
                o.error.as_deref().map(|e| format!(" {e}")).unwrap_or_default()
            ));
        }
        out.extend(checker::replica_states(urls, &conns, key).await);
    }
    out
}

/// The distinct keys of the operations `keep` selects, sorted.
fn keys_of(ops: &[Op], keep: impl Fn(&Op) -> bool) -> Vec<String> {
    let mut keys: Vec<String> = ops.iter().filter(|o| keep(o)).map(|o| o.key.clone()).collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Waits until every `EXPIRE`/`PEXPIRE` that may have run has run out (in cluster time, which a
/// skewed node does not move).
async fn wait_ttls(ops: &[Op], rec: &Recorder) {
    let until_us = ops
        .iter()
        .filter(|o| o.outcome != Outcome::Fail)
        .filter_map(|o| o.ttl_ms.map(|t| o.end_us() + t * 1000 + 500_000))
        .max()
        .unwrap_or(0);
    let wait = until_us.saturating_sub(rec.now_us()).min(10_000_000);
    tokio::time::sleep(Duration::from_micros(wait)).await;
}

/// Seconds from `healed` until no node holds hints, or `None` if that did not happen in `within`.
async fn wait_hints_drained(cluster: &Cluster, healed: Instant, within: Duration) -> Option<f64> {
    let start = Instant::now();
    while start.elapsed() < within {
        if let Ok(0) = cluster.info_sum("hints_pending").await {
            return Some(healed.elapsed().as_secs_f64());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    None
}

/// Writes the siblings, overwrite and mix workloads' operations (one per line, in the order they
/// were recorded) to `history-siblings.txt`, `history-overwrite.txt` and `history-mix.txt` under
/// `root`, for replaying a failure by eye.
fn write_history(root: &Path, ops: &[Op]) -> Result<(), String> {
    use std::fmt::Write as _;
    for (prefix, file) in [("s:", "history-siblings.txt"), ("o:", "history-overwrite.txt"), ("m:", "history-mix.txt")] {
        let mut text = String::new();
        for o in ops.iter().filter(|o| o.key.starts_with(prefix)) {
            let _ = write!(
                text,
                "+{:.3}..{:.3}s {:?} {} {} value={:?}",
                o.start_us as f64 / 1e6,
                o.end_us() as f64 / 1e6,
                o.outcome,
                o.kind,
                o.key,
                o.value
            );
            let _ = match prefix {
                "s:" => writeln!(text, " seen={:?} context={:?} error={:?}", o.seen, o.context, o.error),
                _ => writeln!(text, " ttl_ms={:?} reply={:?} error={:?}", o.ttl_ms, o.reply, o.error),
            };
        }
        let path = root.join(file);
        std::fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
    }
    Ok(())
}
