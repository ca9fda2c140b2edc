//! Hybrid logical clock: 48 bits of Unix milliseconds and 16 bits of logical counter in one
//! `u64`, so timestamps order like wall-clock time but never go backwards on a node and always
//! move past any timestamp the node has observed (Kulkarni et al., 2014).
//!
//! The coordinator stamps every sibling with [`Hlc::now`]; replicas call [`Hlc::observe`] on the
//! timestamps they receive. Wall-clock input comes from the caller (see `clock.rs`), so tests
//! can drive time by hand.

use std::sync::atomic::{AtomicU64, Ordering};

const LOGICAL_BITS: u32 = 16;
/// Where the microseconds within a millisecond go in the logical bits (6 bits of counter below).
const SUB_MS_SHIFT: u32 = 6;

/// A hybrid logical clock shared by all tasks of a node.
#[derive(Debug, Default)]
pub struct Hlc {
    last: AtomicU64,
}

impl Hlc {
    /// A clock that has observed nothing yet.
    pub fn new() -> Hlc {
        Hlc { last: AtomicU64::new(0) }
    }

    /// A fresh timestamp strictly greater than every earlier one from this clock, at wall-clock
    /// millisecond `wall_ms`.
    pub fn now(&self, wall_ms: u64) -> u64 {
        self.now_us(wall_ms.saturating_mul(1000))
    }

    /// Like [`Hlc::now`] at wall-clock microsecond `wall_us`: the microseconds within the
    /// millisecond fill the upper 10 of the 16 logical bits (`µs << 6`, below 64,000), so two
    /// nodes' writes a few hundred microseconds apart order by when they were made — not by a
    /// coin toss between two counters in the same millisecond — and [`Hlc::millis`] stays the
    /// millisecond.
    pub fn now_us(&self, wall_us: u64) -> u64 {
        let physical = ((wall_us / 1000) << LOGICAL_BITS) | ((wall_us % 1000) << SUB_MS_SHIFT);
        let mut prev = self.last.load(Ordering::Relaxed);
        loop {
            let next = physical.max(prev + 1);
            match self.last.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return next,
                Err(actual) => prev = actual,
            }
        }
    }

    /// Moves the clock past a timestamp received from another node.
    pub fn observe(&self, remote: u64) {
        self.last.fetch_max(remote, Ordering::Relaxed);
    }

    /// The wall-clock milliseconds part of a timestamp.
    pub fn millis(ts: u64) -> u64 {
        ts >> LOGICAL_BITS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotone_even_when_wall_clock_goes_back() {
        let c = Hlc::new();
        let a = c.now(1000);
        let b = c.now(999);
        let d = c.now(1000);
        assert!(a < b && b < d);
        assert_eq!(Hlc::millis(a), 1000);
    }

    #[test]
    fn microseconds_order_writes_within_a_millisecond() {
        // Two nodes, neither having seen the other's write: the one made 300 µs later is later,
        // even though the first node had already stamped many writes in that millisecond.
        let (x, y) = (Hlc::new(), Hlc::new());
        let mut early = 0;
        for _ in 0..50 {
            early = x.now_us(1_000_100);
        }
        let late = y.now_us(1_000_400);
        assert!(late > early, "{late} <= {early}");
        assert_eq!(Hlc::millis(late), 1000);
        let end_of_ms = y.now_us(1_000_999);
        assert_eq!(Hlc::millis(end_of_ms), 1000);
        assert!(y.now_us(1_001_000) > end_of_ms);
    }

    #[test]
    fn observing_moves_past_remote() {
        let c = Hlc::new();
        let remote = Hlc::new().now(5000);
        c.observe(remote);
        assert!(c.now(10) > remote);
    }
}
