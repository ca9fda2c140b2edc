//! Cluster membership: who is in the cluster, where they listen, how they weigh on the ring, and
//! whether they are alive. The node builds one [`Membership`], runs its gossip loop,
//! routes incoming gossip messages to [`Membership::handle`], and the ring subscribes to the
//! published [`ClusterView`] watch channel.
//!
//! # Protocol
//!
//! Scuttlebutt-style push-pull gossip. Every member owns one *record* (its placement fields, its
//! status, a heartbeat counter and the list of members it currently suspects); only the owner
//! changes it, and a record with a greater `(generation, heartbeat)` replaces the older one
//! entirely. Every [`GossipConfig::interval`] a node bumps its heartbeat and exchanges with
//! [`GossipConfig::fanout`] random healthy peers, one suspected peer (so recoveries are noticed),
//! unanswered `CLUSTER MEET` addresses and seeds it does not know yet:
//!
//! ```text
//! A ── Syn { digest: (id, generation, heartbeat)*, tombstones } ──────────▶ B
//! A ◀─ SynAck { records newer than A's digest, want: ids A has newer, tombstones } ── B
//! A ── Ack { the wanted records } (fire-and-forget) ───────────────────────▶ B
//! ```
//!
//! # Failure detection
//!
//! A node *suspects* a peer locally when the peer's heartbeat has not advanced for
//! [`GossipConfig::suspect_after`] (heard directly or second-hand), or when
//! [`GossipConfig::probe_failures`] consecutive direct exchanges with it failed (or were reported
//! by RPC through [`Membership::report_unreachable`]). We use a plain timeout rather than
//! phi-accrual: gossip delivers heartbeats second-hand at irregular intervals, so phi's
//! inter-arrival statistics buy little here, and a fixed threshold is predictable and
//! testable under paused time. A probe suspicion clears on the next successful direct exchange;
//! a heartbeat suspicion clears when the heartbeat advances again (or a new generation appears).
//!
//! Suspicions are gossiped in the suspecting node's record. A node is **down (agreed)** when at
//! least `max(1, min(down_quorum, observers))` observers suspect it, where the observers are the
//! members other than the target that this node does not suspect itself (itself included). In a
//! two-node cluster, or after everyone else has failed, one observer therefore suffices.
//! [`MemberView`] carries both the local suspicion and the agreed health.
//!
//! # Generations and forgetting
//!
//! The node passes a `generation` that must grow on every restart. A record with a higher
//! generation supersedes the old incarnation (fresh heartbeat, failures reset); records of an
//! older generation are ignored. [`Membership::forget`] removes a member and gossips a tombstone
//! `(id, generation)`: every record and message from that id with a generation ≤ the tombstone's
//! is ignored everywhere, so the member cannot come back through stale gossip; the same node
//! restarted with a **higher** generation rejoins normally. Tombstones live for
//! [`GossipConfig::tombstone_ttl`] (the remaining lifetime travels with them, so they do expire
//! cluster-wide). A node cannot forget itself; a node that learns it was forgotten keeps running
//! but is ignored by the others until it restarts with a higher generation
//! ([`GossipStats::forgotten_self`]).
//!
//! # Replicas per key
//!
//! Every record carries its owner's `replicas` (N). A record whose N differs from this node's
//! is refused — not merged, not relayed, logged once per incarnation and counted
//! ([`GossipStats::members_refused`]): members that disagree on N would place keys differently.
//!
//! # Why not `foca` or `chitchat`
//!
//! Both were evaluated. `foca` (SWIM) confirms a member down on one member's suspicion timeout
//! (refutable only by the target itself), keeps our placement fields inside an immutable identity
//! and has no administrative "forget" tombstone, so agreement by several members and removal
//! would have to be rebuilt around it. `chitchat` owns its transport (a datagram socket, not our
//! request/reply trait), spawns its own tasks, and its phi-accrual detector is purely local —
//! dead nodes are garbage-collected locally, with no gossiped suspicion nor cluster-wide removal.
//! Either would carry most of the protocol in adapters; the compact protocol here is ~800 lines
//! of code (plus docs and tests), needs no new dependency, and runs entirely over
//! [`GossipTransport`].
//!
//! # Saved membership and confirmed views
//!
//! A node saves the members it knows ([`saved`]) and restarts from them ([`Start`]), so its ring
//! never lacks a member gossip has not reported yet. Its view is *unconfirmed* until an exchange
//! with a serving member (or a majority of its saved members, or — for new nodes founding a
//! cluster together — the founding rule) confirms it ([`ViewState`]); the node coordinates nothing
//! until then, and declares itself [`MemberStatus::Joining`] so that the others route around it.
//!
//! Files: [`codec`] (wire format and bounds), `state` (pure merge / detector / view logic),
//! `gossip` (the [`Membership`] handle and loop), [`saved`] (the members file), [`sim`] (an
//! in-memory transport with partitions, for tests and demos).

