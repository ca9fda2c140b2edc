//! [`Membership`]: the handle the node owns. It runs the gossip loop over a [`GossipTransport`],
//! answers incoming gossip (the RPC service calls [`Membership::handle`]), takes `CLUSTER MEET`
//! and `CLUSTER FORGET`, and publishes the [`ClusterView`] watch channel the ring subscribes to.
//! The protocol logic lives in `state`; this file only adds the lock, the timers and the I/O.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use super::codec::{Message, MAX_ZONE_LEN};
use super::saved::{self, SaveError, Saved};
use super::state::State;
use super::{
    ClusterView, GossipConfig, GossipError, GossipStats, GossipTransport, JoinReport, LocalMember, MemberStatus, Start,
    ViewState,
};
use crate::version::NodeId;
use crate::workers::Beat;

/// Cluster membership of one node: gossip, failure detection and the published view.
pub struct Membership {
    id: NodeId,
    cfg: GossipConfig,
    transport: Arc<dyn GossipTransport>,
    state: Mutex<State>,
    view_tx: watch::Sender<Arc<ClusterView>>,
    /// Where the membership is saved (`None`: nowhere), and what was saved last.
    save_to: Option<PathBuf>,
    last_saved: Mutex<Option<Saved>>,
}

impl Membership {
    /// Creates the membership of `me` (status [`MemberStatus::Up`]); call [`Membership::run`] to
    /// start gossiping. Fails if the zone is longer than [`MAX_ZONE_LEN`] bytes.
    pub fn new(
        me: LocalMember,
        cfg: GossipConfig,
        transport: Arc<dyn GossipTransport>,
    ) -> Result<Arc<Membership>, GossipError> {
        if me.zone.len() > MAX_ZONE_LEN {
            return Err(GossipError::InvalidLocal(format!("zone longer than {MAX_ZONE_LEN} bytes")));
        }
        let state = State::new(me, cfg.clone());
        Ok(Membership::with_state(state, cfg, transport, None))
    }

    /// Creates the membership of a node starting from `start` (see [`Start`]), saving it in
    /// `save_to` ([`Membership::save`]). The node declares itself [`MemberStatus::Joining`] until
    /// it calls [`Membership::set_status`].
    pub fn starting(
        me: LocalMember,
        cfg: GossipConfig,
        transport: Arc<dyn GossipTransport>,
        start: Start,
        save_to: Option<PathBuf>,
    ) -> Result<Arc<Membership>, GossipError> {
        if me.zone.len() > MAX_ZONE_LEN {
            return Err(GossipError::InvalidLocal(format!("zone longer than {MAX_ZONE_LEN} bytes")));
        }
        let state = State::starting(me, cfg.clone(), start, Instant::now(), wall_ms());
        Ok(Membership::with_state(state, cfg, transport, save_to))
    }

    fn with_state(
        state: State,
        cfg: GossipConfig,
        transport: Arc<dyn GossipTransport>,
        save_to: Option<PathBuf>,
    ) -> Arc<Membership> {
        let id = state.view().me;
        let (view_tx, _) = watch::channel(state.view());
        Arc::new(Membership {
            id,
            cfg,
            transport,
            state: Mutex::new(state),
            view_tx,
            save_to,
            last_saved: Mutex::new(None),
        })
    }

    /// Whether this node's view is confirmed (see [`ViewState`]).
    pub fn confirmed(&self) -> bool {
        self.lock().view_state() == ViewState::Confirmed
    }

    /// Where this node stands with confirming its view.
    pub fn join_report(&self) -> JoinReport {
        self.lock().join_report()
    }

