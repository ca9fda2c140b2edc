//! The composition root: builds storage, durability, the coordinator, background workers and
//! the client listeners from a [`Config`], and tears them down in order on shutdown.
//!
//! [`Node`] is the state every connection shares (configuration snapshot, coordinator, client
//! registry, counters); [`NodeHandle`] is what `main` and tests hold to wait for and stop it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use dashmap::DashMap;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use crate::clock::{Clock, ClusterClock, SystemClock};
use crate::cluster::{start as cluster_start, Cluster};
use crate::config::Config;
use crate::coordinator::{spawn_sweeper, CoordConfig, CoordError, Coordinator, HintLimits};
use crate::net::{Network, TcpNetwork};
use crate::resp::clients::ClientRegistry;
use crate::resp::server::accept_loop;
use crate::storage::{Durability, FjallStore, StorageError, Store};
use crate::version::NodeId;

/// Why a node could not start.
#[derive(Debug, Error)]
pub enum NodeError {
    /// Storage could not be opened.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Stored data could not be loaded.
    #[error(transparent)]
    Coordinator(#[from] CoordError),
    /// A listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The cluster part could not start.
    #[error(transparent)]
    Cluster(#[from] crate::cluster::start::StartError),
    /// The node id file is unreadable.
    #[error("node id file {path}: {reason}")]
    NodeId {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Server-wide counters for `INFO stats`.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Accepted connections.
    pub connections_received: AtomicU64,
    /// Connections refused (maxclients, protected mode).
    pub rejected_connections: AtomicU64,
    /// Commands run.
    pub commands: AtomicU64,
    /// Error replies sent.
    pub error_replies: AtomicU64,
    /// Failed AUTH attempts.
    pub auth_failures: AtomicU64,
    /// Bytes read from clients.
    pub net_input_bytes: AtomicU64,
    /// Bytes written to clients.
    pub net_output_bytes: AtomicU64,
    /// Keyspace hits and misses, instantaneous rates.
    pub metrics: crate::metrics::Metrics,
    commands_by_name: DashMap<&'static str, CommandStat>,
    errors_by_prefix: DashMap<String, AtomicU64>,
}

/// Per-command counters (`INFO commandstats`).
#[derive(Debug, Default)]
struct CommandStat {
    calls: AtomicU64,
    usec: AtomicU64,
    failed: AtomicU64,
}

impl ServerStats {
    /// Records one call of `name` that took `usec` and failed or not.
    pub fn record_command(&self, name: &'static str, usec: u64, failed: bool) {
        let stat = match self.commands_by_name.get(name) {
            Some(s) => s,
            None => self.commands_by_name.entry(name).or_default().downgrade(),
        };
        stat.calls.fetch_add(1, Ordering::Relaxed);
        stat.usec.fetch_add(usec, Ordering::Relaxed);
        if failed {
            stat.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records an error reply by its code (`ERR`, `WRONGTYPE`…).
    pub fn record_error(&self, text: &str) {
        self.error_replies.fetch_add(1, Ordering::Relaxed);
        let prefix = text.split(' ').next().unwrap_or("ERR");
        if let Some(c) = self.errors_by_prefix.get(prefix) {
            c.fetch_add(1, Ordering::Relaxed);
        } else if self.errors_by_prefix.len() < 128 {
            self.errors_by_prefix.entry(prefix.to_string()).or_default().fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `(name, calls, usec, failed)` per command, by name.
    pub fn command_stats(&self) -> Vec<(&'static str, u64, u64, u64)> {
        let mut v: Vec<_> = self
            .commands_by_name
            .iter()
            .map(|e| {
                let s = e.value();
                let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
                (*e.key(), load(&s.calls), load(&s.usec), load(&s.failed))
            })
            .collect();
        v.sort_unstable();
        v
    }

    /// `(prefix, count)` per error code, by code.
    pub fn error_stats(&self) -> Vec<(String, u64)> {
        let mut v: Vec<_> =
            self.errors_by_prefix.iter().map(|e| (e.key().clone(), e.value().load(Ordering::Relaxed))).collect();
        v.sort_unstable();
        v
    }

    /// Feeds the commands and byte counters to the instantaneous rates (every 100 ms).
    pub fn sample_rates(&self, now: tokio::time::Instant) {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        self.metrics.sample(now, load(&self.commands), load(&self.net_input_bytes), load(&self.net_output_bytes));
    }

    /// `CONFIG RESETSTAT`.
    pub fn reset(&self) {
        for c in [
            &self.connections_received,
            &self.rejected_connections,
            &self.commands,
            &self.error_replies,
            &self.auth_failures,
            &self.net_input_bytes,
            &self.net_output_bytes,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        self.commands_by_name.clear();
        self.errors_by_prefix.clear();
        self.metrics.reset();
    }
}

/// State shared by every connection of a node.
pub struct Node {
    config: ArcSwap<Config>,
    /// Reads and writes keys.
    pub coord: Arc<Coordinator>,
    /// Connected clients.
    pub clients: ClientRegistry,
    /// Counters.
    pub stats: ServerStats,
    /// When the node started.
    pub started: Instant,
    /// When the node started, Unix ms.
    pub started_unix_ms: u64,
    /// Random id of this process run (`INFO server run_id`).
    pub run_id: String,
    /// Bound client addresses.
    pub addrs: Vec<SocketAddr>,
    /// The cluster layer; `None` for a standalone node (a cluster of one).
    pub cluster: Option<Arc<Cluster>>,
    shutdown: watch::Sender<bool>,
}

impl Node {
    /// The current configuration snapshot.
    pub fn config(&self) -> arc_swap::Guard<Arc<Config>> {
        self.config.load()
    }

    /// Replaces the configuration (`CONFIG SET`).
    pub fn set_config(&self, cfg: Config) {
        self.config.store(Arc::new(cfg));
    }

    /// Turns true when a graceful shutdown has been requested (the watchdog in `main` waits on it).
    pub fn shutdown_requested(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Asks the node to shut down gracefully.
    pub fn request_shutdown(&self) {
        self.shutdown.send_replace(true);
        self.clients.kill_all();
    }
}

/// A running node.
pub struct NodeHandle {
    node: Arc<Node>,
    tasks: TaskTracker,
    durability: Arc<Durability>,
    shutdown_rx: watch::Receiver<bool>,
}

impl NodeHandle {
    /// Starts a node from `cfg`: opens storage, binds listeners, starts workers; with
    /// `cluster-enabled`, joins the cluster over TCP.
    pub async fn start(cfg: Config) -> Result<NodeHandle, NodeError> {
        NodeHandle::start_on(cfg, None).await
    }

    /// Like [`NodeHandle::start`], with the node-to-node traffic on `net` (the simulated network
    /// in tests; `None` = TCP). On a simulated network the node listens on its announced address.
    pub async fn start_on(cfg: Config, net: Option<Arc<dyn Network>>) -> Result<NodeHandle, NodeError> {
        NodeHandle::start_clocked(cfg, net, Arc::new(SystemClock)).await
    }

    /// Like [`NodeHandle::start_on`], with the node's wall clock (TTLs, HLC timestamps, the start
    /// of its transport clock) read from `clock` — tests skew it.
    pub async fn start_clocked(
        cfg: Config,
        net: Option<Arc<dyn Network>>,
        clock: Arc<dyn Clock>,
    ) -> Result<NodeHandle, NodeError> {
        // A cluster node's time is its peers' and its own median (see `clock/cluster.rs`).
        let cluster_clock = cfg.cluster_enabled.then(|| Arc::new(ClusterClock::new(Arc::clone(&clock))));
        let clock: Arc<dyn Clock> = match &cluster_clock {
            Some(c) => Arc::clone(c) as Arc<dyn Clock>,
            None => clock,
        };
        let node_id = load_node_id(&cfg.dir)?;
        let store: Arc<dyn Store> = Arc::new(FjallStore::open(&cfg.dir, cfg.cache_size_mb << 20)?);
        let durability = Durability::start(Arc::clone(&store), cfg.fsync);
        let coord_cfg = CoordConfig {
            node_id,
            max_siblings: cfg.max_siblings,
            row_cache_bytes: cfg.row_cache_mb << 20,
            key_filter_bytes: cfg.key_filter_mb << 20,
            keep_tombstones: cfg.cluster_enabled,
            hint_limits: HintLimits {
                max_count: cfg.hint_max_keys,
                max_bytes: cfg.hint_max_mb << 20,
                max_age_ms: cfg.hint_max_age_ms.min(cfg.tombstone_grace_ms),
            },
            tombstone_grace_ms: cfg.tombstone_grace_ms,
            dot_lease: Some(cfg.dir.join("dots.lease")),
        };
        let coord = Arc::new(Coordinator::open(coord_cfg, store, Arc::clone(&durability), Arc::clone(&clock))?);

        let mut listeners = Vec::new();
        for host in &cfg.bind {
            let addr = format!("{host}:{}", cfg.port);
            let bind_addr = if host.contains(':') { format!("[{host}]:{}", cfg.port) } else { addr.clone() };
            let l = TcpListener::bind(&bind_addr).await.map_err(|source| NodeError::Bind { addr, source })?;
            listeners.push(l);
        }
        let addrs: Vec<SocketAddr> = listeners.iter().filter_map(|l| l.local_addr().ok()).collect();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let prepared = match (cluster_clock, addrs.first()) {
            (Some(cluster_clock), Some(&client)) => {
                let simulated = net.is_some();
                let net: Arc<dyn Network> = net.unwrap_or_else(|| Arc::new(TcpNetwork::new()));
                Some(cluster_start::prepare(&cfg, node_id, client, Arc::clone(&coord), net, simulated, cluster_clock)?)
            }
            _ => None,
        };
        let node = Arc::new(Node {
            config: ArcSwap::from_pointee(cfg.clone()),
            coord: Arc::clone(&coord),
            clients: ClientRegistry::default(),
            stats: ServerStats::default(),
            started: Instant::now(),
            started_unix_ms: clock.now_ms(),
            run_id: NodeId::random().to_hex(),
            addrs,
            cluster: prepared.as_ref().map(|p| Arc::clone(&p.cluster)),
            shutdown,
        });
        let tasks = TaskTracker::new();
        if let Some(p) = prepared {
            let addr = cluster_start::serve(p, Arc::clone(&node), &tasks, shutdown_rx.clone()).await?;
            tracing::info!(cluster_addr = %addr, "cluster port listening");
        }
        for l in listeners {
            tasks.spawn(accept_loop(Arc::clone(&node), l, shutdown_rx.clone(), tasks.clone()));
        }
        let sampled = Arc::clone(&node);
        tasks.spawn(crate::metrics::run_sampler(move |now| sampled.stats.sample_rates(now), shutdown_rx.clone()));
        let period = Duration::from_millis(1000 / u64::from(cfg.hz.max(1)));
        let (sweeper, _) = spawn_sweeper(coord, period, cfg.expire_keys_per_tick, shutdown_rx.clone());
        tasks.spawn(async move {
            let _ = sweeper.await;
        });
        if cfg.debug_unsafe_early_ack_ms > 0 {
            tracing::warn!(
                delay_ms = cfg.debug_unsafe_early_ack_ms,
                "debug-unsafe-early-ack-ms is set: SET and KV.PUT are acknowledged before they are written \
                 anywhere, and a crash loses them (for the fault-injection checker's self-test only)"
            );
        }
        tracing::info!(node_id = %node_id, addrs = ?node.addrs, dir = %cfg.dir.display(), "Cartwheel node ready");
        Ok(NodeHandle { node, tasks, durability, shutdown_rx })
    }

    /// The shared node state.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// The first bound client address.
    pub fn addr(&self) -> SocketAddr {
        self.node.addrs[0]
    }

    /// Waits until shutdown is requested (SHUTDOWN, a signal via [`Node::request_shutdown`]),
    /// then stops: no new clients, open ones closed between batches, storage synced.
    pub async fn run_until_shutdown(mut self) {
        let _ = self.shutdown_rx.wait_for(|stop| *stop).await;
        self.stop().await;
    }

    /// Stops the node now and waits (bounded) for connections and workers to finish.
    pub async fn stop(self) {
        self.node.request_shutdown();
        self.tasks.close();
        if tokio::time::timeout(Duration::from_secs(10), self.tasks.wait()).await.is_err() {
            tracing::warn!("some connections did not finish within 10 s; stopping anyway");
        }
        if let Err(e) = self.durability.sync_now() {
            tracing::error!(error = %e, "final sync failed");
        }
        self.durability.stop();
        tracing::info!("Cartwheel node stopped");
    }
}

/// Reads the node id from `dir/node.id`, creating it on first start.
fn load_node_id(dir: &Path) -> Result<NodeId, NodeError> {
    let path = dir.join("node.id");
    let err = |reason: String| NodeError::NodeId { path: path.display().to_string(), reason };
    std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    match std::fs::read_to_string(&path) {
        Ok(text) => NodeId::from_hex(text.trim()).ok_or_else(|| err("not 40 hex characters".into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = NodeId::random();
            let tmp = dir.join("node.id.tmp");
            std::fs::write(&tmp, format!("{id}\n")).map_err(|e| err(e.to_string()))?;
            std::fs::rename(&tmp, &path).map_err(|e| err(e.to_string()))?;
            Ok(id)
        }
        Err(e) => Err(err(e.to_string())),
    }
}
