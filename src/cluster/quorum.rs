//! Quorum arithmetic and its honest error (pure, no I/O).
//!
//! [`Quorum`] clamps a requested R or W to the replicas a key actually has (with
//! fewer than N members N is the member count; R and W are clamped to N); [`Tally`] counts the
//! answers of one request as they arrive and says when the outcome is decided, so the caller can
//! reply as soon as W acks are in (or as soon as W has become unreachable) while stragglers
//! finish in the background; [`QuorumError`] is the `-NOQUORUM …` reply.

use thiserror::Error;

/// Which quorum a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Replicas that must answer a read.
    Read,
    /// Replicas that must acknowledge a write.
    Write,
}

/// A quorum could not be met. Retryable: the replicas may be back soon.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("NOQUORUM needed {}={needed} {}, got {got} ({unreachable} replica{} unreachable)",
    if *.kind == Kind::Read { "R" } else { "W" },
    if *.kind == Kind::Read { "answers" } else { "acks" },
    if *.unreachable == 1 { "" } else { "s" })]
pub struct QuorumError {
    /// Read or write.
    pub kind: Kind,
    /// Answers needed.
    pub needed: usize,
    /// Answers received.
    pub got: usize,
    /// Replicas that failed, timed out or were known down.
    pub unreachable: usize,
}

impl QuorumError {
    /// Always: a quorum may be met once the replicas are back.
    pub fn retryable(&self) -> bool {
        true
    }
}

/// The effective quorum for a key with `replicas` replicas when `requested` answers are asked
/// for: at least 1, at most `replicas`.
pub fn clamp(requested: usize, replicas: usize) -> usize {
    requested.clamp(1, replicas.max(1))
}

/// Counts the answers of one quorum request.
#[derive(Debug, Clone)]
pub struct Tally {
    kind: Kind,
    needed: usize,
    pending: usize,
    ok: usize,
    failed: usize,
}

impl Tally {
    /// A request that needs `needed` successes out of `asked` replicas.
    pub fn new(kind: Kind, needed: usize, asked: usize) -> Tally {
        Tally { kind, needed, pending: asked, ok: 0, failed: 0 }
    }

    /// One replica answered (`true`) or failed (`false`).
    pub fn record(&mut self, ok: bool) {
        self.pending = self.pending.saturating_sub(1);
        if ok {
            self.ok += 1;
        } else {
            self.failed += 1;
        }
    }

    /// The quorum is met.
    pub fn met(&self) -> bool {
        self.ok >= self.needed
    }

    /// The outcome is known: met, or no longer reachable with what is still pending.
    pub fn decided(&self) -> bool {
        self.met() || self.ok + self.pending < self.needed
    }

    /// Successes so far.
    pub fn ok(&self) -> usize {
        self.ok
    }

    /// The error to report when the quorum was not met (`pending` replicas count as unreachable:
    /// they did not answer in time).
    pub fn error(&self) -> QuorumError {
        QuorumError { kind: self.kind, needed: self.needed, got: self.ok, unreachable: self.failed + self.pending }
    }

    /// `Ok` when met, else the error.
    pub fn result(&self) -> Result<(), QuorumError> {
        if self.met() {
            Ok(())
        } else {
            Err(self.error())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_reads_like_the_design_says() {
        let mut t = Tally::new(Kind::Write, 2, 3);
        t.record(true);
        t.record(false);
        assert!(!t.decided(), "one replica is still pending");
        t.record(false);
        assert!(t.decided() && !t.met());
        assert_eq!(t.error().to_string(), "NOQUORUM needed W=2 acks, got 1 (2 replicas unreachable)");
        let e = QuorumError { kind: Kind::Read, needed: 2, got: 1, unreachable: 1 };
        assert_eq!(e.to_string(), "NOQUORUM needed R=2 answers, got 1 (1 replica unreachable)");
    }

    #[test]
    fn a_met_quorum_is_decided_before_stragglers_answer() {
        let mut t = Tally::new(Kind::Write, 2, 3);
        t.record(true);
        assert!(!t.decided());
        t.record(true);
        assert!(t.decided() && t.met() && t.result().is_ok());
    }

    #[test]
    fn a_spare_replica_keeps_a_read_alive_after_a_failure() {
        // N = 3, R = 2: the local copy answers, the first replica asked fails, the spare (counted
        // as pending from the start) can still make the quorum.
        let mut t = Tally::new(Kind::Read, 2, 3);
        t.record(true);
        t.record(false);
        assert!(!t.decided());
        t.record(true);
        assert!(t.met());
    }

    #[test]
    fn quorums_are_clamped_to_the_replicas() {
        assert_eq!(clamp(2, 1), 1);
        assert_eq!(clamp(0, 3), 1);
        assert_eq!(clamp(5, 3), 3);
        assert_eq!(clamp(2, 3), 2);
    }
}
