//! The cluster: how a command on one node becomes quorum reads and writes on the N replicas of
//! its keys.
//!
//! - [`topology`] — the current [`Topology`] snapshot (members + ring), swapped atomically.
//! - [`write`] — sends the versions a local command wrote to the other replicas and waits for W.
//! - [`read`] — gathers R replicas' versions before a read runs, merges them, repairs the stale.
//! - [`handoff`] — delivers the hints this node keeps to their targets when they are back;
//!   `reap` deletes tombstones every replica acknowledged.
//! - [`join`] — when this node may coordinate: its view of the members confirmed, its peers'
//!   clocks in.
//! - [`offload`] — hands data of slots this node does not replicate to their replicas, then drops
//!   it (a stray copy heals by itself).
//! - [`keyspace`] — cluster-wide `SCAN`, `KEYS`, `DBSIZE`, `FLUSHALL`, `COUNTKEYSINSLOT`.
//! - [`messages`], [`quorum`] — the wire messages and the quorum arithmetic (pure).
//!
//! A node started without cluster settings has no [`Cluster`] at all and serves every command
//! locally (the cluster of one), on exactly the same coordinator.

pub mod handoff;
pub mod join;
pub mod keyspace;
pub mod messages;
pub mod offload;
pub mod quorum;
pub mod read;
mod reap;
pub mod topology;
pub mod write;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use thiserror::Error;

use crate::clock::ClusterClock;
use crate::coordinator::Coordinator;
use crate::membership::Membership;
use crate::rpc::{RpcClient, RpcError};
use messages::{MessageError, Request, Response};
pub use topology::{Peer, Topology};

/// Quorum and timing settings of the cluster.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// Replicas per key (N).
    pub replicas: usize,
    /// Default read quorum (R).
    pub read_quorum: usize,
    /// Default write quorum (W).
    pub write_quorum: usize,
    /// Deadline of one request to a peer.
    pub rpc_timeout: Duration,
    /// A read waits this long for a replica before asking the next one too.
    pub speculative_delay: Duration,
    /// Hints delivered per second at most.
    pub hint_replay_rate: u32,
    /// Wait between all N replicas acknowledging a tombstone and reaping it.
    pub reap_delay: Duration,
    /// How often the offload worker looks for data of slots this node does not replicate (zero:
    /// never).
    pub offload_interval: Duration,
    /// Keys per second handed over by the offload worker at most.
    pub offload_rate: u64,
}

/// Counters for `INFO cluster` / `INFO cartwheel`.
#[derive(Debug, Default)]
pub struct ClusterStats {
    /// Commands this node forwarded to a key's coordinator.
    pub forwarded: AtomicU64,
    /// Commands other nodes forwarded to this one.
    pub forwarded_in: AtomicU64,
    /// Versions sent to replicas (one per key and replica).
    pub replicated: AtomicU64,
    /// Versions received from other replicas that changed the local copy.
    pub merged_in: AtomicU64,
    /// Stale replicas repaired after a read.
    pub read_repairs: AtomicU64,
    /// Extra replicas asked because one was slow or failed.
    pub speculative_reads: AtomicU64,
    /// Requests answered with `NOQUORUM`.
    pub quorum_failures: AtomicU64,
    /// Requests to peers that failed or timed out.
    pub rpc_failures: AtomicU64,
    /// Versions sent to a fallback because a primary was down or failed (sloppy quorum).
    pub sloppy_writes: AtomicU64,
    /// Versions this coordinator kept as hints itself (no fallback took them).
    pub hinted_here: AtomicU64,
    /// Tombstones every replica acknowledged, sent to be reaped.
    pub reaps_sent: AtomicU64,
    /// Fully acknowledged tombstones not reaped because some member held a hint of the key (or
    /// could not be asked); the grace-period sweep reaps them.
    pub reaps_deferred: AtomicU64,
    /// Past-grace tombstones every other replica confirmed holding the same or nothing (reaped).
    pub grace_reaps_confirmed: AtomicU64,
    /// Past-grace tombstones kept because a replica holds something else, could not be asked, or
    /// a member keeps a hint of the key.
    pub grace_reaps_refused: AtomicU64,
    /// Hints this node delivered to their targets.
    pub hints_replayed: AtomicU64,
    /// Requests from other nodes dropped unrun because they arrived after their sender's deadline
    /// (the late-request fence, `service.rs`).
    pub late_dropped: AtomicU64,
    /// Replicated versions refused because this node holds no replica of their slot in its view
    /// (the sender's view differed).
    pub replica_writes_refused: AtomicU64,
    /// Slots holding data here that this node does not replicate, at the end of the last offload
    /// pass (a gauge).
    pub offload_slots_pending: AtomicU64,
    /// Offload passes run.
    pub offload_passes: AtomicU64,
    /// Versions sent to their slots' replicas by the offload worker.
    pub offload_keys_sent: AtomicU64,
    /// Copies dropped here once every replica of their slot held them.
    pub offload_keys_dropped: AtomicU64,
    /// Versions some replica refused (its view differs); they stay here for a later pass.
    pub offload_keys_refused: AtomicU64,
}

/// A request to one peer failed.
#[derive(Debug, Error)]
pub enum CallError {
    /// The transport failed (timeout, unreachable, refused…).
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The peer answered something unreadable.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// The peer answered with an error.
    #[error("peer error: {0}")]
    Remote(String),
    /// The peer answered with a response of the wrong kind.
    #[error("unexpected response")]
    Unexpected,
}

