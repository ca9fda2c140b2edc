//! Wall-clock time behind a trait, so expiry and HLC timestamps can be driven by tests.
//!
//! Protocol code waits with `tokio::time`; anything that needs *what time it is* (TTLs, HLC
//! physical part, `TIME`, `LASTSAVE`) asks a [`Clock`]. A standalone node uses the operating
//! system's clock; a cluster node uses [`ClusterClock`], the median of its own and its peers'
//! clocks (`cluster.rs`).

mod cluster;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub use cluster::ClusterClock;

/// A source of Unix time.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;

    /// Microseconds since the Unix epoch.
    fn now_us(&self) -> u64 {
        self.now_ms() * 1000
    }
}

/// The operating system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
    }

    fn now_us(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
    }
}

/// The operating system clock shifted by a fixed number of milliseconds (a node whose clock is
/// wrong, in tests).
#[derive(Debug, Clone, Copy)]
pub struct SkewedClock {
    /// Added to the system clock (negative: behind).
    pub offset_ms: i64,
}

impl Clock for SkewedClock {
    fn now_ms(&self) -> u64 {
        SystemClock.now_ms().saturating_add_signed(self.offset_ms)
    }

    fn now_us(&self) -> u64 {
        SystemClock.now_us().saturating_add_signed(self.offset_ms.saturating_mul(1000))
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Default)]
pub struct ManualClock {
    ms: AtomicU64,
}

impl ManualClock {
    /// A clock standing at `ms`.
    pub fn new(ms: u64) -> ManualClock {
        ManualClock { ms: AtomicU64::new(ms) }
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: u64) {
        self.ms.fetch_add(ms, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.ms.load(Ordering::Relaxed)
    }
}
