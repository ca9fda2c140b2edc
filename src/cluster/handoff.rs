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
//! A target refuses the versions of slots it holds no replica of in its view. A hint it refuses
//! stays while this node's view still names the target a replica of the key (the two views differ
//! for a moment: the next round tries again); otherwise — the ring moved, or the target was
//! forgotten (`CLUSTER FORGET`) — the hint is **moved**: merged here when this node is now one of
//! the key's replicas, hinted for the others, and then removed (`hints_moved`). So a hint is never
//! dropped because its target stopped being the key's replica.
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
use crate::coordinator::{CoordError, Hint, HintOutcome};
use crate::version::{codec, NodeId};
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
    if !cluster.ready() {
        // Which node replicates what is not settled here yet.
        return false;
    }
    for target in cluster.coord.hint_targets() {
        let topo = cluster.topology();
        let Some(peer) = topo.peer(&target.target) else {
            // Forgotten: its hints go to the keys' replicas.
            worked |= move_all(cluster, &target.target).await > 0;
            continue;
        };
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
            let taken = match cluster.call(addr, &Request::Replicate(versions)).await {
                Ok(Response::Ack) => vec![true; live.len()],
                Ok(Response::Stored(taken)) if taken.len() == live.len() => taken,
                other => {
                    tracing::debug!(target = %target, answer = ?other.err(), "hint delivery failed");
                    return Err(handled);
                }
            };
            let mut kept = 0;
            for (h, ok) in live.iter().zip(taken) {
                let removed = if ok {
                    cluster.stats.hints_replayed.fetch_add(1, Ordering::Relaxed);
                    coord.hint_delivered(h)
                } else {
                    move_hint(cluster, target, h).await
                };
                match removed {
                    Ok(true) => handled += 1,
                    Ok(false) => kept += usize::from(!ok),
                    Err(e) => tracing::warn!(error = %e, "cannot remove a delivered hint"),
                }
            }
            if kept > 0 {
                // The target and this node disagree on who replicates those keys: later.
                return Err(handled);
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

/// Moves every hint kept for `target`, a node no longer in the cluster; how many moved.
async fn move_all(cluster: &Arc<Cluster>, target: &NodeId) -> usize {
    let mut moved = 0;
    let mut after = Vec::new();
    loop {
        let (page, next) = match cluster.coord.hint_page(target, &after, PAGE) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read hints");
                return moved;
            }
        };
        for h in &page {
            match move_hint(cluster, target, h).await {
                Ok(true) => moved += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "cannot move a hint"),
            }
        }
        match next {
            Some(n) => after = n,
            None => return moved,
        }
    }
}

/// Moves the hint `h` kept for `target` to the key's replicas in this node's view, when `target`
/// is not one of them any more: merged here if this node is one, hinted for the others, then
/// removed. Whether it was moved (false: `target` still is a replica here, or a new hint was
/// refused by its bound — the hint stays).
async fn move_hint(cluster: &Arc<Cluster>, target: &NodeId, h: &Hint) -> Result<bool, CoordError> {
    let topo = cluster.topology();
    let slot = crate::storage::keys::slot_of(&h.key);
    if topo.primaries(slot).any(|p| p.member.id == *target) {
        return Ok(false);
    }
    let set = codec::decode(&h.set)?;
    let coord = &cluster.coord;
    for p in topo.primaries(slot) {
        if p.member.id == topo.me() {
            coord.merge(&h.key, &set)?;
        } else if coord.store_hint(p.member.id, &h.key, &set)? == HintOutcome::Dropped {
            return Ok(false);
        }
    }
    // The moved versions are as durable as the hint was before it is removed.
    if let Err(e) = coord.durability().commit().await {
        tracing::warn!(error = %e, "durability commit failed; the hint stays");
        return Ok(false);
    }
    coord.hint_moved(h)
}
