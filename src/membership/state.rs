//! The pure core of membership: known records, tombstones, the local failure detector, merging
//! of gossip messages and the derivation of the published [`ClusterView`]. No I/O and no timers:
//! `gossip` calls it under a lock and passes the current `tokio::time::Instant` in.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::codec::{Digest, Message, Record, Tombstone, MAX_MEMBERS, RECORD_BUDGET};
use super::saved::Saved;
use super::{
    ClusterView, GossipConfig, GossipError, GossipStats, Health, JoinReport, LocalMember, MemberStatus, MemberView,
    Start, ViewState,
};
use crate::version::NodeId;

/// Most unanswered `CLUSTER MEET` addresses kept.
const MAX_CONTACTS: usize = 64;

/// Most members an unconfirmed node gossips with in one round (it asks every member it knows, so
/// that a restart confirms its view in one round trip).
const MAX_CONFIRM_FANOUT: usize = 32;

/// What this node knows about one other member.
struct Peer {
    record: Record,
    /// When its `(generation, heartbeat)` last advanced here.
    last_advance: Instant,
    /// Consecutive failed direct exchanges / RPC reports.
    probe_failures: u32,
}

pub(crate) struct State {
    cfg: GossipConfig,
    me: Record,
    peers: BTreeMap<NodeId, Peer>,
    /// id → (forgotten up to this generation, expires at).
    tombstones: BTreeMap<NodeId, (u64, Instant)>,
    /// `CLUSTER MEET` addresses not answered yet.
    contacts: Vec<SocketAddr>,
    /// Incarnations `(id, generation)` refused for another `replicas` (logged once each).
    refused: BTreeSet<(NodeId, u64)>,
    rng: fastrand::Rng,
    view: Arc<ClusterView>,
    /// Whether this node's view is complete enough to place keys with (see [`State::confirm_by`]).
    view_state: ViewState,
    /// Members this node completed an exchange with since it started (the majority rule).
    exchanged: BTreeSet<NodeId>,
    /// The last exchange that failed: with whom, and why (reported while the view is unconfirmed).
    last_failure: Option<(SocketAddr, String)>,
    /// A new data directory with seeds: it may found a cluster with other new nodes.
    new_node: bool,
    /// The seeds, and those that answered an exchange.
    seeds: Vec<SocketAddr>,
    answered: BTreeSet<SocketAddr>,
    /// When a member was last added or removed.
    members_changed: Instant,
    pub(crate) stats: GossipStats,
}

impl State {
    pub(crate) fn new(me: LocalMember, cfg: GossipConfig) -> State {
        let mut seed = me.generation;
        for chunk in me.id.0.chunks(8) {
            seed = seed.rotate_left(17) ^ chunk.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        }
        let me = Record { member: me, heartbeat: 0, status: MemberStatus::Up, suspects: Vec::new() };
        let view = Arc::new(ClusterView { epoch: 0, me: me.member.id, members: Vec::new() });
        let mut state = State {
            cfg,
            me,
            peers: BTreeMap::new(),
            tombstones: BTreeMap::new(),
            contacts: Vec::new(),
            refused: BTreeSet::new(),
            rng: fastrand::Rng::with_seed(seed),
            view,
            view_state: ViewState::Confirmed,
            exchanged: BTreeSet::new(),
            last_failure: None,
            new_node: false,
            seeds: Vec::new(),
            answered: BTreeSet::new(),
            members_changed: Instant::now(),
            stats: GossipStats::default(),
        };
        state.refresh_view(Instant::now());
        state
    }

    /// A node starting from `start` (see [`Start`]): it declares itself joining until the node
    /// says it serves ([`State::set_status`]), and knows the members it saved, if any. `wall_ms`
    /// (ms since the Unix epoch) turns the saved tombstones' expiry times into deadlines.
    pub(crate) fn starting(me: LocalMember, cfg: GossipConfig, start: Start, now: Instant, wall_ms: u64) -> State {
        let mut state = State::new(me, cfg);
        state.me.status = MemberStatus::Joining;
        state.view_state = match &start {
            Start::NewCluster => ViewState::Confirmed,
            Start::Saved(_) => ViewState::Saved,
            Start::NewNode | Start::Unknown => ViewState::Unknown,
        };
        state.new_node = start == Start::NewNode;
        if let Start::Saved(saved) = start {
            for (id, generation, expires_ms) in saved.forgotten {
                let left = Duration::from_millis(expires_ms.saturating_sub(wall_ms)).min(state.cfg.tombstone_ttl);
                if !left.is_zero() {
                    state.add_tombstone(id, generation, now + left);
                }
            }
            for mut rec in saved.records {
                let id = rec.member.id;
                let foreign = rec.member.replicas != state.me.member.replicas;
                if id == state.me.member.id || state.tombstoned(&id, rec.member.generation) || foreign {
                    continue;
                }
                // Known from disk only: not evidence that the member serves, nor of what it suspects.
                (rec.heartbeat, rec.status) = (0, MemberStatus::Joining);
                rec.suspects.clear();
                if state.peers.len() + 1 < MAX_MEMBERS {
                    state.peers.insert(id, Peer { record: rec, last_advance: now, probe_failures: 0 });
                }
            }
        }
        state.maybe_confirm();
        state.refresh_view(now);
        state
    }