    /// Saves the membership (members and forgotten members) if the view is confirmed and its
    /// members changed since the last save; returns whether it wrote. Blocking file I/O (a write
    /// and two syncs): call it from a blocking thread.
    pub fn save(&self) -> Result<bool, SaveError> {
        let Some(dir) = &self.save_to else { return Ok(false) };
        // Held across the write, so that two saves cannot land in the wrong order.
        let mut last = self.last_saved.lock().unwrap_or_else(PoisonError::into_inner);
        let (saved, generation) = {
            let st = self.lock();
            if st.view_state() != ViewState::Confirmed {
                return Ok(false);
            }
            (st.saved(Instant::now(), wall_ms()), st.generation())
        };
        if last.as_ref().is_some_and(|l| l.same_members(&saved)) {
            return Ok(false);
        }
        saved::store(dir, self.id, generation, &saved)?;
        *last = Some(saved);
        Ok(true)
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// A receiver of every new view (it holds the current one).
    pub fn subscribe(&self) -> watch::Receiver<Arc<ClusterView>> {
        self.view_tx.subscribe()
    }

    /// The current view.
    pub fn view(&self) -> Arc<ClusterView> {
        Arc::clone(&self.view_tx.borrow())
    }

    /// Counters.
    pub fn stats(&self) -> GossipStats {
        self.lock().stats.clone()
    }

    /// Answers an incoming exchange (a Syn; an Ack is also taken and answered with no bytes).
    pub fn handle(&self, _from: SocketAddr, msg: Bytes) -> Result<Bytes, GossipError> {
        let result = Message::decode(&msg).map_err(GossipError::from).and_then(|msg| {
            let mut st = self.lock();
            let now = Instant::now();
            let reply = match msg {
                Message::Ack { .. } => st.on_ack(msg, now).map(|()| Bytes::new()),
                _ => st.on_syn(msg, now).map(|m| m.encode()),
            };
            self.publish(&mut st, now);
            reply
        });
        self.count(&result);
        result
    }

    /// Takes an incoming fire-and-forget message (an Ack); errors are counted and dropped.
    pub fn handle_one_way(&self, _from: SocketAddr, msg: Bytes) {
        let result = Message::decode(&msg).map_err(GossipError::from).and_then(|msg| {
            let mut st = self.lock();
            let now = Instant::now();
            let applied = st.on_ack(msg, now);
            self.publish(&mut st, now);
            applied
        });
        if let Err(e) = &result {
            tracing::debug!(error = %e, "gossip message dropped");
        }
        self.count(&result);
    }

    /// `CLUSTER MEET`: gossip with `addr` every round until it answers.
    pub fn meet(&self, addr: SocketAddr) {
        self.lock().meet(addr);
    }

    /// `CLUSTER FORGET`: removes a member everywhere (see the module doc for the rule). Returns
    /// false for an unknown id or this node itself.
    pub fn forget(&self, id: NodeId) -> bool {
        let mut st = self.lock();
        let now = Instant::now();
        let removed = st.forget(&id, now);
        self.publish(&mut st, now);
        removed
    }

    /// A hint from RPC: a request to `id` failed; counts like a failed gossip probe.
    pub fn report_unreachable(&self, id: &NodeId) {
        let mut st = self.lock();
        st.report_unreachable(id);
        self.publish(&mut st, Instant::now());
    }

    /// Declares this node's own status (gossiped with its next heartbeat).
    pub fn set_status(&self, status: MemberStatus) {
        let mut st = self.lock();
        st.set_status(status);
        self.publish(&mut st, Instant::now());
    }

    /// Gossips every [`GossipConfig::interval`] until `shutdown` turns true (or its sender is
    /// dropped). Seeds not yet known as members are contacted every round.
    pub async fn run(self: Arc<Self>, seeds: Vec<SocketAddr>, mut shutdown: watch::Receiver<bool>, beat: Beat) {
        self.lock().set_seeds(&seeds);
        let mut ticker = tokio::time::interval(self.cfg.interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            if *shutdown.borrow() {
                break;
            }
            tokio::select! {
                _ = ticker.tick() => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    continue;
                }
            }
            let (targets, syn) = {
                let mut st = self.lock();
                let now = Instant::now();
                st.tick(now);
                if st.maybe_found(now, self.cfg.interval * 2) {
                    tracing::info!(
                        "every member found is new: this node, the one with the smallest id, founds the cluster"
                    );
                }
                self.publish(&mut st, now);
                (st.targets(&seeds, now), st.syn(now).encode())
            };
            let mut round = JoinSet::new();
            for addr in targets {
                round.spawn(Arc::clone(&self).exchange_with(addr, syn.clone()));
            }
            while round.join_next().await.is_some() {}
            beat.ran();
        }
    }

    /// One gossip round now with every member this node knows (at most 32), outside the
    /// schedule: after a change of its own record (it serves now) the others learn it within a
    /// round trip instead of a gossip interval.
    pub async fn gossip_now(self: &Arc<Self>) {
        let (targets, syn) = {
            let st = self.lock();
            let now = Instant::now();
            (st.all_targets(), st.syn(now).encode())
        };
        let mut round = JoinSet::new();
        for addr in targets {
            round.spawn(Arc::clone(self).exchange_with(addr, syn.clone()));
        }
        while round.join_next().await.is_some() {}
    }

    /// One push-pull exchange with `addr`, bounded by the probe timeout.
    async fn exchange_with(self: Arc<Self>, addr: SocketAddr, syn: Bytes) {
        let reply = tokio::time::timeout(self.cfg.probe_timeout, self.transport.exchange(addr, syn)).await;
        let reply = match reply {
            Ok(Ok(bytes)) => Message::decode(&bytes).map_err(GossipError::from),
            Ok(Err(reason)) => {
                tracing::debug!(%addr, %reason, "gossip exchange failed");
                return self.failed(addr, reason);
            }
            Err(_) => {
                tracing::debug!(%addr, "gossip exchange timed out");
                return self.failed(addr, "no answer".into());
            }
        };
        let ack = {
            let mut st = self.lock();
            let now = Instant::now();
            let ack = reply.and_then(|msg| st.on_syn_ack(addr, msg, now));
            if ack.is_ok() {
                st.stats.exchanges_ok += 1;
            }
            self.publish(&mut st, now);
            ack
        };
        match ack {
            Ok(Some(ack)) => self.transport.send(addr, ack.encode()),
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(%addr, error = %e, "bad gossip reply");
                self.failed(addr, e.to_string());
            }
        }
    }

    fn failed(&self, addr: SocketAddr, why: String) {
        let mut st = self.lock();
        st.stats.exchanges_failed += 1;
        st.probe_failed(addr, why);
        self.publish(&mut st, Instant::now());
    }

    fn count<T>(&self, result: &Result<T, GossipError>) {
        let mut st = self.lock();
        match result {
            Ok(_) => st.stats.messages_in += 1,
            Err(_) => st.stats.messages_rejected += 1,
        }
    }

    /// Publishes the view if something visible changed (called with the lock held, so views are
    /// published in epoch order).
    fn publish(&self, st: &mut MutexGuard<'_, State>, now: Instant) {
        if let Some(view) = st.refresh_view(now) {
            self.view_tx.send_replace(view);
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Wall-clock ms since the Unix epoch (the saved tombstones' expiry times).
fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
