//! [`LogLimiter`]: at most one log line per interval for an event that strangers can cause at
//! will, with the count of the lines it held back. The server puts refused and timed-out peer
//! handshakes through one, so a flood of garbage connections on the cluster port costs one
//! `warn!` per second rather than one per connection (the `refused` counter still counts every
//! one).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Admits one event per `interval`; counts the others.
#[derive(Debug)]
pub(crate) struct LogLimiter {
    interval: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// When the last admitted event happened.
    last: Option<Instant>,
    /// Events held back since then.
    suppressed: u64,
}

impl LogLimiter {
    pub(crate) fn new(interval: Duration) -> LogLimiter {
        LogLimiter { interval, state: Mutex::new(State::default()) }
    }

    /// Whether to log an event happening at `now`: `Some(n)` to log it, saying that `n` similar
    /// events were not logged since the previous line; `None` to count it silently.
    pub(crate) fn admit(&self, now: Instant) -> Option<u64> {
        let mut s = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match s.last {
            Some(last) if now.saturating_duration_since(last) < self.interval => {
                s.suppressed = s.suppressed.saturating_add(1);
                None
            }
            _ => {
                s.last = Some(now);
                Some(std::mem::take(&mut s.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_with_the_count_of_the_others() {
        let limiter = LogLimiter::new(Duration::from_secs(1));
        let t0 = Instant::now();
        assert_eq!(limiter.admit(t0), Some(0));
        let ms = Duration::from_millis;
        let admitted = (1..1000).filter(|&i| limiter.admit(t0 + ms(i)).is_some()).count();
        assert_eq!(admitted, 0, "a burst within the second is held back");
        assert_eq!(limiter.admit(t0 + ms(1000)), Some(999), "the next line reports the burst");
        assert_eq!(limiter.admit(t0 + ms(1500)), None);
        assert_eq!(limiter.admit(t0 + ms(5000)), Some(1));
        assert_eq!(limiter.admit(t0 + ms(6000)), Some(0), "a quiet second reports none");
    }
}
