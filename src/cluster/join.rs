//! When a node may coordinate (the `join` worker, started by `peer/start.rs`).
//!
//! A cluster node coordinates requests and takes replica writes only once
//!
//! 1. its **view of the members is confirmed** ([`ViewState::Confirmed`]): it is the first node
//!    of a new cluster, or an exchange with a member that serves brought it every member that
//!    member knew, or — having started from the membership it saved — it exchanged with a
//!    majority of its members (a whole cluster restarted at once, where nobody serves yet). There
//!    is **no timeout** on this: a node whose seeds never answer, or answer with another secret,
//!    never coordinates as a cluster of one; it keeps forwarding what it can and answering
//!    `-TRYAGAIN` for the rest, and says why — every [`LOG_EVERY`] in the log, always in
//!    `INFO cluster` ([`not_ready_reason`]);
//! 2. the clocks of the other live members (up to [`READY_VOTES`]) have voted for its cluster time
//!    (so that a node started with a wrong wall clock never stamps a write with it), or `patience`
//!    has passed since 1 (a member that does not answer must not keep it waiting for ever).
//!
//! Then it declares itself up in gossip (members route to it from then on: a joining member is
//! not healthy in their topology) and the worker stops. Every round it asks the other members for
//! their clocks (every answer carries one) rather than waiting for gossip to come round to each;
//! a member that cannot be reached is reported, so the failure detector stops counting on it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::sync::watch;
use tokio::time::Instant;

use super::messages::Request;
use super::Cluster;
use crate::membership::{MemberStatus, ViewState};
use crate::workers::Beat;

/// Peer clocks a node waits for before it coordinates: every other live member's, up to this many
/// (with its own, five votes outvote two wrong clocks).
pub const READY_VOTES: usize = 4;

/// How often a node that cannot coordinate yet says why in the log.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// Runs until the node may coordinate (then it is marked ready and declared up) or `shutdown`.
pub async fn run(
    cluster: Arc<Cluster>,
    seeds: Vec<SocketAddr>,
    patience: Duration,
    mut shutdown: watch::Receiver<bool>,
    beat: Beat,
) {
    let started = Instant::now();
    let mut confirmed_at: Option<Instant> = None;
    let mut logged: Option<Instant> = None;
    loop {
        beat.ran();
        let now = Instant::now();
        if cluster.membership().confirmed() {
            let since = *confirmed_at.get_or_insert(now);
            let (votes, needed) = clock_votes(&cluster);
            if votes >= needed || now.duration_since(since) >= patience {
                if votes < needed {
                    tracing::warn!(votes, needed, "coordinating without the clocks of every other member");
                }
                save(&cluster).await;
                cluster.set_ready(true);
                cluster.membership().set_status(MemberStatus::Up);
                tracing::info!("membership confirmed: this node coordinates");
                // The members route to it once they know it serves: tell them now.
                tokio::select! {
                    _ = cluster.membership().gossip_now() => {}
                    _ = shutdown.wait_for(|s| *s) => {}
                }
                return;
            }
        }
        if logged.is_none_or(|t| now.duration_since(t) >= LOG_EVERY) && now.duration_since(started) > LOG_GRACE {
            logged = Some(now);
            tracing::warn!("not coordinating yet: {}", not_ready_reason(&cluster, &seeds));
        }
        let topo = cluster.topology();
        let others: Vec<_> = topo.peers().iter().filter(|p| p.member.id != topo.me()).cloned().collect();
        let pings = others.iter().map(|p| async {
            if cluster.call(p.member.cluster_addr, &Request::Ping).await.is_err() {
                cluster.membership().report_unreachable(&p.member.id);
            }
        });
        tokio::select! {
            _ = join_all(pings) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// A node that becomes ready within this long after it started says nothing in the log.
const LOG_GRACE: Duration = Duration::from_secs(2);

/// `(peer clocks voting, peer clocks wanted)`: every other member that is not suspected or down,
/// up to [`READY_VOTES`].
fn clock_votes(cluster: &Cluster) -> (usize, usize) {
    let topo = cluster.topology();
    let live = topo.peers().iter().filter(|p| p.member.id != topo.me() && p.alive).count();
    (cluster.clock().peer_votes(), live.min(READY_VOTES))
}

/// Saves the membership now that it is confirmed (on a blocking thread: a write and two syncs).
pub async fn save(cluster: &Arc<Cluster>) {
    let membership = Arc::clone(cluster.membership());
    match tokio::task::spawn_blocking(move || membership.save()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "cannot save the membership"),
        Err(e) => tracing::error!(error = %e, "saving the membership failed"),
    }
}

/// Why a node does not coordinate yet, in a sentence (`INFO cluster`, the log); empty when it does.
pub fn not_ready_reason(cluster: &Cluster, seeds: &[impl ToString]) -> String {
    if cluster.ready() {
        return String::new();
    }
    let report = cluster.membership().join_report();
    let failure = report.last_failure.map(|f| format!("; last failed exchange: {f}")).unwrap_or_default();
    match report.view {
        ViewState::Unknown if seeds.is_empty() => format!(
            "it knows no member of its cluster (no saved membership, no seeds): waiting for a member to contact it \
             (start it with --seed <a member's cluster address>, or CLUSTER MEET it from a member){failure}"
        ),
        ViewState::Unknown => format!(
            "waiting for a member that serves to answer (seeds {}; when every member is new, the one with the \
             smallest id founds the cluster once all its seeds answered){failure}",
            seeds.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        ),
        ViewState::Saved => format!(
            "confirming its saved membership: exchanged with {} of the {} other members; it needs one that serves, \
             or a majority{failure}",
            report.exchanged,
            report.members.saturating_sub(1)
        ),
        ViewState::Confirmed => {
            let (votes, needed) = clock_votes(cluster);
            format!("waiting for the clocks of the other members ({votes} of {needed} voted)")
        }
    }
}
