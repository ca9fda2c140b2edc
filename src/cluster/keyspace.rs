//! Cluster-wide keyspace commands. Every slot is asked of one node — its coordinator, the first
//! healthy replica — so each key is counted or listed once:
//!
//! - `DBSIZE` sums, over the nodes, their live-key counts of the slots they coordinate;
//! - `SCAN` keeps Redis's integer cursor — a key's 62-bit position `slot‖hash48` (see
//!   `storage::keys`) — and serves each page from the coordinator of the cursor's slot, over the
//!   run of following slots that node also coordinates; so the cursor walks the slots in order
//!   across nodes and, as on one node, never misses a key that exists throughout the scan (on the
//!   replica asked);
//! - `FLUSHALL` clears every reachable member and fails loudly if one does not answer;
//! - `CLUSTER COUNTKEYSINSLOT` / `GETKEYSINSLOT` ask the slot's coordinator.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::join_all;

use super::messages::{Request, Response};
use super::{CallError, Cluster};
use crate::coordinator::{Current, Writes};
use crate::storage::keys::{self, SLOTS};
use crate::version::{codec, NodeId};

/// Slots one `SCAN` page looks at (at most): bounds the work of a page when keys are sparse.
const SCAN_WINDOW_SLOTS: u16 = 2048;

/// The cursor after a window ending (exclusively) at `end`: 0 once past the last slot.
fn next_window(end: u64) -> u64 {
    if end == u64::MAX {
        0
    } else {
        end
    }
}

impl Cluster {
    /// Slot ranges grouped by the node that coordinates them (`None`: no healthy replica).
    fn ranges_by_coordinator(&self) -> HashMap<Option<NodeId>, Vec<(u16, u16)>> {
        let topo = self.topology();
        let mut out: HashMap<Option<NodeId>, Vec<(u16, u16)>> = HashMap::new();
        let mut start = 0u16;
        let mut owner = topo.coordinator(0).map(|p| p.member.id);
        for s in 1..=SLOTS {
            let next = if s < SLOTS { topo.coordinator(s).map(|p| p.member.id) } else { None };
            if s == SLOTS || next != owner {
                out.entry(owner).or_default().push((start, s - 1));
                start = s;
                owner = next;
            }
        }
        out
    }

    /// Live keys in the whole cluster.
    pub async fn dbsize(self: &Arc<Self>) -> Result<u64, CallError> {
        let topo = self.topology();
        let me = topo.me();
        let mut total = 0u64;
        let mut calls = Vec::new();
        for (owner, ranges) in self.ranges_by_coordinator() {
            match owner {
                Some(id) if id == me => {
                    total += ranges.iter().flat_map(|&(lo, hi)| lo..=hi).map(|s| self.coord.slot_keys(s)).sum::<u64>()
                }
                Some(id) => {
                    let addr = topo.peer(&id).map(|p| p.member.cluster_addr);
                    if let Some(addr) = addr {
                        calls.push(async move { self.call(addr, &Request::CountSlots(ranges)).await });
                    }
                }
                None => {}
            }
        }
        for r in join_all(calls).await {
            match r? {
                Response::Count(n) => total += n,
                _ => return Err(CallError::Unexpected),
            }
        }
        Ok(total)
    }

