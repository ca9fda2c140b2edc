//! Quorum writes with a sloppy quorum. After a command ran here as the coordinator
//! of its keys (its local write is the first acknowledgement), the versions it wrote go to the
//! keys' other replicas in parallel — one request per peer, carrying every version that peer
//! should store — and the command's reply is released once every key has W acknowledgements.
//!
//! - **Sloppy quorum** (the default): a replica that this node sees as down, or whose request
//!   fails, is replaced by the next healthy *fallback* of the key's ring walk (never the same
//!   fallback twice for one key). The fallback keeps the version as a **hint** for that replica in
//!   its hints space, and its acknowledgement counts toward W.
//! - **Strict** (`KV.CONSISTENCY … STRICT`): only the N primaries count; no fallbacks.
//! - A primary that missed the version and that no fallback took is hinted **here**, on the
//!   coordinator (which does not count it toward W: it is the same node): at once, in the same
//!   commit as the command's write, when the primary was known down; in the background when its
//!   request failed. So a 3-node cluster with one node down still hands every write to that node
//!   when it is back.
//!
//! Stragglers and fallback retries keep going in a background task after the reply. A key that
//! cannot reach W makes the command answer `-NOQUORUM …`; the versions already written stay
//! written (Dynamo semantics: a failed quorum write may still become visible; it is never a
//! silent success).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::messages::{HintedVersion, KeyVersion, Request, Response};
use super::quorum::{clamp, Kind, QuorumError, Tally};
use super::Cluster;
use crate::coordinator::{HintOutcome, Replicated};
use crate::storage::keys;
use crate::version::{codec, NodeId};

/// One key's write in progress.
struct KeyWrite {
    key: Bytes,
    set: Bytes,
    tally: Tally,
    /// Healthy fallbacks not used yet for this key, in ring order.
    fallbacks: VecDeque<(NodeId, SocketAddr)>,
    /// Primaries that missed the version and that no fallback took (hinted here at the end).
    missed: Vec<NodeId>,
    /// Primaries that acknowledged directly (this node included when it is one).
    primary_acks: usize,
    /// The key's replica count.
    replicas: usize,
}

/// One version on its way to one peer: the key, and the primary it is meant for (the peer itself
/// for a direct write, another node for a hint).
type Entry = (usize, NodeId);

#[derive(Default)]
struct Batch {
    direct: Vec<Entry>,
    hinted: Vec<Entry>,
}

/// A peer's answer: which entries it took.
struct Answer {
    hinted: bool,
    entries: Vec<Entry>,
    stored: Vec<bool>,
}

