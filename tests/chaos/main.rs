//! The fault-injection harness and safety checker (README "Fault injection"): real `cartwheel`
//! processes on 127.0.0.2…, real faults (kill -9, SIGSTOP, iptables partitions, clock skew), client
//! workloads over RESP, and checkers that prove no acknowledged write was lost or rolled back.
//!
//! A test target without libtest's harness, so it is one script: `cargo test --release --test
//! chaos` runs the short schedule (about 2.5 minutes), then the self-test — the same checkers
//! against a deliberately broken cluster (`debug-unsafe-early-ack-ms`), which must report lost
//! writes and rollbacks. Before either, the rollback judges are run on hand-made histories
//! (`judgecheck.rs`). Settings come from the environment:
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `CARTWHEEL_CHAOS` | `short`, `long` or `off` | `short` |
//! | `CARTWHEEL_CHAOS_SEED` | the schedule's seed (printed either way) | random |
//! | `CARTWHEEL_CHAOS_MINUTES` | minutes of faults of the long schedule | 20 |
//! | `CARTWHEEL_CHAOS_SECONDS` | seconds of faults, overriding either schedule | 90 (short) |
//! | `CARTWHEEL_CHAOS_NODES` | nodes | 5 |
//! | `CARTWHEEL_CHAOS_NEMESES` | only these fault kinds, comma-separated (`isolate,kill`) | all |
//! | `CARTWHEEL_CHAOS_OVERWRITE_CLIENTS` / `_KEYS` | overwrite workload: clients, keys each | 8 / 5 |
//! | `CARTWHEEL_CHAOS_MIX_CLIENTS` / `_KEYS` | mix workload: clients, shared keys | 4 / 8 |
//! | `CARTWHEEL_CHAOS_ROTATE_KEYS` | `0`: overwrite/mix keys fixed, not fresh ones every phase | `1` |
//! | `CARTWHEEL_CHAOS_SELFTEST` | `0` skips the broken-build self-test | `1` |
//! | `CARTWHEEL_CHAOS_REQUIRED` | `1`: fail instead of skipping when not root / no iptables | `0` |
//! | `CARTWHEEL_CHAOS_OUT` | where JSON results and node data/logs go | `target/<profile>/chaos` |
//!
//! As root, the harness re-executes itself in a new network namespace (`unshare --net`) so that
//! its iptables rules and addresses vanish with it whatever happens; without `unshare` it uses the
//! current namespace and its own chain, removed on exit.

mod checker;
mod cluster;
mod history;
mod judgecheck;
mod mixcheck;
mod nemesis;
mod netfilter;
mod overwrite;
mod report;
mod rollback;
mod run;
mod workload;

use std::env;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use nemesis::Schedule;
use run::RunSpec;

