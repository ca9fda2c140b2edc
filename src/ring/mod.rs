//! The consistent-hash ring: which nodes hold a slot, in which order.
//!
//! Pure code, no tokio, no I/O. [`Ring::new`] turns the member list (from membership's cluster
//! view) into an immutable snapshot; the node swaps snapshots atomically (arc-swap) when the view
//! changes, and the coordinator, `CLUSTER SLOTS/SHARDS/NODES` and the anti-entropy and handoff
//! workers read [`Ring::preference_list`] and friends.
//!
//! - 16384 slots; slot `s` sits at ring position `s << 50` ([`slot_position`]).
//! - Member `id` owns `vnodes × weight` tokens; token `i` is at [`token()`]`(id, i)`, SipHash-2-4
//!   with fixed keys over `id ‖ i`. The ring depends on the set of members, never on list order.
//! - A slot's preference list walks clockwise from the slot's position collecting distinct
//!   nodes; the first N (the *primaries*) prefer zones not used yet, the rest are the sloppy-quorum
//!   *fallbacks* in walk order. With a single zone the whole list is plain walk order.
//! - Every slot's list is precomputed: `depth = min(owners, max(3N, 32))` member indices (u16)
//!   per slot, i.e. all members for clusters of up to 32 nodes. For 32 nodes that is
//!   32 × 16384 × 2 B = 1 MiB; construction of a 32-node ring with [`DEFAULT_VNODES`] (65536
//!   tokens) takes ≈ 13 ms alone, ≈ 30 ms beside the other tests (test `build_time_32_nodes`,
//!   release, this 2-core machine), so rebuilding on every membership change is cheap. Skewed
//!   layouts stay fast too (31 nodes plus one single-token node in its own zone: ≈ 65 ms).
//! - Input from gossip is bounded: at most [`MAX_MEMBERS`] members and [`MAX_TOKENS`] tokens
//!   ([`RingError`] otherwise), N at most [`MAX_REPLICAS`]; slots ≥ 16384 have empty lists.
//!
//! Balance, measured by the ignored `proptests::survey` (3000 seeded clusters of 3–32 equal
//! nodes, N = 3) with [`DEFAULT_VNODES`] = 2048; the property tests check the same targets on
//! 128 fresh random clusters per run:
//!
//! | property (target)                                 | worst seen        |
//! |---------------------------------------------------|-------------------|
//! | largest primary share, 3–8 nodes (≤ 1.15× mean)   | 1.092×            |
//! | largest primary share, 9–16 nodes                 | 1.103×            |
//! | largest primary share, 17–24 nodes                | 1.121×            |
//! | largest primary share, 25–32 nodes                | 1.137×            |
//! | largest replica share, 3–32 nodes (≤ 1.10× mean)  | 1.065×            |
//! | weight-2 node vs weight-1 mean, 4–8 nodes (2× ±15%) | ±5.7 %          |
//! | primaries moved when one node joins (16384/(n+1) ±20%) | ±12.2 %      |
//!
//! The primary target has a floor that vnodes cannot lower: once tokens outnumber slots, each
//! slot's primary is in effect an independent draw, so a node's primary count is binomial with
//! relative spread ≈ √(n/16384) (4.4 % at 32 nodes; measured 3.9–4.2 % with 1024, 2048 or
//! 8192 vnodes alike). At 32 nodes roughly one cluster in 200–400 has a node just above 1.15×
//! (worst seen 1.16×). The property test therefore allows max(1.15, 1 + 4.5·√(n/16384)) — equal
//! to 1.15 up to 18 nodes, 1.20 at 32, over 5 measured standard deviations — so the test is not
//! flaky yet still catches a skewed ring. Replica shares, weights and movement meet their
//! targets with a wide margin and are tested at those bounds.

mod build;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
mod token;

pub use token::{slot_position, token, TOKEN_KEY0, TOKEN_KEY1};

use crate::version::NodeId;

/// Number of slots (Redis Cluster's hash slots); slot ids are `0..SLOTS`.
pub const SLOTS: usize = 16384;

