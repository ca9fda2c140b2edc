//! Offloading (Garage's word): a node that finds data for slots it does not replicate hands it to
//! those slots' replicas and then drops its copy, so a value stored outside its replicas — by a
//! node that placed keys on a partial view of the members before that was fixed, by a ring
//! change, or by any future bug — heals by itself instead of sitting where no read looks for it.
//!
//! The `offload` worker wakes every `offload-interval-ms` and, once this node coordinates and the
//! ring has stayed the same since the previous wake-up (members settle after a change), walks the
//! slots that hold anything here ([`Coordinator::slot_stored`], tombstones included: they carry
//! deletes) and that this node does not replicate in its view. A slot is handed over only when all
//! of its N replicas are healthy here: a page of its versions goes to **every** replica as an
//! ordinary `Replicate` (merged by version there, acknowledged after their durability commit;
//! a replica refuses the slots it does not replicate in its own view), and a key's copy here is
//! dropped only when every replica took it, and only if it is still exactly the version sent
//! (`Coordinator::drop_copy`). So no copy is dropped before N others hold it, and a disagreement
//! between views keeps the data where it is until they agree. Throttled to
//! `offload-keys-per-sec`. Counted in `INFO cartwheel` (`offload_*`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use tokio::sync::watch;
use tokio::time::Instant;

use super::messages::{KeyVersion, Request, Response};
use super::{Cluster, Peer, Topology};
use crate::coordinator::CoordError;
use crate::storage::keys;
use crate::workers::{Beat, Pace};

/// Versions per request.
const PAGE: usize = 64;

/// Runs until `shutdown` turns true (at once when `offload-interval-ms` is 0).
pub async fn run(cluster: Arc<Cluster>, shutdown: watch::Receiver<bool>, beat: Beat) {
    let interval = cluster.settings.offload_interval;
    if interval.is_zero() {
        return;
    }
    let mut pace = Pace::every(interval, shutdown);
    let mut last_placement = None;
    while pace.next().await {
        beat.ran();
        if !cluster.ready() {
            continue;
        }
        let topo = cluster.topology();
        let settled = last_placement == Some(topo.placement());
        last_placement = Some(topo.placement());
        if settled {
            tokio::select! {
                _ = pass(&cluster, &topo) => {}
                _ = pace.stopped() => return,
            }
        }
    }
}

/// One walk over the slots this node holds data of but does not replicate.
pub async fn pass(cluster: &Arc<Cluster>, topo: &Topology) {
    let mut pending = 0u64;
    for slot in 0..keys::SLOTS {
        if cluster.coord.slot_stored(slot) == 0 || topo.is_replica(slot) {
            continue;
        }
        pending += 1;
        if cluster.topology().placement() != topo.placement() {
            // The ring moved under the pass: the next one starts again from the new ring.
            continue;
        }
        let replicas: Vec<&Peer> = topo.primaries(slot).collect();
        if replicas.is_empty() || replicas.iter().any(|p| !p.healthy) {
            continue;
        }
        match hand_over(cluster, slot, &replicas).await {
            Ok(true) => pending -= 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(slot, error = %e, "offload: cannot read or drop this node's copy"),
        }
    }
    cluster.stats.offload_slots_pending.store(pending, Ordering::Relaxed);
    cluster.stats.offload_passes.fetch_add(1, Ordering::Relaxed);
}

/// Hands every version this node holds in `slot` to all of `replicas` and drops the copies they
/// all took; whether the slot is empty here afterwards.
async fn hand_over(cluster: &Arc<Cluster>, slot: u16, replicas: &[&Peer]) -> Result<bool, CoordError> {
    let coord = &cluster.coord;
    let rate = cluster.settings.offload_rate.max(1) as f64;
    let mut after = Bytes::new();
    loop {
        let page = coord.slot_page(slot, &after, PAGE)?;
        let Some((last, _)) = page.last() else { break };
        after = last.clone();
        let started = Instant::now();
        let versions: Vec<KeyVersion> =
            page.iter().map(|(skey, set)| KeyVersion { key: keys::user_key(skey), set: set.clone() }).collect();
        let request = Request::Replicate(versions.clone());
        let answers = join_all(replicas.iter().map(|p| cluster.call(p.member.cluster_addr, &request))).await;
        let mut taken = vec![true; versions.len()];
        for answer in answers {
            match answer {
                Ok(Response::Ack) => {}
                Ok(Response::Stored(s)) if s.len() == taken.len() => {
                    taken.iter_mut().zip(s).for_each(|(t, ok)| *t &= ok);
                }
                _ => taken.iter_mut().for_each(|t| *t = false),
            }
        }
        let stats = &cluster.stats;
        stats.offload_keys_sent.fetch_add(versions.len() as u64, Ordering::Relaxed);
        for (v, ok) in versions.iter().zip(taken) {
            if !ok {
                stats.offload_keys_refused.fetch_add(1, Ordering::Relaxed);
            } else if coord.drop_copy(&v.key, &v.set)? {
                stats.offload_keys_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        let budget = Duration::from_secs_f64(versions.len() as f64 / rate);
        tokio::time::sleep(budget.saturating_sub(started.elapsed())).await;
        if page.len() < PAGE {
            break;
        }
    }
    Ok(coord.slot_stored(slot) == 0)
}
