//! Fuzzing entries for the rpc edge (frames and the handshake before authentication), reached
//! through [`crate::fuzzing`], which the cargo-fuzz targets in `fuzz/` and the corpus replay
//! test (`tests/fuzz_corpus.rs`) call. Also the seed inputs, made with this module's own
//! encoders so they follow any change of the wire format.

use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{FutureExt, SinkExt};

use super::frame::{self, Kind, HEADER_LEN, PROTOCOL_VERSION};
use super::handshake::{self, Side, MAGIC};
use super::{RpcConfig, RpcError};
use crate::net::Connection;
use crate::version::NodeId;

/// The cluster name and secret the handshake target's node uses (seeds speak to it).
const CLUSTER: &str = "fuzz-cluster";
const SECRET: &str = "fuzz-secret";

/// Decodes one frame; a decoded frame re-encodes to exactly the input bytes.
pub(crate) fn frame(data: &[u8]) {
    let decoded = frame::decode(Bytes::copy_from_slice(data));
    let current = frame::decode_current(Bytes::copy_from_slice(data));
    match decoded {
        Ok(f) => {
            assert_eq!(frame::frame_len(f.payload.len()), data.len(), "frame length");
            let again = frame::encode_version(f.version, f.kind, f.id, f.time, f.wall, &f.payload);
            assert_eq!(&again[..], data, "frame round trip");
            assert_eq!(current.is_ok(), f.version == PROTOCOL_VERSION, "decode_current vs version");
        }
        Err(_) => assert!(current.is_err(), "decode_current accepted what decode refused"),
    }
}

/// Splits a handshake input into frames: `u16 big-endian length | frame` repeated; a last piece
/// shorter than its length is taken whole.
fn split_frames(mut data: &[u8]) -> Vec<Bytes> {
    let mut frames = Vec::new();
    while data.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([data[0], data[1]]));
        let rest = &data[2..];
        let n = len.min(rest.len());
        frames.push(Bytes::copy_from_slice(&rest[..n]));
        data = &rest[n..];
    }
    frames
}

/// A connection that yields `frames` and then ends, and swallows what is sent on it.
fn scripted(frames: Vec<Bytes>) -> Connection {
    let stream = futures_util::stream::iter(frames.into_iter().map(Ok));
    let sink = futures_util::sink::drain().sink_map_err(|never| match never {});
    Connection { sink: Box::pin(sink), stream: Box::pin(stream), remote: SocketAddr::from(([127, 0, 0, 9], 9)) }
}

fn config() -> RpcConfig {
    RpcConfig::new(CLUSTER, SECRET, NodeId([7; 20]), SocketAddr::from(([127, 0, 0, 1], 7000)))
}

/// Plays one side of the handshake against scripted frames (byte 0, bit 0: 0 = listener, 1 =
/// dialer; then frames as in [`split_frames`]), with the real `accept`/`dial`. Every frame is
/// also put through the payload parsers, whose results must survive a re-encode.
pub(crate) fn handshake(data: &[u8]) {
    let Some((&role, rest)) = data.split_first() else { return };
    let frames = split_frames(rest);
    for f in &frames {
        payload_round_trip(f);
    }
    let cfg = config();
    let mut conn = scripted(frames);
    // Scripted frames are always ready: the handshake must finish in one poll, never hang.
    let done = if role & 1 == 0 {
        handshake::accept(&mut conn, &cfg).now_or_never().map(|r| r.map(|_| ()))
    } else {
        handshake::dial(&mut conn, &cfg).now_or_never().map(|r| r.map(|_| ()))
    };
    match done {
        None => panic!("the handshake waited on ready input"),
        // Nobody without the secret and this run's nonce can complete either side.
        Some(Ok(())) => panic!("a scripted peer completed the handshake"),
        Some(Err(RpcError::Timeout | RpcError::Unreachable(_) | RpcError::Remote(_))) => {
            panic!("the handshake reported a transport error it cannot have")
        }
        Some(Err(_)) => {}
    }
}

fn payload_round_trip(bytes: &Bytes) {
    let Ok(f) = frame::decode(bytes.clone()) else { return };
    match f.kind {
        Kind::Hello => {
            if let Ok(side) = handshake::parse_hello(&f.payload) {
                let again = handshake::encode_side(MAGIC, &side, &[]);
                assert_eq!(handshake::parse_hello(&again).ok(), Some(side), "hello round trip");
            }
        }
        Kind::Challenge => {
            if let Ok((side, tag)) = handshake::parse_challenge(&f.payload) {
                let again = handshake::encode_side(&[], &side, &tag);
                assert_eq!(handshake::parse_challenge(&again).ok(), Some((side, tag)), "challenge round trip");
            }
        }
        Kind::Refuse => {
            let _ = handshake::refused(&f.payload);
        }
        _ => {}
    }
}

