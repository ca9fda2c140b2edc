//! The `Network` seam: how one node's frames reach another, with two implementations that the
//! same [`crate::rpc`] code runs on — real TCP ([`TcpNetwork`]) and an in-process simulated
//! network with fault injection ([`SimNetwork`]) for deterministic cluster tests.
//!
//! The seam carries *frames* (opaque [`Bytes`], one message each), not Rust objects: the rpc layer
//! encodes every message before it enters the network and decodes it after it leaves, so the
//! simulated network exercises the codec exactly like TCP does. Working at the frame level (not
//! raw bytes) lets the simulator drop, delay or cut individual messages without corrupting the
//! stream, the way a lossy link loses packets while TCP keeps the byte stream intact.
//!
//! The trait is object safe (`Arc<dyn Network>`): the node picks TCP or the simulator at run time
//! without making every cluster type generic. The price is one boxed future per *connect* and one
//! boxed sink/stream per connection; individual frames go through `poll_*` calls on those boxes,
//! so there is no allocation per frame beyond the frame itself.
//!
//! A connection's [`FrameSink`] buffers: `feed` queues a frame, `flush` puts everything queued on
//! the wire in as few writes as possible (TCP: one `write` syscall per flush for batches up to the
//! buffer size). The rpc writer task feeds every queued frame and flushes once its queue is empty
//! — that is the write coalescing. Both sides reject frames larger than the `max_frame` given at
//! connect/listen time with an error, and never allocate for a length prefix above it.

mod sim;
mod tcp;

#[cfg(test)]
mod tests;

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{Sink, Stream};

pub use sim::SimNetwork;
pub use tcp::TcpNetwork;

/// The sending half of a connection: queue frames with `feed`, put them on the wire with `flush`.
pub type FrameSink = Pin<Box<dyn Sink<Bytes, Error = io::Error> + Send>>;

/// The receiving half of a connection: one item per frame; an error or the end closes it.
pub type FrameStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// Incoming connections of a listener; dropping it stops listening.
pub type Listener = Pin<Box<dyn Stream<Item = io::Result<Connection>> + Send>>;

/// One established, full-duplex connection.
pub struct Connection {
    /// Frames to the remote end.
    pub sink: FrameSink,
    /// Frames from the remote end.
    pub stream: FrameStream,
    /// The remote end's socket address (for an accepted connection: the dialer's address).
    pub remote: SocketAddr,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("remote", &self.remote).finish_non_exhaustive()
    }
}

/// Moves frames between nodes. Implemented by [`TcpNetwork`] and [`SimNetwork`].
pub trait Network: Send + Sync + 'static {
    /// Opens a connection from the node at `from` to the listener at `to`. Frames larger than
    /// `max_frame` bytes are refused in both directions. TCP ignores `from` (the kernel picks the
    /// source address); the simulator uses it to apply faults to the right link.
    fn connect(&self, from: SocketAddr, to: SocketAddr, max_frame: usize)
        -> BoxFuture<'static, io::Result<Connection>>;

    /// Starts listening on `addr`; returns the bound address (TCP port 0 picks one) and the stream
    /// of accepted connections.
    fn listen(&self, addr: SocketAddr, max_frame: usize) -> BoxFuture<'static, io::Result<(SocketAddr, Listener)>>;
}
