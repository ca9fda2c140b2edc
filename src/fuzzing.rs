//! Fuzzing entries: one function per cargo-fuzz target in `fuzz/` (same names), each feeding
//! untrusted bytes to one decoder at the edge of the node and checking that it never panics and,
//! where the format allows, that what it decodes survives a re-encode. The corpus replay test
//! (`tests/fuzz_corpus.rs`) calls the same functions on every committed corpus file and
//! regression, so plain `cargo test` re-checks them without libFuzzer.
//!
//! [`seeds`] makes valid seed inputs with the crate's own encoders; regenerate the committed
//! seeds after a wire format change with
//! `cargo test --test fuzz_corpus -- --ignored regenerate_seeds`.
//!
//! Not an API: hidden from the docs, for the fuzz targets and that test only.

use bytes::{Bytes, BytesMut};

use crate::cluster::messages::{Forward, HintedVersion, KeyVersion, Request, Response};
use crate::membership::codec::{Digest, Message, Record, Tombstone};
use crate::membership::{LocalMember, MemberStatus};
use crate::resp::parser::{ParserLimits, ProtocolError, RequestParser};
use crate::resp::reply::{Protocol, Reply};
use crate::resp::reply_depth::MAX_REPLY_DEPTH;
use crate::version::{codec, DvvSet, NodeId, Sibling, VersionVector};

/// The fuzz targets, in the order they are fuzzed.
pub const TARGETS: &[&str] =
    &["resp_parser", "rpc_frame", "rpc_handshake", "cluster_messages", "version_codec", "gossip_codec"];

/// Runs target `name` on `data`; `false` when there is no such target.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "resp_parser" => resp_parser(data),
        "rpc_frame" => rpc_frame(data),
        "rpc_handshake" => rpc_handshake(data),
        "cluster_messages" => cluster_messages(data),
        "version_codec" => version_codec(data),
        "gossip_codec" => gossip_codec(data),
        _ => return false,
    }
    true
}

/// `resp_parser`: byte 0 picks the limits (bit 7: small ones), whether the client must still
/// authenticate (bit 0) and a chunk size (bits 1-6); the rest is the client's byte stream. The
/// stream parsed whole and fed in chunks gives the same commands (unless a "too big" limit
/// tripped, which depends on how bytes arrive, as in Redis), and every command re-encoded as a
/// multibulk request parses back to itself.
pub fn resp_parser(data: &[u8]) {
    let Some((&ctl, input)) = data.split_first() else { return };
    let limits = if ctl & 0x80 != 0 {
        ParserLimits { max_bulk_len: 512, max_multibulk_len: 64, max_inline_len: 256 }
    } else {
        ParserLimits::default()
    };
    let auth = ctl & 1 != 0;
    let chunk = usize::from((ctl >> 1) & 0x3f) + 1;
    let whole = parse_stream(limits, auth, &[input]);
    let pieces: Vec<&[u8]> = input.chunks(chunk).collect();
    let chunked = parse_stream(limits, auth, &pieces);
    let limit_tripped = |e: &Option<ProtocolError>| {
        matches!(
            e,
            Some(ProtocolError::TooBigInline | ProtocolError::TooBigBulkCount | ProtocolError::TooBigMbulkCount)
        )
    };
    if !limit_tripped(&whole.1) && !limit_tripped(&chunked.1) {
        assert_eq!(whole, chunked, "whole vs chunked parse");
    }
    for cmd in &whole.0 {
        let mut wire = BytesMut::new();
        Reply::Array(cmd.iter().cloned().map(Reply::Bulk).collect()).encode(Protocol::Resp2, &mut wire);
        let (again, err) = parse_stream(ParserLimits::default(), false, &[&wire]);
        assert_eq!((again.as_slice(), err), (std::slice::from_ref(cmd), None), "command re-encode");
    }
}

type Parsed = (Vec<Vec<Bytes>>, Option<ProtocolError>);

/// Feeds `pieces` one after another, parsing everything available after each.
fn parse_stream(limits: ParserLimits, auth: bool, pieces: &[&[u8]]) -> Parsed {
    let mut parser = RequestParser::new(limits);
    parser.set_auth_required(auth);
    let mut buf = BytesMut::new();
    let mut cmds = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            let before = buf.len();
            match parser.parse(&mut buf) {
                Ok(Some(cmd)) => {
                    assert!(!cmd.is_empty(), "empty command returned");
                    assert!(buf.len() < before, "a command consumed no bytes");
                    cmds.push(cmd);
                }
                Ok(None) => break,
                Err(e) => {
                    assert_eq!(parser.parse(&mut buf), Err(e.clone()), "a failed parser must stay failed");
                    let _ = e.message_bytes();
                    return (cmds, Some(e));
                }
            }
        }
    }
    (cmds, None)
}

