//! Time on the wire, for the late-request fence (README "Late requests"): every frame carries a
//! time stamp, and every request carries its deadline **in the receiver's clock**, so the receiver
//! can tell — without trusting any wall clock — whether the caller is still waiting.
//!
//! - [`LocalClock`] is a node's transport clock: microseconds that advance with the monotonic
//!   clock (`tokio::time`, so paused-time tests drive it), starting from the wall-clock time at
//!   which the node started. Wall-clock steps after the start (NTP, a skewed VM, libfaketime) do
//!   not move it; two nodes' clocks may differ by any amount.
//! - [`PeerClock`] is what the caller knows of one peer's clock: a **lower bound** on it. Every
//!   frame the peer sends is stamped with its clock `r` before it leaves; the caller receives it at
//!   its own time `s`, so at any later caller time `s'` the peer's clock reads at least
//!   `r + (s' − s)·(1 − ρ)` (ρ = [`DRIFT`]: the two clocks' rates may differ by at most 500 ppm,
//!   NTP's largest slew). The bound from the best sample (the largest `r − s·(1 − ρ)`) is kept.
//! - A caller whose call ends at its time `D` sends the deadline `lower_bound(D)`: when the peer's
//!   clock reaches it, the caller's clock reads at most `D`. A receiver that refuses to act on a
//!   request once its own clock has passed the deadline therefore never acts after the caller
//!   stopped waiting — whatever the network delay, scheduling pause or clock skew. The price is
//!   conservatism: the receiver gives up up to one one-way delay (of the best sample) early.
//!
//! Used by the handshake (first sample), the client connection (samples, deadlines) and the server
//! (stamps, deadline → [`Instant`]).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// The largest relative rate difference assumed between two nodes' clocks, as `1 / DRIFT`
/// (500 ppm).
pub const DRIFT: i64 = 2000;

/// A node's transport clock: microseconds, monotonic, starting at the node's wall-clock start time.
#[derive(Debug, Clone, Copy)]
pub struct LocalClock {
    epoch: Instant,
    base_us: u64,
}

impl LocalClock {
    /// A clock that reads `base_us` now.
    pub fn starting_at(base_us: u64) -> LocalClock {
        LocalClock { epoch: Instant::now(), base_us }
    }

    /// The clock's reading now.
    pub fn now_us(&self) -> u64 {
        self.at(Instant::now())
    }

    /// The clock's reading at `t`.
    pub fn at(&self, t: Instant) -> u64 {
        let since = t.saturating_duration_since(self.epoch).as_micros();
        self.base_us.saturating_add(u64::try_from(since).unwrap_or(u64::MAX))
    }

    /// The instant at which the clock reads `us` (the clock's start for earlier readings).
    pub fn instant(&self, us: u64) -> Instant {
        self.epoch + Duration::from_micros(us.saturating_sub(self.base_us))
    }
}

/// A lower bound on one peer's [`LocalClock`], learnt from the stamps of the frames it sent.
#[derive(Debug)]
pub struct PeerClock {
    /// The best `r − s + s / DRIFT` seen (see the module docs); `i64::MIN` before any sample.
    best: AtomicI64,
}

impl PeerClock {
    /// A bound from one first sample.
    pub fn new(remote_us: u64, local_us: u64) -> PeerClock {
        let c = PeerClock { best: AtomicI64::new(i64::MIN) };
        c.sample(remote_us, local_us);
        c
    }

    /// The peer stamped a frame `remote_us`; it arrived here at `local_us`.
    pub fn sample(&self, remote_us: u64, local_us: u64) {
        let (r, s) = (clamp(remote_us), clamp(local_us));
        self.best.fetch_max(r.saturating_sub(s).saturating_add(s / DRIFT), Ordering::Relaxed);
    }

    /// A time of the peer's clock that it reaches no later than this node's clock reaches
    /// `local_us` (0 when nothing is known, which a receiver reads as "already late").
    pub fn lower_bound(&self, local_us: u64) -> u64 {
        let best = self.best.load(Ordering::Relaxed);
        if best == i64::MIN {
            return 0;
        }
        let d = clamp(local_us);
        let at = best.saturating_add(d).saturating_sub(d / DRIFT);
        u64::try_from(at).unwrap_or(0)
    }
}

fn clamp(us: u64) -> i64 {
    i64::try_from(us).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two clocks that differ by `offset` (peer = local + offset) and a message delay.
    #[test]
    fn the_bound_is_never_above_the_peer_clock_and_tightens_with_faster_samples() {
        let offset: i64 = -3_600_000_000; // the peer's clock reads an hour less
        let peer_at = |local: u64| (local as i64 + offset) as u64;
        let local = 10_000_000_000u64;
        // A frame stamped by the peer, delayed 5 ms on its way.
        let c = PeerClock::new(peer_at(local), local + 5_000);
        for later in [local + 5_000, local + 1_000_000, local + 60_000_000] {
            let bound = c.lower_bound(later);
            assert!(bound <= peer_at(later), "bound {bound} above the peer's clock {}", peer_at(later));
            assert!(peer_at(later) - bound < 5_000 + (later - local) / 1000, "bound too loose");
        }
        // A faster sample (0.1 ms) moves the bound up, a slower one does not move it down.
        let before = c.lower_bound(local + 2_000_000);
        c.sample(peer_at(local + 1_000_000), local + 1_000_100);
        let after = c.lower_bound(local + 2_000_000);
        assert!(after > before);
        c.sample(peer_at(local + 1_500_000), local + 1_900_000);
        assert_eq!(c.lower_bound(local + 2_000_000), after);
        assert!(after <= peer_at(local + 2_000_000));
    }

    #[test]
    fn a_peer_clock_slower_by_the_drift_allowance_stays_above_the_bound() {
        // The peer's clock runs 400 ppm slow: after 100 s it is 40 ms behind a true copy.
        let c = PeerClock::new(1_000_000, 1_000_000);
        let elapsed = 100_000_000u64;
        let peer_now = 1_000_000 + elapsed - elapsed * 400 / 1_000_000;
        assert!(c.lower_bound(1_000_000 + elapsed) <= peer_now);
    }

    #[test]
    fn nothing_known_means_already_late_and_extremes_do_not_overflow() {
        let c = PeerClock { best: AtomicI64::new(i64::MIN) };
        assert_eq!(c.lower_bound(123), 0);
        let c = PeerClock::new(u64::MAX, 0);
        let _ = c.lower_bound(u64::MAX);
        let c = PeerClock::new(0, u64::MAX);
        assert_eq!(c.lower_bound(0), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn local_clock_moves_with_monotonic_time_and_maps_back_to_instants() {
        let clock = LocalClock::starting_at(1_000);
        let start = Instant::now();
        tokio::time::advance(Duration::from_millis(5)).await;
        assert_eq!(clock.now_us(), 6_000);
        assert_eq!(clock.instant(6_000), start + Duration::from_millis(5));
        assert_eq!(clock.instant(0), start, "readings before the start map to the start");
    }
}
