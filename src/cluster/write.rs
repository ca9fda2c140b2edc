//! Quorum writes: after a command ran here as the coordinator of its keys (its local write is the
//! first acknowledgement), the versions it wrote go to the keys' other replicas in parallel — one
//! `Replicate` request per peer, carrying every version of the command that peer holds — and the
//! command's reply is released once every key has W acknowledgements. Stragglers keep going in
//! the background (their tasks are detached); a key that cannot reach W makes the command answer
//! `-NOQUORUM …` — the versions already written stay written (Dynamo semantics: a failed quorum
//! write may still become visible; it is never a silent success).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::messages::{KeyVersion, Request, Response};
use super::quorum::{clamp, Kind, QuorumError, Tally};
use super::Cluster;
use crate::coordinator::Replicated;
use crate::storage::keys;

impl Cluster {
    /// Replicates `written` to the other replicas and waits until each key has `w` acks
    /// (this node's own write included).
    pub async fn replicate(self: &Arc<Self>, written: Vec<Replicated>, w: usize) -> Result<(), QuorumError> {
        let topo = self.topology();
        let me = topo.me();
        // Per key: its tally. Per peer: the versions it must store and the keys they belong to.
        let mut tallies = Vec::with_capacity(written.len());
        let mut batches: HashMap<SocketAddr, (Vec<KeyVersion>, Vec<usize>)> = HashMap::new();
        for (i, r) in written.into_iter().enumerate() {
            let slot = keys::slot_of(&r.key);
            let replicas: Vec<_> = topo.primaries(slot).collect();
            let need = clamp(w, replicas.len());
            let mut tally = Tally::new(Kind::Write, need, replicas.len());
            for p in &replicas {
                if p.member.id == me {
                    tally.record(true);
                } else if !p.healthy {
                    tally.record(false);
                } else {
                    let b = batches.entry(p.member.cluster_addr).or_default();
                    b.0.push(KeyVersion { key: r.key.clone(), set: r.set.clone() });
                    b.1.push(i);
                }
            }
            tallies.push(tally);
        }
        let (tx, mut rx) = mpsc::unbounded_channel();
        for (addr, (versions, key_idx)) in batches {
            let this = Arc::clone(self);
            let tx = tx.clone();
            self.stats.replicated.fetch_add(versions.len() as u64, Ordering::Relaxed);
            tokio::spawn(async move {
                let ok = matches!(this.call(addr, &Request::Replicate(versions)).await, Ok(Response::Ack));
                if !ok {
                    tracing::debug!(peer = %addr, "replicated write not acknowledged");
                }
                let _ = tx.send((key_idx, ok));
            });
        }
        drop(tx);
        // The versions are on their way to every replica either way (W = 1 needs no answer).
        // Reply as soon as every key has its W acks; a failing quorum waits for every answer
        // (each bounded by the RPC deadline) so that its error counts them exactly.
        while !tallies.iter().all(Tally::met) {
            let Some((key_idx, ok)) = rx.recv().await else { break };
            for i in key_idx {
                tallies[i].record(ok);
            }
        }
        let result = first_error(&tallies);
        if result.is_err() {
            self.stats.quorum_failures.fetch_add(1, Ordering::Relaxed);
        }
        result
    }
}

fn first_error(tallies: &[Tally]) -> Result<(), QuorumError> {
    tallies.iter().map(Tally::result).find(Result::is_err).unwrap_or(Ok(()))
}
