//! An in-memory [`GossipTransport`] with switchable faults, for membership tests and local demos:
//! nodes register their [`Membership`] under a cluster address, and exchanges call
//! [`Membership::handle`] directly (every message still goes through the codec). A node that is
//! not registered (stopped) is unreachable; [`SimNetwork::block`] drops the exchanges one node
//! starts towards another (a one-way firewall), [`SimNetwork::partition`] both ways.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use bytes::Bytes;

use super::{BoxFuture, GossipTransport, Membership};

/// The simulated network shared by all nodes of a test.
#[derive(Default)]
pub struct SimNetwork {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    nodes: HashMap<SocketAddr, Weak<Membership>>,
    /// (from, to): exchanges started by `from` towards `to` fail.
    blocked: HashSet<(SocketAddr, SocketAddr)>,
}

impl SimNetwork {
    /// An empty network.
    pub fn new() -> Arc<SimNetwork> {
        Arc::new(SimNetwork::default())
    }

    /// The transport a node bound at `me` uses.
    pub fn transport(self: &Arc<Self>, me: SocketAddr) -> Arc<SimTransport> {
        Arc::new(SimTransport { net: Arc::clone(self), me })
    }

    /// Makes `node` reachable at `addr` (replacing any earlier node there).
    pub fn register(&self, addr: SocketAddr, node: &Arc<Membership>) {
        self.lock().nodes.insert(addr, Arc::downgrade(node));
    }

    /// Makes `addr` unreachable (the node was stopped).
    pub fn unregister(&self, addr: SocketAddr) {
        self.lock().nodes.remove(&addr);
    }

    /// Exchanges started by `from` towards `to` fail; `to` can still reach `from`.
    pub fn block(&self, from: SocketAddr, to: SocketAddr) {
        self.lock().blocked.insert((from, to));
    }

    /// No exchange crosses between `a` and `b`, in either direction.
    pub fn partition(&self, a: &[SocketAddr], b: &[SocketAddr]) {
        let mut inner = self.lock();
        for x in a {
            for y in b {
                inner.blocked.insert((*x, *y));
                inner.blocked.insert((*y, *x));
            }
        }
    }

    /// Removes every block and partition.
    pub fn heal(&self) {
        self.lock().blocked.clear();
    }

    fn route(&self, from: SocketAddr, to: SocketAddr) -> Result<Arc<Membership>, String> {
        let inner = self.lock();
        if inner.blocked.contains(&(from, to)) {
            return Err(format!("{from} -> {to}: blocked"));
        }
        inner.nodes.get(&to).and_then(Weak::upgrade).ok_or_else(|| format!("{to}: connection refused"))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One node's endpoint on a [`SimNetwork`].
pub struct SimTransport {
    net: Arc<SimNetwork>,
    me: SocketAddr,
}

impl GossipTransport for SimTransport {
    fn exchange(&self, to: SocketAddr, msg: Bytes) -> BoxFuture<'static, Result<Bytes, String>> {
        let (net, from) = (Arc::clone(&self.net), self.me);
        Box::pin(async move {
            tokio::task::yield_now().await;
            let node = net.route(from, to)?;
            node.handle(from, msg).map_err(|e| e.to_string())
        })
    }

    fn send(&self, to: SocketAddr, msg: Bytes) {
        let (net, from) = (Arc::clone(&self.net), self.me);
        tokio::spawn(async move {
            if let Ok(node) = net.route(from, to) {
                node.handle_one_way(from, msg);
            }
        });
    }
}