const CARTWHEEL: &str = env!("CARGO_BIN_EXE_cartwheel");

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("chaos: test");
        return ExitCode::SUCCESS;
    }
    // `cargo test <filter>` passes the filter to every test binary.
    if args.iter().any(|a| !a.starts_with('-') && !"chaos".contains(a.as_str())) {
        println!("chaos: filtered out");
        return ExitCode::SUCCESS;
    }
    let mode = env::var("CARTWHEEL_CHAOS").unwrap_or_else(|_| "short".into());
    if mode == "off" {
        println!("chaos: CARTWHEEL_CHAOS=off, skipped");
        return ExitCode::SUCCESS;
    }
    let required = env::var("CARTWHEEL_CHAOS_REQUIRED").is_ok_and(|v| v == "1");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root || !netfilter::available() {
        let why = "the fault-injection run needs root and iptables (partitions)";
        if required {
            eprintln!("chaos: FAILED: {why}");
            return ExitCode::FAILURE;
        }
        println!("chaos: SKIPPED: {why}; set CARTWHEEL_CHAOS_REQUIRED=1 to make this an error");
        return ExitCode::SUCCESS;
    }
    if env::var_os("CARTWHEEL_CHAOS_NETNS").is_none() && netns_available() {
        let exe = match env::current_exe() {
            Ok(e) => e,
            Err(e) => {
                eprintln!("chaos: current_exe: {e}");
                return ExitCode::FAILURE;
            }
        };
        let status = Command::new("unshare")
            .arg("--net")
            .arg("--")
            .arg(exe)
            .args(&args)
            .env("CARTWHEEL_CHAOS_NETNS", "1")
            .status();
        return match status {
            Ok(s) if s.success() => ExitCode::SUCCESS,
            Ok(_) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("chaos: unshare: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if env::var_os("CARTWHEEL_CHAOS_NETNS").is_some() {
        let up = Command::new("ip").args(["link", "set", "lo", "up"]).status();
        if !up.is_ok_and(|s| s.success()) {
            eprintln!("chaos: cannot bring up loopback in the network namespace");
            return ExitCode::FAILURE;
        }
    }
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("chaos: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(interruptible(run_all(&mode))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chaos: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Whether `unshare --net` and `ip` work here.
fn netns_available() -> bool {
    Command::new("unshare").args(["--net", "ip", "link", "set", "lo", "up"]).output().is_ok_and(|o| o.status.success())
}

/// Runs `fut` unless SIGINT/SIGTERM comes first (then everything is dropped: processes killed,
/// rules removed).
async fn interruptible(fut: impl std::future::Future<Output = Result<(), String>>) -> Result<(), String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    tokio::select! {
        r = fut => r,
        _ = tokio::signal::ctrl_c() => Err("interrupted".into()),
        _ = term.recv() => Err("terminated".into()),
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn out_dir() -> PathBuf {
    if let Some(dir) = env::var_os("CARTWHEEL_CHAOS_OUT") {
        return PathBuf::from(dir);
    }
    // target/<profile>/deps/chaos-… → target/<profile>/chaos
    env::current_exe()
        .ok()
        .and_then(|e| e.parent().and_then(|d| d.parent()).map(|p| p.join("chaos")))
        .unwrap_or_else(|| env::temp_dir().join("cartwheel-chaos"))
}

async fn run_all(mode: &str) -> Result<(), String> {
    let seed = env_u64("CARTWHEEL_CHAOS_SEED", fastrand::u64(..1_000_000));
    let nodes = env_u64("CARTWHEEL_CHAOS_NODES", 5).clamp(3, 9) as usize;
    let out = out_dir();
    std::fs::create_dir_all(&out).map_err(|e| format!("create {}: {e}", out.display()))?;
    let main = match mode {
        "long" => RunSpec {
            name: "long",
            faults_for: Duration::from_secs(60 * env_u64("CARTWHEEL_CHAOS_MINUTES", 20)),
            schedule: Schedule::mixed((5, 30), (3, 10)),
            ..base(seed, nodes)
        },
        _ => RunSpec { name: "short", ..base(seed, nodes) },
    };
    let main = match env::var("CARTWHEEL_CHAOS_SECONDS").ok().and_then(|v| v.parse().ok()) {
        Some(secs) => RunSpec { faults_for: Duration::from_secs(secs), ..main },
        None => main,
    };
    let main = match env::var("CARTWHEEL_CHAOS_NEMESES") {
        Ok(list) => RunSpec { schedule: main.schedule.only(&list)?, ..main },
        Err(_) => main,
    };
    let cases = judgecheck::check_judges().map_err(|e| format!("the rollback judges are wrong: {e}"))?;
    println!("chaos: the rollback judges give the expected answer on {cases} hand-made histories");
    println!("chaos: {} schedule, seed {seed} (replay: CARTWHEEL_CHAOS={mode} CARTWHEEL_CHAOS_SEED={seed})", main.name);
    let report = run::run(&main, PathBuf::from(CARTWHEEL).as_path(), &out.join(format!("{}-nodes", main.name))).await?;
    report.print();
    write_json(&out.join(format!("{}-{seed}.json", main.name)), &report.json())?;
    let mut failures = Vec::new();
    if !report.safe() {
        failures.push(format!("the {} run violated safety (see above)", main.name));
    }

    if env::var("CARTWHEEL_CHAOS_SELFTEST").map_or(true, |v| v != "0") {
        let broken = RunSpec {
            name: "self-test",
            nodes: 3,
            faults_for: Duration::from_secs(20),
            schedule: Schedule { kinds: vec!["kill"], fault_secs: (2, 3), quiet_secs: (2, 3) },
            extra_toml: "debug-unsafe-early-ack-ms = 500".into(),
            sibling_clients: 2,
            check_convergence: false,
            ..base(seed, 3)
        };
        println!(
            "\nchaos: self-test — the same checkers against nodes that acknowledge writes 500 ms before doing them"
        );
        let report = run::run(&broken, PathBuf::from(CARTWHEEL).as_path(), &out.join("self-test-nodes")).await?;
        report.print();
        write_json(&out.join(format!("self-test-{seed}.json")), &report.json())?;
        if report.register.lost == 0 {
            failures.push("self-test: the checker did not catch the early-acknowledging build (lost = 0)".into());
        } else {
            println!(
                "self-test: the checker caught the broken build ({} acknowledged writes lost)",
                report.register.lost
            );
        }
        // A SET answered before it is done lands after the acknowledged DEL/GETSET/EXPIRE that
        // followed it: the rollback checkers must see that too.
        let (o, m) = (&report.overwrite, &report.mix);
        let rollbacks = o.rollback + o.lost + m.rollback + m.lost;
        if rollbacks == 0 {
            failures.push("self-test: the rollback checkers did not catch the early-acknowledging build".into());
        } else {
            println!("self-test: the rollback checkers caught the broken build ({rollbacks} keys rolled back or lost)");
        }
    }
    println!("chaos: results in {}", out.display());
    if failures.is_empty() {
        println!("chaos: PASS (seed {seed})");
        Ok(())
    } else {
        Err(format!("{} (seed {seed})", failures.join("; ")))
    }
}

/// The short schedule's settings; other runs override some of them.
fn base(seed: u64, nodes: usize) -> RunSpec {
    RunSpec {
        name: "short",
        nodes,
        seed,
        faults_for: Duration::from_secs(90),
        schedule: Schedule::mixed((4, 10), (2, 5)),
        extra_toml: String::new(),
        register_clients: 6,
        sibling_clients: 4,
        sibling_keys: 8,
        overwrite_clients: env_u64("CARTWHEEL_CHAOS_OVERWRITE_CLIENTS", 8).min(64) as u32,
        overwrite_keys: env_u64("CARTWHEEL_CHAOS_OVERWRITE_KEYS", 5).clamp(1, 1000) as usize,
        mix_clients: env_u64("CARTWHEEL_CHAOS_MIX_CLIENTS", 4).min(64) as u32,
        mix_keys: env_u64("CARTWHEEL_CHAOS_MIX_KEYS", 8).clamp(1, 1000) as usize,
        rotate_keys: env_u64("CARTWHEEL_CHAOS_ROTATE_KEYS", 1) != 0,
        pace: Duration::from_millis(10),
        max_ops: 1_000_000,
        check_convergence: true,
    }
}

fn write_json(path: &std::path::Path, value: &serde_json::Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))
}
