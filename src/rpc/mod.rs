//! Node-to-node rpc over any [`crate::net::Network`]: a versioned, length-prefixed binary
//! protocol with multiplexed request ids, write coalescing and an authenticated handshake.
//! Payloads are opaque [`Bytes`]; the cluster's message enums are encoded on top of this.
//!
//! - `frame` — the 18-byte header (version, kind, request id, time) and its codec.
//! - `clock` — transport time: every request carries its deadline in the receiver's clock, so a
//!   receiver can refuse to act on a request its caller no longer waits for (the late-request
//!   fence, [`Handler::handle`]'s `deadline`).
//! - `handshake` — mutual HMAC-SHA256 challenge/response over the cluster secret, cluster name
//!   and protocol version; exchanges node ids and advertised addresses ([`PeerInfo`]).
//! - `writer` — one writer task per connection: drains its queue, flushes once per batch.
//! - `conn` — a client connection: pending calls matched by id, failed when it dies.
//! - `client` — [`RpcClient`]: `conns_per_peer` connections per peer, reconnect with backoff,
//!   per-call deadlines, one-way sends, [`RpcStats`].
//! - `server` — [`RpcServer`]: accept, handshake, run each request concurrently on a
//!   [`Handler`] (implemented by the node), until shutdown.
//! - `log_limit` — at most one log line a second for failed handshakes (strangers can cause them).
//! - `fuzz` — fuzzing entries for frames and the handshake (`crate::fuzzing`, `fuzz/`).
//!
//! Security: the handshake keeps strangers out (they cannot complete it without the secret, which
//! never crosses the wire); frames after it are neither encrypted nor individually authenticated,
//! so the cluster port belongs on a trusted network (or behind a tunnel) like Redis Cluster's bus.

mod client;
mod clock;
mod conn;
mod frame;
#[doc(hidden)]
pub(crate) mod fuzz;
mod handshake;
mod log_limit;
mod server;
mod stats;
mod writer;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;

use crate::clock::{Clock, ClusterClock, SystemClock};
use crate::version::NodeId;

pub use client::RpcClient;
pub use clock::LocalClock;
pub use frame::PROTOCOL_VERSION;
pub use server::RpcServer;
pub use stats::RpcStats;

/// Settings shared by a node's [`RpcClient`] and [`RpcServer`].
#[derive(Clone)]
pub struct RpcConfig {
    /// Peers must present the same cluster name.
    pub cluster_name: String,
    /// The shared cluster secret (must not be empty); never sent, never logged.
    pub secret: String,
    /// This node's id, sent to peers in the handshake.
    pub node_id: NodeId,
    /// This node's advertised cluster address, sent to peers in the handshake (and the source
    /// address on the simulated network).
    pub advertise: SocketAddr,
    /// Persistent connections the client keeps per peer (default 2).
    pub conns_per_peer: usize,
    /// Largest frame accepted or sent, header included (default 64 MiB).
    pub max_frame: usize,
    /// Bound on connect + handshake, on both sides (default 2 s).
    pub connect_timeout: Duration,
    /// Requests one server connection runs at once; more wait (backpressure). Default 1024.
    pub max_in_flight: usize,
    /// Frames waiting for one connection's writer; callers wait, one-way sends drop. Default 4096.
    pub queue_depth: usize,
    /// This node's transport clock (stamps and deadlines). Default: starts at the wall-clock time.
    pub clock: LocalClock,
    /// This node's raw wall clock, stamped into every frame (`wall`). Default: the system clock.
    pub wall: Arc<dyn Clock>,
    /// Where peers' wall-clock stamps go, with the round trip they came back in (cluster time).
    pub cluster_clock: Option<Arc<ClusterClock>>,
}

impl RpcConfig {
    /// A configuration with the defaults for everything but identity and credentials.
    pub fn new(cluster_name: &str, secret: &str, node_id: NodeId, advertise: SocketAddr) -> RpcConfig {
        RpcConfig {
            cluster_name: cluster_name.to_string(),
            secret: secret.to_string(),
            node_id,
            advertise,
            conns_per_peer: 2,
            max_frame: 64 << 20,
            connect_timeout: Duration::from_secs(2),
            max_in_flight: 1024,
            queue_depth: 4096,
            clock: LocalClock::starting_at(SystemClock.now_us()),
            wall: Arc::new(SystemClock),
            cluster_clock: None,
        }
    }

