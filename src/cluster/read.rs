//! Quorum reads with read repair. Before a read command runs on a replica, the replica asks R-1
//! other replicas of each key (healthy ones, in preference-list order) for their versions and
//! merges every answer into its own copy (`Coordinator::merge`) — so the command itself then reads
//! the merged state locally, whatever it is (`GET`, `TTL`, `KV.GET`…). A replica that has not
//! answered within the speculative delay, or failed, is replaced by the next replica of the list.
//! Once R answers are in, the replicas that answered with less than the merged state are sent the
//! merged state in the background (**read repair**); a replica that answered nothing is left to
//! anti-entropy. When primaries are down, the first healthy fallbacks of the key's ring walk are
//! asked in their place (sloppy quorum): they answer with the hints they keep for the key, so a
//! write acknowledged by fallbacks is readable; fallbacks are never read repaired.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::messages::{KeyVersion, Request, Response};
use super::quorum::{clamp, Kind, QuorumError, Tally};
use super::{Cluster, Peer};
use crate::storage::keys;
use crate::version::codec;

/// One key's read in progress.
struct KeyRead {
    key: Bytes,
    tally: Tally,
    /// Cluster addresses of replicas not asked yet, in preference order.
    spares: Vec<SocketAddr>,
    /// Replicas that answered with a stale (or no) copy.
    stale: Vec<SocketAddr>,
    /// Fallbacks asked in place of down primaries: their answers count, but they are never read
    /// repaired (they do not own the key; what they hold for it is hints).
    fallbacks: Vec<SocketAddr>,
}