/// Default virtual nodes per unit of weight.
///
/// With random tokens a node's share of the ring has relative spread ≈ 1/√vnodes, on top of the
/// slot-granularity floor described in the module doc. 2048 brings the token part to 2.2 %, which
/// keeps small clusters (where it dominates: 2.2 % at 8 nodes vs 2.9 % with 1024) and weighted
/// members well inside the targets, while a 32-node ring still builds in ≈ 13 ms. More vnodes buy
/// nothing for large clusters, whose spread is set by the 16384 slots.
pub const DEFAULT_VNODES: u32 = 2048;

/// Most members a ring accepts (member indices are stored as `u16`).
pub const MAX_MEMBERS: usize = 4096;

/// Most tokens (sum of `vnodes × weight`) a ring accepts: bounds construction memory (≈40 MiB of
/// transient token lists) whatever the gossiped member list says.
pub const MAX_TOKENS: u64 = 1 << 21;

/// Largest effective replication factor; larger requests are clamped (config validates N).
pub const MAX_REPLICAS: usize = 16;

/// Preference-list entries kept per slot at least (when there are that many members).
const MIN_DEPTH: usize = 32;

/// One ring member as membership gossips it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Placement {
    /// The node.
    pub id: NodeId,
    /// Failure domain (rack, availability zone); `""` is the default zone.
    pub zone: String,
    /// Relative capacity: the member owns `vnodes × weight` tokens. Weight 0 owns nothing.
    pub weight: u32,
    /// Virtual nodes per unit of weight, normally [`DEFAULT_VNODES`].
    pub vnodes: u32,
}

impl Placement {
    /// A weight-1 member of the default zone with [`DEFAULT_VNODES`].
    pub fn new(id: NodeId) -> Placement {
        Placement { id, zone: String::new(), weight: 1, vnodes: DEFAULT_VNODES }
    }

    /// Number of tokens this member puts on the ring (saturating `vnodes × weight`).
    pub fn tokens(&self) -> u32 {
        self.vnodes.saturating_mul(self.weight)
    }
}

/// How many slots a node holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Share {
    /// Slots whose preference list starts with the node.
    pub primary_slots: usize,
    /// Slots where the node is among the first N (primary slots included).
    pub replica_slots: usize,
}

/// Why a member list cannot become a ring. None is retryable: the same list fails the same way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    /// More members than [`MAX_MEMBERS`].
    #[error("ring has {count} members, the limit is {max}")]
    TooManyMembers {
        /// Members in the list.
        count: usize,
        /// [`MAX_MEMBERS`].
        max: usize,
    },
    /// More tokens in total than [`MAX_TOKENS`].
    #[error("ring has {count} tokens (vnodes x weight), the limit is {max}")]
    TooManyTokens {
        /// Sum of `vnodes × weight` over the members.
        count: u64,
        /// [`MAX_TOKENS`].
        max: u64,
    },
    /// The same node id appears twice.
    #[error("node {0} appears twice in the member list")]
    DuplicateMember(NodeId),
}

/// An immutable ring snapshot with every slot's preference list precomputed.
#[derive(Debug, Clone)]
pub struct Ring {
    /// Sorted by id.
    members: Vec<Placement>,
    /// Effective N.
    replicas: usize,
    /// Entries per slot in `table`.
    depth: usize,
    /// `SLOTS × depth` indices into `members`; row `s` is slot `s`'s preference list.
    table: Vec<u16>,
}

impl Default for Ring {
    fn default() -> Ring {
        Ring::empty()
    }
}

impl Ring {
    /// Builds the ring of `members` (any order) with `replicas` primaries per slot.
    ///
    /// The effective N is `replicas` clamped to `1..=min(owners, MAX_REPLICAS)`, where owners are
    /// the members with at least one token; a ring without owners (e.g. empty) has N = 0 and
    /// empty preference lists.
    pub fn new(mut members: Vec<Placement>, replicas: usize) -> Result<Ring, RingError> {
        if members.len() > MAX_MEMBERS {
            return Err(RingError::TooManyMembers { count: members.len(), max: MAX_MEMBERS });
        }
        let count: u64 = members.iter().map(|m| u64::from(m.tokens())).sum();
        if count > MAX_TOKENS {
            return Err(RingError::TooManyTokens { count, max: MAX_TOKENS });
        }
        members.sort_by_key(|m| m.id);
        if let Some(pair) = members.windows(2).find(|pair| pair[0].id == pair[1].id) {
            return Err(RingError::DuplicateMember(pair[0].id));
        }
        let owners = members.iter().filter(|m| m.tokens() > 0).count();
        let replicas = replicas.clamp(1, MAX_REPLICAS).min(owners);
        let depth = owners.min((3 * replicas).max(MIN_DEPTH));
        let tokens = build::tokens(&members);
        let (zone_of, zones) = build::zones(&members);
        let table = build::table(&tokens, &zone_of, zones, replicas, depth);
        Ok(Ring { members, replicas, depth, table })
    }

