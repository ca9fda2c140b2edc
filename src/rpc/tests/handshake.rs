//! The handshake refuses wrong secrets, cluster names and protocol versions on both sides, and
//! both sides give up on a silent peer at the handshake deadline. Where the real client would
//! stop early, a hand-driven peer (raw frames on a simulated connection) plays the impostor.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use tokio::time::Instant;

use super::{addr, cfg, client, wait_until, TestServer};
use crate::net::{Connection, Network, SimNetwork};
use crate::rpc::frame::{self, Kind};
use crate::rpc::handshake::{Side, MAGIC};
use crate::rpc::{RpcClient, RpcConfig, RpcError};
use crate::version::NodeId;

const SECOND: Duration = Duration::from_secs(1);

fn sim() -> Arc<dyn Network> {
    Arc::new(SimNetwork::new(1))
}

fn hello(cluster_name: &str) -> Bytes {
    let side = Side {
        node_id: NodeId::random(),
        advertise: addr("10.0.0.9:7000"),
        nonce: [7; 32],
        cluster_name: cluster_name.to_string(),
    };
    let mut buf = BytesMut::from(&MAGIC[..]);
    side.encode(&mut buf);
    buf.freeze()
}

async fn recv(conn: &mut Connection) -> Option<frame::Frame> {
    let bytes = conn.stream.next().await?.ok()?;
    Some(frame::decode(bytes).unwrap())
}

#[tokio::test(start_paused = true)]
async fn wrong_secret_is_refused_by_the_dialer() {
    let net = sim();
    let server = TestServer::start(net.clone(), cfg(addr("10.0.0.2:7000"))).await;
    let mut bad = cfg(addr("10.0.0.1:7000"));
    bad.secret = "guess".into();
    let c = client(net, bad);
    let err = c.call(server.addr(), Bytes::from_static(b"x"), SECOND).await.unwrap_err();
    assert!(matches!(&err, RpcError::Auth(m) if m.contains("could not prove")), "{err:?}");
    assert!(!err.retryable());
    wait_until("the server counted the refusal", SECOND, || async { server.server.stats().refused == 1 }).await;
    assert_eq!(server.server.stats().connections, 0);
    assert_eq!(server.handler.requests.load(Ordering::SeqCst), 0);
    server.stop().await;
}

#[tokio::test(start_paused = true)]
async fn forged_proof_is_refused_by_the_listener() {
    let net = sim();
    let server = TestServer::start(net.clone(), cfg(addr("10.0.0.2:7000"))).await;
    let mut conn = net.connect(addr("10.0.0.9:7000"), server.addr(), 1 << 20).await.unwrap();
    conn.sink.send(frame::encode(Kind::Hello, 0, 0, 0, &hello("test-cluster"))).await.unwrap();
    assert_eq!(recv(&mut conn).await.unwrap().kind, Kind::Challenge);
    conn.sink.send(frame::encode(Kind::Auth, 0, 0, 0, &[0u8; 32])).await.unwrap();
    let refused = recv(&mut conn).await.unwrap();
    assert_eq!((refused.kind, &refused.payload[..]), (Kind::Refuse, &b"authentication failed"[..]));
    assert!(recv(&mut conn).await.is_none(), "the listener closes after refusing");
    // Requests sent anyway go nowhere.
    let _ = conn.sink.send(frame::encode(Kind::Request, 1, 0, 0, b"inject")).await;
    assert_eq!(server.server.stats().refused, 1);
    assert_eq!(server.handler.requests.load(Ordering::SeqCst), 0);
    server.stop().await;
}

#[tokio::test(start_paused = true)]
async fn wrong_cluster_name_is_refused() {
    let net = sim();
    let server = TestServer::start(net.clone(), cfg(addr("10.0.0.2:7000"))).await;
    let mut other = cfg(addr("10.0.0.1:7000"));
    other.cluster_name = "other-cluster".into();
    let c = client(net, other);
    let err = c.call(server.addr(), Bytes::from_static(b"x"), SECOND).await.unwrap_err();
    assert_eq!(err, RpcError::Auth("peer refused: cluster name mismatch".into()));
    assert_eq!(server.server.stats().refused, 1);
    server.stop().await;
}

#[tokio::test(start_paused = true)]
async fn other_protocol_version_is_refused_by_the_listener() {
    let net = sim();
    let server = TestServer::start(net.clone(), cfg(addr("10.0.0.2:7000"))).await;
    let mut conn = net.connect(addr("10.0.0.9:7000"), server.addr(), 1 << 20).await.unwrap();
    conn.sink.send(frame::encode_version(1, Kind::Hello, 0, 0, 0, &hello("test-cluster"))).await.unwrap();
    let refused = recv(&mut conn).await.unwrap();
    assert_eq!(refused.kind, Kind::Refuse);
    let reason = String::from_utf8_lossy(&refused.payload).into_owned();
    assert!(reason.contains("protocol version 1 is not supported"), "{reason}");
    assert!(recv(&mut conn).await.is_none());
    assert_eq!(server.server.stats().refused, 1);
    server.stop().await;
}

