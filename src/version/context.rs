//! The causal context as clients see it: a [`VersionVector`] rendered as printable text, so it
//! can be copied from `KV.GET` output in redis-cli and pasted into `KV.PUT`/`KV.DEL`.
//!
//! Format: `node:counter` pairs joined by `,` (node as 40 hex characters); the empty context
//! (nothing seen) is the empty string. Parsing is strict and bounded.

use thiserror::Error;

use super::{NodeId, VersionVector};

/// A context string a client sent that is not one we produced.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("invalid causal context")]
pub struct ContextError;

/// At most this many entries are accepted in a client context (one per coordinating node).
const MAX_ENTRIES: usize = 1024;

impl VersionVector {
    /// The printable form handed to clients.
    pub fn to_context_string(&self) -> String {
        let mut s = String::with_capacity(self.0.len() * 48);
        for (i, (node, n)) in self.0.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&node.to_hex());
            s.push(':');
            s.push_str(itoa::Buffer::new().format(*n));
        }
        s
    }

    /// Parses a context produced by [`VersionVector::to_context_string`].
    pub fn parse_context(text: &[u8]) -> Result<VersionVector, ContextError> {
        let text = std::str::from_utf8(text).map_err(|_| ContextError)?.trim();
        if text.is_empty() {
            return Ok(VersionVector::default());
        }
        let mut entries = Vec::new();
        for part in text.split(',') {
            if entries.len() >= MAX_ENTRIES {
                return Err(ContextError);
            }
            let (node, n) = part.split_once(':').ok_or(ContextError)?;
            let node = NodeId::from_hex(node).ok_or(ContextError)?;
            let n: u64 = n.parse().map_err(|_| ContextError)?;
            entries.push((node, n));
        }
        Ok(VersionVector::from_entries(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects_garbage() {
        let vv = VersionVector::from_entries(vec![(NodeId([1; 20]), 3), (NodeId([2; 20]), 7)]);
        let text = vv.to_context_string();
        assert_eq!(VersionVector::parse_context(text.as_bytes()), Ok(vv));
        assert_eq!(VersionVector::parse_context(b""), Ok(VersionVector::default()));
        assert_eq!(VersionVector::parse_context(b"abc"), Err(ContextError));
        assert_eq!(VersionVector::parse_context(b"01:x"), Err(ContextError));
    }
}