    /// How far this node's view is confirmed.
    pub(crate) fn view_state(&self) -> ViewState {
        self.view_state
    }

    /// What the node reports while it waits for its view to be confirmed.
    pub(crate) fn join_report(&self) -> JoinReport {
        JoinReport {
            view: self.view_state,
            members: self.peers.len() + 1,
            exchanged: self.exchanged.iter().filter(|id| self.peers.contains_key(*id)).count(),
            last_failure: self.last_failure.as_ref().map(|(a, why)| format!("{a}: {why}")),
        }
    }

    /// The membership to save: every other member as last known (heartbeat 0, status joining)
    /// and the forgotten ones with their expiry time in ms since the Unix epoch.
    pub(crate) fn saved(&self, now: Instant, wall_ms: u64) -> Saved {
        let records = self
            .peers
            .values()
            .map(|p| Record { heartbeat: 0, status: MemberStatus::Joining, suspects: Vec::new(), ..p.record.clone() })
            .collect();
        let forgotten = self
            .tombstones
            .iter()
            .map(|(id, (g, expires))| {
                let left = u64::try_from(expires.saturating_duration_since(now).as_millis()).unwrap_or(u64::MAX);
                (*id, *g, wall_ms.saturating_add(left))
            })
            .collect();
        Saved { records, forgotten }
    }

    /// This node's generation.
    pub(crate) fn generation(&self) -> u64 {
        self.me.member.generation
    }

    /// An exchange with `from` completed: this node now holds every record `from` held (a
    /// `SynAck` carries each record the asker lacks or holds older). The view is confirmed when
    /// `from` serves — a serving member's view was confirmed itself, so it knows every member that
    /// finished joining — or, for a node that started from its saved membership, once it has
    /// exchanged with a majority of the members it knows (itself included), which is how a cluster
    /// restarted all at once, where nobody serves yet, confirms.
    fn confirm_by(&mut self, from: NodeId) {
        if self.view_state == ViewState::Confirmed {
            return;
        }
        self.exchanged.insert(from);
        if self.peers.get(&from).is_some_and(|p| p.record.status == MemberStatus::Up) {
            self.view_state = ViewState::Confirmed;
            return;
        }
        self.maybe_confirm();
    }

    /// The seeds this node gossips with until they are members (the founding rule needs them).
    pub(crate) fn set_seeds(&mut self, seeds: &[SocketAddr]) {
        self.seeds = seeds.to_vec();
    }

    /// The founding rule (see [`ViewState::Confirmed`]): a new node with seeds whose every known
    /// member is new too — generation 1 (the first start of its data directory), not serving —
    /// founds the cluster if it has the smallest id, every seed has answered it and its member
    /// list has not changed for `settle`. A cluster has no data before it is founded, so a member
    /// that shows up later only changes the ring as any join does. Returns whether it founded.
    pub(crate) fn maybe_found(&mut self, now: Instant, settle: Duration) -> bool {
        if self.view_state != ViewState::Unknown || !self.new_node || self.seeds.is_empty() {
            return false;
        }
        let heard_seeds = self.seeds.iter().all(|a| self.answered.contains(a));
        let settled = now.saturating_duration_since(self.members_changed) >= settle;
        let me = self.me.member.id;
        let all_new = self
            .peers
            .values()
            .all(|p| p.record.member.generation == 1 && p.record.status != MemberStatus::Up && p.record.member.id > me);
        if heard_seeds && settled && all_new && !self.peers.is_empty() {
            self.view_state = ViewState::Confirmed;
            return true;
        }
        false
    }

    /// The majority rule of [`State::confirm_by`] (a saved membership of this node alone is
    /// confirmed at once).
    fn maybe_confirm(&mut self) {
        if self.view_state != ViewState::Saved {
            return;
        }
        let exchanged = self.exchanged.iter().filter(|id| self.peers.contains_key(*id)).count();
        if (exchanged + 1) * 2 > self.peers.len() + 1 {
            self.view_state = ViewState::Confirmed;
        }
    }

