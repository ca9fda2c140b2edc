//! One run: start the cluster, run the workloads while the nemesis injects faults, heal, let
//! the cluster settle, then check.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::checker::{self, connections, read_all};
use crate::cluster::{fresh_dir, Cluster};
use crate::history::Recorder;
use crate::nemesis::{self, Schedule};
use crate::netfilter::Netfilter;
use crate::report::{phase_stats, top_errors, RunReport};
use crate::workload::{register_client, sibling_client, Shared};

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
    let started = Instant::now();
    let faults = nemesis::drive(cluster, &mut net, &rec, &spec.schedule, spec.seed, spec.faults_for).await;
    let fault_secs = started.elapsed().as_secs_f64();
    let healed = Instant::now();
    // A little healthy traffic after the last heal, then stop the clients.
    tokio::time::sleep(Duration::from_secs(3)).await;
    shared.stop.store(true, Ordering::Relaxed);
    while tasks.join_next().await.is_some() {}
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
    let conns = connections(&urls, &[]).await?;
    let register = checker::register(&ops, &conns).await;
    let siblings = checker::siblings(&ops, &conns).await;
    let convergence = if spec.check_convergence {
        // Read every key once more at R = N: read repair brings every replica up to date (there
        // is no anti-entropy yet), then compare the replicas' own copies.
        let mut keys: Vec<String> =
            ops.iter().filter(|o| o.kind == "set" || o.kind == "kv.get").map(|o| o.key.clone()).collect();
        keys.sort();
        keys.dedup();
        let all = connections(&urls, &["ALL"]).await?;
        let _ = read_all(&all, &keys, |k| redis::cmd("KV.GET").arg(k).clone()).await;
        Some(checker::convergence(&urls, &keys, healed, Duration::from_secs(180)).await)
    } else {
        None
    };
    Ok(RunReport {
        name: spec.name.to_string(),
        seed: spec.seed,
        nodes: spec.nodes,
        fault_secs,
        faults,
        register,
        siblings,
        convergence,
        hints_drained_secs,
        healthy_after_secs,
        phases: phase_stats(&ops, &rec.phases(), end_ms),
        events: rec.events(),
        errors: top_errors(&ops, 6),
    })
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

/// Writes the siblings workload's operations (one per line) to `history-siblings.txt` under `root`,
/// for replaying a failure by eye.
fn write_history(root: &Path, ops: &[crate::history::Op]) -> Result<(), String> {
    use std::fmt::Write as _;
    let mut text = String::new();
    for o in ops.iter().filter(|o| o.key.starts_with("s:")) {
        let _ = writeln!(
            text,
            "+{}ms {:?} {} {} value={:?} seen={:?} context={:?} latency={}us error={:?}",
            o.start_ms, o.outcome, o.kind, o.key, o.value, o.seen, o.context, o.latency_us, o.error
        );
    }
    let path = root.join("history-siblings.txt");
    std::fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))
}
