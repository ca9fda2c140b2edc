//! One authenticated client connection, multiplexed: any number of calls share it, each with its
//! own request id; the reader task matches responses to waiting calls by id. When the connection
//! dies (peer closed, network error, garbage) every waiting call is failed with
//! [`RpcError::Closed`] at once and later calls are refused, so nothing waits for a deadline that
//! cannot be met and nothing is left behind in the pending table. Owned by the client's pool.
//!
//! The connection also keeps what it knows of the peer's transport clock ([`PeerClock`], first
//! from the handshake, then from every answer's stamp) and sends each request with its deadline
//! translated into the peer's clock (the late-request fence, `clock.rs`). Every answer also
//! carries the peer's wall clock: with the time the request was sent and the time the answer came
//! back, it is a sample for this node's cluster time (`crate::clock::ClusterClock`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

use super::clock::{LocalClock, PeerClock};
use super::frame::{self, Kind};
use super::stats::{add, Counters, OpenConnection};
use super::{handshake, writer, RpcConfig, RpcError};
use crate::clock::{Clock, ClusterClock};
use crate::net::{FrameStream, Network};
use crate::version::NodeId;

/// A call waiting for its answer, and when its request was queued.
struct Waiting {
    reply: oneshot::Sender<Result<Bytes, RpcError>>,
    sent: tokio::time::Instant,
}

/// Calls waiting for their answer; `closed` once the connection died.
#[derive(Default)]
struct Pending {
    closed: bool,
    calls: HashMap<u64, Waiting>,
}

struct Shared {
    pending: Mutex<Pending>,
    stats: Arc<Counters>,
    /// This node's transport clock.
    local: LocalClock,
    /// What the peer's stamps say of its clock.
    peer: PeerClock,
    /// This node's raw wall clock (stamped into one-way frames).
    wall: Arc<dyn Clock>,
    /// Where the peer's wall-clock readings go (cluster nodes), and the peer's id.
    cluster_clock: Option<(Arc<ClusterClock>, NodeId)>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands an answer to its call; `wall` is the peer's wall clock when it answered.
    fn complete(&self, id: u64, wall: u64, result: Result<Bytes, RpcError>) {
        let waiter = self.lock().calls.remove(&id);
        if let Some(waiter) = waiter {
            if let Some((clock, peer)) = &self.cluster_clock {
                clock.sample(*peer, wall, waiter.sent, tokio::time::Instant::now());
            }
            let _ = waiter.reply.send(result);
        }
    }

    /// Marks the connection dead and fails every waiting call.
    fn close(&self) {
        let calls = {
            let mut p = self.lock();
            p.closed = true;
            std::mem::take(&mut p.calls)
        };
        for (_, waiter) in calls {
            let _ = waiter.reply.send(Err(RpcError::Closed));
        }
    }
}

/// A live connection to one peer.
pub(crate) struct ClientConn {
    shared: Arc<Shared>,
    queue: mpsc::Sender<Bytes>,
    next_id: AtomicU64,
    max_frame: usize,
    reader: AbortHandle,
}

