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

/// A state that saved members 2..=n (and forgot member 9) and restarts from that.
fn restarted(n: u8) -> State {
    let saved = Saved {
        records: (2..=n).map(|i| record(i, 1, 40)).collect(),
        forgotten: vec![(NodeId([9; 20]), 3, 2_000_000)],
    };
    State::starting(member(1, 2), GossipConfig::default(), Start::Saved(saved), Instant::now(), 1_000_000)
}

/// One exchange started by `a` towards `b`: `a` learns what `b` knows.
fn exchange(a: &mut State, b: &mut State, now: Instant) {
    let b_addr = b.me.member.cluster_addr;
    let syn_ack = b.on_syn(a.syn(now), now).unwrap();
    if let Some(ack) = a.on_syn_ack(b_addr, syn_ack, now).unwrap() {
        b.on_ack(ack, now).unwrap();
    }
}

/// A member that serves: it started joining, then declared itself up (which bumps its heartbeat,
/// so its record is newer than any saved copy, whose heartbeat is 0).
fn serving(i: u8) -> State {
    let mut st = State::starting(member(i, 1), GossipConfig::default(), Start::NewCluster, Instant::now(), 0);
    st.set_status(MemberStatus::Up);
    st
}

#[test]
fn a_restart_places_with_every_saved_member_and_keeps_the_forgotten_out() {
    let now = Instant::now();
    let mut st = restarted(5);
    let view = st.refresh_view(now).unwrap_or_else(|| st.view());
    assert_eq!(view.members.len(), 5, "all saved members are on the ring at once, before any gossip");
    assert!(view.members.iter().all(|m| m.status == MemberStatus::Joining), "nobody is known to serve yet");
    assert_eq!(st.view_state(), ViewState::Saved);
    assert!(st.tombstoned(&NodeId([9; 20]), 3), "the forgotten member stays forgotten across the restart");
    st.merge_records(vec![record(9, 3, 100)], now);
    assert_eq!(known(&st, 9), None);
    // What is saved again lists the same members (heartbeats and statuses are not saved).
    let again = st.saved(now, 1_000_000);
    assert_eq!(again.records.len(), 4);
    assert!(again.same_members(&restarted(5).saved(now, 1_000_000)));
}

#[test]
fn a_restarted_view_is_confirmed_by_a_serving_member_or_a_majority() {
    let now = Instant::now();
    // One exchange with a member that serves is enough.
    let mut st = restarted(5);
    let mut two = serving(2);
    exchange(&mut st, &mut two, now);
    assert_eq!(st.view_state(), ViewState::Confirmed);

    // Members that do not serve (a whole cluster restarting): a majority of five, this node
    // included, is three.
    let mut st = restarted(5);
    let mut others: Vec<State> = (2..=5).map(|i| restarted_as(i, 5)).collect();
    exchange(&mut st, &mut others[0], now);
    assert_eq!(st.view_state(), ViewState::Saved, "two of five is no majority");
    exchange(&mut st, &mut others[0], now);
    assert_eq!(st.view_state(), ViewState::Saved, "the same member twice counts once");
    exchange(&mut st, &mut others[1], now);
    assert_eq!(st.view_state(), ViewState::Confirmed, "three of five");
    let report = st.join_report();
    assert_eq!((report.members, report.exchanged), (5, 2));

    // Forgetting a dead member shrinks the majority needed.
    let mut st = restarted(3);
    exchange(&mut st, &mut restarted_as(2, 3), now);
    assert_eq!(st.view_state(), ViewState::Confirmed, "two of three");
    let mut st = restarted(4);
    exchange(&mut st, &mut restarted_as(2, 4), now);
    assert_eq!(st.view_state(), ViewState::Saved, "two of four is no majority");
    assert!(st.forget(&NodeId([4; 20]), now));
    assert_eq!(st.view_state(), ViewState::Confirmed, "two of three, once the dead member is forgotten");

    // A node that saved only itself (a cluster of one) is confirmed at once.
    assert_eq!(restarted(1).view_state(), ViewState::Confirmed);
}

/// Member `i` of the `n`-node cluster of [`restarted`], restarting too.
fn restarted_as(i: u8, n: u8) -> State {
    let saved = Saved { records: (1..=n).filter(|&j| j != i).map(|j| record(j, 1, 40)).collect(), forgotten: vec![] };
    State::starting(member(i, 2), GossipConfig::default(), Start::Saved(saved), Instant::now(), 1_000_000)
}

#[test]
fn a_node_that_knows_nobody_is_confirmed_only_by_a_serving_member() {
    let now = Instant::now();
    let start = |i| State::starting(member(i, 1), GossipConfig::default(), Start::Unknown, now, 0);
    let mut st = start(1);
    assert_eq!(st.view_state(), ViewState::Unknown);
    let mut joining = start(2);
    exchange(&mut st, &mut joining, now);
    assert_eq!(st.view_state(), ViewState::Unknown, "another node that knows nobody proves nothing");
    let mut seed = serving(3);
    seed.merge_records(vec![record(4, 1, 1), record(5, 1, 1)], now);
    exchange(&mut st, &mut seed, now);
    assert_eq!(st.view_state(), ViewState::Confirmed);
    assert_eq!(st.join_report().members, 5, "it learned every member the seed knew");
    let new = State::starting(member(1, 1), GossipConfig::default(), Start::NewCluster, now, 0);
    assert_eq!((new.view_state(), new.me.status), (ViewState::Confirmed, MemberStatus::Joining));
}

#[test]
fn new_nodes_seeded_by_each_other_are_founded_by_the_smallest_id_once_settled() {
    let settle = Duration::from_secs(2);
    let t0 = Instant::now();
    let new_node = |i: u8| {
        let mut st = State::starting(member(i, 1), GossipConfig::default(), Start::NewNode, t0, 0);
        st.set_seeds(&[member(if i == 1 { 2 } else { 1 }, 1).cluster_addr]);
        st
    };
    let (mut a, mut b) = (new_node(1), new_node(2));
    assert!(!a.maybe_found(t0 + settle, settle), "its seed has not answered yet");
    exchange(&mut a, &mut b, t0);
    exchange(&mut b, &mut a, t0);
    assert!(!a.maybe_found(t0 + Duration::from_secs(1), settle), "the member list changed a moment ago");
    assert!(!b.maybe_found(t0 + settle, settle), "node 2 knows a new node with a smaller id");
    assert!(a.maybe_found(t0 + settle, settle), "node 1 founds");
    assert_eq!(a.view_state(), ViewState::Confirmed);
    // Once node 1 serves, node 2 joins it by the ordinary rule.
    a.set_status(MemberStatus::Up);
    exchange(&mut b, &mut a, t0 + settle);
    assert_eq!(b.view_state(), ViewState::Confirmed);

    // A member that is not new (a restarting member of an existing cluster) means an existing
    // cluster: nobody founds, they wait for it.
    let mut c = new_node(1);
    let mut old = restarted_as(2, 2);
    exchange(&mut c, &mut old, t0);
    assert!(!c.maybe_found(t0 + settle * 2, settle));
    // A node with a data directory but no saved membership never founds.
    let mut d = State::starting(member(1, 1), GossipConfig::default(), Start::Unknown, t0, 0);
    d.set_seeds(&[member(2, 1).cluster_addr]);
    exchange(&mut d, &mut new_node(2), t0);
    assert!(!d.maybe_found(t0 + settle * 2, settle));
}
