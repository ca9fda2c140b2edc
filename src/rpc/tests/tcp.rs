//! Rpc over real TCP sockets on 127.0.0.1 (real time): round trips, multiplexing, garbage and
//! oversized frames from strangers, frames over the limit after the handshake, coalesced writes
//! counted in syscalls, a wrong secret, and a server restart on the same port.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{addr, cfg, client, wait_until, TestServer};
use crate::net::{Network, TcpNetwork};
use crate::rpc::RpcError;

const DEADLINE: Duration = Duration::from_secs(10);

fn tcp() -> (TcpNetwork, Arc<dyn Network>) {
    let net = TcpNetwork::new();
    let dyn_net: Arc<dyn Network> = Arc::new(net.clone());
    (net, dyn_net)
}

async fn server(net: &Arc<dyn Network>) -> TestServer {
    TestServer::start(net.clone(), cfg(addr("127.0.0.1:0"))).await
}

/// Reads until the server closes the socket (EOF or reset); fails after `DEADLINE`.
async fn assert_closed_by_server(mut socket: TcpStream) {
    let mut buf = vec![0u8; 4096];
    let closed = tokio::time::timeout(DEADLINE, async {
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server kept the connection open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_and_thousand_concurrent_calls_on_two_connections() {
    let (_, net) = tcp();
    let server = server(&net).await;
    let b = server.addr();
    let c = client(net, cfg(addr("127.0.0.1:7000")));
    assert_eq!(c.call(b, Bytes::from_static(b"hello"), DEADLINE).await.unwrap(), "hello");
    let who = c.call(b, Bytes::from_static(b"whoami"), DEADLINE).await.unwrap();
    assert!(std::str::from_utf8(&who).unwrap().contains(" 127.0.0.1:7000 "), "{who:?}");

    let calls = (0..1000).map(|i| {
        let c = c.clone();
        async move { (i, c.call(b, Bytes::from(format!("req-{i}")), DEADLINE).await) }
    });
    for (i, answer) in join_all(calls).await {
        assert_eq!(answer.unwrap(), format!("req-{i}"));
    }
    assert_eq!(c.stats().connections, 2);
    assert_eq!(server.server.stats().connections, 2);
    assert_eq!(server.server.stats().calls, 1002);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_oversized_prefixes_close_only_that_connection() {
    let (_, net) = tcp();
    let server = server(&net).await;
    let c = client(net, cfg(addr("127.0.0.1:7000")));
    c.call(server.addr(), Bytes::from_static(b"before"), DEADLINE).await.unwrap();

    let mut garbage = TcpStream::connect(server.addr()).await.unwrap();
    garbage.write_all(b"\x00\x00\x00\x0bGET / HTTP/1.1\r\n\r\n").await.unwrap();
    assert_closed_by_server(garbage).await;

    let mut huge = TcpStream::connect(server.addr()).await.unwrap();
    huge.write_all(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3]).await.unwrap();
    assert_closed_by_server(huge).await;

    let mut random = TcpStream::connect(server.addr()).await.unwrap();
    let noise: Vec<u8> = (0..10_000).map(|_| fastrand::u8(..)).collect();
    let _ = random.write_all(&noise).await;
    assert_closed_by_server(random).await;

    assert_eq!(c.call(server.addr(), Bytes::from_static(b"after"), DEADLINE).await.unwrap(), "after");
    assert_eq!(server.server.stats().refused, 3);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_over_the_limit_are_refused_without_harm() {
    let (_, net) = tcp();
    let mut small = cfg(addr("127.0.0.1:0"));
    small.max_frame = 4096;
    let server = TestServer::start(net.clone(), small).await;
    let b = server.addr();
    let mut client_cfg = cfg(addr("127.0.0.1:7000"));
    client_cfg.conns_per_peer = 1;
    let c = client(net.clone(), client_cfg.clone());

    // The server's limit: it closes the connection; the caller learns at once, then reconnects.
    let err = c.call(b, Bytes::from(vec![b'x'; 8000]), DEADLINE).await.unwrap_err();
    assert_eq!(err, RpcError::Closed);
    wait_until("the client reconnects", DEADLINE, || async {
        c.call(b, Bytes::from_static(b"small"), DEADLINE).await.is_ok()
    })
    .await;
    // The server's answer over its own limit becomes a remote error.
    let err = c.call(b, Bytes::from_static(b"big:5000"), DEADLINE).await.unwrap_err();
    assert!(matches!(&err, RpcError::Remote(m) if m.contains("exceeds max_frame")), "{err:?}");
    // The client's own limit: refused before anything is sent.
    client_cfg.max_frame = 2048;
    let tiny = client(net, client_cfg);
    let err = tiny.call(b, Bytes::from(vec![b'x'; 3000]), DEADLINE).await.unwrap_err();
    assert!(matches!(err, RpcError::Codec(_)), "{err:?}");
    assert_eq!(tiny.call(b, Bytes::from_static(b"fits"), DEADLINE).await.unwrap(), "fits");
    server.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn queued_frames_share_write_syscalls() {
    let (tcp, net) = tcp();
    let server = server(&net).await;
    let handler = Arc::clone(&server.handler);
    let mut client_cfg = cfg(addr("127.0.0.1:7000"));
    client_cfg.conns_per_peer = 1;
    let c = client(net, client_cfg);
    c.call(server.addr(), Bytes::from_static(b"warm up"), DEADLINE).await.unwrap();

    let before = tcp.write_syscalls();
    for i in 0..200 {
        c.send(server.addr(), Bytes::from(format!("gossip {i}")));
    }
    wait_until("all 200 arrived", DEADLINE, || async { handler.one_way_count() == 200 }).await;
    // Only the client writes in between (one-way messages get no answer).
    let writes = tcp.write_syscalls() - before;
    assert!(writes <= 2, "200 queued frames took {writes} write syscalls");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_is_refused_over_tcp() {
    let (_, net) = tcp();
    let server = server(&net).await;
    let mut bad = cfg(addr("127.0.0.1:7000"));
    bad.secret = "nope".into();
    let err = client(net, bad).call(server.addr(), Bytes::from_static(b"x"), DEADLINE).await.unwrap_err();
    assert!(matches!(err, RpcError::Auth(_)), "{err:?}");
    assert_eq!(server.handler.requests.load(Ordering::SeqCst), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reconnects_after_a_server_restart_on_the_same_port() {
    let (_, net) = tcp();
    let first = server(&net).await;
    let b = first.addr();
    let c = client(net.clone(), cfg(addr("127.0.0.1:7000")));
    c.call(b, Bytes::from_static(b"first life"), DEADLINE).await.unwrap();
    first.stop().await;
    wait_until("the client noticed", DEADLINE, || async { c.stats().open_connections == 0 }).await;
    assert!(c.call(b, Bytes::from_static(b"down"), DEADLINE).await.unwrap_err().retryable());

    let second = TestServer::start(net, cfg(b)).await;
    wait_until("calls succeed again", DEADLINE, || async {
        c.call(b, Bytes::from_static(b"second life"), DEADLINE).await.is_ok()
    })
    .await;
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_resets_during_the_handshake_is_unreachable() {
    // A node killed while a connection to it is being opened: it accepts, the dialer's hello
    // arrives unread, and the socket closes with a reset. No request was sent, so the caller must
    // see `Unreachable` (safe to send elsewhere), not a protocol error.
    let (_, net) = tcp();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let to = listener.local_addr().unwrap();
    let hang_up = tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            socket.readable().await.unwrap();
            drop(socket); // unread input: the kernel answers with RST
        }
    });
    let err = client(net, cfg(addr("127.0.0.1:7000"))).call(to, Bytes::from_static(b"x"), DEADLINE).await.unwrap_err();
    assert!(matches!(err, RpcError::Unreachable(_)), "{err:?}");
    hang_up.abort();
}
