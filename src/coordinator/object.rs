//! What commands see of a key and what they ask to change.
//!
//! [`Current`] is a key's sibling set at one instant, with Redis's view of it (one value, the
//! deterministic winner, expiry applied). [`Mutation`] is a command's decision; the coordinator
//! turns it into a new causal version.

use bytes::Bytes;

use super::feed::Digest;
use crate::version::{DvvSet, Sibling, VersionVector};

/// A key's state as read by the coordinator at `now_ms`.
#[derive(Debug, Clone)]
pub struct Current {
    set: Option<DvvSet>,
    now_ms: u64,
    /// The digest of the stored bytes the set was decoded from, when the coordinator computed it
    /// (change feed on): what a change of this key reports as its `old`.
    digest: Option<Digest>,
}

/// What a command wants done to a key.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Leave the key alone.
    Keep,
    /// Replace everything this node knows of the key with `value` (plain Redis writes).
    Put {
        /// The new value.
        value: Bytes,
        /// Absolute expiry (Unix ms), if any.
        expires_at: Option<u64>,
    },
    /// Delete everything this node knows of the key (plain `DEL`).
    Delete,
    /// Internal, for expiry: every sibling is absent and a value among them expired. Not a new
    /// event: each expired value becomes a tombstone in place ([`DvvSet::expired_at`]), keeping
    /// its dot, timestamp and expiry — so it orders against concurrent writes exactly as the
    /// expired value did (a write made after it still wins), its grace period runs from the
    /// expiry deadline, and every replica that expires the key stores the same bytes.
    Expired,
    /// A Dynamo-style write (`KV.PUT`/`KV.DEL`): supersedes only what `context` has seen.
    Causal {
        /// The client's causal context.
        context: VersionVector,
        /// The value, or `None` for a deletion.
        value: Option<Bytes>,
        /// Absolute expiry (Unix ms), if any.
        expires_at: Option<u64>,
    },
}

impl Current {
    pub(crate) fn new(set: Option<DvvSet>, now_ms: u64) -> Current {
        Current { set, now_ms, digest: None }
    }

    /// A state whose stored bytes' digest is known.
    pub(crate) fn digested(set: Option<DvvSet>, now_ms: u64, digest: Option<Digest>) -> Current {
        Current { set, now_ms, digest }
    }

    /// The digest of the stored bytes, when known.
    pub(crate) fn stored_digest(&self) -> Option<Digest> {
        self.digest
    }

    /// The sibling plain Redis commands see: the greatest (timestamp, dot) among *all* siblings —
    /// the last writer wins — if it is a value that has not expired. An expired winner hides the
    /// older siblings as a newer write would have (the key was written, then expired); skipping
    /// it instead would bring back a value the expired write had replaced.
    pub fn live(&self) -> Option<&Sibling> {
        let winner = self.set.as_ref()?.winner()?;
        (!winner.is_absent_at(self.now_ms)).then_some(winner)
    }

    /// The live value's bytes.
    pub fn value(&self) -> Option<&Bytes> {
        self.live().and_then(|s| s.value.as_ref())
    }

    /// Whether the key exists for Redis commands.
    pub fn exists(&self) -> bool {
        self.live().is_some()
    }

    /// Remaining time to live in ms: `None` without a key, `Some(None)` without a TTL.
    pub fn ttl_ms(&self) -> Option<Option<u64>> {
        self.live().map(|s| s.expires_at.map(|t| t.saturating_sub(self.now_ms)))
    }

    /// The live value's absolute expiry, if it has one.
    pub fn expires_at(&self) -> Option<u64> {
        self.live().and_then(|s| s.expires_at)
    }

    /// The full sibling set, if the key is stored at all.
    pub fn set(&self) -> Option<&DvvSet> {
        self.set.as_ref()
    }

    /// The instant this state was read at.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Every stored sibling is absent now and at least one is a value that expired: the key can
    /// be removed from disk.
    pub(crate) fn is_reclaimable(&self) -> bool {
        let Some(set) = &self.set else { return false };
        let mut any_expired = false;
        for (_, s) in set.siblings() {
            if !s.is_absent_at(self.now_ms) {
                return false;
            }
            any_expired |= s.value.is_some();
        }
        any_expired
    }

    pub(crate) fn into_set(self) -> Option<DvvSet> {
        self.set
    }
}

/// Whether a stored set counts as a key for `DBSIZE`: its winner (expiry ignored) is a value.
pub(crate) fn present(set: &DvvSet) -> bool {
    set.winner().is_some_and(|w| w.value.is_some())
}

/// Whether a stored set counts as a key with a TTL (`INFO keyspace` `expires=`): present, and its
/// winner carries an expiry.
pub(crate) fn volatile(set: &DvvSet) -> bool {
    set.winner().is_some_and(|w| w.value.is_some() && w.expires_at.is_some())
}

/// Whether a stored set is a deletion only: it holds at least one sibling and every sibling is
/// a tombstone (an expired value does not count until the sweep or a read has turned it into
/// one, in place: [`Mutation::Expired`]).
pub(crate) fn tombstone_only(set: &DvvSet) -> bool {
    !set.is_empty() && set.siblings().all(|(_, s)| s.value.is_none())
}
