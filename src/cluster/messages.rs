//! The cluster's messages: what one node asks another over the authenticated RPC transport
//! ([`crate::rpc`]), encoded with postcard (serde). The transport frame carries the protocol
//! version; [`MESSAGES_VERSION`] is checked on top so that a node never misreads a message of a
//! newer layout. Decoding untrusted bytes returns an error, never panics; postcard allocates at
//! most what the (bounded) frame holds.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::resp::reply::Reply;

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
}

/// A message could not be decoded.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum MessageError {
    /// Empty or of another layout version.
    #[error("unsupported message version {0}")]
    Version(u8),
    /// Malformed.
    #[error("malformed message: {0}")]
    Malformed(String),
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
        Some((&MESSAGES_VERSION, rest)) => {
            postcard::from_bytes(rest).map_err(|e| MessageError::Malformed(e.to_string()))
        }
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
            Request::Gossip(Bytes::from_static(b"g")),
            Request::Hinted(vec![HintedVersion {
                target: [3; 20],
                key: Bytes::from_static(b"k"),
                set: Bytes::from_static(b"\x01"),
            }]),
            Request::Reap(vec![KeyVersion { key: Bytes::from_static(b"k"), set: Bytes::from_static(b"\x02") }]),
        ];
        for r in reqs {
            assert_eq!(Request::decode(&r.encode()), Ok(r));
        }
        let reply = Reply::Array(vec![Reply::Int(1), Reply::Nil, Reply::error("NOQUORUM x"), Reply::Double(1.5)]);
        let resp = Response::Reply(reply);
        assert_eq!(Response::decode(&resp.encode()), Ok(resp));
        let stored = Response::Stored(vec![true, false]);
        assert_eq!(Response::decode(&stored.encode()), Ok(stored));
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
