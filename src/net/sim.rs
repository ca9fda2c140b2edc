//! [`SimNetwork`]: an in-process [`Network`] for deterministic fault tests. Nodes are plain
//! `SocketAddr`s (`10.0.0.1:7000`); no sockets are opened. Each connection is two one-way pipes of
//! encoded frames, and every frame is checked against the current faults twice — when it is sent
//! and when it arrives — so a fault injected mid-flight also stops delivery on open connections.
//!
//! Faults, changeable at run time: [`partition`](SimNetwork::partition) / [`heal`](SimNetwork::heal),
//! one-way loss ([`cut_one_way`](SimNetwork::cut_one_way)), [`isolate`](SimNetwork::isolate), a
//! random drop rate from a seeded RNG ([`set_drop_rate`](SimNetwork::set_drop_rate)) and an added
//! delay ([`set_delay`](SimNetwork::set_delay), slept with `tokio::time`, so paused-time tests run
//! instantly). A link that is cut in either direction refuses new connects, like TCP whose SYN or
//! SYN-ACK is lost. [`hold`](SimNetwork::hold) keeps a link's frames in flight instead of losing
//! them and [`release`](SimNetwork::release) delivers them late, in order — what TCP does with
//! the data it retransmits across a partition once the partition heals. [`reset`](SimNetwork::reset)
//! ends the answering direction of a link's open connections (the dialer sees the connection
//! close) while what the dialer sent is still delivered — a connection that died under a request
//! the peer still gets and runs. Used by the rpc tests and by in-process cluster tests.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, Sink};
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

use super::{Connection, Listener, Network};

/// The simulated network. Cheap to clone; clones share the same nodes and faults.
#[derive(Clone)]
pub struct SimNetwork {
    inner: Arc<Mutex<State>>,
}

/// Frames counted by the simulator since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Frames handed to the receiving side.
    pub delivered: u64,
    /// Frames lost to a partition, a cut link, an isolated node or the drop rate.
    pub dropped: u64,
}

struct State {
    listeners: HashMap<SocketAddr, (u64, mpsc::UnboundedSender<Connection>)>,
    next_gen: u64,
    next_port: u16,
    partitions: Vec<(HashSet<SocketAddr>, HashSet<SocketAddr>)>,
    isolated: HashSet<SocketAddr>,
    cut: HashSet<(SocketAddr, SocketAddr)>,
    held: HashSet<(SocketAddr, SocketAddr)>,
    released: Arc<Notify>,
    /// `(from, to, pipe)`: pipes `from → to` numbered below `pipe` are ended.
    resets: Vec<(SocketAddr, SocketAddr, u64)>,
    next_pipe: u64,
    drop_rate: f64,
    delay: Duration,
    rng: fastrand::Rng,
    stats: SimStats,
}

impl State {
    fn blocked(&self, from: SocketAddr, to: SocketAddr) -> bool {
        self.isolated.contains(&from)
            || self.isolated.contains(&to)
            || self.cut.contains(&(from, to))
            || self
                .partitions
                .iter()
                .any(|(a, b)| (a.contains(&from) && b.contains(&to)) || (b.contains(&from) && a.contains(&to)))
    }
}

