//! Cluster time: the wall-clock time a cluster node uses for everything that needs *what time it
//! is* — HLC timestamps (which order concurrent writes), TTLs, tombstone grace, `TIME` — agreed
//! with its peers, so that one node's wrong clock can neither reorder acknowledged writes (a node
//! five minutes ahead would win every last-writer-wins race for five minutes and drag every other
//! node's HLC along; one behind would lose races it should win) nor stretch or cut TTLs.
//!
//! **Votes.** Every node answers every rpc request with its own raw wall-clock reading (the frame's
//! `wall` field); the caller, which knows when it sent the request and when the answer came,
//! turns that into the peer's wall clock *relative to its own monotonic clock*: `offset = wall −
//! midpoint`, uncertain by half the round trip (NTP's estimate). Per peer the sample with the
//! smallest round trip of the last [`WINDOW`] (two half-windows) is kept. Cluster time is the
//! **median** of this node's own wall clock and every peer's estimate (each extrapolated with the
//! local monotonic clock), so a minority of wrong clocks — ahead or behind, stepped at run time or
//! wrong since start — is outvoted. Because peers' estimates ride on the monotonic clock, a step
//! of this node's own wall clock moves only its own vote, even while it is cut off from every peer
//! (stale estimates stay valid for a window; then only the own clock is left).
//!
//! **Cost.** `now_ms` reads the monotonic clock and a cached offset; the median is recomputed at
//! most every [`REFRESH`] (or after a new sample), by whichever caller gets there first.
//!
//! A node coordinates nothing until it holds the votes of every other member of its ring, up to
//! four ([`ClusterClock::peer_votes`], checked by the cluster's readiness; a member that is down
//! delays this until the readiness patience runs out), so a node started with a wrong clock does
//! not write with it. Sources: the rpc client connection (samples), the rpc
//! server (stamps); readers: the coordinator (through [`Clock`]) and `INFO`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::Clock;
use crate::version::NodeId;

/// How long a peer's sample counts (the best of two half-windows is used).
pub const WINDOW: Duration = Duration::from_secs(60);
/// A node whose own clock is this far from cluster time says so (at most once a minute).
const WARN_MS: i64 = 1000;
/// How often the median is recomputed at most.
pub const REFRESH: Duration = Duration::from_millis(100);

/// One estimate of a peer's wall clock.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// Peer wall clock minus this node's monotonic clock at the round trip's midpoint (µs).
    offset_us: i64,
    rtt_us: u64,
    /// When it was taken (monotonic µs).
    at_us: u64,
}

/// The best samples of one peer: the current half-window's and the previous one's.
#[derive(Debug, Default)]
struct PeerSamples {
    current: Option<Sample>,
    previous: Option<Sample>,
    window_start_us: u64,
}

impl PeerSamples {
    fn add(&mut self, s: Sample) {
        let half = WINDOW.as_micros() as u64 / 2;
        if s.at_us.saturating_sub(self.window_start_us) >= half {
            self.previous = self.current.take();
            self.window_start_us = s.at_us;
        }
        if self.current.is_none_or(|c| s.rtt_us <= c.rtt_us) {
            self.current = Some(s);
        }
    }

    /// The best sample still within the window at `now_us`.
    fn best(&self, now_us: u64) -> Option<Sample> {
        let window = WINDOW.as_micros() as u64;
        [self.current, self.previous]
            .into_iter()
            .flatten()
            .filter(|s| now_us.saturating_sub(s.at_us) < window)
            .min_by_key(|s| s.rtt_us)
    }
}

/// A node's cluster time (see the module docs).
pub struct ClusterClock {
    own: Arc<dyn Clock>,
    epoch: Instant,
    peers: Mutex<HashMap<NodeId, PeerSamples>>,
    /// Cluster time minus the monotonic clock (µs), as of `refreshed_us`.
    offset_us: AtomicI64,
    /// Monotonic µs of the last refresh; 0 forces one.
    refreshed_us: AtomicU64,
    /// Votes in the last refresh, this node's own included.
    votes: AtomicU64,
    /// Monotonic µs of the last warning that the own clock is off (0: never).
    warned_us: AtomicU64,
}