/// `rpc_frame`: the peer frame decoder; a decoded frame re-encodes to the same bytes.
pub fn rpc_frame(data: &[u8]) {
    crate::rpc::fuzz::frame(data);
}

/// `rpc_handshake`: the handshake before authentication, both sides, against scripted frames
/// (byte 0 bit 0: 0 listener, 1 dialer; then `u16 length | frame` repeated).
pub fn rpc_handshake(data: &[u8]) {
    crate::rpc::fuzz::handshake(data);
}

/// `cluster_messages`: the peer request and response codecs (postcard), replies included. A
/// decoded message re-encodes to bytes that decode and re-encode to the same bytes (replies hold
/// doubles, NaN among them, so bytes are compared rather than values); a decoded reply encodes
/// as RESP2 and RESP3.
pub fn cluster_messages(data: &[u8]) {
    if let Ok(req) = Request::decode(data) {
        let bytes = req.encode();
        let again = Request::decode(&bytes);
        assert_eq!(again.as_ref().map(Request::encode).ok(), Some(bytes), "request round trip");
    }
    if let Ok(resp) = Response::decode(data) {
        let bytes = resp.encode();
        let again = Response::decode(&bytes);
        assert_eq!(again.as_ref().map(Response::encode).ok(), Some(bytes), "response round trip");
        if let Response::Reply(reply) = &resp {
            assert!(depth(reply) <= MAX_REPLY_DEPTH, "a decoded reply nests deeper than the bound");
            let mut out = BytesMut::new();
            reply.encode(Protocol::Resp2, &mut out);
            reply.encode(Protocol::Resp3, &mut out);
        }
    }
}

/// How deeply arrays, maps and sets nest in `reply` (0 for a scalar).
fn depth(reply: &Reply) -> usize {
    match reply {
        Reply::Array(items) | Reply::Set(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Reply::Map(pairs) => 1 + pairs.iter().map(|(k, v)| depth(k).max(depth(v))).max().unwrap_or(0),
        _ => 0,
    }
}

/// `version_codec`: byte 0 is a parameter, the rest is both a stored sibling set (format 1) and a
/// client's causal context text. A decoded set re-encodes to a canonical form that decodes to
/// it; then the operations a replica runs on stored sets (collapse, sync, update, winner) must
/// not panic and must keep their laws.
pub fn version_codec(data: &[u8]) {
    let Some((&ctl, rest)) = data.split_first() else { return };
    if let Ok(vv) = VersionVector::parse_context(rest) {
        assert_eq!(VersionVector::parse_context(vv.to_context_string().as_bytes()), Ok(vv), "context round trip");
    }
    let Ok(set) = codec::decode(&Bytes::copy_from_slice(rest)) else { return };
    let bytes = codec::to_bytes(&set);
    assert_eq!(codec::decode(&bytes).as_ref(), Ok(&set), "set round trip");
    assert_eq!(set.siblings().count(), set.len());
    let _ = set.winner();
    assert_eq!(set.sync(&set), set, "sync is idempotent");
    let cap = usize::from(ctl & 7);
    let mut collapsed = set.clone();
    let dropped = collapsed.collapse_to(cap);
    assert_eq!(collapsed.len(), set.len().min(cap.max(1)), "collapse keeps the cap");
    assert_eq!(dropped + collapsed.len(), set.len());
    assert_eq!(codec::decode(&codec::to_bytes(&collapsed)).as_ref(), Ok(&collapsed), "collapsed round trip");
    let merged = set.sync(&collapsed);
    let node = NodeId([ctl; 20]);
    let write = DvvSet::with_context(&set.join(), Sibling::tombstone(u64::from(ctl)));
    let updated = DvvSet::update(write, &merged, node);
    assert_eq!(codec::decode(&codec::to_bytes(&updated)).as_ref(), Ok(&updated), "updated round trip");
}

/// `gossip_codec`: the gossip message codec; a decoded message re-encodes to the same bytes.
pub fn gossip_codec(data: &[u8]) {
    if let Ok(msg) = Message::decode(data) {
        assert_eq!(&msg.encode()[..], data, "gossip round trip");
    }
}

/// One seed input: target, file name (without the `seed-` prefix) and bytes.
#[derive(Debug, Clone)]
pub struct Seed {
    /// The target it feeds.
    pub target: &'static str,
    /// A descriptive file name.
    pub name: String,
    /// The input.
    pub bytes: Vec<u8>,
}

/// Valid inputs for every target, made with the crate's own encoders.
pub fn seeds() -> Vec<Seed> {
    let mut out = Vec::new();
    let mut add = |target: &'static str, list: Vec<(String, Vec<u8>)>| {
        out.extend(list.into_iter().map(|(name, bytes)| Seed { target, name, bytes }));
    };
    add("resp_parser", resp_seeds());
    add("rpc_frame", crate::rpc::fuzz::frame_seeds());
    add("rpc_handshake", crate::rpc::fuzz::handshake_seeds());
    add("cluster_messages", message_seeds());
    add("version_codec", version_seeds());
    add("gossip_codec", gossip_seeds());
    out
}