impl SimNetwork {
    /// An empty network whose drop decisions come from an RNG seeded with `seed`.
    pub fn new(seed: u64) -> SimNetwork {
        let state = State {
            listeners: HashMap::new(),
            next_gen: 0,
            next_port: 40000,
            partitions: Vec::new(),
            isolated: HashSet::new(),
            cut: HashSet::new(),
            held: HashSet::new(),
            released: Arc::new(Notify::new()),
            resets: Vec::new(),
            next_pipe: 0,
            drop_rate: 0.0,
            delay: Duration::ZERO,
            rng: fastrand::Rng::with_seed(seed),
            stats: SimStats::default(),
        };
        SimNetwork { inner: Arc::new(Mutex::new(state)) }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the fault tables half-written in a way
        // that matters to a test, so a poisoned lock is simply taken over.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Cuts every link between a node of `a` and a node of `b`, both ways.
    pub fn partition(&self, a: &[SocketAddr], b: &[SocketAddr]) {
        self.state().partitions.push((a.iter().copied().collect(), b.iter().copied().collect()));
    }

    /// Cuts every link of `node`, both ways.
    pub fn isolate(&self, node: SocketAddr) {
        self.state().isolated.insert(node);
    }

    /// Loses every frame from `from` to `to`; frames from `to` to `from` still arrive.
    pub fn cut_one_way(&self, from: SocketAddr, to: SocketAddr) {
        self.state().cut.insert((from, to));
    }

    /// Holds every frame from `from` to `to` in flight (not lost) until [`SimNetwork::release`]
    /// or [`SimNetwork::heal`]; frames from `to` to `from` still arrive.
    pub fn hold(&self, from: SocketAddr, to: SocketAddr) {
        self.state().held.insert((from, to));
    }

    /// Ends every open connection's direction `to → from` (its dialer `from` reads the end of the
    /// stream), leaving `from → to` as it is: frames `from` sent, held ones included, still arrive.
    /// Connections opened later are not affected.
    pub fn reset(&self, from: SocketAddr, to: SocketAddr) {
        let mut s = self.state();
        let pipe = s.next_pipe;
        s.resets.push((to, from, pipe));
        s.released.notify_waiters();
    }

    /// Delivers every held frame, late, in the order sent.
    pub fn release(&self) {
        let mut s = self.state();
        s.held.clear();
        s.released.notify_waiters();
    }

    /// Removes every partition, isolation, one-way cut and hold (held frames are delivered), not
    /// the drop rate or the delay.
    pub fn heal(&self) {
        let mut s = self.state();
        s.partitions.clear();
        s.isolated.clear();
        s.cut.clear();
        s.held.clear();
        s.released.notify_waiters();
    }

    /// Drops each frame independently with probability `rate` (0.0 ..= 1.0).
    pub fn set_drop_rate(&self, rate: f64) {
        self.state().drop_rate = rate.clamp(0.0, 1.0);
    }

    /// Delays every frame (and every connect) by `delay`.
    pub fn set_delay(&self, delay: Duration) {
        self.state().delay = delay;
    }

    /// Frames delivered and dropped so far.
    pub fn stats(&self) -> SimStats {
        self.state().stats
    }

    /// Waits while the link `from → to` is held.
    async fn wait_released(&self, from: SocketAddr, to: SocketAddr) {
        loop {
            let released = Arc::clone(&self.state().released);
            let notified = released.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.state().held.contains(&(from, to)) {
                return;
            }
            notified.await;
        }
    }

    /// One direction of a connection. A delivery task moves each frame from the sender's queue
    /// to the receiver's at its due time, checking the faults of that moment — as a real network
    /// delivers into the socket buffer whether or not the application is reading.
    fn pipe(&self, from: SocketAddr, to: SocketAddr, max_frame: usize) -> (SimSink, crate::net::FrameStream) {
        let (tx, mut in_flight) = mpsc::unbounded_channel::<(Instant, Bytes)>();
        let (arrived, rx) = mpsc::unbounded_channel::<Bytes>();
        let net = self.clone();
        let pipe = {
            let mut s = self.state();
            s.next_pipe += 1;
            s.next_pipe - 1
        };
        let was_reset = move |s: &State| s.resets.iter().any(|&(f, t, below)| f == from && t == to && pipe < below);
        tokio::spawn(async move {
            loop {
                let changed = Arc::clone(&net.state().released);
                let notified = changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if was_reset(&net.state()) {
                    break;
                }
                let next = tokio::select! {
                    next = in_flight.recv() => next,
                    _ = arrived.closed() => None,
                    _ = notified => continue,
                };
                let Some((at, frame)) = next else { break };
                tokio::time::sleep_until(at).await;
                net.wait_released(from, to).await;
                let mut s = net.state();
                if s.blocked(from, to) {
                    s.stats.dropped += 1;
                    continue;
                }
                s.stats.delivered += 1;
                drop(s);
                if arrived.send(frame).is_err() {
                    break;
                }
            }
        });
        let sink = SimSink { net: self.clone(), from, to, tx: Some(tx), queued: Vec::new(), max_frame };
        let stream = futures_util::stream::unfold(rx, move |mut rx| async move {
            let frame = rx.recv().await?;
            if frame.len() > max_frame {
                let e = io::Error::new(io::ErrorKind::InvalidData, "frame larger than max_frame");
                return Some((Err(e), rx));
            }
            Some((Ok(frame), rx))
        });
        (sink, Box::pin(stream))
    }
}

impl Network for SimNetwork {
    fn connect(
        &self,
        from: SocketAddr,
        to: SocketAddr,
        max_frame: usize,
    ) -> BoxFuture<'static, io::Result<Connection>> {
        let net = self.clone();
        async move {
            let delay = net.state().delay;
            tokio::time::sleep(delay).await;
            let mut s = net.state();
            if s.blocked(from, to) || s.blocked(to, from) {
                return Err(io::Error::new(io::ErrorKind::HostUnreachable, format!("{to} unreachable from {from}")));
            }
            let Some((_, accept)) = s.listeners.get(&to).cloned() else {
                return Err(io::Error::new(io::ErrorKind::ConnectionRefused, format!("nothing listens on {to}")));
            };
            let port = s.next_port;
            s.next_port = s.next_port.checked_add(1).unwrap_or(40000);
            drop(s);
            let (out_sink, out_stream) = net.pipe(from, to, max_frame);
            let (back_sink, back_stream) = net.pipe(to, from, max_frame);
            let dialer = SocketAddr::new(from.ip(), port);
            let accepted = Connection { sink: Box::pin(back_sink), stream: out_stream, remote: dialer };
            accept
                .send(accepted)
                .map_err(|_| io::Error::new(io::ErrorKind::ConnectionRefused, format!("{to} stopped listening")))?;
            Ok(Connection { sink: Box::pin(out_sink), stream: back_stream, remote: to })
        }
        .boxed()
    }