impl ClusterClock {
    /// A cluster clock over this node's raw wall clock `own`.
    pub fn new(own: Arc<dyn Clock>) -> ClusterClock {
        let c = ClusterClock {
            own,
            epoch: Instant::now(),
            peers: Mutex::new(HashMap::new()),
            offset_us: AtomicI64::new(0),
            refreshed_us: AtomicU64::new(0),
            votes: AtomicU64::new(1),
            warned_us: AtomicU64::new(0),
        };
        c.refresh(c.mono_us());
        c
    }

    /// This node's raw wall clock (what its rpc answers are stamped with).
    pub fn own(&self) -> &Arc<dyn Clock> {
        &self.own
    }

    fn mono_us(&self) -> u64 {
        self.at(Instant::now())
    }

    fn at(&self, t: Instant) -> u64 {
        // +1: 0 means "never refreshed".
        u64::try_from(t.saturating_duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX).saturating_add(1)
    }

    /// A peer answered a request sent at `sent` with its wall clock reading `wall_us`; the answer
    /// arrived at `received`.
    pub fn sample(&self, peer: NodeId, wall_us: u64, sent: Instant, received: Instant) {
        let (s0, s1) = (self.at(sent), self.at(received));
        let rtt_us = s1.saturating_sub(s0);
        let mid = s0 + rtt_us / 2;
        let offset_us = clamp(wall_us).saturating_sub(clamp(mid));
        let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        peers.entry(peer).or_default().add(Sample { offset_us, rtt_us, at_us: s1 });
        drop(peers);
        self.refreshed_us.store(0, Ordering::Relaxed);
    }

    /// Peers whose clocks currently vote.
    pub fn peer_votes(&self) -> usize {
        self.now_us();
        self.votes.load(Ordering::Relaxed).saturating_sub(1) as usize
    }

    /// Cluster time minus this node's own wall clock, in ms (how wrong the own clock is).
    pub fn own_error_ms(&self) -> i64 {
        let cluster = clamp(self.now_us());
        let own = clamp(self.own.now_us());
        cluster.saturating_sub(own) / 1000
    }

    /// Recomputes the median offset at monotonic time `mono`.
    fn refresh(&self, mono: u64) {
        let own = clamp(self.own.now_us()).saturating_sub(clamp(mono));
        let mut votes = vec![own];
        {
            let peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
            votes.extend(peers.values().filter_map(|p| p.best(mono)).map(|s| s.offset_us));
        }
        votes.sort_unstable();
        let n = votes.len();
        let median = if n % 2 == 1 { votes[n / 2] } else { votes[n / 2 - 1] / 2 + votes[n / 2] / 2 };
        self.offset_us.store(median, Ordering::Relaxed);
        self.votes.store(n as u64, Ordering::Relaxed);
        self.refreshed_us.store(mono, Ordering::Relaxed);
        let off_ms = median.saturating_sub(own) / 1000;
        let last = self.warned_us.load(Ordering::Relaxed);
        if off_ms.abs() >= WARN_MS && (last == 0 || mono.saturating_sub(last) >= 60_000_000) {
            self.warned_us.store(mono, Ordering::Relaxed);
            tracing::warn!(
                cluster_minus_own_ms = off_ms,
                votes = n,
                "this node's wall clock disagrees with its peers'; using cluster time (fix the clock: NTP)"
            );
        }
    }
}

impl Clock for ClusterClock {
    fn now_ms(&self) -> u64 {
        self.now_us() / 1000
    }

    fn now_us(&self) -> u64 {
        let mono = self.mono_us();
        let last = self.refreshed_us.load(Ordering::Relaxed);
        if last == 0 || mono.saturating_sub(last) >= REFRESH.as_micros() as u64 {
            self.refresh(mono);
        }
        let t = clamp(mono).saturating_add(self.offset_us.load(Ordering::Relaxed));
        u64::try_from(t).unwrap_or(0)
    }
}