impl Cluster {
    /// Gathers `r` replicas' versions of every key (this node's copy is one) into the local copy.
    /// With `strict`, only the key's primaries count.
    pub async fn quorum_read(self: &Arc<Self>, keys_in: &[Bytes], r: usize, strict: bool) -> Result<(), QuorumError> {
        let topo = self.topology();
        let me = topo.me();
        let mut reads = Vec::with_capacity(keys_in.len());
        let mut first: HashMap<SocketAddr, Vec<usize>> = HashMap::new();
        for key in keys_in {
            let slot = keys::slot_of(key);
            let replicas: Vec<&Peer> = topo.primaries(slot).collect();
            let need = clamp(r, replicas.len());
            let local = replicas.iter().any(|p| p.member.id == me);
            let mut others: Vec<SocketAddr> =
                replicas.iter().filter(|p| p.member.id != me && p.healthy).map(|p| p.member.cluster_addr).collect();
            let unhealthy = replicas.len() - others.len() - usize::from(local);
            // Sloppy quorum: the first healthy fallbacks stand in for the down primaries (they hold
            // the hints of writes those primaries missed), one more for a primary that fails.
            let fallbacks: Vec<SocketAddr> = if strict || unhealthy == 0 {
                Vec::new()
            } else {
                topo.fallbacks(slot)
                    .filter(|p| p.healthy && p.member.id != me)
                    .take(unhealthy + 1)
                    .map(|p| p.member.cluster_addr)
                    .collect()
            };
            others.extend_from_slice(&fallbacks);
            let mut tally = Tally::new(Kind::Read, need, replicas.len() + fallbacks.len());
            for _ in 0..unhealthy {
                tally.record(false);
            }
            if local {
                tally.record(true);
            }
            let wanted = need.saturating_sub(usize::from(local)).min(others.len());
            let (ask, spares) = others.split_at(wanted);
            // Not-asked replicas stay pending in the tally until they are asked or given up on.
            for addr in ask {
                first.entry(*addr).or_default().push(reads.len());
            }
            reads.push(KeyRead { key: key.clone(), tally, spares: spares.to_vec(), stale: Vec::new(), fallbacks });
        }
        if reads.iter().all(|k| k.tally.met()) {
            return Ok(());
        }
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut outstanding = 0usize;
        for (addr, idx) in first {
            outstanding += 1;
            self.spawn_fetch(addr, idx, &reads, tx.clone());
        }
        let speculative = tokio::time::sleep(self.settings.speculative_delay);
        tokio::pin!(speculative);
        let mut speculated = false;
        loop {
            if reads.iter().all(|k| k.tally.met()) {
                break;
            }
            if outstanding == 0 && (speculated || !self.ask_spares(&mut reads, &tx, &mut outstanding)) {
                break;
            }
            tokio::select! {
                msg = rx.recv() => {
                    let Some((addr, idx, answer)) = msg else { break };
                    outstanding -= 1;
                    self.absorb(addr, &idx, answer, &mut reads);
                    if idx.iter().any(|&i| !reads[i].tally.met() && reads[i].tally.decided()) && !speculated {
                        speculated = true;
                        self.ask_spares(&mut reads, &tx, &mut outstanding);
                    }
                }
                _ = &mut speculative, if !speculated => {
                    speculated = true;
                    self.ask_spares(&mut reads, &tx, &mut outstanding);
                }
            }
        }
        self.repair(&reads);
        let failed = reads.iter().find(|k| !k.tally.met()).map(|k| k.tally.error());
        match failed {
            Some(e) => {
                self.stats.quorum_failures.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
            None => Ok(()),
        }
    }

    /// Asks one spare replica for every key still short of its quorum; whether any was asked.
    fn ask_spares(
        self: &Arc<Self>,
        reads: &mut [KeyRead],
        tx: &mpsc::UnboundedSender<FetchAnswer>,
        outstanding: &mut usize,
    ) -> bool {
        let mut extra: HashMap<SocketAddr, Vec<usize>> = HashMap::new();
        for (i, k) in reads.iter_mut().enumerate() {
            if k.tally.met() || k.spares.is_empty() {
                continue;
            }
            let addr = k.spares.remove(0);
            extra.entry(addr).or_default().push(i);
        }
        let asked = !extra.is_empty();
        for (addr, idx) in extra {
            *outstanding += 1;
            self.stats.speculative_reads.fetch_add(1, Ordering::Relaxed);
            self.spawn_fetch(addr, idx, reads, tx.clone());
        }
        asked
    }

    fn spawn_fetch(
        self: &Arc<Self>,
        addr: SocketAddr,
        idx: Vec<usize>,
        reads: &[KeyRead],
        tx: mpsc::UnboundedSender<FetchAnswer>,
    ) {
        let keys: Vec<Bytes> = idx.iter().map(|&i| reads[i].key.clone()).collect();
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let answer = match this.call(addr, &Request::Fetch(keys)).await {
                Ok(Response::Sets(sets)) if sets.len() == idx.len() => Some(sets),
                Ok(_) => None,
                Err(e) => {
                    tracing::debug!(peer = %addr, error = %e, "quorum read: replica did not answer");
                    None
                }
            };
            let _ = tx.send((addr, idx, answer));
        });
    }

    /// Merges one replica's answer into the local copies.
    fn absorb(&self, addr: SocketAddr, idx: &[usize], answer: Option<Vec<Option<Bytes>>>, reads: &mut [KeyRead]) {
        let Some(sets) = answer else {
            for &i in idx {
                reads[i].tally.record(false);
            }
            return;
        };
        for (&i, set) in idx.iter().zip(sets) {
            let k = &mut reads[i];
            let merged = match set {
                None => self.coord.local(&k.key).map(|local| local.is_some()),
                Some(bytes) => match codec::decode(&bytes) {
                    Ok(set) => self.coord.merge(&k.key, &set).map(|m| {
                        if m.changed {
                            self.stats.merged_in.fetch_add(1, Ordering::Relaxed);
                        }
                        m.sender_stale
                    }),
                    Err(e) => {
                        tracing::warn!(peer = %addr, error = %e, "quorum read: undecodable version");
                        k.tally.record(false);
                        continue;
                    }
                },
            };
            match merged {
                Ok(stale) => {
                    if stale && !k.fallbacks.contains(&addr) {
                        k.stale.push(addr);
                    }
                    k.tally.record(true);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "quorum read: local merge failed");
                    k.tally.record(false);
                }
            }
        }
    }

    /// Sends the merged state to every replica that answered with less (background).
    fn repair(self: &Arc<Self>, reads: &[KeyRead]) {
        let mut batches: HashMap<SocketAddr, Vec<KeyVersion>> = HashMap::new();
        for k in reads.iter().filter(|k| !k.stale.is_empty()) {
            let Ok(Some(set)) = self.coord.local(&k.key) else { continue };
            let set = codec::to_bytes(&set);
            for addr in &k.stale {
                batches.entry(*addr).or_default().push(KeyVersion { key: k.key.clone(), set: set.clone() });
            }
        }
        for (addr, versions) in batches {
            self.stats.read_repairs.fetch_add(versions.len() as u64, Ordering::Relaxed);
            let this = Arc::clone(self);
            tokio::spawn(async move {
                if let Err(e) = this.call(addr, &Request::Replicate(versions)).await {
                    tracing::debug!(peer = %addr, error = %e, "read repair not delivered");
                }
            });
        }
    }
}

type FetchAnswer = (SocketAddr, Vec<usize>, Option<Vec<Option<Bytes>>>);
