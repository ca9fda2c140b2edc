//! Hybrid logical clock: 48 bits of Unix milliseconds and 16 bits of logical counter in one
//! `u64`, so timestamps order like wall-clock time but never go backwards on a node and always
//! move past any timestamp the node has observed (Kulkarni et al., 2014).
//!
//! The coordinator stamps every sibling with [`Hlc::now`]; replicas call [`Hlc::observe`] on the
//! timestamps they receive. Wall-clock input comes from the caller (see `clock.rs`), so tests
//! can drive time by hand.

use std::sync::atomic::{AtomicU64, Ordering};

const LOGICAL_BITS: u32 = 16;

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

    /// A fresh timestamp strictly greater than every earlier one from this clock.
    pub fn now(&self, wall_ms: u64) -> u64 {
        let physical = wall_ms << LOGICAL_BITS;
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
    fn observing_moves_past_remote() {
        let c = Hlc::new();
        let remote = Hlc::new().now(5000);
        c.observe(remote);
        assert!(c.now(10) > remote);
    }
}
