//! [`TcpNetwork`]: the real [`Network`] — tokio TCP sockets with `TCP_NODELAY`, frames delimited
//! by a 4-byte big-endian length prefix (`tokio_util`'s `LengthDelimitedCodec`).
//!
//! The decoder checks the prefix against `max_frame` *before* reserving memory, so a garbage or
//! hostile prefix is an error (the rpc layer then closes the connection), never a huge allocation.
//! The encoder appends frames to a write buffer and writes it out on `flush` (or when it passes
//! [`WRITE_BUFFER`]): the BufWriter half of write coalescing. Every `write` syscall is counted
//! ([`TcpNetwork::write_syscalls`]) so tests and metrics can see the coalescing at work.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use tokio::io::AsyncWrite;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};

use super::{Connection, Listener, Network};

/// Bytes buffered by a connection's writer before it writes without waiting for a flush.
pub const WRITE_BUFFER: usize = 64 * 1024;

/// The TCP network. Cheap to clone; clones share the syscall counter.
#[derive(Debug, Clone, Default)]
pub struct TcpNetwork {
    writes: Arc<AtomicU64>,
}

impl TcpNetwork {
    /// A TCP network with a fresh write counter.
    pub fn new() -> TcpNetwork {
        TcpNetwork::default()
    }

    /// How many `write` syscalls all connections of this network have made so far.
    pub fn write_syscalls(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    fn wrap(&self, stream: TcpStream, max_frame: usize) -> io::Result<Connection> {
        stream.set_nodelay(true)?;
        let remote = stream.peer_addr()?;
        let (r, w) = stream.into_split();
        let codec =
            || LengthDelimitedCodec::builder().length_field_type::<u32>().max_frame_length(max_frame).new_codec();
        let mut sink = FramedWrite::new(CountingWrite { inner: w, writes: Arc::clone(&self.writes) }, codec());
        sink.set_backpressure_boundary(WRITE_BUFFER);
        let stream = FramedRead::new(r, codec()).map(|frame| frame.map(|b| b.freeze()));
        Ok(Connection { sink: Box::pin(sink), stream: Box::pin(stream), remote })
    }
}

impl Network for TcpNetwork {
    fn connect(
        &self,
        from: SocketAddr,
        to: SocketAddr,
        max_frame: usize,
    ) -> BoxFuture<'static, io::Result<Connection>> {
        let net = self.clone();
        async move { net.wrap(connect_from(from, to).await?, max_frame) }.boxed()
    }

    fn listen(&self, addr: SocketAddr, max_frame: usize) -> BoxFuture<'static, io::Result<(SocketAddr, Listener)>> {
        let net = self.clone();
        async move {
            let listener = TcpListener::bind(addr).await?;
            let bound = listener.local_addr()?;
            let incoming = futures_util::stream::unfold(listener, move |l| {
                let net = net.clone();
                async move {
                    let conn = match l.accept().await {
                        Ok((s, _)) => net.wrap(s, max_frame),
                        Err(e) => Err(e),
                    };
                    Some((conn, l))
                }
            });
            let incoming: Listener = Box::pin(incoming);
            Ok((bound, incoming))
        }
        .boxed()
    }
}

/// Connects to `to` from the node's own advertised IP when that address is local, so the peer
/// (and any packet filter between them) sees which node is talking: on loopback the kernel would
/// otherwise pick 127.0.0.1 for every node, and per-node partition rules could not tell them apart.
/// An advertised address that is not local (behind NAT) or unspecified connects unbound.
async fn connect_from(from: SocketAddr, to: SocketAddr) -> io::Result<TcpStream> {
    if !from.ip().is_unspecified() && from.is_ipv4() == to.is_ipv4() {
        let socket = if to.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        if socket.bind(SocketAddr::new(from.ip(), 0)).is_ok() {
            return socket.connect(to).await;
        }
    }
    TcpStream::connect(to).await
}

/// Counts successful writes on the way to the socket.
struct CountingWrite<W> {
    inner: W,
    writes: Arc<AtomicU64>,
}

impl<W: AsyncWrite + Unpin> CountingWrite<W> {
    fn count<T>(&self, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Poll::Ready(Ok(_)) = &poll {
            self.writes.fetch_add(1, Ordering::Relaxed);
        }
        poll
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for CountingWrite<W> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.count(poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.count(poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
