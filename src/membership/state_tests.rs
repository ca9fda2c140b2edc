//! Unit tests of the pure membership state: record ordering, tombstones against stale records
//! and new generations, and one push-pull round between two states.

use super::*;

fn member(i: u8, generation: u64) -> LocalMember {
    let addr = std::net::SocketAddr::from(([127, 0, 0, i], 16379));
    LocalMember {
        id: NodeId([i; 20]),
        client_addr: addr,
        cluster_addr: addr,
        zone: String::new(),
        weight: 1,
        vnodes: 8,
        generation,
        replicas: 3,
    }
}

fn record(i: u8, generation: u64, heartbeat: u64) -> Record {
    Record { member: member(i, generation), heartbeat, status: MemberStatus::Up, suspects: Vec::new() }
}

fn known(st: &State, i: u8) -> Option<(u64, u64)> {
    st.peers.get(&NodeId([i; 20])).map(|p| p.record.key())
}

#[test]
fn newer_records_replace_older_ones_only() {
    let now = Instant::now();
    let mut st = State::new(member(1, 1), GossipConfig::default());
    st.merge_records(vec![record(2, 1, 5)], now);
    st.merge_records(vec![record(2, 1, 3)], now);
    assert_eq!(known(&st, 2), Some((1, 5)));
    st.merge_records(vec![record(2, 2, 0)], now);
    assert_eq!(known(&st, 2), Some((2, 0)), "a new generation supersedes any heartbeat");
    st.merge_records(vec![record(1, 9, 9)], now);
    assert_eq!(st.me.key(), (1, 0), "nobody else speaks for me");
}

#[test]
fn tombstones_beat_stale_records_but_not_new_generations() {
    let now = Instant::now();
    let mut st = State::new(member(1, 1), GossipConfig::default());
    st.merge_records(vec![record(2, 3, 5)], now);
    assert!(st.forget(&NodeId([2; 20]), now));
    st.merge_records(vec![record(2, 3, 99), record(2, 2, 100)], now);
    assert_eq!(known(&st, 2), None, "the forgotten incarnation stays out");
    assert_eq!(st.check_sender(NodeId([2; 20]), 3), Err(GossipError::Forgotten(NodeId([2; 20]))));
    st.merge_records(vec![record(2, 4, 0)], now);
    assert_eq!(known(&st, 2), Some((4, 0)), "a restart with a higher generation rejoins");
    assert!(st.check_sender(NodeId([2; 20]), 4).is_ok());
}

#[test]
fn one_push_pull_round_teaches_both_sides() {
    let now = Instant::now();
    let (mut a, mut b) =
        (State::new(member(1, 1), GossipConfig::default()), State::new(member(2, 1), GossipConfig::default()));
    a.merge_records(vec![record(3, 1, 1)], now);
    b.merge_records(vec![record(4, 1, 1)], now);
    let syn_ack = b.on_syn(a.syn(now), now).unwrap();
    let ack = a.on_syn_ack(member(2, 1).cluster_addr, syn_ack, now).unwrap().unwrap();
    b.on_ack(ack, now).unwrap();
    for st in [&mut a, &mut b] {
        let view = st.refresh_view(now).unwrap();
        assert_eq!(view.members.len(), 4);
        assert!(view.members.windows(2).all(|w| w[0].member.id < w[1].member.id), "sorted by id");
    }
    assert_eq!(a.refresh_view(now), None, "no visible change, no new epoch");
}

#[test]
fn a_member_with_another_replica_count_is_refused_once_per_incarnation() {
    let now = Instant::now();
    let mut st = State::new(member(1, 1), GossipConfig::default());
    let mut odd = record(2, 1, 5);
    odd.member.replicas = 2;
    let ack = |records| Message::Ack { from: NodeId([2; 20]), generation: 1, records };
    st.on_ack(ack(vec![odd.clone()]), now).unwrap();
    st.on_ack(ack(vec![odd.clone()]), now).unwrap();
    assert_eq!(known(&st, 2), None, "not merged");
    assert_eq!(st.stats.members_refused, 1, "counted once per incarnation");
    // Restarted with the cluster's N, it is a member.
    st.on_ack(ack(vec![record(2, 2, 1)]), now).unwrap();
    assert_eq!(known(&st, 2), Some((2, 1)));
    // Restarted again with another N: out again.
    let mut odd = record(2, 3, 1);
    odd.member.replicas = 5;
    st.on_ack(ack(vec![odd]), now).unwrap();
    assert_eq!((known(&st, 2), st.stats.members_refused), (None, 2));
}
