//! The node's counters: [`ServerStats`] (`INFO stats`, `INFO commandstats`, `INFO errorstats`)
//! and the numbers that are more than a plain counter, computed as Redis computes them:
//! `keyspace_hits` / `keyspace_misses` (one per key a read looks up, counted by
//! [`crate::command`] from the read's reply) and the `instantaneous_*` rates, sampled every
//! 100 ms and averaged over the last 16 samples (Redis's `trackInstantaneousMetric`). The node
//! spawns [`run_sampler`] over its counters; `INFO` reads [`Metrics`].
//!
//! The hot path costs one relaxed atomic add per read command; sampling runs off it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use dashmap::DashMap;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

/// Samples averaged (Redis's `STATS_METRIC_SAMPLES`).
const SAMPLES: usize = 16;
/// Time between samples (Redis samples from `serverCron`, every 100 ms).
pub const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// Keyspace lookups and the instantaneous rates.
#[derive(Debug, Default)]
pub struct Metrics {
    hits: AtomicU64,
    misses: AtomicU64,
    rates: Mutex<Rates>,
}

#[derive(Debug, Default)]
struct Rates {
    ops: Track,
    input: Track,
    output: Track,
}

/// One instantaneous metric: the counter at the last sample and the last per-second rates.
#[derive(Debug, Default)]
struct Track {
    last: Option<(Instant, u64)>,
    samples: [u64; SAMPLES],
    next: usize,
}

impl Track {
    fn sample(&mut self, now: Instant, value: u64) {
        if let Some((at, before)) = self.last {
            let ms = now.saturating_duration_since(at).as_millis() as u64;
            let per_sec = value.saturating_sub(before).saturating_mul(1000).checked_div(ms).unwrap_or(0);
            self.samples[self.next] = per_sec;
            self.next = (self.next + 1) % SAMPLES;
        }
        self.last = Some((now, value));
    }

    fn average(&self) -> u64 {
        self.samples.iter().sum::<u64>() / SAMPLES as u64
    }
}

impl Metrics {
    /// A read looked up `hits` keys that exist and `misses` that do not.
    #[inline]
    pub fn record_lookups(&self, hits: u64, misses: u64) {
        if hits > 0 {
            self.hits.fetch_add(hits, Ordering::Relaxed);
        }
        if misses > 0 {
            self.misses.fetch_add(misses, Ordering::Relaxed);
        }
    }

    /// Keys found by reads.
    pub fn keyspace_hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Keys not found by reads.
    pub fn keyspace_misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// Takes one sample of the commands, input and output byte counters.
    pub fn sample(&self, now: Instant, commands: u64, input_bytes: u64, output_bytes: u64) {
        let mut r = self.rates.lock().unwrap_or_else(PoisonError::into_inner);
        r.ops.sample(now, commands);
        r.input.sample(now, input_bytes);
        r.output.sample(now, output_bytes);
    }

    /// `instantaneous_ops_per_sec`.
    pub fn ops_per_sec(&self) -> u64 {
        self.rates.lock().unwrap_or_else(PoisonError::into_inner).ops.average()
    }

    /// `(instantaneous_input_kbps, instantaneous_output_kbps)`: KiB per second.
    pub fn kbps(&self) -> (f64, f64) {
        let r = self.rates.lock().unwrap_or_else(PoisonError::into_inner);
        (r.input.average() as f64 / 1024.0, r.output.average() as f64 / 1024.0)
    }

    /// `CONFIG RESETSTAT`: lookups and rates start again from zero.
    pub fn reset(&self) {
        self.hits.store(0, Ordering::Relaxed);
        self.misses.store(0, Ordering::Relaxed);
        *self.rates.lock().unwrap_or_else(PoisonError::into_inner) = Rates::default();
    }
}

