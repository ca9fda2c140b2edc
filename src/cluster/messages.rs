//! The cluster's messages: what one node asks another over the authenticated RPC transport
//! ([`crate::rpc`]), encoded with postcard (serde). The transport frame carries the protocol
//! version; [`MESSAGES_VERSION`] is checked on top so that a node never misreads a message of a
//! newer layout. Decoding untrusted bytes returns an error, never panics; postcard allocates at
//! most what the (bounded) frame holds, and replies may nest at most
//! [`MAX_REPLY_DEPTH`] levels (serde recurses per level: unbounded, a message of nested arrays
//! overflowed the stack).

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::resp::reply::Reply;
use crate::resp::reply_depth::{self, MAX_REPLY_DEPTH};

/// Version of the message layout below.
pub const MESSAGES_VERSION: u8 = 1;

/// A versioned key as it travels: the user key and its encoded DVVSet (`version::codec`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyVersion {
    /// The user key.
    pub key: Bytes,
    /// The encoded sibling set.
    pub set: Bytes,
}

/// A version meant for another node (`target`), for the receiver to keep as a hint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HintedVersion {
    /// The node the version belongs on (its id).
    pub target: [u8; 20],
    /// The user key.
    pub key: Bytes,
    /// The encoded sibling set.
    pub set: Bytes,
}

/// A request from one node to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// Merge these versions into your copy (a replicated write or a read repair) → [`Response::Ack`].
    Replicate(Vec<KeyVersion>),
    /// Your copy of these keys → [`Response::Sets`].
    Fetch(Vec<Bytes>),
    /// Run this command as the coordinator of its keys → [`Response::Reply`].
    Forward(Forward),
    /// Your stored keys in these `[from, to)` storage-key ranges (ascending, disjoint), in
    /// storage-key order, at most `limit` in all → [`Response::Keys`].
    Scan {
        /// `(inclusive lower bound, exclusive upper bound)` pairs; an empty upper bound: no bound.
        ranges: Vec<(Bytes, Bytes)>,
        /// Page size.
        limit: u32,
    },
    /// Your live-key counts summed over these inclusive slot ranges → [`Response::Count`].
    CountSlots(Vec<(u16, u16)>),
    /// Remove every key you hold → [`Response::Ack`].
    FlushAll,
    /// A membership gossip exchange → [`Response::Gossip`].
    Gossip(Bytes),
    /// Keep these versions as hints for their targets (sloppy quorum) → [`Response::Stored`].
    Hinted(Vec<HintedVersion>),
    /// Delete these tombstones if your copy is still exactly this set (every replica acknowledged
    /// them) → [`Response::Count`] (how many were reaped).
    Reap(Vec<KeyVersion>),
    /// Nothing; answered with [`Response::Ack`]. A node starting up pings the members whose
    /// clocks have not voted yet, so that it learns their clocks (every answer carries one).
    Ping,
    /// How many of these keys you keep hints of (for any target) → [`Response::Count`]. Asked
    /// of every member before a fully acknowledged tombstone is reaped (`reap.rs`).
    HintsFor(Vec<Bytes>),
    /// Anti-entropy, level 1: your group hashes over the slots of this 2048-byte bitmap →
    /// [`Response::Hashes`] (256).
    AaeGroups(Bytes),
    /// Anti-entropy, level 2: your roots of these slots → [`Response::Hashes`] (one per slot).
    AaeRoots(Vec<u16>),
    /// Anti-entropy, level 3: your segment hashes of these slots → [`Response::Hashes`] (32 per
    /// slot).
    AaeSegments(Vec<u16>),
    /// Anti-entropy, level 4: the keys you store, with their version digests, in these segments
    /// (slot, bitmask of its 32 segments) → [`Response::KeyDigests`].
    AaeKeys(Vec<(u16, u32)>),
    /// For each tombstone: whether your copy is that very set, nothing, or something else →
    /// [`Response::Holdings`]. Asked of every other replica before a tombstone is reaped at the
    /// end of its grace period (`reap.rs`).
    Holds(Vec<KeyVersion>),
}

