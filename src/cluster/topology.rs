//! One immutable snapshot of the cluster as this node sees it: the members (with their addresses
//! and this node's view of their health) and the ring built from them. A new snapshot is built
//! and swapped in atomically whenever membership publishes a change; requests load the current
//! one once and route with it, so a request never sees half of a change.
//!
//! Placement uses every known member, healthy or not: a temporary failure does not move data
//! (Dynamo §4.8); it only changes which replica *coordinates* — the first healthy one
//! of the preference list — and which replicas a request waits for.

use crate::membership::LocalMember;
use crate::ring::{Placement, Ring};
use crate::version::NodeId;

/// A member as routing needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// What the member gossips about itself: id, addresses, zone, weight, vnodes, generation.
    pub member: LocalMember,
    /// Whether requests may be sent to it: alive and serving (a member whose view of the cluster
    /// is not confirmed yet declares itself joining and is routed around). Routing skips unhealthy
    /// replicas.
    pub healthy: bool,
    /// This node's local view: not suspected, not reported down (whether it serves or not).
    pub alive: bool,
    /// Reported down cluster-wide (several members agree): `fail` in `CLUSTER NODES`.
    pub failed: bool,
}

/// The cluster as one node sees it at one instant.
pub struct Topology {
    me: NodeId,
    epoch: u64,
    peers: Vec<Peer>,
    ring: Ring,
    /// A fingerprint of what placement depends on: the members' ids, zones, weights and vnodes,
    /// and N (not health, addresses or generations).
    placement: u64,
}

impl Topology {
    /// A snapshot of `peers` (this node included) with `replicas` copies per key.
    pub fn new(me: NodeId, epoch: u64, mut peers: Vec<Peer>, replicas: usize) -> Topology {
        peers.sort_by_key(|p| p.member.id);
        peers.dedup_by(|a, b| a.member.id == b.member.id);
        let placements: Vec<Placement> = peers
            .iter()
            .map(|p| Placement {
                id: p.member.id,
                zone: p.member.zone.clone(),
                weight: p.member.weight,
                vnodes: p.member.vnodes,
            })
            .collect();
        let placement = {
            use std::hash::{Hash, Hasher};
            let mut h = siphasher::sip::SipHasher13::new();
            (&placements, replicas).hash(&mut h);
            h.finish()
        };
        let ring = Ring::new(placements, replicas).unwrap_or_else(|e| {
            // Only possible with absurd settings (validated away); routing then answers NOQUORUM.
            tracing::error!(error = %e, "cannot build the ring; no slot has a replica");
            Ring::empty()
        });
        Topology { me, epoch, peers, ring, placement }
    }

    /// This node's id.
    pub fn me(&self) -> NodeId {
        self.me
    }

    /// Changes whenever membership published a change.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Changes whenever placement may have changed: a member joined or was forgotten, changed its
    /// zone, weight or vnodes (health and addresses do not count).
    pub fn placement(&self) -> u64 {
        self.placement
    }

    /// Every member, sorted by id.
    pub fn peers(&self) -> &[Peer] {
        &self.peers
    }

    /// The ring.
    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    /// Replicas per key (N, clamped to the member count).
    pub fn replicas(&self) -> usize {
        self.ring.replicas()
    }

    /// A member by id.
    pub fn peer(&self, id: &NodeId) -> Option<&Peer> {
        self.peers.binary_search_by(|p| p.member.id.cmp(id)).ok().map(|i| &self.peers[i])
    }

    /// The N replicas of `slot`, in preference-list order.
    pub fn primaries(&self, slot: u16) -> impl Iterator<Item = &Peer> {
        self.ring.primaries(slot).filter_map(|id| self.peer(id))
    }

    /// The nodes after the first N, in ring order (sloppy quorum's fallbacks).
    pub fn fallbacks(&self, slot: u16) -> impl Iterator<Item = &Peer> {
        self.ring.fallbacks(slot).filter_map(|id| self.peer(id))
    }

    /// The coordinator of `slot`: its first healthy replica.
    pub fn coordinator(&self, slot: u16) -> Option<&Peer> {
        self.primaries(slot).find(|p| p.healthy)
    }

    /// Whether this node holds a replica of `slot`.
    pub fn is_replica(&self, slot: u16) -> bool {
        self.primaries(slot).any(|p| p.member.id == self.me)
    }

    /// This node's entry.
    pub fn my_peer(&self) -> Option<&Peer> {
        self.peer(&self.me)
    }
}