/// Calls `sample` every [`SAMPLE_EVERY`] until `shutdown` turns true (the node passes a
/// closure feeding its counters to [`Metrics::sample`]).
pub async fn run_sampler(
    sample: impl Fn(Instant) + Send + 'static,
    mut shutdown: watch::Receiver<bool>,
    beat: crate::workers::Beat,
) {
    let mut ticker = tokio::time::interval(SAMPLE_EVERY);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            now = ticker.tick() => {
                sample(now);
                beat.ran();
            }
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_average_the_last_16_samples_like_redis() {
        let m = Metrics::default();
        let t0 = Instant::now();
        let at = |i: u64| t0 + SAMPLE_EVERY * i as u32;
        // 100 commands per 100 ms = 1000/s, for 16 samples.
        for i in 0..=16 {
            m.sample(at(i), i * 100, i * 1024, i * 2048);
        }
        assert_eq!(m.ops_per_sec(), 1000);
        assert_eq!(m.kbps(), (10.0, 20.0));
        // Idle: the rate decays one sample at a time and reaches 0 after 16.
        for i in 17..=24 {
            m.sample(at(i), 1600, 16 * 1024, 16 * 2048);
        }
        assert_eq!(m.ops_per_sec(), 500);
        for i in 25..=32 {
            m.sample(at(i), 1600, 16 * 1024, 16 * 2048);
        }
        assert_eq!(m.ops_per_sec(), 0);
        // A counter reset (RESETSTAT) is not a negative rate.
        m.sample(at(33), 0, 0, 0);
        assert_eq!(m.ops_per_sec(), 0);
    }

    #[test]
    fn lookups_count_and_reset() {
        let m = Metrics::default();
        m.record_lookups(2, 1);
        m.record_lookups(0, 3);
        assert_eq!((m.keyspace_hits(), m.keyspace_misses()), (2, 4));
        m.reset();
        assert_eq!((m.keyspace_hits(), m.keyspace_misses()), (0, 0));
    }
}

/// Server-wide counters for `INFO stats`.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Accepted connections.
    pub connections_received: AtomicU64,
    /// Connections refused (maxclients, protected mode).
    pub rejected_connections: AtomicU64,
    /// Commands run.
    pub commands: AtomicU64,
    /// Error replies sent.
    pub error_replies: AtomicU64,
    /// Failed AUTH attempts.
    pub auth_failures: AtomicU64,
    /// Bytes read from clients.
    pub net_input_bytes: AtomicU64,
    /// Bytes written to clients.
    pub net_output_bytes: AtomicU64,
    /// Keyspace hits and misses, instantaneous rates.
    pub metrics: Metrics,
    commands_by_name: DashMap<&'static str, CommandStat>,
    errors_by_prefix: DashMap<String, AtomicU64>,
}

/// Per-command counters (`INFO commandstats`).
#[derive(Debug, Default)]
struct CommandStat {
    calls: AtomicU64,
    usec: AtomicU64,
    failed: AtomicU64,
}

impl ServerStats {
    /// Records one call of `name` that took `usec` and failed or not.
    pub fn record_command(&self, name: &'static str, usec: u64, failed: bool) {
        let stat = match self.commands_by_name.get(name) {
            Some(s) => s,
            None => self.commands_by_name.entry(name).or_default().downgrade(),
        };
        stat.calls.fetch_add(1, Ordering::Relaxed);
        stat.usec.fetch_add(usec, Ordering::Relaxed);
        if failed {
            stat.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records an error reply by its code (`ERR`, `WRONGTYPE`…).
    pub fn record_error(&self, text: &str) {
        self.error_replies.fetch_add(1, Ordering::Relaxed);
        let prefix = text.split(' ').next().unwrap_or("ERR");
        if let Some(c) = self.errors_by_prefix.get(prefix) {
            c.fetch_add(1, Ordering::Relaxed);
        } else if self.errors_by_prefix.len() < 128 {
            self.errors_by_prefix.entry(prefix.to_string()).or_default().fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `(name, calls, usec, failed)` per command, by name.
    pub fn command_stats(&self) -> Vec<(&'static str, u64, u64, u64)> {
        let mut v: Vec<_> = self
            .commands_by_name
            .iter()
            .map(|e| {
                let s = e.value();
                let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
                (*e.key(), load(&s.calls), load(&s.usec), load(&s.failed))
            })
            .collect();
        v.sort_unstable();
        v
    }

    /// `(prefix, count)` per error code, by code.
    pub fn error_stats(&self) -> Vec<(String, u64)> {
        let mut v: Vec<_> =
            self.errors_by_prefix.iter().map(|e| (e.key().clone(), e.value().load(Ordering::Relaxed))).collect();
        v.sort_unstable();
        v
    }

    /// Feeds the commands and byte counters to the instantaneous rates (every 100 ms).
    pub fn sample_rates(&self, now: tokio::time::Instant) {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        self.metrics.sample(now, load(&self.commands), load(&self.net_input_bytes), load(&self.net_output_bytes));
    }

    /// `CONFIG RESETSTAT`.
    pub fn reset(&self) {
        for c in [
            &self.connections_received,
            &self.rejected_connections,
            &self.commands,
            &self.error_replies,
            &self.auth_failures,
            &self.net_input_bytes,
            &self.net_output_bytes,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        self.commands_by_name.clear();
        self.errors_by_prefix.clear();
        self.metrics.reset();
    }
}
