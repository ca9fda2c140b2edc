//! [`RpcClient`]: the caller's side of node-to-node rpc, used by the coordinator, membership and
//! the background workers. Keeps `conns_per_peer` persistent, multiplexed connections per peer
//! (calls are spread round-robin), dials lazily, and reconnects after a connection dies.
//!
//! Every call has a deadline covering everything (dial, handshake, queueing, the answer). Failed
//! dials put the peer in exponential backoff (50 ms doubling to 2 s, jittered): while it lasts,
//! calls fail fast with [`RpcError::Unreachable`] instead of each waiting out a connect timeout, so
//! the coordinator can move on to the next replica or write a hint. Each dial is itself bounded by
//! `connect_timeout` and the call's remaining deadline.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::conn::ClientConn;
use super::stats::{add, Counters};
use super::{RpcConfig, RpcError, RpcStats};
use crate::net::Network;

/// First backoff after a failed dial.
const BACKOFF_BASE: Duration = Duration::from_millis(50);
/// Longest backoff between dials to an unreachable peer.
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// The rpc client of one node. Cheap to clone; clones share connections and stats.
#[derive(Clone)]
pub struct RpcClient {
    inner: Arc<Inner>,
}

struct Inner {
    net: Arc<dyn Network>,
    cfg: RpcConfig,
    peers: Mutex<HashMap<SocketAddr, Arc<PeerPool>>>,
    stats: Arc<Counters>,
}

/// The connections to one peer and its dial backoff.
struct PeerPool {
    slots: Vec<tokio::sync::Mutex<Option<Arc<ClientConn>>>>,
    next: AtomicUsize,
    backoff: Mutex<Backoff>,
}

#[derive(Default)]
struct Backoff {
    failures: u32,
    retry_at: Option<Instant>,
}

impl PeerPool {
    fn backoff(&self) -> std::sync::MutexGuard<'_, Backoff> {
        self.backoff.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Any other open connection of the pool (slots busy dialing are skipped, not waited for).
    fn live_sibling(&self) -> Option<Arc<ClientConn>> {
        self.slots.iter().find_map(|s| s.try_lock().ok().and_then(|c| c.as_ref().filter(|c| c.is_open()).cloned()))
    }
}

impl RpcClient {
    /// A client that dials peers over `net` as `cfg.advertise`.
    pub fn new(net: Arc<dyn Network>, cfg: RpcConfig) -> Result<RpcClient, RpcError> {
        cfg.validate()?;
        let inner = Inner { net, cfg, peers: Mutex::new(HashMap::new()), stats: Arc::default() };
        Ok(RpcClient { inner: Arc::new(inner) })
    }

    /// Calls `peer` with `request` and waits at most `deadline` for the answer.
    pub async fn call(&self, peer: SocketAddr, request: Bytes, deadline: Duration) -> Result<Bytes, RpcError> {
        self.call_until(peer, request, Instant::now() + deadline).await
    }

    /// Like [`RpcClient::call`], giving up at `ends`: the request carries exactly this deadline
    /// (in the peer's clock), so a caller that waits until `ends` knows the peer can no longer act
    /// on it (the late-request fence).
    pub async fn call_until(&self, peer: SocketAddr, request: Bytes, ends: Instant) -> Result<Bytes, RpcError> {
        let stats = &self.inner.stats;
        add(&stats.calls, 1);
        let _pending = PendingCall::new(stats);
        let attempt = async {
            let conn = self.conn(peer).await?;
            conn.call(&request, ends).await
        };
        let result = tokio::time::timeout_at(ends, attempt).await.unwrap_or_else(|_| {
            add(&stats.timeouts, 1);
            Err(RpcError::Timeout)
        });
        if result.is_err() {
            add(&stats.failures, 1);
        }
        result
    }

    /// Sends a one-way message (gossip): best effort, never blocks. Uses an open connection if one
    /// is at hand, otherwise dials in the background; dropped if the queue is full or the dial fails.
    pub fn send(&self, peer: SocketAddr, message: Bytes) {
        let stats = &self.inner.stats;
        add(&stats.one_way, 1);
        let pool = self.pool(peer);
        let slot = &pool.slots[pool.next.fetch_add(1, Ordering::Relaxed) % pool.slots.len()];
        if let Ok(slot) = slot.try_lock() {
            if let Some(conn) = slot.as_ref().filter(|c| c.is_open()) {
                if !conn.try_send(&message) {
                    add(&stats.one_way_dropped, 1);
                }
                return;
            }
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            add(&stats.one_way_dropped, 1);
            return;
        };
        let this = self.clone();
        runtime.spawn(async move {
            let sent = async { this.conn(peer).await?.send(&message).await };
            if !matches!(tokio::time::timeout(this.inner.cfg.connect_timeout, sent).await, Ok(Ok(()))) {
                add(&this.inner.stats.one_way_dropped, 1);
            }
        });
    }