    fn validate(&self) -> Result<(), RpcError> {
        if self.secret.is_empty() {
            return Err(RpcError::Auth("the cluster secret is empty".into()));
        }
        if self.cluster_name.len() > usize::from(u16::MAX) {
            return Err(RpcError::Auth("the cluster name is too long".into()));
        }
        if self.max_frame < 1024 {
            return Err(RpcError::Codec("max_frame must be at least 1024 bytes".into()));
        }
        Ok(())
    }
}

impl fmt::Debug for RpcConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcConfig")
            .field("cluster_name", &self.cluster_name)
            .field("secret", &"<redacted>")
            .field("node_id", &self.node_id)
            .field("advertise", &self.advertise)
            .field("conns_per_peer", &self.conns_per_peer)
            .field("max_frame", &self.max_frame)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_in_flight", &self.max_in_flight)
            .field("queue_depth", &self.queue_depth)
            .field("clock", &self.clock)
            .finish()
    }
}

/// Who is on the other end of an authenticated connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer's node id, as it claimed in the (authenticated) handshake.
    pub node_id: NodeId,
    /// The cluster address the peer advertises (where to dial it).
    pub advertise: SocketAddr,
    /// The socket address the connection actually comes from.
    pub remote: SocketAddr,
}

/// Why an rpc failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// The call's deadline passed; the request may or may not have run on the peer.
    #[error("rpc deadline exceeded")]
    Timeout,
    /// No connection could be made (refused, unreachable, connect timed out, backing off).
    #[error("peer unreachable: {0}")]
    Unreachable(String),
    /// Bytes that are not this protocol, or a frame over the size limit.
    #[error("rpc protocol error: {0}")]
    Codec(String),
    /// The peer's handler returned an error.
    #[error("remote error: {0}")]
    Remote(String),
    /// The handshake failed: wrong secret, cluster name or protocol version.
    #[error("rpc handshake refused: {0}")]
    Auth(String),
    /// The connection closed before the answer arrived.
    #[error("rpc connection closed")]
    Closed,
}

impl RpcError {
    /// A transport read or write failure: bytes that are not this protocol (`InvalidData`, e.g.
    /// a frame over the size limit) are a protocol error; anything else (reset, broken pipe…)
    /// means the connection is gone.
    pub(crate) fn io(e: &std::io::Error) -> RpcError {
        match e.kind() {
            std::io::ErrorKind::InvalidData => RpcError::Codec(e.to_string()),
            _ => RpcError::Closed,
        }
    }

    /// Whether trying again (later, or on another replica) may succeed. Timeouts and closed
    /// connections are retryable; the request may have run, so retry only idempotent requests.
    pub fn retryable(&self) -> bool {
        match self {
            RpcError::Timeout | RpcError::Unreachable(_) | RpcError::Closed => true,
            RpcError::Codec(_) | RpcError::Remote(_) | RpcError::Auth(_) => false,
        }
    }
}

/// The node's side of the server: answers requests and takes one-way messages.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request. Runs concurrently with the connection's other requests. `Err` reaches
    /// the caller as [`RpcError::Remote`].
    ///
    /// `deadline` is when the caller stops waiting, in this node's time: at that instant the
    /// caller's own deadline has surely passed, whatever the network delay, pauses or clock skew
    /// (see `clock.rs`). `None` when the caller sent none. A request whose effect depends on this
    /// node's state when it runs must not take effect after it (the late-request fence).
    fn handle(
        &self,
        from: PeerInfo,
        request: Bytes,
        deadline: Option<tokio::time::Instant>,
    ) -> BoxFuture<'static, Result<Bytes, String>>;

    /// Takes a fire-and-forget message (gossip). Called on the connection's reader task: do not
    /// block; spawn or queue real work.
    fn one_way(&self, from: PeerInfo, message: Bytes);
}
