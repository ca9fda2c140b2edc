//! Cluster tests for membership: several [`Membership`]s gossip over a [`SimNetwork`] under
//! paused tokio time, so "within N seconds" means N gossip rounds, deterministically.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use tokio::time::Instant;

use super::codec::Message;
use super::sim::SimNetwork;
use super::{ClusterView, GossipConfig, GossipError, Health, LocalMember, Membership};
use crate::version::NodeId;

fn cfg() -> GossipConfig {
    GossipConfig {
        interval: Duration::from_secs(1),
        fanout: 2,
        probe_timeout: Duration::from_millis(200),
        suspect_after: Duration::from_secs(5),
        probe_failures: 3,
        down_quorum: 2,
        tombstone_ttl: Duration::from_secs(3600),
    }
}

fn id(i: u8) -> NodeId {
    NodeId([i; 20])
}

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, i], 16379))
}

fn member(i: u8, generation: u64) -> LocalMember {
    LocalMember {
        id: id(i),
        client_addr: SocketAddr::from(([127, 0, 0, i], 6379)),
        cluster_addr: addr(i),
        zone: format!("zone-{}", i % 2),
        weight: 1,
        vnodes: 8,
        generation,
        replicas: 3,
    }
}

/// Every view any node published, in order: `(node, view)`.
type History = Arc<Mutex<Vec<(u8, Arc<ClusterView>)>>>;

struct Cluster {
    net: Arc<SimNetwork>,
    nodes: Vec<(u8, Arc<Membership>, watch::Sender<bool>)>,
    history: History,
}

impl Cluster {
    fn new() -> Cluster {
        Cluster { net: SimNetwork::new(), nodes: Vec::new(), history: History::default() }
    }

    /// Starts node `i` (generation `generation`) gossiping with `seeds`.
    fn start(&mut self, i: u8, generation: u64, seeds: &[u8]) -> Arc<Membership> {
        let m = Membership::new(member(i, generation), cfg(), self.net.transport(addr(i))).unwrap();
        self.net.register(addr(i), &m);
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(Arc::clone(&m).run(
            seeds.iter().map(|s| addr(*s)).collect(),
            stopped,
            crate::workers::Beat::detached("gossip"),
        ));
        let (mut rx, history) = (m.subscribe(), Arc::clone(&self.history));
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let view = rx.borrow_and_update().clone();
                history.lock().unwrap().push((i, view));
            }
        });
        self.nodes.push((i, Arc::clone(&m), stop));
        m
    }

    /// Stops node `i` and makes it unreachable.
    fn stop(&mut self, i: u8) {
        self.net.unregister(addr(i));
        let at = self.nodes.iter().position(|(n, _, _)| *n == i).unwrap();
        let (_, _, stop) = self.nodes.remove(at);
        stop.send_replace(true);
    }

    fn node(&self, i: u8) -> &Arc<Membership> {
        &self.nodes.iter().find(|(n, _, _)| *n == i).unwrap().1
    }

    fn views(&self) -> Vec<Arc<ClusterView>> {
        self.nodes.iter().map(|(_, m, _)| m.view()).collect()
    }

    /// Whether every running node sees exactly `ids`, all healthy, identically.
    fn converged(&self, ids: &[u8]) -> bool {
        let views = self.views();
        views.iter().all(|v| {
            v.members.iter().map(|m| m.member.id).eq(ids.iter().map(|i| id(*i)))
                && v.members.iter().all(|m| m.health == Health::Up)
                && v.members == views[0].members
        })
    }

    /// Starts nodes `1..=n`, all seeded with node 1, and waits until they agree.
    async fn converge(n: u8) -> Cluster {
        let mut c = Cluster::new();
        c.start(1, 1, &[]);
        for i in 2..=n {
            c.start(i, 1, &[1]);
        }
        let ids: Vec<u8> = (1..=n).collect();
        wait_until("convergence", Duration::from_secs(5), || c.converged(&ids)).await;
        c
    }
}

/// Polls `cond` every 100 ms of (paused) time; fails the test past `within`. Returns the time taken.
async fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if cond() {
            return start.elapsed();
        }
        assert!(start.elapsed() <= within, "{what} not reached within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn three_and_five_nodes_converge_through_one_seed() {
    for n in [3u8, 5] {
        let start = Instant::now();
        let c = Cluster::converge(n).await;
        assert!(start.elapsed() <= Duration::from_secs(5));
        let view = c.node(n).view();
        let first = view.get(&id(1)).unwrap();
        assert_eq!(first.member, member(1, 1), "placement fields travel intact");
        assert!(view.is_healthy(&id(1)) && !view.is_down(&id(1)));
        assert_eq!(view.healthy().count(), usize::from(n));
    }
}

#[tokio::test(start_paused = true)]
async fn meet_joins_a_node_at_run_time() {
    let mut c = Cluster::new();
    let (a, b) = (c.start(1, 1, &[]), c.start(2, 1, &[]));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!((a.view().members.len(), b.view().members.len()), (1, 1), "nobody to talk to yet");
    b.meet(addr(1));
    wait_until("MEET", Duration::from_secs(3), || c.converged(&[1, 2])).await;
}

