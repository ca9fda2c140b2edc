//! Tests of the rpc layer over both networks: `sim` (simulated network, paused time, faults),
//! `tcp` (real sockets: garbage, oversized frames, syscall coalescing), `handshake` (refusals).
//! This file holds the shared harness: a scriptable [`TestHandler`], servers that can be stopped
//! and restarted, and [`wait_until`].

mod handshake;
mod sim;
mod tcp;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::sync::watch;

use super::{Handler, PeerInfo, RpcClient, RpcConfig, RpcServer};
use crate::net::Network;
use crate::version::NodeId;

/// Echoes requests, with a few scripted behaviours chosen by the request's first word:
/// `slow` sleeps 10 s, `fail` returns an error, `whoami` answers with the caller's `PeerInfo`,
/// `big:N` answers N bytes.
#[derive(Default)]
pub(super) struct TestHandler {
    pub requests: AtomicU64,
    pub one_ways: Mutex<Vec<Bytes>>,
    /// The deadline each request arrived with, in arrival order.
    pub deadlines: Mutex<Vec<Option<tokio::time::Instant>>>,
}

impl TestHandler {
    pub fn one_way_count(&self) -> usize {
        self.one_ways.lock().unwrap().len()
    }
}

impl Handler for TestHandler {
    fn handle(
        &self,
        from: PeerInfo,
        request: Bytes,
        deadline: Option<tokio::time::Instant>,
    ) -> BoxFuture<'static, Result<Bytes, String>> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.deadlines.lock().unwrap().push(deadline);
        async move {
            if request.starts_with(b"slow") {
                tokio::time::sleep(Duration::from_secs(10)).await;
                Ok(request)
            } else if request.starts_with(b"fail") {
                Err("boom".to_string())
            } else if request.starts_with(b"whoami") {
                Ok(Bytes::from(format!("{} {} {}", from.node_id, from.advertise, from.remote)))
            } else if let Some(n) = request.strip_prefix(b"big:") {
                let n: usize = std::str::from_utf8(n).unwrap().parse().unwrap();
                Ok(Bytes::from(vec![b'x'; n]))
            } else {
                Ok(request)
            }
        }
        .boxed()
    }

    fn one_way(&self, _from: PeerInfo, message: Bytes) {
        self.one_ways.lock().unwrap().push(message);
    }
}

pub(super) fn cfg(addr: SocketAddr) -> RpcConfig {
    RpcConfig::new("test-cluster", "s3cret", NodeId::random(), addr)
}

pub(super) fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A running server with its handler and its stop switch.
pub(super) struct TestServer {
    pub server: RpcServer,
    pub handler: Arc<TestHandler>,
    stop: watch::Sender<bool>,
}

impl TestServer {
    pub async fn start(net: Arc<dyn Network>, cfg: RpcConfig) -> TestServer {
        let handler = Arc::new(TestHandler::default());
        let (stop, stopped) = watch::channel(false);
        let h: Arc<dyn Handler> = handler.clone();
        let server = RpcServer::start(net, cfg.advertise, cfg, h, stopped).await.unwrap();
        TestServer { server, handler, stop }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Signals shutdown and waits until every task of the server is gone.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        self.server.join().await;
    }
}

pub(super) fn client(net: Arc<dyn Network>, cfg: RpcConfig) -> RpcClient {
    RpcClient::new(net, cfg).unwrap()
}

/// Polls `cond` every 10 ms (tokio time, so paused-time tests advance) until it is true;
/// panics with `what` after `deadline`.
pub(super) async fn wait_until<F, Fut>(what: &str, deadline: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let give_up = tokio::time::Instant::now() + deadline;
    while !cond().await {
        assert!(tokio::time::Instant::now() < give_up, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