impl std::fmt::Debug for ClusterClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterClock").field("votes", &self.votes.load(Ordering::Relaxed)).finish()
    }
}

fn clamp(us: u64) -> i64 {
    i64::try_from(us).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    const S: u64 = 1_000_000;

    /// A cluster clock whose own wall clock is `own`, with peers whose wall clocks read `peers`
    /// (µs) at the instant of a 2 ms round trip.
    fn clock_with(own: &Arc<ManualClock>, peers: &[u64]) -> ClusterClock {
        let c = ClusterClock::new(Arc::clone(own) as Arc<dyn Clock>);
        for (i, &wall) in peers.iter().enumerate() {
            let now = Instant::now();
            c.sample(NodeId([i as u8 + 1; 20]), wall, now - Duration::from_millis(1), now + Duration::from_millis(1));
        }
        c
    }

    #[tokio::test(start_paused = true)]
    async fn a_minority_of_wrong_clocks_is_outvoted_whichever_side_it_is_on() {
        let right = 1_800_000_000 * S;
        // This node five minutes ahead, its peers right: cluster time is right.
        let ahead = Arc::new(ManualClock::new((right + 300 * S) / 1000));
        let c = clock_with(&ahead, &[right, right]);
        assert!(c.now_ms().abs_diff(right / 1000) <= 2, "{} vs {}", c.now_ms(), right / 1000);
        assert_eq!(c.peer_votes(), 2);
        assert!((c.own_error_ms() + 300_000).abs() <= 2);
        // This node right, one peer five minutes behind: still right.
        let ok = Arc::new(ManualClock::new(right / 1000));
        let c = clock_with(&ok, &[right - 300 * S, right]);
        assert!(c.now_ms().abs_diff(right / 1000) <= 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_step_of_the_own_clock_after_the_samples_is_outvoted_by_their_extrapolation() {
        let right = 1_800_000_000 * S;
        let own = Arc::new(ManualClock::new(right / 1000));
        let c = clock_with(&own, &[right, right]);
        tokio::time::advance(Duration::from_secs(10)).await;
        own.advance(10_000 + 120_000); // ten seconds pass, and the own clock jumps two minutes
        let expected = (right + 10 * S) / 1000;
        assert!(c.now_ms().abs_diff(expected) <= 2, "{} vs {expected}", c.now_ms());
    }

    #[tokio::test(start_paused = true)]
    async fn samples_expire_after_the_window_and_the_best_round_trip_wins() {
        let right = 1_800_000_000 * S;
        let own = Arc::new(ManualClock::new(right / 1000 + 300_000));
        let c = clock_with(&own, &[right, right]);
        // A slow, wrong-looking sample does not replace a fast one.
        let now = Instant::now();
        c.sample(NodeId([1; 20]), right + 900 * S, now - Duration::from_millis(500), now + Duration::from_millis(500));
        assert!(c.now_ms().abs_diff(right / 1000) <= 2);
        tokio::time::advance(WINDOW + Duration::from_secs(1)).await;
        own.advance(WINDOW.as_millis() as u64 + 1000);
        assert_eq!(c.peer_votes(), 0, "stale votes dropped");
        assert_eq!(c.now_ms(), own.now_ms(), "alone, the own clock is all there is");
    }

    #[test]
    fn half_windows_roll_over() {
        let mut p = PeerSamples::default();
        let half = WINDOW.as_micros() as u64 / 2;
        p.add(Sample { offset_us: 1, rtt_us: 10, at_us: 1 });
        p.add(Sample { offset_us: 2, rtt_us: 50, at_us: half + 2 });
        assert_eq!(p.best(half + 3).map(|s| s.offset_us), Some(1), "the previous half's better sample");
        assert_eq!(p.best(2 * half + 2).map(|s| s.offset_us), Some(2), "the first one aged out");
    }
}
