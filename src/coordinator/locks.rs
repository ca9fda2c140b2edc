//! Per-key write serialisation without a global lock: a fixed array of striped mutexes.
//!
//! A key's stripe is a hash of the key. The coordinator holds a stripe only across the
//! synchronous read–modify–write of that key (never across an `.await`), so `INCR` and friends
//! are atomic while unrelated keys proceed in parallel. Multi-key operations lock their distinct
//! stripes in ascending order, which rules out deadlock.

use std::hash::Hasher;
use std::sync::{Mutex, MutexGuard, PoisonError};

use siphasher::sip::SipHasher13;

/// Striped key locks.
pub struct KeyLocks {
    stripes: Box<[Mutex<()>]>,
}

/// Held stripes; released on drop.
pub struct Held<'a> {
    _guards: Vec<MutexGuard<'a, ()>>,
}

impl KeyLocks {
    /// `count` stripes (rounded up to a power of two).
    pub fn new(count: usize) -> KeyLocks {
        let n = count.max(1).next_power_of_two();
        KeyLocks { stripes: (0..n).map(|_| Mutex::new(())).collect() }
    }

    fn stripe(&self, key: &[u8]) -> usize {
        let mut h = SipHasher13::new_with_keys(0x6361_7274, 0x7768_6565);
        h.write(key);
        (h.finish() as usize) & (self.stripes.len() - 1)
    }

    /// Locks the stripe of one key.
    pub fn lock_one(&self, key: &[u8]) -> MutexGuard<'_, ()> {
        self.stripes[self.stripe(key)].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks the stripes of several keys, in ascending stripe order.
    pub fn lock_many<'a, K: AsRef<[u8]>>(&'a self, keys: &[K]) -> Held<'a> {
        let mut idx: Vec<usize> = keys.iter().map(|k| self.stripe(k.as_ref())).collect();
        idx.sort_unstable();
        idx.dedup();
        let guards = idx.into_iter().map(|i| self.stripes[i].lock().unwrap_or_else(PoisonError::into_inner)).collect();
        Held { _guards: guards }
    }

    /// Locks every stripe, in ascending order (`FLUSHALL`: nothing else writes meanwhile).
    pub fn lock_all(&self) -> Held<'_> {
        let guards = self.stripes.iter().map(|m| m.lock().unwrap_or_else(PoisonError::into_inner)).collect();
        Held { _guards: guards }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_keys_on_one_stripe_do_not_deadlock() {
        let locks = KeyLocks::new(1);
        let _held = locks.lock_many(&[b"a".as_slice(), b"b", b"a"]);
    }

    #[test]
    fn stripes_spread_keys() {
        let locks = KeyLocks::new(64);
        let used: std::collections::HashSet<_> = (0..1000).map(|i| locks.stripe(format!("k{i}").as_bytes())).collect();
        assert!(used.len() > 48);
    }
}
