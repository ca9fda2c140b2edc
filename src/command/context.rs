//! [`Context`]: the state every connection and every command handler of a node shares —
//! configuration snapshot, the local coordinator, the cluster layer when there is one, the
//! client registry and the counters. The composition root (`node.rs`) builds it; nothing here
//! knows how the node was started.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use tokio::sync::watch;

use crate::antientropy::AntiEntropy;
use crate::cluster::Cluster;
use crate::config::Config;
use crate::coordinator::Coordinator;
use crate::metrics::ServerStats;
use crate::resp::clients::ClientRegistry;
use crate::version::NodeId;
use crate::workers::Workers;

/// State shared by every connection of a node.
pub struct Context {
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
    /// The background workers (`INFO workers`).
    pub workers: Arc<Workers>,
    /// Random id of this process run (`INFO server run_id`).
    pub run_id: String,
    /// Bound client addresses.
    pub addrs: Vec<SocketAddr>,
    /// The cluster layer; `None` for a standalone node (a cluster of one).
    pub cluster: Option<Arc<Cluster>>,
    /// Anti-entropy (`None` for a standalone node).
    pub antientropy: Option<Arc<AntiEntropy>>,
    shutdown: watch::Sender<bool>,
}

impl Context {
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

impl Context {
    /// A fresh context: no clients, zeroed counters, a new run id. `cluster`: the cluster layer
    /// and its anti-entropy (`None`: standalone).
    pub fn new(
        config: Config,
        coord: Arc<Coordinator>,
        cluster: Option<(Arc<Cluster>, Arc<AntiEntropy>)>,
        addrs: Vec<SocketAddr>,
        started_unix_ms: u64,
        shutdown: watch::Sender<bool>,
        workers: Arc<Workers>,
    ) -> Context {
        Context {
            config: ArcSwap::from_pointee(config),
            coord,
            clients: ClientRegistry::default(),
            stats: ServerStats::default(),
            started: Instant::now(),
            started_unix_ms,
            run_id: NodeId::random().to_hex(),
            addrs,
            antientropy: cluster.as_ref().map(|(_, ae)| Arc::clone(ae)),
            cluster: cluster.map(|(c, _)| c),
            shutdown,
            workers,
        }
    }
}
