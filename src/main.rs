//! The `cartwheel` binary: parse the command line, load the configuration, start logging, run a
//! node until SIGINT/SIGTERM/`SHUTDOWN`, then shut it down gracefully.

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

use cartwheel::config::{Config, Overrides};
use cartwheel::node::NodeHandle;

mod demo;
mod healthcheck;

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
    init_logging(&cfg.loglevel);
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if cfg.worker_threads > 0 {
        rt.worker_threads(cfg.worker_threads);
    }
    let rt = rt.enable_all().thread_name("cartwheel-worker").build().context("starting the async runtime")?;
    rt.block_on(async move {
        let handle = NodeHandle::start(cfg).await.context("starting the node")?;
        let node = std::sync::Arc::clone(handle.node());
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::warn!("signal received, shutting down");
            node.request_shutdown();
        });
        handle.run_until_shutdown().await;
        Ok(())
    })
}

fn init_logging(level: &str) {
    let default = match level {
        "debug" => "debug",
        "verbose" => "info,cartwheel=debug",
        "warning" => "warn",
        _ => "info",
    };
    let filter = EnvFilter::try_from_env("CARTWHEEL_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