fn multibulk(args: &[&[u8]]) -> Vec<u8> {
    let mut out = BytesMut::new();
    Reply::Array(args.iter().map(Reply::bulk).collect()).encode(Protocol::Resp2, &mut out);
    out.to_vec()
}

fn resp_seeds() -> Vec<(String, Vec<u8>)> {
    let with = |ctl: u8, wire: Vec<u8>| [vec![ctl], wire].concat();
    let set = multibulk(&[b"SET", b"key", b"value", b"EX", b"10"]);
    let get = multibulk(&[b"GET", b"key"]);
    let pipeline = [set.clone(), b"PING\r\n".to_vec(), get.clone(), b"*0\r\n*-1\r\n".to_vec()].concat();
    vec![
        ("set".into(), with(0x3e, set.clone())),
        ("set-chunks-of-1".into(), with(0, set.clone())),
        ("pipeline".into(), with(0x06, pipeline.clone())),
        ("pipeline-small-limits".into(), with(0x86, pipeline)),
        ("inline-quotes".into(), with(0x10, b"SET \"a b\" 'c\\'d' \"\\x41\\n\"\r\nECHO x\n".to_vec())),
        ("inline-unbalanced".into(), with(0x10, b"SET \"abc\r\n".to_vec())),
        ("auth-required".into(), with(0x01, multibulk(&[b"AUTH", b"secret"]))),
        ("unauth-big-count".into(), with(0x01, b"*11\r\n".to_vec())),
        ("big-bulk-header".into(), with(0x20, b"*1\r\n$536870912\r\nabc".to_vec())),
        ("expected-dollar".into(), with(0x20, b"*1\r\n:1\r\n".to_vec())),
        ("empty-arg".into(), with(0x20, multibulk(&[b""]))),
        ("binary-arg".into(), with(0x20, multibulk(&[b"SET", b"k", b"\0\r\n\xff"]))),
    ]
}

