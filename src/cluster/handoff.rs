//! Hinted handoff, delivery side: a background worker that hands the hints this node keeps
//! (`coordinator::hints`) to their targets once they are reachable again.
//!
//! Every tick, and at once when membership publishes a change, the worker walks the targets with
//! pending hints. A target is tried when this node's view says it is up, and — in case gossip is
//! slow to say so — at most every [`PROBE_EVERY`] while it is not (an RPC that succeeds is as good
//! a sign as gossip). Hints go in pages of [`PAGE`] as ordinary `Replicate` requests, which the
//! target *merges* into its copy by version (never a blind overwrite, so a hint for a key that was
//! overwritten meanwhile changes nothing there). A hint is deleted only after the target's ack —
//! which it sends after its durability commit — and only if no newer version was merged into the
//! hint meanwhile. Hints older than the age bound are discarded and counted instead of delivered.
//!
//! Replay is throttled to `hint-replay-rate` keys per second so that a node coming back after a
//! long outage does not take the foreground's latency with it. Once a target is drained, the hints
//! space is compacted (on a blocking thread) so its disk use shrinks. Everything the worker needs
//! is on disk, so it resumes after a restart of either side.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::messages::{KeyVersion, Request, Response};
use super::Cluster;
use crate::coordinator::Hint;
use crate::version::NodeId;
use crate::workers::Beat;

/// Hints per delivery request.
pub const PAGE: usize = 64;

/// How often an unreachable-looking target is tried anyway.
pub const PROBE_EVERY: Duration = Duration::from_secs(5);

/// Pause between rounds when nothing woke the worker.
const TICK: Duration = Duration::from_millis(500);

/// Runs until `shutdown` turns true.
pub async fn run(cluster: Arc<Cluster>, mut shutdown: watch::Receiver<bool>, beat: Beat) {
    let mut views = cluster.membership().subscribe();
    let mut last_try: HashMap<NodeId, Instant> = HashMap::new();
    let mut delivered_since_compaction = false;
    loop {
        let worked = round(&cluster, &mut last_try, &mut shutdown).await;
        delivered_since_compaction |= worked;
        beat.ran();
        if *shutdown.borrow() {
            return;
        }
        if delivered_since_compaction && cluster.coord.hint_targets().is_empty() {
            delivered_since_compaction = false;
            let coord = Arc::clone(&cluster.coord);
            match tokio::task::spawn_blocking(move || coord.compact_hints()).await {
                Ok(Ok(())) => tracing::debug!("hints space compacted"),
                Ok(Err(e)) => tracing::warn!(error = %e, "hints compaction failed"),
                Err(e) => tracing::warn!(error = %e, "hints compaction task failed"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = views.changed() => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One pass over every target with pending hints; whether anything was delivered or discarded.
async fn round(
    cluster: &Arc<Cluster>,
    last_try: &mut HashMap<NodeId, Instant>,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    let mut worked = false;
    for target in cluster.coord.hint_targets() {
        let topo = cluster.topology();
        let Some(peer) = topo.peer(&target.target) else { continue };
        let now = Instant::now();
        let due = last_try.get(&target.target).is_none_or(|t| now.duration_since(*t) >= PROBE_EVERY);
        if !peer.healthy && !due {
            continue;
        }
        last_try.insert(target.target, now);
        let addr = peer.member.cluster_addr;
        match drain(cluster, &target.target, addr, shutdown).await {
            Ok(n) => {
                worked |= n > 0;
                last_try.remove(&target.target);
            }
            Err(n) => worked |= n > 0,
        }
        if *shutdown.borrow() {
            break;
        }
    }
    worked
}

/// Delivers every hint for `target`, page by page, at the replay rate. `Ok(hints handled)` when
/// the target is drained, `Err(hints handled)` when it stopped answering.
async fn drain(
    cluster: &Arc<Cluster>,
    target: &NodeId,
    addr: std::net::SocketAddr,
    shutdown: &watch::Receiver<bool>,
) -> Result<usize, usize> {
    let coord = &cluster.coord;
    let rate = f64::from(cluster.settings.hint_replay_rate.max(1));
    let max_age = coord.hint_limits().max_age_ms;
    let mut handled = 0usize;
    let mut after = Vec::new();
    loop {
        if *shutdown.borrow() {
            return Err(handled);
        }
        let (page, next) = match coord.hint_page(target, &after, PAGE) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read hints");
                return Err(handled);
            }
        };
        let now = coord.now_ms();
        let (expired, live): (Vec<Hint>, Vec<Hint>) =
            page.into_iter().partition(|h| now.saturating_sub(h.created_ms) > max_age);
        for h in &expired {
            if coord.hint_expired(h).unwrap_or(false) {
                handled += 1;
            }
        }
        if !live.is_empty() {
            let started = Instant::now();
            let versions = live.iter().map(|h| KeyVersion { key: h.key.clone(), set: h.set.clone() }).collect();
            match cluster.call(addr, &Request::Replicate(versions)).await {
                Ok(Response::Ack) => {
                    for h in &live {
                        match coord.hint_delivered(h) {
                            Ok(true) => handled += 1,
                            Ok(false) => {}
                            Err(e) => tracing::warn!(error = %e, "cannot remove a delivered hint"),
                        }
                    }
                    cluster.stats.hints_replayed.fetch_add(live.len() as u64, Ordering::Relaxed);
                }
                other => {
                    tracing::debug!(target = %target, answer = ?other.err(), "hint delivery failed");
                    return Err(handled);
                }
            }
            // Throttle: this page may take live.len() / rate seconds in all.
            let budget = Duration::from_secs_f64(live.len() as f64 / rate);
            tokio::time::sleep(budget.saturating_sub(started.elapsed())).await;
        }
        match next {
            Some(n) => after = n,
            None => return Ok(handled),
        }
    }
}
