//! The composition root: builds storage, durability, the coordinator, background workers and
//! the client listeners from a [`Config`], and tears them down in order on shutdown.
//!
//! It builds the [`Context`] every connection shares; [`NodeHandle`] is what `main` and tests hold
//! to wait for and stop it. Nothing in the crate imports this module.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use crate::clock::{Clock, ClusterClock, SystemClock};
use crate::command::Context;
use crate::config::Config;
use crate::coordinator::{run_sweeper, CoordConfig, CoordError, Coordinator, HintLimits, ReapGate};
use crate::edge::accept_loop;
use crate::net::{Network, TcpNetwork};
use crate::peer::start as cluster_start;
use crate::storage::{check_format, Durability, FjallStore, StorageError, Store};
use crate::version::NodeId;
use crate::workers::Workers;

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
    Cluster(#[from] crate::peer::start::StartError),
    /// The node id file is unreadable.
    #[error("node id file {path}: {reason}")]
    NodeId {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// A running node.
pub struct NodeHandle {
    node: Arc<Context>,
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
        check_format(&cfg.dir)?;
        // A data directory without an identity yet is new (see `cluster_start::starting_view`).
        let new_identity = !cfg.dir.join("node.id").exists();
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
                let coord = Arc::clone(&coord);
                Some(cluster_start::prepare(&cfg, node_id, new_identity, client, coord, net, simulated, cluster_clock)?)
            }
            _ => None,
        };
        if !cfg.cluster_enabled && new_identity {
            // A cluster of one: started later with `--cluster` and no seeds, this node is the
            // first node of a cluster (a directory from before the members file existed is not
            // known to be alone, so it gets no file).
            crate::membership::saved::store(&cfg.dir, node_id, 0, &crate::membership::Saved::default())
                .map_err(crate::peer::start::StartError::from)?;
        }
        let cluster = prepared.as_ref().map(|p| (Arc::clone(&p.cluster), Arc::clone(&p.antientropy)));
        let tasks = TaskTracker::new();
        let workers = Arc::new(Workers::new(tasks.clone()));
        let node = Arc::new(Context::new(
            cfg.clone(),
            Arc::clone(&coord),
            cluster,
            addrs,
            clock.now_ms(),
            shutdown,
            Arc::clone(&workers),
        ));
        if let Some(p) = prepared {
            let addr = cluster_start::serve(p, Arc::clone(&node), &tasks, &workers, shutdown_rx.clone()).await?;
            tracing::info!(cluster_addr = %addr, "cluster port listening");
        }
        for l in listeners {
            tasks.spawn(accept_loop(Arc::clone(&node), l, shutdown_rx.clone(), tasks.clone()));
        }
        let (sampled, stop) = (Arc::clone(&node), shutdown_rx.clone());
        workers
            .spawn("rates", |beat| crate::metrics::run_sampler(move |now| sampled.stats.sample_rates(now), stop, beat));
        let period = Duration::from_millis(1000 / u64::from(cfg.hz.max(1)));
        let (keys_per_tick, stop) = (cfg.expire_keys_per_tick, shutdown_rx.clone());
        // In a cluster a past-grace tombstone is reaped only once every other replica holds it or
        // nothing (`cluster/reap.rs`).
        let gate = node.cluster.clone().map(|c| c as Arc<dyn ReapGate>);
        workers.spawn("expiry_sweep", |beat| run_sweeper(coord, period, keys_per_tick, gate, stop, beat));
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
    pub fn node(&self) -> &Arc<Context> {
        &self.node
    }

    /// The first bound client address.
    pub fn addr(&self) -> SocketAddr {
        self.node.addrs[0]
    }

    /// Waits until shutdown is requested (SHUTDOWN, a signal via [`Context::request_shutdown`]),
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
