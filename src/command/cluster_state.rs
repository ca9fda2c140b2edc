//! `cluster_state` as Redis Cluster means it: `ok` when this node can serve every slot, `fail`
//! when it cannot — here, when for some slot fewer than W of its N replicas are live in this
//! node's failure-detector view (so a write there cannot reach its quorum), or when the node does
//! not coordinate yet (`peer/join.rs`): it knows no member that serves (unreachable seeds, a wrong
//! `cluster-secret`, a refused `replicas`: `not_joined`), it has not confirmed the membership it
//! saved (`view_unconfirmed`), or it waits for its peers' clocks (`waiting_for_clocks`). Read by
//! `CLUSTER INFO` and `INFO cluster`.
//!
//! Sloppy quorum may still complete a write through fallback nodes when a slot has lost its
//! quorum of primaries; the state reports the primaries, which hold the data and coordinate.

use crate::cluster::{Cluster, Topology};
use crate::membership::ViewState;
use crate::storage::keys::SLOTS;

/// Why the state is what it is (`cluster_state_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Every slot has W live replicas.
    Ok,
    /// Not coordinating: no member that serves confirmed this node's view yet (it started knowing
    /// none: a new node whose seeds do not answer, a wrong secret…).
    NotJoined,
    /// Not coordinating: confirming the membership it saved before it restarted.
    ViewUnconfirmed,
    /// Not coordinating: the view is confirmed, the peers' clocks are not in yet.
    WaitingForClocks,
    /// Some slots have fewer than W live replicas.
    NoWriteQuorum,
}

impl Reason {
    /// The INFO value.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Ok => "ok",
            Reason::NotJoined => "not_joined",
            Reason::ViewUnconfirmed => "view_unconfirmed",
            Reason::WaitingForClocks => "waiting_for_clocks",
            Reason::NoWriteQuorum => "no_write_quorum",
        }
    }
}

/// The state of the cluster as this node sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterState {
    /// `cluster_state_reason`; the state is `ok` only for [`Reason::Ok`].
    pub reason: Reason,
    /// Slots with at least W live replicas.
    pub slots_ok: usize,
    /// Slots with W live replicas but not all N (Redis's `pfail` counterpart).
    pub slots_degraded: usize,
}

impl ClusterState {
    /// `ok` or `fail`.
    pub fn state(&self) -> &'static str {
        if self.reason == Reason::Ok {
            "ok"
        } else {
            "fail"
        }
    }

    /// Slots without a write quorum.
    pub fn slots_fail(&self) -> usize {
        usize::from(SLOTS) - self.slots_ok
    }
}

/// Whether this node coordinates, and if not, how far its view is confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    /// It coordinates.
    Ready,
    /// It does not yet; its view stands so.
    Not(ViewState),
}

impl Joined {
    /// Of a cluster node.
    pub fn of(c: &Cluster) -> Joined {
        if c.ready() {
            Joined::Ready
        } else {
            Joined::Not(c.membership().join_report().view)
        }
    }
}

/// The state of `topo` with write quorum `write_quorum` (clamped to N), for a node `joined` so.
pub fn of(topo: &Topology, write_quorum: usize, joined: Joined) -> ClusterState {
    let not = |reason| ClusterState { reason, slots_ok: 0, slots_degraded: 0 };
    match joined {
        Joined::Ready => {}
        Joined::Not(ViewState::Unknown) => return not(Reason::NotJoined),
        Joined::Not(ViewState::Saved) => return not(Reason::ViewUnconfirmed),
        Joined::Not(ViewState::Confirmed) => return not(Reason::WaitingForClocks),
    }
    let n = topo.replicas();
    let w = write_quorum.clamp(1, n.max(1));
    let (mut slots_ok, mut slots_degraded) = (0, 0);
    for slot in 0..SLOTS {
        let (mut live, mut all) = (0, 0);
        for p in topo.primaries(slot) {
            all += 1;
            live += usize::from(p.healthy);
        }
        if all > 0 && live >= w {
            slots_ok += 1;
            slots_degraded += usize::from(live < all);
        }
    }
    let reason = if slots_ok == usize::from(SLOTS) { Reason::Ok } else { Reason::NoWriteQuorum };
    ClusterState { reason, slots_ok, slots_degraded }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Peer;
    use crate::membership::LocalMember;
    use crate::version::NodeId;

    fn peer(i: u8, healthy: bool) -> Peer {
        let addr = format!("127.0.0.{i}:7000").parse().unwrap();
        let member = LocalMember {
            id: NodeId([i; 20]),
            client_addr: addr,
            cluster_addr: addr,
            zone: String::new(),
            weight: 1,
            vnodes: 16,
            generation: 1,
            replicas: 3,
        };
        Peer { member, healthy, alive: healthy, failed: !healthy }
    }

    fn topo(up: &[bool]) -> Topology {
        let peers = up.iter().enumerate().map(|(i, &h)| peer(i as u8 + 1, h)).collect();
        Topology::new(NodeId([1; 20]), 1, peers, 3)
    }

    #[test]
    fn every_slot_needs_w_live_replicas() {
        let all = of(&topo(&[true, true, true]), 2, Joined::Ready);
        assert_eq!((all.state(), all.slots_ok, all.slots_degraded), ("ok", 16384, 0));
        let one_down = of(&topo(&[true, true, false]), 2, Joined::Ready);
        assert_eq!((one_down.state(), one_down.slots_ok, one_down.slots_degraded), ("ok", 16384, 16384));
        let two_down = of(&topo(&[true, false, false]), 2, Joined::Ready);
        assert_eq!((two_down.reason, two_down.slots_ok, two_down.slots_fail()), (Reason::NoWriteQuorum, 0, 16384));
        assert_eq!(of(&topo(&[true, false, false]), 1, Joined::Ready).state(), "ok", "W=1 needs one replica");
    }

    #[test]
    fn a_node_alone_is_whole_once_it_coordinates_and_says_why_it_does_not() {
        assert_eq!(of(&topo(&[true]), 2, Joined::Ready).state(), "ok", "a cluster of one: N and W clamp to 1");
        for (view, reason) in [
            (ViewState::Unknown, Reason::NotJoined),
            (ViewState::Saved, Reason::ViewUnconfirmed),
            (ViewState::Confirmed, Reason::WaitingForClocks),
        ] {
            let s = of(&topo(&[true, true, true]), 2, Joined::Not(view));
            assert_eq!((s.state(), s.reason, s.slots_ok), ("fail", reason, 0));
        }
    }
}
