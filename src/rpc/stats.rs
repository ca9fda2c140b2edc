//! Counters kept by an [`crate::rpc::RpcClient`] or [`crate::rpc::RpcServer`] and shared with their
//! connection tasks (atomics, no locks), and the [`RpcStats`] snapshot they hand out.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// A snapshot of rpc counters (since the client or server was created).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RpcStats {
    /// Calls started (client) or requests received (server).
    pub calls: u64,
    /// Calls that ended in any error, timeouts included (client) / handler errors (server).
    pub failures: u64,
    /// Calls that hit their deadline (client).
    pub timeouts: u64,
    /// Calls waiting for an answer right now (client).
    pub pending: u64,
    /// One-way messages queued (client) or received (server).
    pub one_way: u64,
    /// One-way messages dropped because no connection or queue space was at hand (client).
    pub one_way_dropped: u64,
    /// Frame bytes handed to the network (headers included).
    pub bytes_sent: u64,
    /// Frame bytes received from the network (headers included).
    pub bytes_received: u64,
    /// Frames handed to the network.
    pub frames_sent: u64,
    /// Flushes by the writer tasks: one per drained batch of frames (coalescing = frames/flushes).
    pub flushes: u64,
    /// Connections open and authenticated right now.
    pub open_connections: u64,
    /// Connections that completed the handshake, ever.
    pub connections: u64,
    /// Handshakes that failed (refused, timed out, garbage) and connect attempts that failed.
    pub refused: u64,
}

/// The live counters behind [`RpcStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub calls: AtomicU64,
    pub failures: AtomicU64,
    pub timeouts: AtomicU64,
    pub pending: AtomicI64,
    pub one_way: AtomicU64,
    pub one_way_dropped: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub bytes_received: AtomicU64,
    pub frames_sent: AtomicU64,
    pub flushes: AtomicU64,
    pub open_connections: AtomicI64,
    pub connections: AtomicU64,
    pub refused: AtomicU64,
}

/// Adds `n` to a counter.
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Counters {
    pub fn snapshot(&self) -> RpcStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let gauge = |c: &AtomicI64| u64::try_from(c.load(Ordering::Relaxed)).unwrap_or(0);
        RpcStats {
            calls: get(&self.calls),
            failures: get(&self.failures),
            timeouts: get(&self.timeouts),
            pending: gauge(&self.pending),
            one_way: get(&self.one_way),
            one_way_dropped: get(&self.one_way_dropped),
            bytes_sent: get(&self.bytes_sent),
            bytes_received: get(&self.bytes_received),
            frames_sent: get(&self.frames_sent),
            flushes: get(&self.flushes),
            open_connections: gauge(&self.open_connections),
            connections: get(&self.connections),
            refused: get(&self.refused),
        }
    }
}

/// Counts one open connection for as long as it lives (also when its task is aborted).
pub(crate) struct OpenConnection(Arc<Counters>);

impl OpenConnection {
    pub fn new(counters: &Arc<Counters>) -> OpenConnection {
        counters.open_connections.fetch_add(1, Ordering::Relaxed);
        add(&counters.connections, 1);
        OpenConnection(Arc::clone(counters))
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Ordering::Relaxed);
    }
}