#[tokio::test(start_paused = true)]
async fn a_stopped_node_is_down_everywhere_only_once_two_suspect_it() {
    let mut c = Cluster::converge(5).await;
    c.stop(5);
    let took =
        wait_until("node 5 down everywhere", Duration::from_secs(11), || c.views().iter().all(|v| v.is_down(&id(5))))
            .await;
    assert!(took >= Duration::from_secs(1), "not before any probe failed: {took:?}");
    for (node, view) in c.history.lock().unwrap().iter() {
        if let Some(m) = view.get(&id(5)).filter(|m| m.health == Health::Down) {
            assert!(m.suspected_by >= 2, "node {node} reported 5 down with {} suspicion(s)", m.suspected_by);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn one_suspicious_node_alone_does_not_take_a_member_down() {
    let c = Cluster::converge(3).await;
    c.net.block(addr(1), addr(2)); // node 1 cannot reach node 2; everyone else can
    wait_until("1 suspects 2", Duration::from_secs(5), || c.node(1).view().get(&id(2)).unwrap().suspected_by_me).await;
    tokio::time::sleep(Duration::from_secs(20)).await;
    let at1 = c.node(1).view();
    assert_eq!(at1.get(&id(2)).unwrap().health, Health::Suspect, "suspected locally, not down");
    assert!(!at1.is_healthy(&id(2)));
    let at3 = c.node(3).view();
    let two = at3.get(&id(2)).unwrap();
    assert_eq!((two.health, two.suspected_by, two.suspected_by_me), (Health::Up, 1, false));
    for (node, view) in c.history.lock().unwrap().iter() {
        assert!(!view.is_down(&id(2)), "node {node} reported 2 down on one suspicion");
    }
    c.net.heal();
    wait_until("suspicion cleared", Duration::from_secs(5), || c.converged(&[1, 2, 3])).await;
}

#[tokio::test(start_paused = true)]
async fn in_a_two_node_cluster_one_observer_suffices() {
    let mut c = Cluster::converge(2).await;
    c.stop(2);
    wait_until("2 down at 1", Duration::from_secs(8), || c.node(1).view().is_down(&id(2))).await;
}

#[tokio::test(start_paused = true)]
async fn restart_with_a_higher_generation_rejoins_up() {
    let mut c = Cluster::converge(3).await;
    c.stop(3);
    wait_until("3 down", Duration::from_secs(11), || c.views().iter().all(|v| v.is_down(&id(3)))).await;
    c.start(3, 2, &[1]);
    wait_until("3 back up", Duration::from_secs(5), || c.converged(&[1, 2, 3])).await;
    assert!(c.views().iter().all(|v| v.get(&id(3)).unwrap().member.generation == 2));
}

#[tokio::test(start_paused = true)]
async fn forget_removes_a_member_everywhere_for_good() {
    let mut c = Cluster::converge(4).await;
    c.stop(4);
    wait_until("4 down", Duration::from_secs(11), || c.views().iter().all(|v| v.is_down(&id(4)))).await;
    assert!(!c.node(1).forget(id(9)), "unknown id");
    assert!(!c.node(1).forget(id(1)), "a node cannot forget itself");
    assert!(c.node(1).forget(id(4)));
    wait_until("4 forgotten", Duration::from_secs(5), || c.converged(&[1, 2, 3])).await;

    // The old incarnation comes back (it was only paused): its gossip is ignored.
    let rejected_before = c.node(1).stats().messages_rejected;
    c.start(4, 1, &[1]);
    tokio::time::sleep(Duration::from_secs(20)).await;
    let views = c.views();
    assert!(views.iter().take(3).all(|v| v.get(&id(4)).is_none()), "forgotten incarnation came back");
    assert!(c.node(1).stats().messages_rejected > rejected_before);
    assert!(c.node(2).stats().tombstones == 1);

    // Restarted with a higher generation, it rejoins.
    c.stop(4);
    c.start(4, 2, &[1]);
    wait_until("4 rejoined", Duration::from_secs(5), || c.converged(&[1, 2, 3, 4])).await;
}

#[tokio::test(start_paused = true)]
async fn a_stable_cluster_publishes_nothing_new() {
    let c = Cluster::converge(5).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut receivers: Vec<_> = c.nodes.iter().map(|(_, m, _)| m.subscribe()).collect();
    let epochs: Vec<u64> = c.views().iter().map(|v| v.epoch).collect();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(c.views().iter().map(|v| v.epoch).collect::<Vec<_>>(), epochs);
    assert!(receivers.iter_mut().all(|rx| !rx.has_changed().unwrap()));
    assert!(c.node(1).stats().rounds >= 60, "gossip kept running");
}

#[tokio::test(start_paused = true)]
async fn garbage_is_an_error_not_a_crash() {
    let mut c = Cluster::new();
    let m = c.start(1, 1, &[]);
    let from = addr(9);
    assert!(matches!(m.handle(from, Bytes::new()), Err(GossipError::Codec(_))));
    assert!(matches!(m.handle(from, Bytes::from_static(b"*1\r\n$4\r\nPING\r\n")), Err(GossipError::Codec(_))));
    let ack = Message::Ack { from: id(9), generation: 1, records: Vec::new() }.encode();
    assert_eq!(m.handle(from, ack.slice(..ack.len() - 1)), Err(GossipError::Codec(super::CodecError::Truncated)));
    let syn_ack = Message::SynAck { from: id(9), generation: 1, records: vec![], want: vec![], tombstones: vec![] };
    assert_eq!(m.handle(from, syn_ack.encode()), Err(GossipError::Unexpected));
    m.handle_one_way(from, Bytes::from_static(&[1, 3, 0]));
    assert_eq!(m.stats().messages_rejected, 5);
    assert_eq!(m.view().members.len(), 1);

    let mut long_zone = member(2, 1);
    long_zone.zone = "z".repeat(65);
    assert!(Membership::new(long_zone, cfg(), c.net.transport(addr(2))).is_err());
}