impl ClientConn {
    /// Connects to `to`, runs the handshake (both bounded by `connect_timeout`) and starts the
    /// connection's writer and reader tasks.
    pub async fn open(
        net: &dyn Network,
        cfg: &RpcConfig,
        to: SocketAddr,
        stats: &Arc<Counters>,
    ) -> Result<ClientConn, RpcError> {
        let connecting = async {
            let mut conn = net
                .connect(cfg.advertise, to, cfg.max_frame)
                .await
                .map_err(|e| RpcError::Unreachable(format!("{to}: {e}")))?;
            // A peer that goes away during the handshake was never sent a request: unreachable.
            let peer = handshake::dial(&mut conn, cfg).await.map_err(|e| match e {
                RpcError::Closed => RpcError::Unreachable(format!("{to}: connection lost during the handshake")),
                e => e,
            })?;
            Ok::<_, RpcError>((conn, peer))
        };
        let (conn, (peer, peer_clock)) = match tokio::time::timeout(cfg.connect_timeout, connecting).await {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => {
                add(&stats.refused, 1);
                if matches!(e, RpcError::Auth(_) | RpcError::Codec(_)) {
                    tracing::warn!(peer = %to, error = %e, "rpc handshake with peer failed");
                }
                return Err(e);
            }
            Err(_) => {
                add(&stats.refused, 1);
                return Err(RpcError::Unreachable(format!("{to}: connect and handshake timed out")));
            }
        };
        tracing::debug!(peer = %to, node = %peer.node_id, "rpc connection open");
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            stats: Arc::clone(stats),
            local: cfg.clock,
            peer: peer_clock,
            wall: Arc::clone(&cfg.wall),
            cluster_clock: cfg.cluster_clock.as_ref().map(|c| (Arc::clone(c), peer.node_id)),
        });
        let (queue, queue_rx) = mpsc::channel(cfg.queue_depth.max(1));
        let on_error = Arc::clone(&shared);
        let written = writer::run(conn.sink, queue_rx, Arc::clone(stats));
        let writer = tokio::spawn(async move {
            if let Err(e) = written.await {
                tracing::warn!(peer = %to, error = %e, "rpc connection failed while writing");
                on_error.close();
            }
        });
        let open = OpenConnection::new(stats);
        let reader = tokio::spawn(read_loop(conn.stream, Arc::clone(&shared), writer.abort_handle(), to, open));
        Ok(ClientConn {
            shared,
            queue,
            next_id: AtomicU64::new(1),
            max_frame: cfg.max_frame,
            reader: reader.abort_handle(),
        })
    }

    /// Whether the connection can still carry calls.
    pub fn is_open(&self) -> bool {
        !self.shared.lock().closed && !self.queue.is_closed()
    }

    fn check_size(&self, payload: &Bytes) -> Result<(), RpcError> {
        if frame::frame_len(payload.len()) > self.max_frame {
            return Err(RpcError::Codec(format!("a {}-byte payload exceeds max_frame", payload.len())));
        }
        Ok(())
    }

    /// Sends a request and waits for its answer. `deadline` is when the caller gives up (it wraps a
    /// timeout around this call); the request carries it in the peer's clock. If the caller gives
    /// up, the pending entry is removed by a drop guard.
    pub async fn call(&self, request: &Bytes, deadline: tokio::time::Instant) -> Result<Bytes, RpcError> {
        self.check_size(request)?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut p = self.shared.lock();
            if p.closed {
                return Err(RpcError::Closed);
            }
            p.calls.insert(id, Waiting { reply: tx, sent: tokio::time::Instant::now() });
        }
        let _guard = PendingGuard { shared: &self.shared, id };
        let remote_deadline = self.shared.peer.lower_bound(self.shared.local.at(deadline));
        let f = frame::encode(Kind::Request, id, remote_deadline, self.shared.wall.now_us(), request);
        self.queue.send(f).await.map_err(|_| RpcError::Closed)?;
        rx.await.unwrap_or(Err(RpcError::Closed))
    }

    /// Queues a one-way message without waiting; `false` if it was not queued.
    pub fn try_send(&self, message: &Bytes) -> bool {
        let f = frame::encode(Kind::OneWay, 0, self.shared.local.now_us(), self.shared.wall.now_us(), message);
        self.check_size(message).is_ok() && self.queue.try_send(f).is_ok()
    }

    /// Queues a one-way message, waiting for queue space.
    pub async fn send(&self, message: &Bytes) -> Result<(), RpcError> {
        self.check_size(message)?;
        let f = frame::encode(Kind::OneWay, 0, self.shared.local.now_us(), self.shared.wall.now_us(), message);
        self.queue.send(f).await.map_err(|_| RpcError::Closed)
    }
}

impl Drop for ClientConn {
    fn drop(&mut self) {
        // The writer ends when `queue` (its last sender) is dropped; the reader would wait for
        // the peer, so stop it here.
        self.reader.abort();
        self.shared.close();
    }
}

/// Removes a call's pending entry however the call ends (answer, deadline, cancellation).
struct PendingGuard<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.shared.lock().calls.remove(&self.id);
    }
}

async fn read_loop(
    mut stream: FrameStream,
    shared: Arc<Shared>,
    writer: AbortHandle,
    peer: SocketAddr,
    _open: OpenConnection,
) {
    while let Some(item) = stream.next().await {
        let bytes = match item {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(peer = %peer, error = %e, "rpc connection failed");
                break;
            }
        };
        add(&shared.stats.bytes_received, bytes.len() as u64);
        let decoded = frame::decode_current(bytes);
        if let Ok(f) = &decoded {
            shared.peer.sample(f.time, shared.local.now_us());
        }
        match decoded {
            Ok(f) if f.kind == Kind::Response => shared.complete(f.id, f.wall, Ok(f.payload)),
            Ok(f) if f.kind == Kind::Error => {
                let message = String::from_utf8_lossy(&f.payload).into_owned();
                shared.complete(f.id, f.wall, Err(RpcError::Remote(message)));
            }
            Ok(f) => {
                tracing::warn!(peer = %peer, kind = ?f.kind, "unexpected rpc frame from server; closing");
                break;
            }
            Err(e) => {
                tracing::warn!(peer = %peer, error = %e, "bad rpc frame from server; closing");
                break;
            }
        }
    }
    shared.close();
    writer.abort();
}
