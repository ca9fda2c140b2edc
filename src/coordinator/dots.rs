//! The floor under this node's new dot counters, so that a dot is never issued twice.
//!
//! A DVVSet counter is per key and per node: the next write a node coordinates for a key gets
//! `counter + 1` of that key's entry for the node. When a key's history is reaped (every replica
//! held only its tombstone, see `reap.rs`) or was never seen here, that entry is gone and the
//! count would start again at 1 — and then a client holding a context from before the reap (or a
//! context read from a stale replica) would *cover* the new dots without having seen their values:
//! its write silently supersedes them, an acknowledged write lost. The fault-injection checker
//! (`tests/chaos`) caught exactly that.
//!
//! So a node starts a key's entry that holds no value of its own above every counter it has ever
//! issued for any key ([`DotFloor::floor`]). Such an entry only claims to have seen dots of this
//! node that are long superseded (reaped), so nothing live is covered by mistake. The floor
//! survives restarts through a lease file (`dots.lease` in the data directory): counters are only
//! issued below the persisted lease, which is moved up by [`LEASE_STEP`] (and fsynced) before one
//! would pass it.

use std::fs;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// How far the persisted lease moves ahead each time.
pub const LEASE_STEP: u64 = 1 << 20;

/// The highest counter issued so far and the persisted bound above it.
#[derive(Debug, Default)]
pub struct DotFloor {
    issued: AtomicU64,
    lease: AtomicU64,
    /// The lease file; `None` keeps the floor in memory only (tests, in-memory stores).
    path: Option<PathBuf>,
    persist: Mutex<()>,
}

impl DotFloor {
    /// The floor of a node whose lease lives in `path` (read now; a missing file is a new node).
    pub fn open(path: Option<PathBuf>) -> std::io::Result<DotFloor> {
        let lease = match &path {
            Some(p) => match fs::read_to_string(p) {
                Ok(text) => {
                    text.trim().parse::<u64>().map_err(|e| std::io::Error::other(format!("{}: {e}", p.display())))?
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
                Err(e) => return Err(e),
            },
            None => 0,
        };
        // Everything issued before the restart is below the old lease.
        Ok(DotFloor { issued: AtomicU64::new(lease), lease: AtomicU64::new(lease), path, persist: Mutex::new(()) })
    }

    /// Every counter this node issued so far is at most this.
    pub fn floor(&self) -> u64 {
        self.issued.load(Ordering::Acquire)
    }

    /// Records that `counter` was issued; moves the lease first when it would pass it.
    pub fn issued(&self, counter: u64) -> std::io::Result<()> {
        if counter >= self.lease.load(Ordering::Acquire) {
            self.extend(counter)?;
        }
        self.issued.fetch_max(counter, Ordering::AcqRel);
        Ok(())
    }

    fn extend(&self, counter: u64) -> std::io::Result<()> {
        let _one = self.persist.lock().unwrap_or_else(|p| p.into_inner());
        if counter < self.lease.load(Ordering::Acquire) {
            return Ok(());
        }
        let next = counter.saturating_add(LEASE_STEP);
        if let Some(path) = &self.path {
            let tmp = path.with_extension("lease.tmp");
            let mut f = fs::File::create(&tmp)?;
            writeln!(f, "{next}")?;
            f.sync_all()?;
            fs::rename(&tmp, path)?;
            if let Some(dir) = path.parent() {
                fs::File::open(dir)?.sync_all()?;
            }
        }
        self.lease.store(next, Ordering::Release);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_survives_a_restart_above_everything_issued() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dots.lease");
        let f = DotFloor::open(Some(path.clone())).unwrap();
        assert_eq!(f.floor(), 0);
        f.issued(7).unwrap();
        f.issued(3).unwrap();
        assert_eq!(f.floor(), 7);
        drop(f);
        let again = DotFloor::open(Some(path)).unwrap();
        assert!(again.floor() >= 7, "a restarted node must not issue counters it issued before");
        let before = again.floor();
        again.issued(before + LEASE_STEP + 5).unwrap();
        assert_eq!(again.floor(), before + LEASE_STEP + 5);
    }
}