impl CallError {
    /// Whether another attempt (on this or another replica) may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            CallError::Rpc(e) => e.retryable(),
            CallError::Message(_) | CallError::Remote(_) | CallError::Unexpected => false,
        }
    }
}

/// This node's part in the cluster.
pub struct Cluster {
    settings: ClusterSettings,
    topology: ArcSwap<Topology>,
    rpc: Arc<RpcClient>,
    membership: Arc<Membership>,
    coord: Arc<Coordinator>,
    clock: Arc<ClusterClock>,
    /// Whether this node has joined: its ring includes the other members. A node started with
    /// seeds knows only itself until its first gossip exchange, and a ring of one would place
    /// every key on it alone; until then it coordinates nothing (`-TRYAGAIN`).
    ready: AtomicBool,
    /// Counters.
    pub stats: ClusterStats,
}

impl Cluster {
    /// A cluster layer over `coord`, starting from `topology`.
    pub fn new(
        settings: ClusterSettings,
        topology: Topology,
        rpc: Arc<RpcClient>,
        membership: Arc<Membership>,
        coord: Arc<Coordinator>,
        clock: Arc<ClusterClock>,
    ) -> Cluster {
        Cluster {
            settings,
            topology: ArcSwap::from_pointee(topology),
            rpc,
            membership,
            coord,
            clock,
            ready: AtomicBool::new(true),
            stats: ClusterStats::default(),
        }
    }

    /// Whether this node may coordinate requests (see the `ready` field).
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Sets whether this node may coordinate requests.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    /// The settings.
    pub fn settings(&self) -> &ClusterSettings {
        &self.settings
    }

    /// The current topology snapshot.
    pub fn topology(&self) -> Arc<Topology> {
        self.topology.load_full()
    }

    /// Installs a new topology snapshot.
    pub fn set_topology(&self, t: Topology) {
        self.topology.store(Arc::new(t));
    }

    /// Membership (gossip).
    pub fn membership(&self) -> &Arc<Membership> {
        &self.membership
    }

    /// The local replica.
    pub fn coord(&self) -> &Arc<Coordinator> {
        &self.coord
    }

    /// Cluster time: this node's and its peers' median clock.
    pub fn clock(&self) -> &Arc<ClusterClock> {
        &self.clock
    }

    /// Sends `req` to the peer at `addr` and waits (bounded by the RPC deadline) for its answer.
    pub async fn call(&self, addr: SocketAddr, req: &Request) -> Result<Response, CallError> {
        self.call_until(addr, req, tokio::time::Instant::now() + self.settings.rpc_timeout).await
    }

    /// [`Cluster::call`] for a request that acts on the peer's state when it runs there (a fenced
    /// one: `Forward`, `FlushAll`): when it fails, returns only once it can no longer take effect
    /// on the peer, so that the caller may answer its client or send a second copy. That is at
    /// once when it was never sent, the peer answered, or the call timed out (at the deadline the
    /// request carries, after which the peer's fence refuses it); after the connection closed
    /// under it, at that deadline — unless a fresh connect is refused: nothing listens there any
    /// more (`kill -9`, a crash), so no process can still run it.
    pub async fn call_settled(&self, addr: SocketAddr, req: &Request) -> Result<Response, CallError> {
        let deadline = tokio::time::Instant::now() + self.settings.rpc_timeout;
        let result = self.call_until(addr, req, deadline).await;
        if matches!(result, Err(CallError::Rpc(RpcError::Closed))) {
            let gone = matches!(tokio::time::timeout_at(deadline, self.rpc.refuses(addr)).await, Ok(true));
            if !gone {
                tokio::time::sleep_until(deadline).await;
            }
        }
        result
    }

    /// [`Cluster::call`], also telling how many bytes the encoded request and answer took
    /// (background work that keeps a byte budget).
    pub async fn call_measured(&self, addr: SocketAddr, req: &Request) -> (Result<Response, CallError>, u64, u64) {
        let encoded = req.encode();
        let sent = encoded.len() as u64;
        let ends = tokio::time::Instant::now() + self.settings.rpc_timeout;
        let (result, received) = self.call_encoded(addr, encoded, ends).await;
        (result, sent, received)
    }

    /// [`Cluster::call`] giving up at `ends` (which the request carries as its deadline).
    async fn call_until(
        &self,
        addr: SocketAddr,
        req: &Request,
        ends: tokio::time::Instant,
    ) -> Result<Response, CallError> {
        self.call_encoded(addr, req.encode(), ends).await.0
    }

    /// Sends an encoded request; the answer and its size in bytes.
    async fn call_encoded(
        &self,
        addr: SocketAddr,
        req: bytes::Bytes,
        ends: tokio::time::Instant,
    ) -> (Result<Response, CallError>, u64) {
        let bytes = match self.rpc.call_until(addr, req, ends).await {
            Ok(b) => b,
            Err(e) => {
                self.stats.rpc_failures.fetch_add(1, Ordering::Relaxed);
                return (Err(e.into()), 0);
            }
        };
        let result = match Response::decode(&bytes) {
            Ok(Response::Error(e)) => Err(CallError::Remote(e)),
            Ok(r) => Ok(r),
            Err(e) => Err(e.into()),
        };
        (result, bytes.len() as u64)
    }
}