    fn listen(&self, addr: SocketAddr, _max_frame: usize) -> BoxFuture<'static, io::Result<(SocketAddr, Listener)>> {
        let net = self.clone();
        async move {
            let mut s = net.state();
            if s.listeners.get(&addr).is_some_and(|(_, tx)| !tx.is_closed()) {
                return Err(io::Error::new(io::ErrorKind::AddrInUse, format!("{addr} already listens")));
            }
            let (tx, rx) = mpsc::unbounded_channel();
            let generation = s.next_gen;
            s.next_gen += 1;
            s.listeners.insert(addr, (generation, tx));
            drop(s);
            let guard = Registration { net: net.clone(), addr, generation };
            let incoming = futures_util::stream::unfold((rx, guard), |(mut rx, guard)| async move {
                let conn = rx.recv().await?;
                Some((Ok(conn), (rx, guard)))
            });
            let incoming: Listener = Box::pin(incoming);
            Ok((addr, incoming))
        }
        .boxed()
    }
}

/// Unregisters a listener when its stream is dropped, so connects to it are refused.
struct Registration {
    net: SimNetwork,
    addr: SocketAddr,
    generation: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut s = self.net.state();
        if s.listeners.get(&self.addr).is_some_and(|(g, _)| *g == self.generation) {
            s.listeners.remove(&self.addr);
        }
    }
}

/// One direction of a simulated connection: queues frames, applies faults on flush.
struct SimSink {
    net: SimNetwork,
    from: SocketAddr,
    to: SocketAddr,
    tx: Option<mpsc::UnboundedSender<(Instant, Bytes)>>,
    queued: Vec<Bytes>,
    max_frame: usize,
}

fn broken() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "simulated connection closed")
}

impl Sink<Bytes> for SimSink {
    type Error = io::Error;

    fn poll_ready(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(if self.tx.as_ref().is_some_and(|tx| !tx.is_closed()) { Ok(()) } else { Err(broken()) })
    }

    fn start_send(self: Pin<&mut Self>, frame: Bytes) -> io::Result<()> {
        if frame.len() > self.max_frame {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "frame larger than max_frame"));
        }
        self.get_mut().queued.push(frame);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.queued.is_empty() {
            return Poll::Ready(Ok(()));
        }
        let Some(tx) = &this.tx else { return Poll::Ready(Err(broken())) };
        let mut s = this.net.state();
        let at = Instant::now() + s.delay;
        for frame in this.queued.drain(..) {
            let lost = s.blocked(this.from, this.to) || (s.drop_rate > 0.0 && s.rng.f64() < s.drop_rate);
            if lost {
                s.stats.dropped += 1;
            } else if tx.send((at, frame)).is_err() {
                return Poll::Ready(Err(broken()));
            }
        }
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = self.as_mut().poll_flush(cx);
        self.get_mut().tx = None;
        flushed
    }
}