impl Cluster {
    /// Replicates `written` to the other replicas and waits until each key has `w` acks (this
    /// node's own write included); `strict` counts primaries only.
    pub async fn replicate(
        self: &Arc<Self>,
        written: Vec<Replicated>,
        w: usize,
        strict: bool,
    ) -> Result<(), QuorumError> {
        let topo = self.topology();
        let me = topo.me();
        let mut writes = Vec::with_capacity(written.len());
        let mut batches: HashMap<SocketAddr, Batch> = HashMap::new();
        let mut hint_now = Vec::new();
        for (i, r) in written.into_iter().enumerate() {
            let slot = keys::slot_of(&r.key);
            let primaries: Vec<_> = topo.primaries(slot).collect();
            let need = clamp(w, primaries.len());
            let mut k = KeyWrite {
                key: r.key,
                set: r.set,
                tally: Tally::new(Kind::Write, need, primaries.len()),
                fallbacks: VecDeque::new(),
                missed: Vec::new(),
                primary_acks: 0,
                replicas: primaries.len(),
            };
            if !strict {
                k.fallbacks = topo
                    .fallbacks(slot)
                    .filter(|p| p.healthy && p.member.id != me)
                    .map(|p| (p.member.id, p.member.cluster_addr))
                    .collect();
            }
            for p in &primaries {
                if p.member.id == me {
                    k.tally.record(true);
                    k.primary_acks += 1;
                } else if p.healthy {
                    batches.entry(p.member.cluster_addr).or_default().direct.push((i, p.member.id));
                } else if let Some((_, addr)) = k.fallbacks.pop_front() {
                    batches.entry(addr).or_default().hinted.push((i, p.member.id));
                } else {
                    k.tally.record(false);
                    hint_now.push((i, p.member.id));
                }
            }
            writes.push(k);
        }
        // Known-down primaries that no fallback can stand in for are hinted here, before the
        // reply, so the hint is as durable as the command's own write.
        for (i, target) in hint_now {
            self.hint_locally(&writes[i], target);
        }
        if writes.iter().all(|k| k.tally.met()) && batches.is_empty() {
            return Ok(());
        }
        let (done_tx, done_rx) = oneshot::channel();
        let this = Arc::clone(self);
        tokio::spawn(async move { this.drive(writes, batches, done_tx).await });
        let result = done_rx.await.unwrap_or(Ok(()));
        if result.is_err() {
            self.stats.quorum_failures.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// Sends the batches, retries failed primaries on fallbacks, reports the outcome on `done` as
    /// soon as every key has its W acks (or once every answer is in), then finishes the
    /// stragglers and hints what nobody took.
    async fn drive(
        self: Arc<Self>,
        mut writes: Vec<KeyWrite>,
        batches: HashMap<SocketAddr, Batch>,
        done: oneshot::Sender<Result<(), QuorumError>>,
    ) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut outstanding = 0usize;
        self.send_batches(batches, &writes, &tx, &mut outstanding);
        let mut done = Some(done);
        loop {
            // A failing quorum waits for every answer (each bounded by the RPC deadline) so that
            // its error counts them exactly.
            if done.is_some() && writes.iter().all(|k| k.tally.met()) {
                if let Some(d) = done.take() {
                    let _ = d.send(first_error(&writes));
                }
            }
            if outstanding == 0 {
                break;
            }
            let Some(answer) = rx.recv().await else { break };
            outstanding -= 1;
            let mut retry: HashMap<SocketAddr, Batch> = HashMap::new();
            for (&(i, target), &ok) in answer.entries.iter().zip(&answer.stored) {
                let k = &mut writes[i];
                if ok {
                    k.tally.record(true);
                    if !answer.hinted {
                        k.primary_acks += 1;
                    }
                } else if let Some((_, addr)) = k.fallbacks.pop_front() {
                    // The pending slot in the tally passes to the fallback.
                    retry.entry(addr).or_default().hinted.push((i, target));
                } else {
                    k.tally.record(false);
                    k.missed.push(target);
                }
            }
            self.send_batches(retry, &writes, &tx, &mut outstanding);
        }
        if let Some(d) = done.take() {
            let _ = d.send(first_error(&writes));
        }
        let mut hinted_here = false;
        for k in &writes {
            for target in &k.missed {
                hinted_here = true;
                self.hint_locally(k, *target);
            }
        }
        if hinted_here {
            if let Err(e) = self.coord.durability().commit().await {
                tracing::warn!(error = %e, "hint commit failed");
            }
        }
        self.reap_when_acknowledged(writes.iter().filter(|k| k.primary_acks == k.replicas).map(|k| (&k.key, &k.set)));
    }

    fn send_batches(
        self: &Arc<Self>,
        batches: HashMap<SocketAddr, Batch>,
        writes: &[KeyWrite],
        tx: &mpsc::UnboundedSender<Answer>,
        outstanding: &mut usize,
    ) {
        for (addr, batch) in batches {
            if !batch.direct.is_empty() {
                let versions = batch
                    .direct
                    .iter()
                    .map(|&(i, _)| KeyVersion { key: writes[i].key.clone(), set: writes[i].set.clone() })
                    .collect();
                self.stats.replicated.fetch_add(batch.direct.len() as u64, Ordering::Relaxed);
                *outstanding += 1;
                self.spawn_send(addr, Request::Replicate(versions), batch.direct, false, tx.clone());
            }
            if !batch.hinted.is_empty() {
                let versions = batch
                    .hinted
                    .iter()
                    .map(|&(i, target)| HintedVersion {
                        target: target.0,
                        key: writes[i].key.clone(),
                        set: writes[i].set.clone(),
                    })
                    .collect();
                self.stats.sloppy_writes.fetch_add(batch.hinted.len() as u64, Ordering::Relaxed);
                *outstanding += 1;
                self.spawn_send(addr, Request::Hinted(versions), batch.hinted, true, tx.clone());
            }
        }
    }

    fn spawn_send(
        self: &Arc<Self>,
        addr: SocketAddr,
        req: Request,
        entries: Vec<Entry>,
        hinted: bool,
        tx: mpsc::UnboundedSender<Answer>,
    ) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let n = entries.len();
            let stored = match this.call(addr, &req).await {
                Ok(Response::Ack) if !hinted => vec![true; n],
                // Per version: a replica refuses those of slots it does not hold in its view.
                Ok(Response::Stored(s)) if s.len() == n => s,
                Ok(_) => vec![false; n],
                Err(e) => {
                    tracing::debug!(peer = %addr, error = %e, "replicated write not acknowledged");
                    vec![false; n]
                }
            };
            let _ = tx.send(Answer { hinted, entries, stored });
        });
    }

    /// Keeps `k`'s version here as a hint for `target`.
    fn hint_locally(&self, k: &KeyWrite, target: NodeId) {
        let stored = codec::decode(&k.set)
            .map_err(|e| e.to_string())
            .and_then(|set| self.coord.store_hint(target, &k.key, &set).map_err(|e| e.to_string()));
        match stored {
            Ok(HintOutcome::Stored) => {
                self.stats.hinted_here.fetch_add(1, Ordering::Relaxed);
            }
            Ok(HintOutcome::Dropped) => {
                tracing::debug!(target = %target, "hint dropped: the target's hint bound is full");
            }
            Err(e) => tracing::warn!(error = %e, "could not store a hint"),
        }
    }
}

fn first_error(writes: &[KeyWrite]) -> Result<(), QuorumError> {
    writes.iter().map(|k| k.tally.result()).find(Result::is_err).unwrap_or(Ok(()))
}
