//! The pace of background work: a token bucket that refills at a fixed rate (per second) and
//! holds at most one second of it. Spending more than is there waits until the debt is paid, so
//! over any stretch longer than a second the rate is kept, whatever the sizes spent.

use std::time::Duration;

use tokio::time::Instant;

/// A rate budget (units per second).
#[derive(Debug)]
pub struct Budget {
    per_sec: f64,
    tokens: f64,
    at: Instant,
}

impl Budget {
    /// A full budget of `per_sec` units per second (0: unlimited).
    pub fn new(per_sec: u64) -> Budget {
        Budget { per_sec: per_sec as f64, tokens: per_sec as f64, at: Instant::now() }
    }

    /// How long spending `n` units now must wait, after which they are spent.
    pub fn take(&mut self, n: u64) -> Duration {
        if self.per_sec <= 0.0 {
            return Duration::ZERO;
        }
        let now = Instant::now();
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * self.per_sec;
        self.tokens = (self.tokens + refill).min(self.per_sec) - n as f64;
        self.at = now;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.per_sec)
        }
    }

    /// Spends `n` units, waiting as long as the budget requires.
    pub async fn spend(&mut self, n: u64) {
        let wait = self.take(n);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_rate_is_kept_over_time() {
        let mut b = Budget::new(1000);
        // A full second's worth is there at once; beyond it every unit waits its share.
        assert_eq!(b.take(1000), Duration::ZERO);
        assert_eq!(b.take(500), Duration::from_millis(500));
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(b.take(0), Duration::ZERO);
        // Spending 5000 units from empty takes 5 s of (paused) time.
        let start = Instant::now();
        b.spend(5000).await;
        assert_eq!(start.elapsed(), Duration::from_secs(5));
        // Unlimited never waits.
        assert_eq!(Budget::new(0).take(u64::MAX), Duration::ZERO);
    }
}
