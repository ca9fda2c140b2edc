//! Reaping tombstones once every replica holds them. When all N primaries of a key
//! acknowledged a write whose every sibling is a tombstone — directly, not through a fallback —
//! the coordinator waits `tombstone-reap-delay-ms` (so that reads and repairs in flight settle)
//! and then asks each of them, itself included, to delete the key *if its copy is still exactly
//! that tombstone* (`Coordinator::reap`). A write that arrived meanwhile changes the copy, and the
//! key is then kept. Tombstones that never reached all N (a replica was down, the delete went to
//! a fallback) wait for the grace-period sweep instead.
//!
//! Before reaping, every member is asked whether it keeps a **hint** of any of the keys
//! (`Request::HintsFor`): a hint of an older version, waiting on a fallback that cannot reach its
//! target, would otherwise be delivered after the reap and bring that version back as new (the
//! fault-injection checker's long run caught exactly that: a fallback partitioned for 26 s held a
//! `SET` that an acknowledged `DEL` had replaced). If any member holds one, or cannot be asked,
//! the batch is left to the grace-period sweep. A hint still on its way cannot slip past the
//! question: the delay is at least the rpc timeout, and a `Hinted` or `Replicate` request that
//! arrives after its sender's deadline is dropped unrun (`service.rs`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;

use super::messages::{KeyVersion, Request, Response, HOLDS_NOTHING, HOLDS_SAME};
use super::Cluster;
use crate::coordinator::{tombstone_only, ReapGate};
use crate::storage::keys;
use crate::version::{codec, DvvSet};

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
            // At least the rpc timeout: a hint or replica write of an older version that was sent
            // before the tombstone was acknowledged has arrived by then, or will be refused as late.
            tokio::time::sleep(this.settings.reap_delay.max(this.settings.rpc_timeout)).await;
            if this.hints_anywhere(&tombstones).await {
                this.stats.reaps_deferred.fetch_add(tombstones.len() as u64, Ordering::Relaxed);
                return;
            }
            this.reap_everywhere(tombstones).await;
        });
    }

    /// Whether any member (this node included) keeps a hint of one of `tombstones`' keys, or
    /// could not be asked.
    async fn hints_anywhere(&self, tombstones: &[KeyVersion]) -> bool {
        let keys: Vec<Bytes> = tombstones.iter().map(|t| t.key.clone()).collect();
        if !matches!(self.coord.hinted_keys(&keys), Ok(0)) {
            return true;
        }
        let topo = self.topology();
        let me = topo.me();
        let request = Request::HintsFor(keys);
        let calls = topo
            .peers()
            .iter()
            .filter(|p| p.member.id != me)
            .map(|p| self.call(p.member.cluster_addr, &request))
            .collect::<Vec<_>>();
        futures_util::future::join_all(calls).await.into_iter().any(|r| !matches!(r, Ok(Response::Count(0))))
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

/// The grace-period path: the sweep found tombstones at least `tombstone-grace-ms` old. One is
/// reaped here only if every *other* replica of its key (the current primaries) answers that it
/// holds exactly that tombstone or nothing (`Request::Holds`), and no member keeps a hint of the
/// key. A replica that holds anything else — an older value it kept while it was away, or a
/// newer write — keeps the tombstone alive here until anti-entropy has made them agree; a replica
/// that cannot be asked (down, partitioned) keeps it too. So a value deleted on every replica
/// cannot come back from one that missed the delete: while any replica holds an older value, no
/// replica reaps, and anti-entropy spreads the tombstone over it.
impl ReapGate for Cluster {
    fn confirm<'a>(&'a self, tombstones: &'a [(Bytes, DvvSet)]) -> BoxFuture<'a, Vec<bool>> {
        Box::pin(self.confirm_past_grace(tombstones))
    }
}

impl Cluster {
    async fn confirm_past_grace(&self, tombstones: &[(Bytes, DvvSet)]) -> Vec<bool> {
        let versions: Vec<KeyVersion> =
            tombstones.iter().map(|(key, set)| KeyVersion { key: key.clone(), set: codec::to_bytes(set) }).collect();
        let mut ok = vec![true; tombstones.len()];
        if self.hints_anywhere(&versions).await {
            self.stats.grace_reaps_refused.fetch_add(ok.len() as u64, Ordering::Relaxed);
            return vec![false; ok.len()];
        }
        let topo = self.topology();
        let me = topo.me();
        let mut per_peer: HashMap<SocketAddr, Vec<usize>> = HashMap::new();
        for (i, v) in versions.iter().enumerate() {
            for p in topo.primaries(keys::slot_of(&v.key)) {
                if p.member.id != me {
                    per_peer.entry(p.member.cluster_addr).or_default().push(i);
                }
            }
        }
        let asks = per_peer.into_iter().map(|(addr, idx)| {
            let request = Request::Holds(idx.iter().map(|&i| versions[i].clone()).collect());
            async move { (idx, self.call(addr, &request).await) }
        });
        for (idx, answer) in futures_util::future::join_all(asks).await {
            match answer {
                Ok(Response::Holdings(h)) if h.len() == idx.len() => {
                    for (&i, held) in idx.iter().zip(h) {
                        ok[i] &= held == HOLDS_NOTHING || held == HOLDS_SAME;
                    }
                }
                _ => idx.iter().for_each(|&i| ok[i] = false),
            }
        }
        let confirmed = ok.iter().filter(|&&b| b).count() as u64;
        self.stats.grace_reaps_confirmed.fetch_add(confirmed, Ordering::Relaxed);
        self.stats.grace_reaps_refused.fetch_add(ok.len() as u64 - confirmed, Ordering::Relaxed);
        ok
    }
}
