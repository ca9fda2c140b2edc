//! Reaping tombstones once every replica holds them (DESIGN §1.4). When all N primaries of a key
//! acknowledged a write whose every sibling is a tombstone — directly, not through a fallback —
//! the coordinator waits `tombstone-reap-delay-ms` (so that reads and repairs in flight settle)
//! and then asks each of them, itself included, to delete the key *if its copy is still exactly
//! that tombstone* (`Coordinator::reap`). A write that arrived meanwhile changes the copy, and the
//! key is then kept. Tombstones that never reached all N (a replica was down, the delete went to
//! a fallback) wait for the grace-period sweep instead.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use super::messages::{KeyVersion, Request};
use super::Cluster;
use crate::coordinator::tombstone_only;
use crate::storage::keys;
use crate::version::codec;

impl Cluster {
    /// Schedules the reaping of those of `acked` (keys and the sets every primary acknowledged)
    /// that are tombstones.
    pub(super) fn reap_when_acknowledged<'a>(self: &Arc<Self>, acked: impl Iterator<Item = (&'a Bytes, &'a Bytes)>) {
        let tombstones: Vec<KeyVersion> = acked
            .filter(|(_, set)| codec::decode(set).is_ok_and(|s| tombstone_only(&s)))
            .map(|(key, set)| KeyVersion { key: key.clone(), set: set.clone() })
            .collect();
        if tombstones.is_empty() {
            return;
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(this.settings.reap_delay).await;
            this.reap_everywhere(tombstones).await;
        });
    }

    async fn reap_everywhere(self: &Arc<Self>, tombstones: Vec<KeyVersion>) {
        let topo = self.topology();
        let me = topo.me();
        let mut per_peer: std::collections::HashMap<std::net::SocketAddr, Vec<KeyVersion>> = Default::default();
        for t in &tombstones {
            for p in topo.primaries(keys::slot_of(&t.key)) {
                if p.member.id == me {
                    let reaped = codec::decode(&t.set).map(|set| self.coord.reap(&t.key, &set));
                    if let Ok(Err(e)) = reaped {
                        tracing::warn!(error = %e, "tombstone reap failed");
                    }
                } else {
                    per_peer.entry(p.member.cluster_addr).or_default().push(t.clone());
                }
            }
        }
        self.stats.reaps_sent.fetch_add(tombstones.len() as u64, Ordering::Relaxed);
        for (addr, versions) in per_peer {
            if let Err(e) = self.call(addr, &Request::Reap(versions)).await {
                // The tombstone stays there until the grace-period sweep: safe, only slower.
                tracing::debug!(peer = %addr, error = %e, "reap request failed");
            }
        }
    }
}
