//! The rpc frame: a fixed 26-byte header, then the payload. The network adds the length prefix
//! (TCP) or carries the frame whole (simulator); this module only turns frames into bytes and back.
//!
//! ```text
//! +---------+------+----------------+----------------+----------------+-------------------+
//! | version | kind | request id     | time           | wall           | payload           |
//! |   u8    |  u8  | u64 big-endian | u64 big-endian | u64 big-endian | (frame length-26) |
//! +---------+------+----------------+----------------+----------------+-------------------+
//! ```
//!
//! `time` is in microseconds of a node's transport clock (`clock.rs`): on a `Request` it is the
//! call's deadline **in the receiver's clock** (the late-request fence); on every other kind it is
//! the sender's clock when the frame was made (the samples the deadlines are computed from).
//! `wall` is the sender's raw wall clock (Unix µs) when the frame was made: answers to requests
//! are the samples of cluster time (`crate::clock::ClusterClock`).
//!
//! `version` is [`PROTOCOL_VERSION`] on every frame, so a peer speaking another version is noticed
//! on its very first (handshake) frame. Decoding never panics and never copies the payload (it is
//! a slice of the received buffer). Used by the handshake, the client connection and the server.
//!
//! After changing the layout, regenerate the fuzz seeds made with `encode` (`fuzz/corpus/`,
//! `rpc_frame` and `rpc_handshake`): `cargo test --test fuzz_corpus -- --ignored regenerate_seeds`.

use bytes::{BufMut, Bytes, BytesMut};

use super::RpcError;

/// The protocol version this build speaks. Bump it for any incompatible wire change.
/// Version 2 added the `time` and `wall` fields.
pub const PROTOCOL_VERSION: u8 = 2;

/// Header bytes in front of every payload.
pub const HEADER_LEN: usize = 26;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A call; the peer answers with `Response` or `Error` carrying the same id.
    Request = 1,
    /// A successful answer.
    Response = 2,
    /// A failed answer; the payload is the handler's UTF-8 message.
    Error = 3,
    /// A fire-and-forget message; never answered.
    OneWay = 4,
    /// Handshake 1, dialer → listener: identity, cluster name and nonce.
    Hello = 16,
    /// Handshake 2, listener → dialer: identity, nonce and the listener's proof.
    Challenge = 17,
    /// Handshake 3, dialer → listener: the dialer's proof.
    Auth = 18,
    /// Handshake 4, listener → dialer: accepted.
    Welcome = 19,
    /// Either side, then close: the handshake failed; the payload says why.
    Refuse = 20,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Request,
            2 => Kind::Response,
            3 => Kind::Error,
            4 => Kind::OneWay,
            16 => Kind::Hello,
            17 => Kind::Challenge,
            18 => Kind::Auth,
            19 => Kind::Welcome,
            20 => Kind::Refuse,
            _ => return None,
        })
    }
}

/// A decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    pub version: u8,
    pub kind: Kind,
    pub id: u64,
    /// A request's deadline in the receiver's clock, else the sender's clock (µs).
    pub time: u64,
    /// The sender's raw wall clock when it made the frame (Unix µs).
    pub wall: u64,
    pub payload: Bytes,
}

/// The length of the frame that would carry `payload_len` bytes.
pub(crate) fn frame_len(payload_len: usize) -> usize {
    HEADER_LEN.saturating_add(payload_len)
}

/// Encodes one frame of the current protocol version.
pub(crate) fn encode(kind: Kind, id: u64, time: u64, wall: u64, payload: &[u8]) -> Bytes {
    encode_version(PROTOCOL_VERSION, kind, id, time, wall, payload)
}

/// Encodes one frame claiming `version` (tests use it to play an incompatible peer).
pub(crate) fn encode_version(version: u8, kind: Kind, id: u64, time: u64, wall: u64, payload: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(frame_len(payload.len()));
    buf.put_u8(version);
    buf.put_u8(kind as u8);
    buf.put_u64(id);
    buf.put_u64(time);
    buf.put_u64(wall);
    buf.put_slice(payload);
    buf.freeze()
}

/// Decodes a frame of any version; the caller decides whether the version is acceptable.
pub(crate) fn decode(mut bytes: Bytes) -> Result<Frame, RpcError> {
    if bytes.len() < HEADER_LEN {
        return Err(RpcError::Codec(format!("frame of {} bytes is shorter than the header", bytes.len())));
    }
    let header = bytes.split_to(HEADER_LEN);
    let kind = Kind::from_u8(header[1]).ok_or_else(|| RpcError::Codec(format!("unknown frame kind {}", header[1])))?;
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&header[at..at + 8]);
        u64::from_be_bytes(w)
    };
    Ok(Frame { version: header[0], kind, id: word(2), time: word(10), wall: word(18), payload: bytes })
}

/// Decodes a frame after the handshake: only [`PROTOCOL_VERSION`] is accepted.
pub(crate) fn decode_current(bytes: Bytes) -> Result<Frame, RpcError> {
    let frame = decode(bytes)?;
    if frame.version != PROTOCOL_VERSION {
        return Err(RpcError::Codec(format!(
            "frame of protocol version {} on a version {PROTOCOL_VERSION} connection",
            frame.version
        )));
    }
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_kind() {
        for kind in [Kind::Request, Kind::Response, Kind::Error, Kind::OneWay, Kind::Hello, Kind::Refuse] {
            let bytes = encode(kind, u64::MAX - 7, 1_234_567, 89, b"payload");
            assert_eq!(bytes.len(), frame_len(7));
            let frame = decode_current(bytes).unwrap();
            assert_eq!(
                (frame.kind, frame.id, frame.time, frame.wall, &frame.payload[..]),
                (kind, u64::MAX - 7, 1_234_567, 89, &b"payload"[..])
            );
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode(Bytes::from_static(b"short")).is_err());
        assert!(decode(Bytes::from_static(&[
            2, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
        ]))
        .is_err());
        // A version-1 frame (10-byte header) is too short or misread, never accepted.
        assert!(decode(Bytes::from_static(&[1, 1, 0, 0, 0, 0, 0, 0, 0, 1])).is_err());
        let other_version = encode_version(3, Kind::Request, 1, 0, 0, b"");
        assert_eq!(decode(other_version.clone()).unwrap().version, 3);
        assert!(matches!(decode_current(other_version), Err(RpcError::Codec(_))));
        for len in 0..64 {
            let noise: Vec<u8> = (0..len).map(|_| fastrand::u8(..)).collect();
            let _ = decode(Bytes::from(noise));
        }
    }
}
