//! Byte-level protocol tests against a real listener: pipelines, inline commands, split frames,
//! garbage, oversize input, CLIENT REPLY, RESP3 shapes.

mod common;

use common::TestNode;

#[tokio::test]
async fn pipelined_requests_get_replies_in_order() {
    let node = TestNode::start().await;
    let mut c = node.raw().await;
    let mut batch = Vec::new();
    for i in 0..100 {
        batch.extend_from_slice(format!("*3\r\n$3\r\nSET\r\n$2\r\nk{}\r\n$1\r\n{}\r\n", i % 10, i % 10).as_bytes());
    }
    batch.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$2\r\nk7\r\n");
    c.send(&batch).await;
    let mut expected = b"+OK\r\n".repeat(100);
    expected.extend_from_slice(b"$1\r\n7\r\n");
    c.expect(&expected).await;
    node.stop().await;
}

#[tokio::test]
async fn inline_commands_with_quotes() {
    let node = TestNode::start().await;
    let mut c = node.raw().await;
    c.send(b"PING\r\nset \"a b\" 'c d'\r\nget \"a b\"\nECHO \"\\x41\\n\"\r\n").await;
    c.expect(b"+PONG\r\n+OK\r\n$3\r\nc d\r\n$2\r\nA\n\r\n").await;
    node.stop().await;
}

#[tokio::test]
async fn a_request_split_into_single_bytes_still_works() {
    let node = TestNode::start().await;
    let mut c = node.raw().await;
    for b in b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n" {
        c.send(&[*b]).await;
    }
    c.expect(b"+OK\r\n$5\r\nvalue\r\n").await;
    node.stop().await;
}

#[tokio::test]
async fn protocol_errors_reply_then_close() {
    let node = TestNode::start().await;
    for (input, reply) in [
        (&b"*20000000\r\n"[..], &b"-ERR Protocol error: invalid multibulk length\r\n"[..]),
        (b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", b"-ERR Protocol error: expected '$', got 'f'\r\n"),
        (b"*1\r\n$-10\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"set \"unbalanced\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    ] {
        let mut c = node.raw().await;
        c.send(input).await;
        c.expect(reply).await;
        assert!(c.closed().await, "connection should close after {:?}", String::from_utf8_lossy(input));
    }
    node.stop().await;
}

#[tokio::test]
async fn oversize_bulk_is_refused_without_buffering_it() {
    let node = TestNode::start_with(|c| c.proto_max_bulk_len = 1024 * 1024).await;
    let mut c = node.raw().await;
    c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n").await;
    c.expect(b"-ERR Protocol error: invalid bulk length\r\n").await;
    assert!(c.closed().await);
    node.stop().await;
}

#[tokio::test]
async fn random_garbage_never_kills_the_server() {
    let node = TestNode::start().await;
    let mut seed = 0x1234_5678_u64;
    for _ in 0..50 {
        let mut c = node.raw().await;
        let junk: Vec<u8> = (0..512)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed % 256) as u8
            })
            .collect();
        c.send(&junk).await;
        drop(c);
    }
    let mut c = node.raw().await;
    c.send(b"PING\r\n").await;
    c.expect(b"+PONG\r\n").await;
    node.stop().await;
}

#[tokio::test]
async fn wrong_arity_and_unknown_commands_use_redis_text() {
    let node = TestNode::start().await;
    let mut c = node.raw().await;
    c.send(b"GET\r\nFOO bar baz\r\nCLIENT NOPE\r\n").await;
    c.expect(
        b"-ERR wrong number of arguments for 'get' command\r\n\
          -ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' \r\n\
          -ERR unknown subcommand 'NOPE'. Try CLIENT HELP.\r\n",
    )
    .await;
    node.stop().await;
}

#[tokio::test]
async fn client_reply_off_skip_on() {
    let node = TestNode::start().await;
    let mut c = node.raw().await;
    c.send(b"CLIENT REPLY OFF\r\nPING\r\nCLIENT REPLY ON\r\nCLIENT REPLY SKIP\r\nPING\r\nECHO x\r\n").await;
    c.expect(b"+OK\r\n$1\r\nx\r\n").await;
    node.stop().await;
}

#[tokio::test]
async fn resp3_shapes_after_hello_3() {
    let node = TestNode::start().await;
    let mut c = node.raw().await;
    c.send(b"HELLO 3\r\n").await;
    let hello = c.read_at_least(10).await;
    assert!(hello.starts_with(b"%7\r\n"), "{}", String::from_utf8_lossy(&hello));
    c.send(b"GET missing\r\nINCRBYFLOAT f 1.5\r\nCONFIG GET maxclients\r\n").await;
    c.expect(b"_\r\n$3\r\n1.5\r\n%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n").await;
    node.stop().await;
}

#[tokio::test]
async fn requirepass_gates_commands() {
    let node = TestNode::start_with(|c| c.requirepass = Some("s3cret".into())).await;
    let mut c = node.raw().await;
    c.send(b"GET k\r\nAUTH wrong\r\nAUTH s3cret\r\nGET k\r\n").await;
    c.expect(
        b"-NOAUTH Authentication required.\r\n\
          -WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n$-1\r\n",
    )
    .await;
    node.stop().await;
}

#[tokio::test]
async fn maxclients_refuses_extra_connections() {
    let node = TestNode::start_with(|c| c.maxclients = 2).await;
    let mut a = node.raw().await;
    let mut b = node.raw().await;
    a.send(b"PING\r\n").await;
    a.expect(b"+PONG\r\n").await;
    b.send(b"PING\r\n").await;
    b.expect(b"+PONG\r\n").await;
    let mut extra = node.raw().await;
    extra.expect(b"-ERR max number of clients reached\r\n").await;
    assert!(extra.closed().await);
    node.stop().await;
}

#[tokio::test]
async fn idle_clients_are_closed_after_timeout() {
    let node = TestNode::start_with(|c| c.timeout = 1).await;
    let mut c = node.raw().await;
    c.send(b"PING\r\n").await;
    c.expect(b"+PONG\r\n").await;
    assert!(c.closed().await);
    node.stop().await;
}
