//! The two networks on their own, below the rpc layer: raw frames over the simulator (listeners,
//! partitions mid-connection, ordering under delay) and over TCP (length-prefix limits).

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use super::{Connection, Network, SimNetwork, TcpNetwork};

fn addr(s: &str) -> std::net::SocketAddr {
    s.parse().unwrap()
}

/// Connects `from` → `to` and returns (dialer side, listener side).
async fn pair(net: &dyn Network, listener: &mut super::Listener, from: &str, to: &str) -> (Connection, Connection) {
    let dialer = net.connect(addr(from), addr(to), 1 << 20).await.unwrap();
    let accepted = listener.next().await.unwrap().unwrap();
    (dialer, accepted)
}

#[tokio::test(start_paused = true)]
async fn sim_refuses_connects_without_a_listener() {
    let net = SimNetwork::new(1);
    let err = net.connect(addr("10.0.0.1:1"), addr("10.0.0.2:1"), 1024).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    let (_, listener) = net.listen(addr("10.0.0.2:1"), 1024).await.unwrap();
    assert!(net.listen(addr("10.0.0.2:1"), 1024).await.is_err(), "address in use");
    net.connect(addr("10.0.0.1:1"), addr("10.0.0.2:1"), 1024).await.unwrap();
    drop(listener);
    let err = net.connect(addr("10.0.0.1:1"), addr("10.0.0.2:1"), 1024).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    let _relisten = net.listen(addr("10.0.0.2:1"), 1024).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn sim_partition_stops_open_connections_and_new_connects() {
    let net = SimNetwork::new(1);
    let (_, mut listener) = net.listen(addr("10.0.0.2:1"), 1024).await.unwrap();
    let (mut a, mut b) = pair(&net, &mut listener, "10.0.0.1:1", "10.0.0.2:1").await;
    assert_eq!(b.remote.ip(), addr("10.0.0.1:1").ip());

    net.partition(&[addr("10.0.0.1:1")], &[addr("10.0.0.2:1"), addr("10.0.0.3:1")]);
    a.sink.send(Bytes::from_static(b"lost")).await.unwrap();
    let err = net.connect(addr("10.0.0.1:1"), addr("10.0.0.2:1"), 1024).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::HostUnreachable);

    net.heal();
    a.sink.send(Bytes::from_static(b"found")).await.unwrap();
    assert_eq!(b.stream.next().await.unwrap().unwrap(), "found");
    b.sink.send(Bytes::from_static(b"back")).await.unwrap();
    assert_eq!(a.stream.next().await.unwrap().unwrap(), "back");
    assert_eq!(net.stats().dropped, 1);
}

#[tokio::test(start_paused = true)]
async fn sim_delay_keeps_frames_in_order_and_partition_catches_frames_in_flight() {
    let net = SimNetwork::new(1);
    let (_, mut listener) = net.listen(addr("10.0.0.2:1"), 1024).await.unwrap();
    let (mut a, mut b) = pair(&net, &mut listener, "10.0.0.1:1", "10.0.0.2:1").await;
    net.set_delay(Duration::from_millis(50));
    let start = Instant::now();
    for i in 0..10u8 {
        a.sink.feed(Bytes::from(vec![i])).await.unwrap();
    }
    a.sink.flush().await.unwrap();
    for i in 0..10u8 {
        assert_eq!(b.stream.next().await.unwrap().unwrap(), vec![i]);
    }
    assert_eq!(start.elapsed(), Duration::from_millis(50));

    a.sink.send(Bytes::from_static(b"in flight")).await.unwrap();
    net.isolate(addr("10.0.0.2:1"));
    a.sink.send(Bytes::from_static(b"blocked")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    net.heal();
    a.sink.send(Bytes::from_static(b"after")).await.unwrap();
    assert_eq!(b.stream.next().await.unwrap().unwrap(), "after");
    assert_eq!(net.stats().dropped, 2);

    drop(a);
    assert!(b.stream.next().await.is_none(), "closing one side ends the other's stream");
}

#[tokio::test(start_paused = true)]
async fn sim_hold_delivers_a_links_frames_late_and_in_order_on_release() {
    let net = SimNetwork::new(1);
    let (_, mut listener) = net.listen(addr("10.0.0.2:1"), 1024).await.unwrap();
    let (mut a, mut b) = pair(&net, &mut listener, "10.0.0.1:1", "10.0.0.2:1").await;
    net.hold(addr("10.0.0.1:1"), addr("10.0.0.2:1"));
    for i in 0..3u8 {
        a.sink.send(Bytes::from(vec![i])).await.unwrap();
    }
    b.sink.send(Bytes::from_static(b"other way")).await.unwrap();
    assert_eq!(a.stream.next().await.unwrap().unwrap(), "other way", "only one direction is held");
    let held = tokio::time::timeout(Duration::from_secs(60), b.stream.next()).await;
    assert!(held.is_err(), "a held frame arrived");
    net.release();
    for i in 0..3u8 {
        assert_eq!(b.stream.next().await.unwrap().unwrap(), vec![i]);
    }
    assert_eq!(net.stats().dropped, 0);
}

#[tokio::test]
async fn tcp_rejects_a_length_prefix_over_the_limit_without_allocating() {
    let net = TcpNetwork::new();
    let (bound, mut listener) = net.listen(addr("127.0.0.1:0"), 1024).await.unwrap();
    let mut raw = tokio::net::TcpStream::connect(bound).await.unwrap();
    let mut accepted = listener.next().await.unwrap().unwrap();
    raw.write_all(&[0, 0, 0, 3, b'a', b'b', b'c', 0xff, 0xff, 0xff, 0xf0]).await.unwrap();
    assert_eq!(accepted.stream.next().await.unwrap().unwrap(), "abc");
    let err = accepted.stream.next().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);

    let mut dialer = net.connect(addr("127.0.0.1:1"), bound, 1024).await.unwrap();
    let err = dialer.sink.send(Bytes::from(vec![0u8; 2000])).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(net.write_syscalls() == 0, "the oversized frame was never written");
}

#[tokio::test]
async fn tcp_connects_from_the_nodes_own_address_when_it_is_local() {
    let net = TcpNetwork::new();
    let (bound, mut listener) = net.listen(addr("127.0.0.3:0"), 1024).await.unwrap();
    let _dialer = net.connect(addr("127.0.0.2:7000"), bound, 1024).await.unwrap();
    let accepted = listener.next().await.unwrap().unwrap();
    assert_eq!(accepted.remote.ip(), addr("127.0.0.2:1").ip(), "per-node packet filters can tell nodes apart");
    // An advertised address that is not on this host (behind NAT) connects unbound.
    let _dialer = net.connect(addr("192.0.2.1:7000"), bound, 1024).await.unwrap();
    let accepted = listener.next().await.unwrap().unwrap();
    assert!(accepted.remote.ip().is_loopback());
}