fn side(cluster: &str, advertise: &str) -> Side {
    let advertise = advertise.parse().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 2], 7001)));
    Side { node_id: NodeId([3; 20]), advertise, nonce: [5; 32], cluster_name: cluster.to_string() }
}

fn script(role: u8, frames: &[Bytes]) -> Vec<u8> {
    let mut out = vec![role];
    for f in frames {
        out.put_u16(u16::try_from(f.len()).unwrap_or(u16::MAX));
        out.put_slice(f);
    }
    out
}

/// Seeds of `rpc_frame`: one frame of every kind, other versions, empty and odd payloads.
pub(crate) fn frame_seeds() -> Vec<(String, Vec<u8>)> {
    let kinds = [
        ("request", Kind::Request),
        ("response", Kind::Response),
        ("error", Kind::Error),
        ("oneway", Kind::OneWay),
        ("hello", Kind::Hello),
        ("challenge", Kind::Challenge),
        ("auth", Kind::Auth),
        ("welcome", Kind::Welcome),
        ("refuse", Kind::Refuse),
    ];
    let mut out = Vec::new();
    for (name, kind) in kinds {
        out.push((
            name.to_string(),
            frame::encode(kind, 42, 1_700_000_000_000_000, 1_800_000_000_000_000, b"\x01payload").to_vec(),
        ));
    }
    out.push(("empty-payload".into(), frame::encode(Kind::Response, 0, 0, 0, b"").to_vec()));
    out.push(("max-id-time".into(), frame::encode(Kind::Request, u64::MAX, u64::MAX, u64::MAX, b"x").to_vec()));
    out.push(("version-1".into(), frame::encode_version(1, Kind::Request, 1, 2, 3, b"old").to_vec()));
    out.push(("version-255".into(), frame::encode_version(255, Kind::OneWay, 1, 2, 3, b"new").to_vec()));
    out.push(("header-only-minus-one".into(), vec![PROTOCOL_VERSION; HEADER_LEN - 1]));
    out
}

/// Seeds of `rpc_handshake`: scripted dialers (for the listener) and listeners (for the dialer).
pub(crate) fn handshake_seeds() -> Vec<(String, Vec<u8>)> {
    let now = 1_700_000_000_000_000;
    let hello = |s: &Side| frame::encode(Kind::Hello, 0, now, now, &handshake::encode_side(MAGIC, s, &[]));
    let challenge = |s: &Side| frame::encode(Kind::Challenge, 0, now, now, &handshake::encode_side(&[], s, &[9; 32]));
    let ours = side(CLUSTER, "127.0.0.2:7001");
    let v6 = side(CLUSTER, "[::1]:7002");
    let auth = frame::encode(Kind::Auth, 0, now, now, &[0; 32]);
    let welcome = frame::encode(Kind::Welcome, 0, now, now, b"");
    let refuse = frame::encode(Kind::Refuse, 0, now, now, b"cluster name mismatch");
    let mut bad_magic = BytesMut::from(&b"XXXX"[..]);
    ours.encode(&mut bad_magic);
    vec![
        ("listener-hello-auth".into(), script(0, &[hello(&ours), auth.clone()])),
        ("listener-hello-v6-auth".into(), script(0, &[hello(&v6), auth.clone()])),
        ("listener-hello-refuse".into(), script(0, &[hello(&ours), refuse.clone()])),
        ("listener-hello-closed".into(), script(0, &[hello(&ours)])),
        ("listener-other-cluster".into(), script(0, &[hello(&side("other", "127.0.0.2:7001"))])),
        (
            "listener-old-version".into(),
            script(
                0,
                &[frame::encode_version(1, Kind::Hello, 0, now, now, &handshake::encode_side(MAGIC, &ours, &[]))],
            ),
        ),
        ("listener-bad-magic".into(), script(0, &[frame::encode(Kind::Hello, 0, now, now, &bad_magic)])),
        ("listener-request-first".into(), script(0, &[frame::encode(Kind::Request, 1, now, now, b"x")])),
        ("dialer-challenge-welcome".into(), script(1, &[challenge(&ours), welcome.clone()])),
        ("dialer-challenge-v6".into(), script(1, &[challenge(&v6), welcome.clone()])),
        ("dialer-other-cluster".into(), script(1, &[challenge(&side("other", "127.0.0.2:7001"))])),
        ("dialer-refused".into(), script(1, &[refuse])),
        ("dialer-welcome-first".into(), script(1, &[welcome])),
    ]
}
