//! Active expiry: a background sweep that walks the keyspace a page at a time and reclaims keys
//! whose every version has expired, so expired keys do not pile up on disk when nobody reads them
//! (lazy expiry on access handles the rest, in [`super::Coordinator::read`]).
//!
//! In a cluster (`keep_tombstones`) the same walk finds tombstones whose grace period has passed
//! (`reap.rs`): a key whose every sibling is a tombstone, the newest written at least
//! `tombstone_grace_ms` ago. They are reaped only once the [`ReapGate`] (the cluster) confirmed
//! that every other replica holds the same tombstone or nothing — a replica that was away and
//! still holds an older value would otherwise bring it back through anti-entropy or read repair.
//! An expired key first becomes a tombstone and is reaped on a later pass, a grace period after
//! its expiry deadline. The tombstone is made *in place*, not as a new write: each expired value
//! keeps its dot, timestamp and expiry and only loses its value
//! ([`crate::version::DvvSet::expired_at`]), so every replica that expires a key — by its own
//! sweep or read, at its own time — stores the same bytes, and a merge of a dot's expired and
//! unexpired forms keeps the expired one.
//!
//! Each tick (`hz`, default 10 per second) reads at most `keys_per_tick` keys from a cursor that
//! wraps around, so the cost is bounded and a full pass over n keys takes n / keys_per_tick ticks.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use tokio::sync::watch;

use super::Coordinator;
use crate::storage::keys;
use crate::version::DvvSet;
use crate::workers::{Beat, Pace};

/// Decides which tombstones past their grace period may be reaped now.
pub trait ReapGate: Send + Sync {
    /// One answer per `(user key, stored set)`, in order: `true` when reaping it cannot bring an
    /// older version back (every other replica holds that set or nothing).
    fn confirm<'a>(&'a self, tombstones: &'a [(Bytes, DvvSet)]) -> BoxFuture<'a, Vec<bool>>;
}

/// The sweep worker: one page every `period` until `shutdown` turns true; each page is a round
/// of its [`Beat`]. With a `gate`, past-grace tombstones are reaped only where it agrees.
pub async fn run_sweeper(
    coord: Arc<Coordinator>,
    period: Duration,
    keys_per_tick: usize,
    gate: Option<Arc<dyn ReapGate>>,
    shutdown: watch::Receiver<bool>,
    beat: Beat,
) {
    let mut cursor: Vec<u8> = Vec::new();
    let mut pace = Pace::every(period, shutdown);
    while pace.next().await {
        match sweep_page_deferring(&coord, &cursor, keys_per_tick, gate.is_some()) {
            Ok((next, candidates)) => {
                cursor = next.unwrap_or_default();
                if let (Some(gate), false) = (gate.as_ref(), candidates.is_empty()) {
                    let confirmed = gate.confirm(&candidates).await;
                    for ((key, set), ok) in candidates.iter().zip(confirmed) {
                        if ok {
                            if let Err(e) = coord.reap(key, set) {
                                tracing::warn!(error = %e, "tombstone reap failed");
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "expiry sweep failed"),
        }
        beat.ran();
    }
}

/// Sweeps one page from `cursor`, reaping past-grace tombstones at once; returns where to
/// continue, or `None` at the end.
#[cfg(test)]
pub(super) fn sweep_page(
    coord: &Coordinator,
    cursor: &[u8],
    limit: usize,
) -> Result<Option<Vec<u8>>, super::CoordError> {
    sweep_page_deferring(coord, cursor, limit, false).map(|(next, _)| next)
}

/// Past-grace tombstones a sweep page found: `(user key, stored set)`.
type Candidates = Vec<(Bytes, DvvSet)>;

/// Sweeps one page from `cursor`: reclaims expired keys and, unless `defer`, reaps past-grace
/// tombstones; with `defer` returns those instead, to be confirmed first.
fn sweep_page_deferring(
    coord: &Coordinator,
    cursor: &[u8],
    limit: usize,
    defer: bool,
) -> Result<(Option<Vec<u8>>, Candidates), super::CoordError> {
    let page = coord.scan(cursor, limit)?;
    let mut deferred = Vec::new();
    let grace = coord.cfg.keep_tombstones.then_some(coord.cfg.tombstone_grace_ms);
    for (skey, current) in &page {
        let now = coord.now_ms();
        if current.is_reclaimable() {
            let key = keys::user_key(skey);
            let _guard = coord.locks.lock_one(&key);
            coord.reclaim_if_expired(skey, now, None)?;
        } else if let (Some(grace), Some(set)) = (grace, current.set()) {
            // Checked on the unlocked page first so that live keys cost no lock; re-checked
            // under the lock, since the key may have been written since the page was read.
            if super::reap::past_grace(set, now, grace) {
                if defer {
                    deferred.push((keys::user_key(skey), set.clone()));
                } else {
                    coord.reap_if_past_grace(skey, now)?;
                }
            }
        }
    }
    Ok((crate::storage::next_page(&page, limit), deferred))
}