    /// One `SCAN` page from `position`: up to about `count` stored keys with their state, and
    /// the next cursor (0 when the walk is complete).
    ///
    /// The page looks at a window of slots from the cursor's, asks each coordinator of a part of
    /// the window once for its keys there (at most `count + 1`), and merges the answers in
    /// position order. Where a node's answer was cut at the limit, the merged list is only known
    /// to be complete below that node's last position, so the page stops there.
    pub async fn scan_page(
        self: &Arc<Self>,
        position: u64,
        count: usize,
    ) -> Result<(Vec<(Bytes, Current)>, u64), CallError> {
        let topo = self.topology();
        let first = ((position >> 48) as u16).min(SLOTS - 1);
        let last = first.saturating_add(SCAN_WINDOW_SLOTS - 1).min(SLOTS - 1);
        let window_end = if last == SLOTS - 1 { u64::MAX } else { u64::from(last + 1) << 48 };
        // Ranges per coordinator, as storage-key bounds.
        let mut per_node: HashMap<NodeId, Vec<(Bytes, Bytes)>> = HashMap::new();
        let mut s = first;
        while s <= last {
            let owner = topo.coordinator(s).map(|p| p.member.id);
            let mut e = s;
            while e < last && topo.coordinator(e + 1).map(|p| p.member.id) == owner {
                e += 1;
            }
            if let Some(id) = owner {
                let lo = if s == first { position } else { u64::from(s) << 48 };
                let hi = if e == SLOTS - 1 {
                    Bytes::new()
                } else {
                    Bytes::copy_from_slice(&keys::seek(u64::from(e + 1) << 48))
                };
                per_node.entry(id).or_default().push((Bytes::copy_from_slice(&keys::seek(lo)), hi));
            }
            if e == SLOTS - 1 {
                break;
            }
            s = e + 1;
        }
        let mut limit = count + 1;
        loop {
            let mut merged: Vec<(Bytes, Bytes)> = Vec::new();
            let mut cutoff = window_end;
            let topo = &topo;
            let calls = per_node.iter().map(|(id, ranges)| async move {
                let raw = if *id == topo.me() {
                    self.coord.scan_ranges(ranges, limit).map_err(|e| CallError::Remote(e.to_string()))?
                } else {
                    let addr = topo.peer(id).map(|p| p.member.cluster_addr).ok_or(CallError::Unexpected)?;
                    match self.call(addr, &Request::Scan { ranges: ranges.clone(), limit: limit as u32 }).await? {
                        Response::Keys(k) => k,
                        _ => return Err(CallError::Unexpected),
                    }
                };
                Ok::<_, CallError>(raw)
            });
            for raw in join_all(calls).await {
                let raw = raw?;
                if raw.len() >= limit {
                    if let Some((k, _)) = raw.last() {
                        cutoff = cutoff.min(keys::position(k));
                    }
                }
                merged.extend(raw);
            }
            merged.sort_by(|a, b| a.0.cmp(&b.0));
            // Complete below the cutoff (every key at the cutoff position too, unless a node was cut).
            let complete = if cutoff == window_end {
                merged.len()
            } else {
                merged.partition_point(|(k, _)| keys::position(k) < cutoff)
            };
            if complete == 0 && cutoff == position && limit < 1 << 20 {
                // More than `limit` keys share the cursor's position: ask for more.
                limit *= 2;
                continue;
            }
            let (take, next) = if complete > count {
                let mut take = count;
                // Keys sharing the cursor's position all go into this page so the cursor moves on.
                while take < complete && keys::position(&merged[take].0) == position {
                    take += 1;
                }
                if take < complete {
                    (take, keys::position(&merged[take].0))
                } else {
                    (take, if cutoff == window_end { next_window(window_end) } else { cutoff })
                }
            } else if cutoff == window_end {
                (complete, next_window(window_end))
            } else {
                (complete, cutoff)
            };
            let now = self.coord.now_ms();
            let mut out = Vec::with_capacity(take);
            for (k, v) in merged.into_iter().take(take) {
                let set = codec::decode(&v).map_err(|e| CallError::Remote(e.to_string()))?;
                out.push((k, Current::new(Some(set), now)));
            }
            return Ok((out, next));
        }
    }

    /// Clears every member (this node's flush recorded in `w`); an unreachable member is an
    /// error (its keys would survive).
    pub async fn flush_all(self: &Arc<Self>, w: &mut Writes) -> Result<(), CallError> {
        let topo = self.topology();
        let me = topo.me();
        self.coord.flush_all(w).map_err(|e| CallError::Remote(e.to_string()))?;
        // An error reply only once the flush can no longer run late on that member.
        let calls = topo
            .peers()
            .iter()
            .filter(|p| p.member.id != me)
            .map(|p| self.call_settled(p.member.cluster_addr, &Request::FlushAll));
        for r in join_all(calls).await {
            r?;
        }
        Ok(())
    }

    /// Live keys in `slot`, asked of its coordinator.
    pub async fn count_keys_in_slot(self: &Arc<Self>, slot: u16) -> Result<u64, CallError> {
        let topo = self.topology();
        match topo.coordinator(slot) {
            Some(p) if p.member.id == topo.me() => Ok(self.coord.slot_keys(slot)),
            Some(p) => match self.call(p.member.cluster_addr, &Request::CountSlots(vec![(slot, slot)])).await? {
                Response::Count(n) => Ok(n),
                _ => Err(CallError::Unexpected),
            },
            None => Ok(0),
        }
    }
}