    /// The ring without members: N = 0, every preference list empty (what a node holds before
    /// membership has produced a view).
    pub fn empty() -> Ring {
        Ring { members: Vec::new(), replicas: 0, depth: 0, table: Vec::new() }
    }

    /// The effective replication factor N (0 only for a ring without owners).
    pub fn replicas(&self) -> usize {
        self.replicas
    }

    /// The members, sorted by id (including those with no tokens).
    pub fn members(&self) -> &[Placement] {
        &self.members
    }

    /// The member with this id, if any.
    pub fn member(&self, id: &NodeId) -> Option<&Placement> {
        self.index_of(id).map(|i| &self.members[i])
    }

    /// The slot's preference list: its N primaries, then the fallbacks in walk order. Holds
    /// `min(owners, max(3N, 32))` distinct nodes; empty for a slot ≥ [`SLOTS`] or an empty ring.
    pub fn preference_list(&self, slot: u16) -> impl Iterator<Item = &NodeId> + '_ {
        self.ids(self.row(slot))
    }

    /// The slot's first N nodes (the replicas that own it).
    pub fn primaries(&self, slot: u16) -> impl Iterator<Item = &NodeId> + '_ {
        self.ids(self.primary_row(slot))
    }

    /// The slot's nodes after the first N (sloppy-quorum stand-ins), in walk order.
    pub fn fallbacks(&self, slot: u16) -> impl Iterator<Item = &NodeId> + '_ {
        let row = self.row(slot);
        self.ids(&row[self.replicas.min(row.len())..])
    }

    /// The head of the slot's preference list.
    pub fn primary(&self, slot: u16) -> Option<&NodeId> {
        self.preference_list(slot).next()
    }

    /// Whether `id` is among the slot's first N nodes.
    pub fn is_replica(&self, slot: u16, id: &NodeId) -> bool {
        self.primaries(slot).any(|p| p == id)
    }

    /// Maximal runs of consecutive slots with identical primaries, as inclusive `(first, last)`
    /// bounds in slot order, covering `0..=16383` (for `CLUSTER SLOTS/SHARDS`).
    pub fn ranges(&self) -> Vec<(u16, u16)> {
        let mut ranges = Vec::new();
        let mut first = 0u16;
        for slot in 1..SLOTS as u16 {
            if self.primary_row(slot) != self.primary_row(slot - 1) {
                ranges.push((first, slot - 1));
                first = slot;
            }
        }
        ranges.push((first, SLOTS as u16 - 1));
        ranges
    }

    /// How many slots `id` holds as primary and among the first N.
    pub fn share(&self, id: &NodeId) -> Share {
        let Some(index) = self.index_of(id) else { return Share::default() };
        let index = index as u16;
        let mut share = Share::default();
        for slot in 0..SLOTS as u16 {
            let row = self.primary_row(slot);
            share.primary_slots += usize::from(row.first() == Some(&index));
            share.replica_slots += usize::from(row.contains(&index));
        }
        share
    }

    fn index_of(&self, id: &NodeId) -> Option<usize> {
        self.members.binary_search_by(|m| m.id.cmp(id)).ok()
    }

    fn row(&self, slot: u16) -> &[u16] {
        let start = usize::from(slot) * self.depth;
        self.table.get(start..start + self.depth).unwrap_or(&[])
    }

    fn primary_row(&self, slot: u16) -> &[u16] {
        let row = self.row(slot);
        &row[..self.replicas.min(row.len())]
    }

    fn ids<'a>(&'a self, row: &'a [u16]) -> impl Iterator<Item = &'a NodeId> + 'a {
        row.iter().filter_map(|&i| self.members.get(usize::from(i)).map(|m| &m.id))
    }
}