pub mod codec;
mod gossip;
pub mod saved;
pub mod sim;
mod state;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use thiserror::Error;

use crate::version::NodeId;

pub use codec::{CodecError, MAX_MEMBERS, MAX_ZONE_LEN};
pub use gossip::Membership;
pub use saved::{SaveError, Saved};

/// A boxed, sendable future (what [`GossipTransport::exchange`] returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How gossip messages reach other nodes. The node implements it over the authenticated RPC
/// client; tests use [`sim::SimNetwork`]. The receiving side calls [`Membership::handle`] for an
/// exchange and [`Membership::handle_one_way`] for a send.
pub trait GossipTransport: Send + Sync + 'static {
    /// Sends one gossip message to `to` (a cluster address) and returns the peer's reply.
    fn exchange(&self, to: SocketAddr, msg: Bytes) -> BoxFuture<'static, Result<Bytes, String>>;
    /// Sends one message without waiting for a reply; losses are tolerated.
    fn send(&self, to: SocketAddr, msg: Bytes);
}

/// Gossip and failure-detector settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GossipConfig {
    /// Time between gossip rounds (heartbeat period).
    pub interval: Duration,
    /// Healthy peers contacted per round.
    pub fanout: usize,
    /// Deadline of one exchange; should be below `interval`.
    pub probe_timeout: Duration,
    /// A peer whose heartbeat has not advanced for this long is suspected.
    pub suspect_after: Duration,
    /// A peer is suspected after this many consecutive failed direct exchanges / RPC reports.
    pub probe_failures: u32,
    /// How many observers must suspect a member before it is down (capped by the observers).
    pub down_quorum: usize,
    /// How long a `forget` tombstone is kept and gossiped.
    pub tombstone_ttl: Duration,
}

impl Default for GossipConfig {
    fn default() -> Self {
        GossipConfig {
            interval: Duration::from_secs(1),
            fanout: 3,
            probe_timeout: Duration::from_millis(500),
            suspect_after: Duration::from_secs(10),
            probe_failures: 3,
            down_quorum: 2,
            tombstone_ttl: Duration::from_secs(24 * 3600),
        }
    }
}

/// This node's identity and placement, as given by the node at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMember {
    /// The node id.
    pub id: NodeId,
    /// Where Redis clients connect.
    pub client_addr: SocketAddr,
    /// Where gossip and RPC go.
    pub cluster_addr: SocketAddr,
    /// Rack / availability zone, at most [`MAX_ZONE_LEN`] bytes.
    pub zone: String,
    /// Relative capacity: tokens are `vnodes × weight`.
    pub weight: u32,
    /// Virtual nodes per unit of weight.
    pub vnodes: u32,
    /// Restart counter: must grow on every restart of the node.
    pub generation: u64,
    /// Replicas per key (N) the member is configured with; members with another N are refused.
    pub replicas: usize,
}

/// What a member declares about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberStatus {
    /// Starting, not yet serving (e.g. bootstrapping data).
    Joining,
    /// Serving.
    Up,
    /// Shutting down gracefully.
    Leaving,
}

/// What a node knows of its cluster's members when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// It is the first node of a new cluster (a new data directory and no seeds): its view — itself
    /// — is complete.
    NewCluster,
    /// A new data directory with seeds: it joins the cluster its seeds serve, or — when every
    /// member it finds is as new as itself — founds one with them ([`ViewState`]).
    NewNode,
    /// The membership it saved before it stopped (`saved.rs`).
    Saved(Saved),
    /// Nothing: a data directory without a members file (written before it existed).
    Unknown,
}

/// Whether a node's view of the members is complete enough to place keys with. A node
/// coordinates and takes replica writes only once it is [`ViewState::Confirmed`]; until then it
/// forwards what clients send it (see the README, "Placement").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewState {
    /// Complete: the first node of a new cluster, or confirmed by an exchange with a serving
    /// member, or (having started from its saved membership) with a majority of its members, or
    /// (a new node whose every member is new too: a cluster started all at once with seeds) the
    /// new node with the smallest id, once it has heard from all its seeds and its member list has
    /// stayed the same for two gossip rounds — it founds the cluster, the others join it.
    Confirmed,
    /// Started from its saved membership, not confirmed yet.
    Saved,
    /// Started knowing no member, not confirmed yet (only a serving member can confirm it).
    Unknown,
}

