//! The `cartwheel` binary: parse the command line, load the configuration, start logging, run a
//! node until SIGINT/SIGTERM/`SHUTDOWN`, then shut it down gracefully: a second signal exits at
//! once (status 128 + signal), a stop that takes longer than `shutdown-timeout-ms` exits with
//! status 2 (`signals`).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

use cartwheel::command::Context as NodeContext;
use cartwheel::config::{Config, Overrides};
use cartwheel::node::NodeHandle;
use cartwheel::telemetry;

mod demo;
mod healthcheck;
mod signals;

/// Cartwheel: a Dynamo-style replicated key-value store that speaks the Redis protocol.
#[derive(Debug, Parser)]
#[command(name = "cartwheel", version, about)]
struct Cli {
    #[command(flatten)]
    overrides: Overrides,
    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Start a local cluster of real processes (ports 7001…) and stop them all on Ctrl-C.
    Demo(demo::DemoArgs),
    /// Send PING to the configured node (same flags / environment / file as the server); exit 0
    /// only on PONG. The container image's health check.
    Ping(healthcheck::PingArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match &cli.command {
        Some(Sub::Demo(args)) => return demo::run(args),
        Some(Sub::Ping(args)) => return Ok(healthcheck::run(&cli.overrides, args)?),
        None => {}
    }
    let cfg = Config::load(&cli.overrides).context("loading configuration")?;
    // Before any other thread exists, so that only the signal thread ever takes them.
    let signals = signals::block().context("blocking SIGINT and SIGTERM")?;
    telemetry::init(&cfg.loglevel);
    let running: Arc<OnceLock<Arc<NodeContext>>> = Arc::new(OnceLock::new());
    let target = Arc::clone(&running);
    signals
        .spawn(move |sig, n| match (n, target.get()) {
            (1, Some(node)) => {
                tracing::warn!(signal = signals::name(sig), "signal received, shutting down (again to exit at once)");
                node.request_shutdown();
            }
            _ => {
                tracing::warn!(signal = signals::name(sig), "signal received, exiting now");
                signals::exit_now(128 + sig);
            }
        })
        .context("starting the signal thread")?;
    let stop_timeout = Duration::from_millis(cfg.shutdown_timeout_ms);
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if cfg.worker_threads > 0 {
        rt.worker_threads(cfg.worker_threads);
    }
    let rt = rt.enable_all().thread_name("cartwheel-worker").build().context("starting the async runtime")?;
    let result = rt.block_on(async move {
        let handle = NodeHandle::start(cfg).await.context("starting the node")?;
        let node = Arc::clone(handle.node());
        signals::spawn_watchdog(node.shutdown_requested(), stop_timeout).context("starting the watchdog")?;
        let _ = running.set(node);
        handle.run_until_shutdown().await;
        Ok(())
    });
    telemetry::flush(Duration::from_secs(1));
    result
}
