//! The client listener: accepts TCP connections and starts a [`connection::serve`] task for each,
//! enforcing `maxclients` and Redis's protected mode before the client may send anything.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use super::connection;
use crate::command::Context;

const PROTECTED_MODE_ERROR: &str = "-DENIED Cartwheel is running in protected mode because protected mode is \
enabled and no password is set for the default user. In this mode connections are only accepted from the \
loopback interface. If you want to connect from external computers, either set requirepass (config file or \
--requirepass), or disable protected mode with --protected-mode no.\r\n";

/// Whether an address is loopback (all of 127.0.0.0/8 and ::1).
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

/// Accepts clients on `listener` until `shutdown` turns true; connection tasks go into `tasks`.
pub async fn accept_loop(
    node: Arc<Context>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
    tasks: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => return,
        };
        if *shutdown.borrow() {
            return;
        }
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off briefly rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        node.stats.connections_received.fetch_add(1, Ordering::Relaxed);
        if let Some(refusal) = refuse(&node, peer) {
            node.stats.rejected_connections.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(reject(stream, refusal));
            continue;
        }
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().unwrap_or(peer);
        let client = node.clients.register(peer, local);
        let node = Arc::clone(&node);
        tasks.spawn(connection::serve(node, stream, client));
    }
}

fn refuse(node: &Context, peer: SocketAddr) -> Option<&'static str> {
    let cfg = node.config();
    if node.clients.len() >= cfg.maxclients {
        return Some("-ERR max number of clients reached\r\n");
    }
    if cfg.protected_mode && cfg.requirepass.is_none() && !is_loopback(peer.ip()) {
        return Some(PROTECTED_MODE_ERROR);
    }
    None
}

async fn reject(mut stream: TcpStream, line: &'static str) {
    let write = stream.write_all(line.as_bytes());
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), write).await;
    let _ = stream.shutdown().await;
}