/// Listens on `at` and runs `script` on the first connection, standing in for a peer.
async fn fake_listener<F, Fut>(net: &Arc<dyn Network>, at: &str, script: F) -> tokio::task::JoinHandle<()>
where
    F: FnOnce(Connection) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let (_, mut listener) = net.listen(addr(at), 1 << 20).await.unwrap();
    tokio::spawn(async move {
        let conn = listener.next().await.unwrap().unwrap();
        script(conn).await;
    })
}

#[tokio::test(start_paused = true)]
async fn listener_speaking_another_version_is_refused_by_the_dialer() {
    let net = sim();
    let listener = fake_listener(&net, "10.0.0.2:7000", |mut conn| async move {
        assert_eq!(recv(&mut conn).await.unwrap().kind, Kind::Hello);
        conn.sink.send(frame::encode_version(3, Kind::Challenge, 0, 0, 0, b"from the future")).await.unwrap();
        let refused = recv(&mut conn).await.unwrap();
        assert_eq!(refused.kind, Kind::Refuse);
    })
    .await;
    let c = client(net, cfg(addr("10.0.0.1:7000")));
    let err = c.call(addr("10.0.0.2:7000"), Bytes::from_static(b"x"), SECOND).await.unwrap_err();
    assert!(matches!(&err, RpcError::Auth(m) if m.contains("protocol version 3")), "{err:?}");
    listener.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn silent_listener_hits_the_handshake_deadline() {
    let net = sim();
    let _listener = fake_listener(&net, "10.0.0.2:7000", |conn| async move {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(conn);
    })
    .await;
    let c = client(net, cfg(addr("10.0.0.1:7000")));
    let start = Instant::now();
    let err = c.call(addr("10.0.0.2:7000"), Bytes::from_static(b"x"), 10 * SECOND).await.unwrap_err();
    assert!(matches!(&err, RpcError::Unreachable(m) if m.contains("timed out")), "{err:?}");
    assert_eq!(start.elapsed(), RpcConfig::new("", "", NodeId([0; 20]), addr("0.0.0.0:0")).connect_timeout);
}

#[tokio::test(start_paused = true)]
async fn silent_dialer_is_dropped_at_the_handshake_deadline() {
    let net = sim();
    let server = TestServer::start(net.clone(), cfg(addr("10.0.0.2:7000"))).await;
    let mut conn = net.connect(addr("10.0.0.9:7000"), server.addr(), 1 << 20).await.unwrap();
    let start = Instant::now();
    assert!(recv(&mut conn).await.is_none(), "the listener hangs up");
    assert_eq!(start.elapsed(), 2 * SECOND);
    assert_eq!(server.server.stats().refused, 1);
    server.stop().await;
}

/// Log lines, captured by a subscriber set for the test's (single) runtime thread.
#[derive(Clone, Default)]
struct CapturedLog(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLog {
    type Writer = CapturedLog;

    fn make_writer(&'a self) -> CapturedLog {
        self.clone()
    }
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_garbage_connections_logs_one_line_a_second() {
    let log = CapturedLog::default();
    let subscriber = tracing_subscriber::fmt().with_writer(log.clone()).with_ansi(false).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let net = sim();
    let server = TestServer::start(net.clone(), cfg(addr("10.0.0.2:7000"))).await;
    let start = Instant::now();
    let flood = |n: u64| {
        let net = net.clone();
        let to = server.addr();
        async move {
            for _ in 0..n {
                let mut conn = net.connect(addr("10.0.0.9:7000"), to, 1 << 20).await.unwrap();
                conn.sink.send(Bytes::from_static(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")).await.unwrap();
                assert!(conn.stream.next().await.is_none(), "the listener hangs up on garbage");
            }
        }
    };
    flood(500).await;
    wait_until("every refusal counted", SECOND, || async { server.server.stats().refused == 500 }).await;
    tokio::time::sleep(SECOND).await;
    flood(1).await;
    wait_until("the last refusal counted", SECOND, || async { server.server.stats().refused == 501 }).await;
    let elapsed_secs = start.elapsed().as_secs();
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("rpc handshake refused")).collect();
    assert!(lines.len() >= 2 && lines.len() as u64 <= elapsed_secs + 1, "{elapsed_secs} s: {lines:#?}");
    // Every failure is either a line or counted in the next line's `suppressed`.
    let suppressed: u64 = lines
        .iter()
        .map(|l| l.split("suppressed=").nth(1).and_then(|r| r.split(' ').next()).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(suppressed + lines.len() as u64, 501, "{lines:#?}");
    server.stop().await;
}

#[tokio::test]
async fn empty_secret_is_rejected_up_front() {
    let mut config = cfg(addr("10.0.0.1:7000"));
    config.secret.clear();
    assert!(matches!(RpcClient::new(sim(), config), Err(RpcError::Auth(_))));
}