fn message_seeds() -> Vec<(String, Vec<u8>)> {
    let kv = KeyVersion { key: Bytes::from_static(b"key"), set: codec::to_bytes(&sample_set()) };
    let requests = [
        ("replicate", Request::Replicate(vec![kv.clone()])),
        ("fetch", Request::Fetch(vec![Bytes::from_static(b"a"), Bytes::new()])),
        (
            "forward",
            Request::Forward(Forward {
                args: vec![Bytes::from_static(b"SET"), Bytes::from_static(b"k"), Bytes::from_static(b"v")],
                r: Some(2),
                w: None,
                strict: true,
            }),
        ),
        ("scan", Request::Scan { ranges: vec![(Bytes::new(), Bytes::from_static(b"\xff"))], limit: 100 }),
        ("count-slots", Request::CountSlots(vec![(0, 16383)])),
        ("flush-all", Request::FlushAll),
        ("gossip", Request::Gossip(Bytes::from_static(b"\x01\x01"))),
        ("hinted", Request::Hinted(vec![HintedVersion { target: [4; 20], key: kv.key.clone(), set: kv.set.clone() }])),
        ("reap", Request::Reap(vec![kv.clone()])),
    ];
    let mut nested = Reply::Int(1);
    for _ in 0..5 {
        nested = Reply::Array(vec![nested, Reply::Nil]);
    }
    let reply = Reply::Array(vec![
        Reply::ok(),
        Reply::error("NOQUORUM needed W=2 acks, got 1"),
        Reply::Int(-7),
        Reply::bulk(b"bulk"),
        Reply::Nil,
        Reply::NilArray,
        Reply::Map(vec![(Reply::bulk(b"k"), Reply::Double(1.5))]),
        Reply::Set(vec![Reply::Bool(true)]),
        Reply::Verbatim(Bytes::from_static(b"text")),
        nested,
    ]);
    let responses = [
        ("ack", Response::Ack),
        ("sets", Response::Sets(vec![Some(kv.set.clone()), None])),
        ("reply", Response::Reply(reply)),
        ("keys", Response::Keys(vec![(kv.key.clone(), kv.set.clone())])),
        ("count", Response::Count(u64::MAX)),
        ("gossip-answer", Response::Gossip(Bytes::from_static(b"\x01\x03"))),
        ("stored", Response::Stored(vec![true, false])),
        ("error", Response::Error("remote failure".into())),
    ];
    let mut out: Vec<(String, Vec<u8>)> =
        requests.into_iter().map(|(n, r)| (format!("request-{n}"), r.encode().to_vec())).collect();
    out.extend(responses.into_iter().map(|(n, r)| (format!("response-{n}"), r.encode().to_vec())));
    out
}

fn sample_set() -> DvvSet {
    let (a, b) = (NodeId([1; 20]), NodeId([2; 20]));
    let v1 = DvvSet::update(DvvSet::new(Sibling::value(Bytes::from_static(b"v1"), 10, None)), &DvvSet::default(), a);
    let v2 = DvvSet::update(DvvSet::with_context(&v1.join(), Sibling::tombstone(20)), &v1, a);
    // A concurrent write on another node: a sibling.
    let v3 = DvvSet::new(Sibling::value(Bytes::from_static(b"v3"), 15, Some(1_700_000_000_000)));
    DvvSet::update(v3, &v2, b)
}

fn version_seeds() -> Vec<(String, Vec<u8>)> {
    let set = sample_set();
    let mut collapsed = set.clone();
    collapsed.collapse_to(1);
    let with = |ctl: u8, set: &DvvSet| [vec![ctl], codec::to_bytes(set).to_vec()].concat();
    vec![
        ("empty".into(), with(1, &DvvSet::default())),
        ("anonymous".into(), with(1, &DvvSet::new(Sibling::tombstone(5)))),
        ("siblings".into(), with(1, &set)),
        ("siblings-cap-3".into(), with(3, &set)),
        ("collapsed".into(), with(2, &collapsed)),
        ("context".into(), [vec![0], set.join().to_context_string().into_bytes()].concat()),
    ]
}

fn gossip_seeds() -> Vec<(String, Vec<u8>)> {
    let record = |n: u8, status| {
        let member = LocalMember {
            id: NodeId([n; 20]),
            client_addr: std::net::SocketAddr::from(([127, 0, 0, n], 6379)),
            cluster_addr: std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 16379)),
            zone: "eu-west-1a".into(),
            weight: 2,
            vnodes: 64,
            generation: 7,
            replicas: 3,
        };
        Record { member, heartbeat: 42, status, suspects: vec![(NodeId([9; 20]), 3)] }
    };
    let t = Tombstone { id: NodeId([5; 20]), generation: 1, ttl_ms: 1000 };
    let d = Digest { id: NodeId([1; 20]), generation: 2, heartbeat: 3 };
    let msgs = [
        ("syn", Message::Syn { from: NodeId([1; 20]), generation: 1, digest: vec![d], tombstones: vec![t] }),
        (
            "syn-ack",
            Message::SynAck {
                from: NodeId([2; 20]),
                generation: 9,
                records: vec![record(1, MemberStatus::Up), record(2, MemberStatus::Joining)],
                want: vec![NodeId([3; 20])],
                tombstones: vec![t],
            },
        ),
        ("ack", Message::Ack { from: NodeId([3; 20]), generation: 4, records: vec![record(3, MemberStatus::Leaving)] }),
        ("syn-empty", Message::Syn { from: NodeId([0; 20]), generation: 0, digest: vec![], tombstones: vec![] }),
    ];
    msgs.into_iter().map(|(n, m)| (n.to_string(), m.encode().to_vec())).collect()
}