    pub(crate) fn view(&self) -> Arc<ClusterView> {
        Arc::clone(&self.view)
    }

    fn is_suspect(&self, peer: &Peer, now: Instant) -> bool {
        now.saturating_duration_since(peer.last_advance) > self.cfg.suspect_after
            || peer.probe_failures >= self.cfg.probe_failures
    }

    fn tombstoned(&self, id: &NodeId, generation: u64) -> bool {
        self.tombstones.get(id).is_some_and(|(g, _)| generation <= *g)
    }

    fn record(&self, id: &NodeId) -> Option<&Record> {
        if *id == self.me.member.id {
            Some(&self.me)
        } else {
            self.peers.get(id).map(|p| &p.record)
        }
    }

    /// One gossip round starts: bump the heartbeat, publish current suspicions, expire tombstones.
    pub(crate) fn tick(&mut self, now: Instant) {
        self.me.heartbeat += 1;
        self.me.suspects = self
            .peers
            .iter()
            .filter(|(_, p)| self.is_suspect(p, now))
            .map(|(id, p)| (*id, p.record.member.generation))
            .collect();
        self.tombstones.retain(|_, (_, expires)| *expires > now);
        self.stats.tombstones = self.tombstones.len();
        self.stats.rounds += 1;
    }

    pub(crate) fn set_status(&mut self, status: MemberStatus) {
        if self.me.status != status {
            self.me.status = status;
            self.me.heartbeat += 1;
        }
    }

    pub(crate) fn meet(&mut self, addr: SocketAddr) {
        if addr != self.me.member.cluster_addr && !self.contacts.contains(&addr) && self.contacts.len() < MAX_CONTACTS {
            self.contacts.push(addr);
        }
    }

    /// The addresses to gossip with this round.
    pub(crate) fn targets(&mut self, seeds: &[SocketAddr], now: Instant) -> Vec<SocketAddr> {
        let (mut healthy, mut suspected) = (Vec::new(), Vec::new());
        for p in self.peers.values() {
            let list = if self.is_suspect(p, now) { &mut suspected } else { &mut healthy };
            list.push(p.record.member.cluster_addr);
        }
        self.rng.shuffle(&mut healthy);
        let fanout = if self.view_state == ViewState::Confirmed {
            self.cfg.fanout
        } else {
            MAX_CONFIRM_FANOUT.max(self.cfg.fanout)
        };
        healthy.truncate(fanout);
        if !suspected.is_empty() {
            healthy.push(suspected[self.rng.usize(..suspected.len())]);
        }
        let known = |a: &SocketAddr| {
            *a == self.me.member.cluster_addr || self.peers.values().any(|p| p.record.member.cluster_addr == *a)
        };
        let unknown_seeds = seeds.iter().filter(|a| !known(a));
        healthy.extend(self.contacts.iter().chain(unknown_seeds).copied());
        healthy.sort_unstable();
        healthy.dedup();
        healthy
    }

    /// Every other member's address (at most [`MAX_CONFIRM_FANOUT`]).
    pub(crate) fn all_targets(&self) -> Vec<SocketAddr> {
        self.peers.values().map(|p| p.record.member.cluster_addr).take(MAX_CONFIRM_FANOUT).collect()
    }

    pub(crate) fn syn(&self, now: Instant) -> Message {
        let mut digest =
            vec![Digest { id: self.me.member.id, generation: self.me.member.generation, heartbeat: self.me.heartbeat }];
        digest.extend(self.peers.iter().map(|(id, p)| Digest {
            id: *id,
            generation: p.record.member.generation,
            heartbeat: p.record.heartbeat,
        }));
        Message::Syn {
            from: self.me.member.id,
            generation: self.me.member.generation,
            digest,
            tombstones: self.tombstone_list(now),
        }
    }

    /// Answers a Syn: records the sender lacks, and the ids it has newer.
    pub(crate) fn on_syn(&mut self, msg: Message, now: Instant) -> Result<Message, GossipError> {
        let Message::Syn { from, generation, digest, tombstones } = msg else {
            return Err(GossipError::Unexpected);
        };
        self.check_sender(from, generation)?;
        self.merge_tombstones(&tombstones, now);
        let theirs: HashMap<NodeId, (u64, u64)> = digest.iter().map(|d| (d.id, (d.generation, d.heartbeat))).collect();
        let all = std::iter::once(&self.me).chain(self.peers.values().map(|p| &p.record));
        let records = budgeted(all.filter(|r| theirs.get(&r.member.id).is_none_or(|k| r.key() > *k)));
        let want = digest
            .iter()
            .filter(|d| d.id != self.me.member.id && !self.tombstoned(&d.id, d.generation))
            .filter(|d| self.peers.get(&d.id).is_none_or(|p| (d.generation, d.heartbeat) > p.record.key()))
            .map(|d| d.id)
            .collect();
        let (me, my_gen) = (self.me.member.id, self.me.member.generation);
        Ok(Message::SynAck { from: me, generation: my_gen, records, want, tombstones: self.tombstone_list(now) })
    }