/// A forwarded command with the client's per-connection settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forward {
    /// The command and its arguments.
    pub args: Vec<Bytes>,
    /// The client's `KV.CONSISTENCY R`, if set.
    pub r: Option<u32>,
    /// The client's `KV.CONSISTENCY W`, if set.
    pub w: Option<u32>,
    /// The client's strict mode.
    pub strict: bool,
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Response {
    /// Done.
    Ack,
    /// One entry per fetched key: the encoded set, or `None` when absent.
    Sets(Vec<Option<Bytes>>),
    /// The reply of a forwarded command.
    Reply(Reply),
    /// Scanned keys: `(storage key, encoded set)`.
    Keys(Vec<(Bytes, Bytes)>),
    /// A count.
    Count(u64),
    /// The gossip answer.
    Gossip(Bytes),
    /// Per hinted version, in order: whether it was stored (false: the target's bound is full).
    Stored(Vec<bool>),
    /// The request failed on the remote node.
    Error(String),
    /// Anti-entropy hashes, in the order asked.
    Hashes(Vec<u64>),
    /// Keys and version digests of the first `covered` segment entries asked (whole entries only).
    KeyDigests {
        /// How many of the asked entries the keys cover.
        covered: u32,
        /// `(user key, digest)`, in storage order.
        keys: Vec<(Bytes, u64)>,
    },
    /// Per asked tombstone: [`HOLDS_NOTHING`], [`HOLDS_SAME`] or [`HOLDS_OTHER`].
    Holdings(Vec<u8>),
}

/// [`Response::Holdings`]: the key is not stored.
pub const HOLDS_NOTHING: u8 = 0;
/// [`Response::Holdings`]: the stored set is exactly the one asked about.
pub const HOLDS_SAME: u8 = 1;
/// [`Response::Holdings`]: something else is stored.
pub const HOLDS_OTHER: u8 = 2;

/// A message could not be decoded.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum MessageError {
    /// Empty or of another layout version.
    #[error("unsupported message version {0}")]
    Version(u8),
    /// Malformed.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A reply nests arrays, maps or sets deeper than this many levels.
    #[error("malformed message: reply nested deeper than {0} levels")]
    TooDeep(usize),
}

fn encode<T: Serialize>(m: &T) -> Bytes {
    let out = vec![MESSAGES_VERSION];
    // postcard cannot fail to serialise these types into a Vec.
    match postcard::to_extend(m, out) {
        Ok(v) => Bytes::from(v),
        Err(_) => Bytes::from_static(&[0]),
    }
}

fn decode<'a, T: Deserialize<'a>>(b: &'a [u8]) -> Result<T, MessageError> {
    match b.split_first() {
        Some((&MESSAGES_VERSION, rest)) => match reply_depth::decode_bounded(|| postcard::from_bytes(rest)) {
            (Ok(m), _) => Ok(m),
            (Err(_), true) => Err(MessageError::TooDeep(MAX_REPLY_DEPTH)),
            (Err(e), false) => Err(MessageError::Malformed(e.to_string())),
        },
        Some((&v, _)) => Err(MessageError::Version(v)),
        None => Err(MessageError::Version(0)),
    }
}

impl Request {
    /// The wire form.
    pub fn encode(&self) -> Bytes {
        encode(self)
    }

    /// Parses the wire form.
    pub fn decode(b: &[u8]) -> Result<Request, MessageError> {
        decode(b)
    }
}

impl Response {
    /// The wire form.
    pub fn encode(&self) -> Bytes {
        encode(self)
    }