    /// Whether nothing listens at `peer` right now: a fresh connect (outside the pool and its
    /// backoff) is refused, so no process that an earlier connection handed a request to is
    /// still running there (`kill -9`, a crash). A connection that opens is dropped unused.
    pub async fn refuses(&self, peer: SocketAddr) -> bool {
        let cfg = &self.inner.cfg;
        let dial = self.inner.net.connect(cfg.advertise, peer, cfg.max_frame);
        matches!(
            tokio::time::timeout(cfg.connect_timeout, dial).await,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused
        )
    }

    /// Closes every connection to `peer` (a removed member); calls waiting on them fail `Closed`.
    pub fn disconnect(&self, peer: SocketAddr) {
        let pool = self.inner.peers.lock().unwrap_or_else(|e| e.into_inner()).remove(&peer);
        drop(pool);
    }

    /// Counters since the client was created.
    pub fn stats(&self) -> RpcStats {
        self.inner.stats.snapshot()
    }

    fn pool(&self, peer: SocketAddr) -> Arc<PeerPool> {
        let mut peers = self.inner.peers.lock().unwrap_or_else(|e| e.into_inner());
        let pool = peers.entry(peer).or_insert_with(|| {
            let slots = (0..self.inner.cfg.conns_per_peer.max(1)).map(|_| tokio::sync::Mutex::new(None)).collect();
            Arc::new(PeerPool { slots, next: AtomicUsize::new(0), backoff: Mutex::new(Backoff::default()) })
        });
        Arc::clone(pool)
    }

    /// A live connection to `peer`: the next slot's, dialing it if it is empty or dead.
    async fn conn(&self, peer: SocketAddr) -> Result<Arc<ClientConn>, RpcError> {
        let pool = self.pool(peer);
        let mut slot = pool.slots[pool.next.fetch_add(1, Ordering::Relaxed) % pool.slots.len()].lock().await;
        if let Some(conn) = slot.as_ref().filter(|c| c.is_open()) {
            return Ok(Arc::clone(conn));
        }
        *slot = None;
        {
            let backoff = pool.backoff();
            if backoff.retry_at.is_some_and(|at| Instant::now() < at) {
                let n = backoff.failures;
                drop(backoff);
                // While dialing is backing off, a live sibling connection still carries the call
                // (after a heal, a connection that survived the partition works at once).
                if let Some(conn) = pool.live_sibling() {
                    return Ok(conn);
                }
                return Err(RpcError::Unreachable(format!("{peer}: backing off after {n} failed connects")));
            }
        }
        match ClientConn::open(self.inner.net.as_ref(), &self.inner.cfg, peer, &self.inner.stats).await {
            Ok(conn) => {
                *pool.backoff() = Backoff::default();
                let conn = Arc::new(conn);
                *slot = Some(Arc::clone(&conn));
                Ok(conn)
            }
            Err(e) => {
                let mut backoff = pool.backoff();
                backoff.failures = backoff.failures.saturating_add(1);
                let exp = BACKOFF_BASE.saturating_mul(1 << backoff.failures.min(16).saturating_sub(1));
                let full = exp.min(BACKOFF_MAX);
                let jittered = full / 2 + full.mul_f64(fastrand::f64() / 2.0);
                backoff.retry_at = Some(Instant::now() + jittered);
                Err(e)
            }
        }
    }
}

/// Counts a call as pending until it ends, however it ends (the caller may drop the future).
struct PendingCall<'a>(&'a Counters);

impl<'a> PendingCall<'a> {
    fn new(stats: &'a Counters) -> PendingCall<'a> {
        stats.pending.fetch_add(1, Ordering::Relaxed);
        PendingCall(stats)
    }
}

impl Drop for PendingCall<'_> {
    fn drop(&mut self) {
        self.0.pending.fetch_sub(1, Ordering::Relaxed);
    }
}
