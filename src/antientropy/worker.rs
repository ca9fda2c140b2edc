//! The `anti_entropy` worker: builds the trees, then every `aae-interval-ms` exchanges with the
//! next healthy peer it shares slots with (round robin), within the keys/s and bytes/s budget.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::watch;

use super::budget::Budget;
use super::exchange::{exchange, ExchangeError, Outcome};
use super::AntiEntropy;
use crate::cluster::{Cluster, Peer};
use crate::storage::Snapshot;
use crate::workers::{Beat, Pace};

/// Runs until `shutdown` turns true.
pub async fn run(
    ae: Arc<AntiEntropy>,
    cluster: Arc<Cluster>,
    snapshot: Box<dyn Snapshot>,
    mut shutdown: watch::Receiver<bool>,
    beat: Beat,
) {
    ae.build(snapshot, &mut shutdown).await;
    beat.ran();
    let interval = ae.settings.interval;
    if interval.is_zero() {
        // Exchanges only when asked (`KV.AAE EXCHANGE`); the trees stay current.
        let _ = shutdown.wait_for(|s| *s).await;
        return;
    }
    let mut bytes = Budget::new(ae.settings.bytes_per_sec);
    let mut pace = Pace::every(interval, shutdown);
    let mut turn = 0usize;
    while pace.next().await {
        if cluster.ready() {
            let peers = partners(&cluster);
            if !peers.is_empty() {
                let peer = &peers[turn % peers.len()];
                turn = turn.wrapping_add(1);
                tokio::select! {
                    _ = exchange_with(&ae, &cluster, peer, &mut bytes) => {}
                    _ = pace.stopped() => return,
                }
            }
        }
        beat.ran();
    }
}

/// The healthy peers this node shares slots with, in a stable order.
pub fn partners(cluster: &Cluster) -> Vec<Peer> {
    let topo = cluster.topology();
    let me = topo.me();
    let mut shares: std::collections::BTreeSet<crate::version::NodeId> = Default::default();
    for slot in 0..crate::storage::keys::SLOTS {
        let ids: Vec<_> = topo.primaries(slot).map(|p| p.member.id).collect();
        if ids.contains(&me) {
            shares.extend(ids.into_iter().filter(|id| *id != me));
        }
    }
    let mut peers: Vec<Peer> =
        topo.peers().iter().filter(|p| p.healthy && shares.contains(&p.member.id)).cloned().collect();
    peers.sort_by_key(|p| p.member.id);
    peers
}

/// One exchange with `peer`, recorded in the node's counters and rounds.
pub async fn exchange_with(
    ae: &AntiEntropy,
    cluster: &Cluster,
    peer: &Peer,
    bytes: &mut Budget,
) -> Result<Outcome, ExchangeError> {
    let max_keys = (ae.settings.keys_per_sec.saturating_mul(ae.settings.interval.as_secs().max(1))).max(1) as usize;
    let result = exchange(ae, cluster, peer, bytes, max_keys).await;
    match &result {
        Ok(out) => {
            let now = cluster.coord().now_ms();
            ae.record_round(peer.member.id, peer.member.cluster_addr.to_string(), now, out.pulled, out.pushed);
            if out.keys_differing > 0 {
                tracing::info!(
                    peer = %peer.member.cluster_addr,
                    differing = out.keys_differing,
                    pulled = out.pulled,
                    pushed = out.pushed,
                    "anti-entropy repaired keys"
                );
            }
        }
        Err(e) => {
            ae.stats.exchange_failures.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(peer = %peer.member.cluster_addr, error = %e, "anti-entropy exchange failed");
        }
    }
    result
}