    /// Parses the wire form.
    pub fn decode(b: &[u8]) -> Result<Response, MessageError> {
        decode(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let reqs = [
            Request::Replicate(vec![KeyVersion {
                key: Bytes::from_static(b"k"),
                set: Bytes::from_static(b"\x01\x02"),
            }]),
            Request::Fetch(vec![Bytes::from_static(b"a"), Bytes::new()]),
            Request::Forward(Forward { args: vec![Bytes::from_static(b"SET")], r: None, w: Some(3), strict: true }),
            Request::Scan { ranges: vec![(Bytes::new(), Bytes::from_static(b"\xff"))], limit: 10 },
            Request::CountSlots(vec![(0, 16383)]),
            Request::FlushAll,
            Request::Ping,
            Request::HintsFor(vec![Bytes::from_static(b"k")]),
            Request::Gossip(Bytes::from_static(b"g")),
            Request::Hinted(vec![HintedVersion {
                target: [3; 20],
                key: Bytes::from_static(b"k"),
                set: Bytes::from_static(b"\x01"),
            }]),
            Request::Reap(vec![KeyVersion { key: Bytes::from_static(b"k"), set: Bytes::from_static(b"\x02") }]),
            Request::AaeGroups(Bytes::from(vec![0xa5; 2048])),
            Request::AaeRoots(vec![0, 16383]),
            Request::AaeSegments(vec![7]),
            Request::AaeKeys(vec![(7, u32::MAX), (9, 1)]),
            Request::Holds(vec![KeyVersion { key: Bytes::from_static(b"k"), set: Bytes::from_static(b"\x03") }]),
        ];
        for r in reqs {
            assert_eq!(Request::decode(&r.encode()), Ok(r));
        }
        let reply = Reply::Array(vec![Reply::Int(1), Reply::Nil, Reply::error("NOQUORUM x"), Reply::Double(1.5)]);
        let resp = Response::Reply(reply);
        assert_eq!(Response::decode(&resp.encode()), Ok(resp));
        let stored = Response::Stored(vec![true, false]);
        assert_eq!(Response::decode(&stored.encode()), Ok(stored));
        for r in [
            Response::Hashes(vec![0, u64::MAX, 42]),
            Response::KeyDigests { covered: 2, keys: vec![(Bytes::from_static(b"k"), 9)] },
            Response::Holdings(vec![HOLDS_NOTHING, HOLDS_SAME, HOLDS_OTHER]),
        ] {
            assert_eq!(Response::decode(&r.encode()), Ok(r));
        }
    }

    fn nested(levels: usize) -> Reply {
        (0..levels).fold(Reply::Int(7), |inner, i| match i % 3 {
            0 => Reply::Array(vec![inner]),
            1 => Reply::Map(vec![(Reply::Nil, inner)]),
            _ => Reply::Set(vec![inner]),
        })
    }

    /// Found by the `cluster_messages` fuzz target (`fuzz/regressions/cluster_messages/`): reply
    /// decoding recursed once per level without bound and overflowed the stack.
    #[test]
    fn reply_nesting_is_bounded() {
        let deepest = Response::Reply(nested(MAX_REPLY_DEPTH));
        assert_eq!(Response::decode(&deepest.encode()), Ok(deepest));
        let too_deep = Response::Reply(nested(MAX_REPLY_DEPTH + 1)).encode();
        assert_eq!(Response::decode(&too_deep), Err(MessageError::TooDeep(128)));
        assert_eq!(MessageError::TooDeep(128).to_string(), "malformed message: reply nested deeper than 128 levels");
        // A hostile message: a million one-element arrays in 2 MB, an error and no stack overflow.
        let mut hostile = vec![MESSAGES_VERSION, 2];
        for _ in 0..1_000_000 {
            hostile.extend_from_slice(&[6, 1]);
        }
        hostile.extend_from_slice(&[2, 0]);
        assert_eq!(Response::decode(&hostile), Err(MessageError::TooDeep(128)));
        // The bound is per decode: a refused message leaves the next one unaffected.
        let ok = Response::Reply(nested(100));
        assert_eq!(Response::decode(&ok.encode()), Ok(ok));
        assert!(matches!(Response::decode(&[MESSAGES_VERSION, 2, 6, 1]), Err(MessageError::Malformed(_))));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert_eq!(Request::decode(b""), Err(MessageError::Version(0)));
        assert_eq!(Request::decode(b"\x09abc"), Err(MessageError::Version(9)));
        assert!(matches!(Request::decode(b"\x01\xff\xff\xff\xff\xff"), Err(MessageError::Malformed(_))));
        // A huge length prefix must not allocate: postcard checks it against the input.
        assert!(Request::decode(b"\x01\x00\xff\xff\xff\xff\x0f").is_err());
        proptest::proptest!(|(bytes: Vec<u8>)| {
            let _ = Request::decode(&bytes);
            let _ = Response::decode(&bytes);
        });
    }
}
