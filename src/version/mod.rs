//! Versions: what a stored key *is* — a set of sibling values tracked by a dotted version vector
//! set (DVVSet), plus the hybrid logical clock that timestamps them.
//!
//! Pure code, no tokio, no storage: the coordinator creates versions with [`DvvSet::update`],
//! replicas merge them with [`DvvSet::sync`], storage keeps them as bytes from [`codec`], and the
//! `KV.*` commands expose the causal [`VersionVector`] context to clients.

pub mod codec;
pub mod context;
pub mod dvvset;
pub mod hlc;

use std::fmt;

use bytes::Bytes;

pub use context::ContextError;
pub use dvvset::{DvvSet, VersionVector};
pub use hlc::Hlc;

/// A server node's identity: 20 random bytes, shown as 40 hex characters (like Redis Cluster ids).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub [u8; 20]);

impl NodeId {
    /// A fresh random id.
    pub fn random() -> NodeId {
        let mut id = [0u8; 20];
        for b in &mut id {
            *b = fastrand::u8(..);
        }
        NodeId(id)
    }

    /// Parses 40 hex characters.
    pub fn from_hex(s: &str) -> Option<NodeId> {
        let s = s.as_bytes();
        if s.len() != 40 {
            return None;
        }
        let mut id = [0u8; 20];
        for (i, b) in id.iter_mut().enumerate() {
            let hi = hex_val(s[2 * i])?;
            let lo = hex_val(s[2 * i + 1])?;
            *b = (hi << 4) | lo;
        }
        Some(NodeId(id))
    }

    /// The 40-character lowercase hex form.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(40);
        for b in self.0 {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 15)]));
        }
        s
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", &self.to_hex()[..8])
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The identity of one write event: the coordinating node and its per-node counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dot {
    /// The node that coordinated the write.
    pub node: NodeId,
    /// That node's event counter for this key.
    pub counter: u64,
}

/// One value of a key (or a deletion marker) as written by one write event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sibling {
    /// The value; `None` is a tombstone (the key was deleted).
    pub value: Option<Bytes>,
    /// Hybrid-logical-clock time of the write; decides the plain-`GET` winner among siblings.
    pub timestamp: u64,
    /// Absolute expiry in Unix milliseconds, if the value has a TTL.
    pub expires_at: Option<u64>,
}

impl Sibling {
    /// A live value.
    pub fn value(value: Bytes, timestamp: u64, expires_at: Option<u64>) -> Sibling {
        Sibling { value: Some(value), timestamp, expires_at }
    }

    /// A deletion marker.
    pub fn tombstone(timestamp: u64) -> Sibling {
        Sibling { value: None, timestamp, expires_at: None }
    }

    /// Whether this sibling reads as absent at `now_ms` (tombstone, or expired).
    pub fn is_absent_at(&self, now_ms: u64) -> bool {
        self.value.is_none() || self.expires_at.is_some_and(|t| t <= now_ms)
    }

    /// Whether this is a value whose expiry has passed at `now_ms` (a tombstone is not: it has
    /// nothing left to expire).
    pub fn is_expired_at(&self, now_ms: u64) -> bool {
        self.value.is_some() && self.expires_at.is_some_and(|t| t <= now_ms)
    }

    /// What expiry turns this sibling into: a tombstone with the same timestamp and expiry
    /// (see [`DvvSet::expired_at`]).
    pub fn expired(&self) -> Sibling {
        Sibling { value: None, timestamp: self.timestamp, expires_at: self.expires_at }
    }

    /// Approximate heap size, for memory accounting.
    pub fn size(&self) -> usize {
        self.value.as_ref().map_or(0, Bytes::len) + 24
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_id_hex_round_trip() {
        let id = NodeId::random();
        assert_eq!(NodeId::from_hex(&id.to_hex()), Some(id));
        assert_eq!(NodeId::from_hex("zz"), None);
        assert_eq!(NodeId::from_hex(&"g".repeat(40)), None);
    }

    #[test]
    fn absent_siblings() {
        assert!(Sibling::tombstone(1).is_absent_at(0));
        let v = Sibling::value(Bytes::from_static(b"x"), 1, Some(100));
        assert!(!v.is_absent_at(99));
        assert!(v.is_absent_at(100));
        assert!(!v.is_expired_at(99) && v.is_expired_at(100));
        let gone = v.expired();
        assert_eq!((gone.value, gone.timestamp, gone.expires_at), (None, 1, Some(100)));
        assert!(!Sibling::tombstone(1).is_expired_at(u64::MAX), "a tombstone has nothing to expire");
        assert!(!Sibling::value(Bytes::from_static(b"x"), 1, None).is_expired_at(u64::MAX));
    }
}