    /// Takes the answer to our Syn sent to `addr`; returns the Ack to send back, if any.
    pub(crate) fn on_syn_ack(
        &mut self,
        addr: SocketAddr,
        msg: Message,
        now: Instant,
    ) -> Result<Option<Message>, GossipError> {
        let Message::SynAck { from, generation, records, want, tombstones } = msg else {
            return Err(GossipError::Unexpected);
        };
        self.contacts.retain(|a| *a != addr);
        self.check_sender(from, generation)?;
        if self.seeds.contains(&addr) {
            self.answered.insert(addr);
        }
        self.merge_tombstones(&tombstones, now);
        self.merge_records(records, now);
        if let Some(peer) = self.peers.get_mut(&from) {
            if peer.record.member.generation <= generation {
                peer.probe_failures = 0;
            }
        }
        self.last_failure = None;
        self.confirm_by(from);
        if want.is_empty() {
            return Ok(None);
        }
        let records = budgeted(want.iter().filter_map(|id| self.record(id)));
        Ok(Some(Message::Ack { from: self.me.member.id, generation: self.me.member.generation, records }))
    }

    pub(crate) fn on_ack(&mut self, msg: Message, now: Instant) -> Result<(), GossipError> {
        let Message::Ack { from, generation, records } = msg else {
            return Err(GossipError::Unexpected);
        };
        self.check_sender(from, generation)?;
        self.merge_records(records, now);
        Ok(())
    }

    /// A direct exchange with `addr` failed because of `why`.
    pub(crate) fn probe_failed(&mut self, addr: SocketAddr, why: String) {
        self.last_failure = Some((addr, why));
        for p in self.peers.values_mut().filter(|p| p.record.member.cluster_addr == addr) {
            p.probe_failures = p.probe_failures.saturating_add(1);
        }
    }

    pub(crate) fn report_unreachable(&mut self, id: &NodeId) {
        if let Some(p) = self.peers.get_mut(id) {
            p.probe_failures = p.probe_failures.saturating_add(1);
        }
    }

    pub(crate) fn forget(&mut self, id: &NodeId, now: Instant) -> bool {
        let Some(peer) = self.peers.remove(id) else { return false };
        self.add_tombstone(*id, peer.record.member.generation, now + self.cfg.tombstone_ttl);
        self.members_changed = now;
        self.maybe_confirm();
        true
    }

    fn check_sender(&mut self, from: NodeId, generation: u64) -> Result<(), GossipError> {
        if self.tombstoned(&from, generation) {
            return Err(GossipError::Forgotten(from));
        }
        Ok(())
    }

    fn tombstone_list(&self, now: Instant) -> Vec<Tombstone> {
        let ttl =
            |expires: &Instant| u64::try_from(expires.saturating_duration_since(now).as_millis()).unwrap_or(u64::MAX);
        self.tombstones
            .iter()
            .map(|(id, (generation, expires))| Tombstone { id: *id, generation: *generation, ttl_ms: ttl(expires) })
            .collect()
    }

    fn merge_tombstones(&mut self, tombstones: &[Tombstone], now: Instant) {
        for t in tombstones {
            let ttl = Duration::from_millis(t.ttl_ms).min(self.cfg.tombstone_ttl);
            self.add_tombstone(t.id, t.generation, now + ttl);
        }
    }

    fn add_tombstone(&mut self, id: NodeId, generation: u64, expires: Instant) {
        if self.tombstones.get(&id).is_some_and(|(g, _)| *g >= generation) {
            return;
        }
        if !self.tombstones.contains_key(&id) && self.tombstones.len() >= MAX_MEMBERS {
            let oldest = self.tombstones.iter().min_by_key(|(_, (_, e))| *e).map(|(id, _)| *id);
            if let Some(oldest) = oldest {
                self.tombstones.remove(&oldest);
            }
        }
        self.tombstones.insert(id, (generation, expires));
        if id == self.me.member.id && generation >= self.me.member.generation {
            self.stats.forgotten_self = true;
        }
        if self.peers.get(&id).is_some_and(|p| p.record.member.generation <= generation) {
            self.peers.remove(&id);
        }
        self.stats.tombstones = self.tombstones.len();
    }