impl ViewState {
    /// The name shown in `INFO cluster`.
    pub fn as_str(self) -> &'static str {
        match self {
            ViewState::Confirmed => "confirmed",
            ViewState::Saved => "saved",
            ViewState::Unknown => "unknown",
        }
    }
}

/// Where a node stands with confirming its view (`INFO cluster`, the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinReport {
    /// How far the view is confirmed.
    pub view: ViewState,
    /// Members known, this node included.
    pub members: usize,
    /// Of those, members this node completed an exchange with since it started.
    pub exchanged: usize,
    /// The last exchange that failed and why (`addr: reason`), until one succeeds.
    pub last_failure: Option<String>,
}

/// Liveness of a member as seen from this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Health {
    /// Not suspected by this node, not agreed down.
    Up,
    /// Suspected by this node, but not (yet) agreed down.
    Suspect,
    /// Enough observers suspect it (see the module doc).
    Down,
}

/// One member in a [`ClusterView`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    /// Identity and placement fields.
    pub member: LocalMember,
    /// What the member declares about itself.
    pub status: MemberStatus,
    /// Agreed health (with this node's own suspicion folded in).
    pub health: Health,
    /// Whether this node suspects it (the local view routing may use).
    pub suspected_by_me: bool,
    /// How many observers (this node included) currently suspect it.
    pub suspected_by: usize,
}

/// An immutable snapshot of the membership, published on every visible change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterView {
    /// Grows by one on every visible change (members, placement fields, status, health).
    pub epoch: u64,
    /// This node's id.
    pub me: NodeId,
    /// All known members, sorted by id, this node included.
    pub members: Vec<MemberView>,
}

impl ClusterView {
    /// The member with this id.
    pub fn get(&self, id: &NodeId) -> Option<&MemberView> {
        self.members.binary_search_by(|m| m.member.id.cmp(id)).ok().and_then(|i| self.members.get(i))
    }

    /// Whether the member is known and [`Health::Up`].
    pub fn is_healthy(&self, id: &NodeId) -> bool {
        self.get(id).is_some_and(|m| m.health == Health::Up)
    }

    /// Whether the member is known and agreed down.
    pub fn is_down(&self, id: &NodeId) -> bool {
        self.get(id).is_some_and(|m| m.health == Health::Down)
    }

    /// The members that are [`Health::Up`].
    pub fn healthy(&self) -> impl Iterator<Item = &MemberView> {
        self.members.iter().filter(|m| m.health == Health::Up)
    }
}

/// Counters for `INFO` and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GossipStats {
    /// Gossip rounds run.
    pub rounds: u64,
    /// Outgoing exchanges answered.
    pub exchanges_ok: u64,
    /// Outgoing exchanges that failed or timed out.
    pub exchanges_failed: u64,
    /// Incoming messages accepted.
    pub messages_in: u64,
    /// Incoming messages rejected (malformed, unexpected, or from a forgotten incarnation).
    pub messages_rejected: u64,
    /// Member records that replaced an older one (or added a member).
    pub records_merged: u64,
    /// Live tombstones.
    pub tombstones: usize,
    /// Whether a tombstone names this node's own incarnation.
    pub forgotten_self: bool,
    /// Member incarnations refused because their `replicas` (N) differs from this node's.
    pub members_refused: u64,
    /// The current view epoch.
    pub epoch: u64,
}

/// Errors at the gossip boundary.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum GossipError {
    /// The message could not be decoded. Not retryable.
    #[error("malformed gossip message: {0}")]
    Codec(#[from] CodecError),
    /// The sender's incarnation was forgotten. Not retryable (restart with a higher generation).
    #[error("gossip from forgotten node {0}")]
    Forgotten(NodeId),
    /// A well-formed message of a kind this entry point does not take. Not retryable.
    #[error("unexpected gossip message kind")]
    Unexpected,
    /// The local member is invalid (e.g. zone too long). Not retryable.
    #[error("invalid local member: {0}")]
    InvalidLocal(String),
}

impl GossipError {
    /// Whether retrying the same request could succeed (never, for these errors).
    pub fn is_retryable(&self) -> bool {
        false
    }
}
