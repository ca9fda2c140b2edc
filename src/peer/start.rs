//! Starting a node's cluster part (called by [`crate::node`] when `cluster-enabled`): the
//! transport (TCP, or the simulated network in tests), the RPC client and server, membership
//! gossip, and the task that turns every new membership view into a new [`Topology`].

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use thiserror::Error;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use super::service;
use crate::antientropy::{self, AaeSettings, AntiEntropy};
use crate::clock::ClusterClock;
use crate::cluster::join;
use crate::cluster::messages::{Request, Response};
use crate::cluster::{Cluster, ClusterSettings, Peer, Topology};
use crate::command::Context;
use crate::config::Config;
use crate::coordinator::Coordinator;
use crate::membership::{
    BoxFuture, ClusterView, GossipConfig, GossipTransport, Health, LocalMember, MemberStatus, Membership, Start,
};
use crate::net::Network;
use crate::rpc::{Handler, LocalClock, PeerInfo, RpcClient, RpcConfig, RpcServer};
use crate::storage::Snapshot;
use crate::version::NodeId;
use crate::workers::Workers;

/// Why the cluster part could not start.
#[derive(Debug, Error)]
pub enum StartError {
    /// A bad address in the configuration.
    #[error("bad cluster address {0}")]
    Address(String),
    /// The transport refused the settings or could not listen.
    #[error(transparent)]
    Rpc(#[from] crate::rpc::RpcError),
    /// Membership refused the local member.
    #[error(transparent)]
    Gossip(#[from] crate::membership::GossipError),
    /// The generation file.
    #[error("generation file {path}: {reason}")]
    Generation {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The saved membership (`dir/members`) cannot be read.
    #[error(transparent)]
    Members(#[from] crate::membership::SaveError),
    /// The node was a member of a cluster with another N.
    #[error(
        "this node was a member of a cluster with replicas = {saved}, and is now configured with replicas = \
         {configured}; every member must use the same replicas (changing N means moving data, which Cartwheel \
         cannot do yet): start it with --replicas {saved}"
    )]
    Replicas {
        /// N of the saved membership.
        saved: usize,
        /// N of the configuration.
        configured: usize,
    },
}

/// Where this node is reached: `(client address, cluster address to listen on, cluster address
/// to announce)`.
pub fn addresses(cfg: &Config, client: SocketAddr) -> Result<(SocketAddr, SocketAddr), StartError> {
    let announce_ip: IpAddr = match &cfg.cluster_announce_ip {
        Some(ip) => ip.parse().map_err(|_| StartError::Address(ip.clone()))?,
        None if client.ip().is_unspecified() => {
            // Peers cannot reach "0.0.0.0": an address to announce must be given.
            return Err(StartError::Address(format!(
                "{} (bound to every interface: set cluster-announce-ip)",
                client.ip()
            )));
        }
        None => client.ip(),
    };
    let port = if cfg.cluster_port != 0 {
        cfg.cluster_port
    } else if client.port() <= 55535 && cfg.port != 0 {
        client.port() + 10000
    } else {
        // Tests on port 0: any free port (probed, then released).
        std::net::TcpListener::bind((client.ip(), 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| StartError::Address(e.to_string()))?
    };
    Ok((SocketAddr::new(client.ip(), port), SocketAddr::new(announce_ip, port)))
}

/// Reads, increments and stores the restart counter in `dir/node.generation`.
pub fn next_generation(dir: &Path) -> Result<u64, StartError> {
    let path = dir.join("node.generation");
    let err = |reason: String| StartError::Generation { path: path.display().to_string(), reason };
    let current = match std::fs::read_to_string(&path) {
        Ok(t) => t.trim().parse::<u64>().map_err(|e| err(e.to_string()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(err(e.to_string())),
    };
    let next = current + 1;
    let tmp = dir.join("node.generation.tmp");
    std::fs::write(&tmp, format!("{next}\n")).map_err(|e| err(e.to_string()))?;
    std::fs::rename(&tmp, &path).map_err(|e| err(e.to_string()))?;
    Ok(next)
}

/// The cluster part before the node exists: everything but the server (which needs the node).
pub struct Prepared {
    /// The cluster layer, to put into the node.
    pub cluster: Arc<Cluster>,
    /// Anti-entropy, subscribed to the coordinator's feed; to put into the node.
    pub antientropy: Arc<AntiEntropy>,
    /// The store as it was when anti-entropy subscribed: its trees are built from it.
    snapshot: Box<dyn Snapshot>,
    net: Arc<dyn Network>,
    rpc_cfg: RpcConfig,
    listen: SocketAddr,
    seeds: Vec<SocketAddr>,
    replicas: usize,
}

/// What a node knows of its cluster's members as it starts: what it saved before it stopped;
/// else, when its data directory is new (`new_identity`: no `node.id` before this start), it is
/// the first node of a new cluster without seeds, or a new node that joins through its seeds (or
/// founds a cluster with them when they are all new); else nothing — it learns the members from a
/// member that contacts it, and coordinates nothing until one that serves confirms its view (see
/// [`crate::membership::ViewState`]).
pub fn starting_view(cfg: &Config, node_id: NodeId, new_identity: bool) -> Result<Start, StartError> {
    match crate::membership::saved::load(&cfg.dir, node_id)? {
        Some(saved) => match saved.replicas() {
            Some(n) if n != cfg.replicas => Err(StartError::Replicas { saved: n, configured: cfg.replicas }),
            _ => Ok(Start::Saved(saved)),
        },
        None if new_identity && cfg.seeds.is_empty() => Ok(Start::NewCluster),
        None if new_identity => Ok(Start::NewNode),
        None => Ok(Start::Unknown),
    }
}

/// Builds the cluster layer of a node whose client address is `client`; `new_identity` says
/// whether its data directory is new ([`starting_view`]).
#[allow(clippy::too_many_arguments)]
pub fn prepare(
    cfg: &Config,
    node_id: NodeId,
    new_identity: bool,
    client: SocketAddr,
    coord: Arc<Coordinator>,
    net: Arc<dyn Network>,
    listen_on_announce: bool,
    clock: Arc<ClusterClock>,
) -> Result<Prepared, StartError> {
    let start = starting_view(cfg, node_id, new_identity)?;
    let (listen, announce) = addresses(cfg, client)?;
    let listen = if listen_on_announce { announce } else { listen };
    let generation = next_generation(&cfg.dir)?;
    let secret = cfg.cluster_secret.clone().unwrap_or_default();
    let mut rpc_cfg = RpcConfig::new(&cfg.cluster_name, &secret, node_id, announce);
    rpc_cfg.clock = LocalClock::starting_at(clock.own().now_us());
    rpc_cfg.wall = Arc::clone(clock.own());
    rpc_cfg.cluster_clock = Some(Arc::clone(&clock));
    let rpc = Arc::new(RpcClient::new(Arc::clone(&net), rpc_cfg.clone())?);
    let timeout = Duration::from_millis(cfg.rpc_timeout_ms);
    let me = LocalMember {
        id: node_id,
        client_addr: SocketAddr::new(announce.ip(), client.port()),
        cluster_addr: announce,
        zone: cfg.zone.clone(),
        weight: cfg.weight,
        vnodes: cfg.vnodes,
        generation,
        replicas: cfg.replicas,
    };
    let gossip_cfg = GossipConfig {
        interval: Duration::from_millis(cfg.gossip_interval_ms),
        suspect_after: Duration::from_millis(cfg.suspect_after_ms),
        probe_timeout: Duration::from_millis(cfg.rpc_timeout_ms.min(cfg.gossip_interval_ms)),
        ..GossipConfig::default()
    };
    let transport = Arc::new(RpcGossip { rpc: Arc::clone(&rpc), timeout });
    let new_cluster = start == Start::NewCluster;
    let membership = Membership::starting(me, gossip_cfg, transport, start, Some(cfg.dir.clone()))?;
    if new_cluster {
        // Saved at once: restarted after a crash, this node is no longer "new" and must find
        // that it was the cluster's first member.
        membership.save()?;
        tracing::info!("no saved membership and no seeds: this node starts a new cluster");
    }
    let settings = ClusterSettings {
        replicas: cfg.replicas,
        read_quorum: cfg.read_quorum,
        write_quorum: cfg.write_quorum,
        rpc_timeout: timeout,
        speculative_delay: Duration::from_millis(cfg.read_speculative_ms),
        hint_replay_rate: cfg.hint_replay_rate,
        reap_delay: Duration::from_millis(cfg.tombstone_reap_delay_ms),
        offload_interval: Duration::from_millis(cfg.offload_interval_ms),
        offload_rate: cfg.offload_keys_per_sec,
    };
    let topology = topology_of(&membership.view(), cfg.replicas);
    let aae = AaeSettings {
        interval: Duration::from_millis(cfg.aae_interval_ms),
        keys_per_sec: cfg.aae_keys_per_sec,
        bytes_per_sec: cfg.aae_bytes_per_sec,
        confirm_delay: Duration::from_millis(cfg.aae_confirm_ms),
        rebuild_keys_per_sec: cfg.aae_rebuild_keys_per_sec,
    };
    let (antientropy, snapshot) = AntiEntropy::attach(aae, &coord);
    let cluster = Arc::new(Cluster::new(settings, topology, rpc, membership, coord, clock));
    let mut seeds = Vec::new();
    for s in &cfg.seeds {
        match s.parse::<SocketAddr>() {
            Ok(a) => seeds.push(a),
            Err(_) => match std::net::ToSocketAddrs::to_socket_addrs(s.as_str()) {
                Ok(mut it) => seeds.extend(it.next()),
                Err(_) => return Err(StartError::Address(s.clone())),
            },
        }
    }
    cluster.set_ready(false);
    Ok(Prepared { cluster, antientropy, snapshot, net, rpc_cfg, listen, seeds, replicas: cfg.replicas })
}

/// Starts the server, gossip and the topology updater; they stop when `shutdown` turns true.
pub async fn serve(
    p: Prepared,
    node: Arc<Context>,
    tasks: &TaskTracker,
    workers: &Workers,
    shutdown: watch::Receiver<bool>,
) -> Result<SocketAddr, StartError> {
    let handler = Arc::new(NodeService { node: Arc::clone(&node), cluster: Arc::clone(&p.cluster) });
    let server = RpcServer::start(p.net, p.listen, p.rpc_cfg, handler, shutdown.clone()).await?;
    let addr = server.local_addr();
    tasks.spawn(server.join());
    let membership = Arc::clone(p.cluster.membership());
    let (seeds, stop) = (p.seeds.clone(), shutdown.clone());
    workers.spawn("gossip", |beat| Arc::clone(&membership).run(seeds, stop, beat));
    let (cluster, stop) = (Arc::clone(&p.cluster), shutdown.clone());
    workers.spawn("hint_replay", |beat| crate::cluster::handoff::run(cluster, stop, beat));
    let (cluster, stop) = (Arc::clone(&p.cluster), shutdown.clone());
    workers.spawn("offload", |beat| crate::cluster::offload::run(cluster, stop, beat));
    let (cluster, stop, ae, snapshot) =
        (Arc::clone(&p.cluster), shutdown.clone(), Arc::clone(&p.antientropy), p.snapshot);
    workers.spawn("anti_entropy", |beat| antientropy::worker::run(ae, cluster, snapshot, stop, beat));
    // A member whose clock does not answer must not keep this node from serving for ever (its
    // view of the members, on the other hand, must be confirmed however long that takes).
    let patience = p.cluster.settings().rpc_timeout.max(Duration::from_secs(1)) * 5;
    let (cluster, stop, seeds) = (Arc::clone(&p.cluster), shutdown.clone(), p.seeds);
    workers.spawn("join", |beat| join::run(cluster, seeds, patience, stop, beat));
    let cluster = Arc::clone(&p.cluster);
    let replicas = p.replicas;
    let mut views = membership.subscribe();
    let mut stop = shutdown;
    workers.spawn("topology", |beat| async move {
        loop {
            let changed = tokio::select! {
                changed = views.changed() => changed.is_ok(),
                _ = stop.wait_for(|s| *s) => false,
            };
            if !changed {
                return;
            }
            let view = Arc::clone(&views.borrow_and_update());
            cluster.set_topology(topology_of(&view, replicas));
            // A member joined, left or moved: the next restart must know it.
            join::save(&cluster).await;
            beat.ran();
        }
    });
    Ok(addr)
}

/// The topology of a membership view.
pub fn topology_of(view: &ClusterView, replicas: usize) -> Topology {
    let peers = view
        .members
        .iter()
        .map(|m| {
            let me = m.member.id == view.me;
            let alive = me || (m.health != Health::Down && !m.suspected_by_me);
            // A member that does not serve yet (its view is not confirmed) is routed around.
            let serving = me || m.status == MemberStatus::Up;
            Peer { member: m.member.clone(), healthy: alive && serving, alive, failed: m.health == Health::Down }
        })
        .collect();
    Topology::new(view.me, view.epoch, peers, replicas)
}

/// Gossip over the authenticated RPC transport.
struct RpcGossip {
    rpc: Arc<RpcClient>,
    timeout: Duration,
}

impl GossipTransport for RpcGossip {
    fn exchange(&self, to: SocketAddr, msg: Bytes) -> BoxFuture<'static, Result<Bytes, String>> {
        let rpc = Arc::clone(&self.rpc);
        let timeout = self.timeout;
        Box::pin(async move {
            let answer = rpc.call(to, Request::Gossip(msg).encode(), timeout).await.map_err(|e| e.to_string())?;
            match Response::decode(&answer) {
                Ok(Response::Gossip(b)) => Ok(b),
                Ok(Response::Error(e)) => Err(e),
                Ok(_) => Err("unexpected answer to gossip".into()),
                Err(e) => Err(e.to_string()),
            }
        })
    }

    fn send(&self, to: SocketAddr, msg: Bytes) {
        self.rpc.send(to, msg);
    }
}

/// The RPC server's handler: this node's [`service`].
struct NodeService {
    node: Arc<Context>,
    cluster: Arc<Cluster>,
}

impl Handler for NodeService {
    fn handle(
        &self,
        from: PeerInfo,
        request: Bytes,
        deadline: Option<tokio::time::Instant>,
    ) -> futures_util::future::BoxFuture<'static, Result<Bytes, String>> {
        let node = Arc::clone(&self.node);
        let cluster = Arc::clone(&self.cluster);
        Box::pin(async move { Ok(service::handle(&node, &cluster, from.advertise, &request, deadline).await) })
    }

    fn one_way(&self, from: PeerInfo, message: Bytes) {
        self.cluster.membership().handle_one_way(from.advertise, message);
    }
}
