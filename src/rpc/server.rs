//! [`RpcServer`]: the listening side of node-to-node rpc, started by the node on its cluster port
//! with the node's [`Handler`]. Each accepted connection must complete the handshake within
//! `connect_timeout` or is dropped with a `warn!` naming its address — at most one such line per
//! second for all connections together, with the count of the failures it held back
//! (`log_limit.rs`), so a flood of garbage connections cannot flood the log. After that, each request
//! runs as its own task (at most `max_in_flight` per connection; the reader waits for a slot,
//! which pushes back on the peer), so a slow request never blocks the connection. Answers go
//! through the connection's writer task (coalesced). Garbage, an oversized frame or an unexpected
//! frame kind closes that connection only. Serves until the shutdown signal turns `true`.

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_util::task::TaskTracker;

use super::frame::{self, Kind};
use super::log_limit::LogLimiter;
use super::stats::{add, Counters, OpenConnection};
use super::{handshake, writer, Handler, PeerInfo, RpcConfig, RpcError, RpcStats};
use crate::net::{Connection, FrameStream, Listener, Network};

/// A running rpc server.
pub struct RpcServer {
    local_addr: SocketAddr,
    tasks: TaskTracker,
    stats: Arc<Counters>,
}

impl RpcServer {
    /// Listens on `listen` and serves `handler` until `shutdown` becomes `true` (or its sender is
    /// dropped). Fails if the configuration is invalid or the address cannot be bound.
    pub async fn start(
        net: Arc<dyn Network>,
        listen: SocketAddr,
        cfg: RpcConfig,
        handler: Arc<dyn Handler>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<RpcServer, RpcError> {
        cfg.validate()?;
        let (local_addr, listener) = net
            .listen(listen, cfg.max_frame)
            .await
            .map_err(|e| RpcError::Unreachable(format!("cannot listen on {listen}: {e}")))?;
        let stats = Arc::new(Counters::default());
        let tasks = TaskTracker::new();
        let server = Server {
            cfg: Arc::new(cfg),
            handler,
            stats: Arc::clone(&stats),
            tasks: tasks.clone(),
            handshake_log: Arc::new(LogLimiter::new(HANDSHAKE_LOG_INTERVAL)),
        };
        tasks.spawn(server.accept_loop(listener, shutdown));
        tasks.close();
        tracing::info!(addr = %local_addr, "rpc server listening");
        Ok(RpcServer { local_addr, tasks, stats })
    }

    /// The bound address (the real port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Counters since the server started.
    pub fn stats(&self) -> RpcStats {
        self.stats.snapshot()
    }

    /// Waits until the server has stopped: listener closed, every connection task finished.
    pub async fn join(self) {
        self.tasks.wait().await;
    }
}

#[derive(Clone)]
struct Server {
    cfg: Arc<RpcConfig>,
    handler: Arc<dyn Handler>,
    stats: Arc<Counters>,
    tasks: TaskTracker,
    /// Failed handshakes (refused or timed out) of all connections share one log line a second.
    handshake_log: Arc<LogLimiter>,
}

/// At most one log line per this interval for failed handshakes; the line carries `suppressed`,
/// the failures not logged since the previous one (all are counted in [`RpcStats`]`::refused`).
const HANDSHAKE_LOG_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Resolves once shutdown is requested (or the sender is gone).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

impl Server {
    async fn accept_loop(self, mut listener: Listener, mut shutdown: watch::Receiver<bool>) {
        loop {
            let accepted = tokio::select! {
                _ = stopping(&mut shutdown) => break,
                accepted = listener.next() => accepted,
            };
            match accepted {
                None => break,
                Some(Ok(conn)) => {
                    let server = self.clone();
                    self.tasks.spawn(server.serve(conn, shutdown.clone()));
                }
                Some(Err(e)) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::warn!(error = %e, "rpc accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    async fn serve(self, mut conn: Connection, mut shutdown: watch::Receiver<bool>) {
        let remote = conn.remote;
        let peer = match tokio::time::timeout(self.cfg.connect_timeout, handshake::accept(&mut conn, &self.cfg)).await {
            Ok(Ok(peer)) => peer,
            failed => {
                add(&self.stats.refused, 1);
                // Anyone can open connections: log at most one failure per second.
                if let Some(suppressed) = self.handshake_log.admit(tokio::time::Instant::now()) {
                    match failed {
                        Ok(Err(e)) => tracing::warn!(peer = %remote, error = %e, suppressed, "rpc handshake refused"),
                        _ => tracing::warn!(peer = %remote, suppressed, "rpc handshake timed out"),
                    }
                }
                return;
            }
        };
        tracing::debug!(peer = %remote, node = %peer.node_id, "rpc peer connected");
        let _open = OpenConnection::new(&self.stats);
        let (queue, queue_rx) = mpsc::channel(self.cfg.queue_depth.max(1));
        let writer = tokio::spawn(writer::run(conn.sink, queue_rx, Arc::clone(&self.stats)));
        tokio::select! {
            _ = stopping(&mut shutdown) => {}
            result = self.read_loop(conn.stream, peer, queue) => {
                if let Err(e) = result {
                    tracing::warn!(peer = %remote, error = %e, "closing rpc connection");
                }
            }
        }
        // Dropping the sink closes the connection; answers still being computed are dropped with it.
        writer.abort();
    }

    async fn read_loop(
        &self,
        mut stream: FrameStream,
        peer: PeerInfo,
        queue: mpsc::Sender<bytes::Bytes>,
    ) -> Result<(), RpcError> {
        let in_flight = Arc::new(Semaphore::new(self.cfg.max_in_flight.max(1)));
        while let Some(item) = stream.next().await {
            let bytes = item.map_err(|e| RpcError::Codec(e.to_string()))?;
            add(&self.stats.bytes_received, bytes.len() as u64);
            let f = frame::decode_current(bytes)?;
            match f.kind {
                Kind::Request => {
                    add(&self.stats.calls, 1);
                    let permit = Arc::clone(&in_flight).acquire_owned().await.map_err(|_| RpcError::Closed)?;
                    let (clock, wall) = (self.cfg.clock, Arc::clone(&self.cfg.wall));
                    let deadline = (f.time != 0).then(|| clock.instant(f.time));
                    let answer = self.handler.handle(peer, f.payload, deadline);
                    let (queue, stats, max_frame) = (queue.clone(), Arc::clone(&self.stats), self.cfg.max_frame);
                    tokio::spawn(async move {
                        let reply = match answer.await {
                            Ok(body) if frame::frame_len(body.len()) <= max_frame => {
                                frame::encode(Kind::Response, f.id, clock.now_us(), wall.now_us(), &body)
                            }
                            Ok(body) => {
                                add(&stats.failures, 1);
                                let msg = format!("a {}-byte answer exceeds max_frame", body.len());
                                frame::encode(Kind::Error, f.id, clock.now_us(), wall.now_us(), msg.as_bytes())
                            }
                            Err(msg) => {
                                add(&stats.failures, 1);
                                let msg = &msg.as_bytes()[..msg.len().min(max_frame / 2)];
                                frame::encode(Kind::Error, f.id, clock.now_us(), wall.now_us(), msg)
                            }
                        };
                        let _ = queue.send(reply).await;
                        drop(permit);
                    });
                }
                Kind::OneWay => {
                    add(&self.stats.one_way, 1);
                    self.handler.one_way(peer, f.payload);
                }
                other => return Err(RpcError::Codec(format!("unexpected {other:?} frame from a client"))),
            }
        }
        Ok(())
    }
}