    fn merge_records(&mut self, records: Vec<Record>, now: Instant) {
        for rec in records {
            let id = rec.member.id;
            if id == self.me.member.id || self.tombstoned(&id, rec.member.generation) {
                continue;
            }
            if rec.member.replicas != self.me.member.replicas {
                self.refuse(&rec.member);
                continue;
            }
            let room = self.peers.len() + 1 < MAX_MEMBERS;
            match self.peers.get_mut(&id) {
                Some(peer) if rec.key() > peer.record.key() => {
                    if rec.member.generation > peer.record.member.generation {
                        peer.probe_failures = 0;
                    }
                    peer.record = rec;
                    peer.last_advance = now;
                    self.stats.records_merged += 1;
                }
                Some(_) => {}
                None if room => {
                    self.peers.insert(id, Peer { record: rec, last_advance: now, probe_failures: 0 });
                    self.stats.records_merged += 1;
                    self.members_changed = now;
                }
                None => self.stats.messages_rejected += 1,
            }
        }
    }

    /// Keeps a member whose `replicas` differs from ours out of the cluster (and drops an older
    /// incarnation of it that was in).
    fn refuse(&mut self, m: &LocalMember) {
        if self.peers.get(&m.id).is_some_and(|p| p.record.member.generation <= m.generation) {
            self.peers.remove(&m.id);
        }
        if self.refused.contains(&(m.id, m.generation)) {
            return;
        }
        if self.refused.len() >= MAX_MEMBERS {
            self.refused.pop_first();
        }
        self.refused.insert((m.id, m.generation));
        self.stats.members_refused += 1;
        tracing::warn!(
            member = %m.id,
            addr = %m.cluster_addr,
            their_replicas = m.replicas,
            our_replicas = self.me.member.replicas,
            "refusing member: its replicas (N) differs from this node's; every member of a cluster must use the same replicas"
        );
    }

    /// Recomputes the view; returns it when something visible changed (the epoch then grew).
    pub(crate) fn refresh_view(&mut self, now: Instant) -> Option<Arc<ClusterView>> {
        let suspect: BTreeMap<NodeId, bool> = self.peers.iter().map(|(id, p)| (*id, self.is_suspect(p, now))).collect();
        // Observers: me plus every peer I do not suspect. Count their suspicions of the current generation.
        let mut counts: HashMap<NodeId, usize> = HashMap::new();
        let mut observers = 1;
        for (id, is_suspect) in &suspect {
            if *is_suspect {
                *counts.entry(*id).or_default() += 1;
            }
        }
        for p in self.peers.values().filter(|p| !suspect.get(&p.record.member.id).copied().unwrap_or(true)) {
            observers += 1;
            for (target, generation) in &p.record.suspects {
                if self.record(target).is_some_and(|r| r.member.generation == *generation) {
                    *counts.entry(*target).or_default() += 1;
                }
            }
        }
        let view_of = |rec: &Record, suspected_by_me: bool, target_observes: bool| {
            let suspected_by = counts.get(&rec.member.id).copied().unwrap_or(0);
            let others = observers - usize::from(target_observes);
            let needed = self.cfg.down_quorum.min(others).max(1);
            let health = if rec.member.id == self.me.member.id {
                Health::Up
            } else if suspected_by >= needed {
                Health::Down
            } else if suspected_by_me {
                Health::Suspect
            } else {
                Health::Up
            };
            MemberView { member: rec.member.clone(), status: rec.status, health, suspected_by_me, suspected_by }
        };
        let mut members: Vec<MemberView> = self
            .peers
            .iter()
            .map(|(id, p)| {
                let by_me = suspect.get(id).copied().unwrap_or(false);
                view_of(&p.record, by_me, !by_me)
            })
            .collect();
        let mine = view_of(&self.me, false, true);
        let at = members.partition_point(|m| m.member.id < self.me.member.id);
        members.insert(at, mine);
        if members == self.view.members {
            return None;
        }
        self.view = Arc::new(ClusterView { epoch: self.view.epoch + 1, me: self.me.member.id, members });
        self.stats.epoch = self.view.epoch;
        Some(self.view())
    }
}

/// Clones records until the next one would exceed the message budget.
fn budgeted<'a>(records: impl Iterator<Item = &'a Record>) -> Vec<Record> {
    let mut left = RECORD_BUDGET;
    let mut out = Vec::new();
    for r in records {
        let len = r.encoded_len();
        if len > left || out.len() >= MAX_MEMBERS {
            break;
        }
        left -= len;
        out.push(r.clone());
    }
    out
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
