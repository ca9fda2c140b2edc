//! When writes become durable: `fsync = no | everysec | always`, with group commit.
//!
//! Writers apply their batch to the [`Store`] and then call [`Durability::commit`] once per client
//! read batch, before any reply of that batch is sent. `commit` takes a ticket and then *yields*
//! once, so that every other connection with input ready runs its batch first; the first writer
//! to resume then makes durable everything ticketed so far, for all of them. That is Redis's
//! event loop (serve every ready client, then one AOF `write`/`fsync` in `beforeSleep`, then the
//! replies) expressed with tokio tasks, and it is what turns one syscall per client batch into one
//! per scheduler round.
//! - `no` / `everysec`: the journal buffer is handed to the OS with one `write` (a process crash
//!   loses nothing acknowledged); a background thread fsyncs every second under `everysec`.
//! - `always`: the writer waits (asynchronously) until the sync thread has completed an fsync
//!   that started after its write. One fsync serves every writer ticketed before it started —
//!   group commit, never one fsync per request.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{StorageError, Store};

/// The `fsync` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FsyncPolicy {
    /// Hand writes to the OS before acknowledging; never fsync explicitly.
    No,
    /// Like `no`, plus an fsync every second (Redis's `appendfsync everysec`).
    Everysec,
    /// Acknowledge only after an fsync covering the write (group commit).
    Always,
}

impl FsyncPolicy {
    /// The Redis-style name (`no`, `everysec`, `always`).
    pub fn as_str(self) -> &'static str {
        match self {
            FsyncPolicy::No => "no",
            FsyncPolicy::Everysec => "everysec",
            FsyncPolicy::Always => "always",
        }
    }

    /// Parses a Redis-style name, case-insensitively.
    pub fn parse(s: &[u8]) -> Option<FsyncPolicy> {
        match s.to_ascii_lowercase().as_slice() {
            b"no" => Some(FsyncPolicy::No),
            b"everysec" => Some(FsyncPolicy::Everysec),
            b"always" => Some(FsyncPolicy::Always),
            _ => None,
        }
    }

    fn to_u8(self) -> u8 {
        self as u8
    }

    fn from_u8(v: u8) -> FsyncPolicy {
        match v {
            0 => FsyncPolicy::No,
            1 => FsyncPolicy::Everysec,
            _ => FsyncPolicy::Always,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Synced {
    upto: u64,
    failed: bool,
}

struct Shared {
    store: Arc<dyn Store>,
    policy: AtomicU8,
    /// Highest ticket handed out to a writer waiting for an fsync.
    requested: Mutex<u64>,
    wake: Condvar,
    synced: watch::Sender<Synced>,
    stopping: std::sync::atomic::AtomicBool,
    fsyncs: AtomicU64,
}

/// The durability policy of one node, shared by all connections.
pub struct Durability {
    shared: Arc<Shared>,
    /// Tickets handed out: a writer takes one after applying its writes to the store.
    next_ticket: AtomicU64,
    /// Every ticket up to this one is in the OS (its journal bytes were written).
    handed_to_os: AtomicU64,
    thread: Mutex<Option<thread::JoinHandle<()>>>,
}

impl Durability {
    /// Starts the sync thread for `store` under `policy`.
    pub fn start(store: Arc<dyn Store>, policy: FsyncPolicy) -> Arc<Durability> {
        let (synced, _) = watch::channel(Synced::default());
        let shared = Arc::new(Shared {
            store,
            policy: AtomicU8::new(policy.to_u8()),
            requested: Mutex::new(0),
            wake: Condvar::new(),
            synced,
            stopping: std::sync::atomic::AtomicBool::new(false),
            fsyncs: AtomicU64::new(0),
        });
        let worker = Arc::clone(&shared);
        let handle = thread::Builder::new().name("cartwheel-fsync".into()).spawn(move || sync_loop(&worker)).ok();
        Arc::new(Durability {
            shared,
            next_ticket: AtomicU64::new(0),
            handed_to_os: AtomicU64::new(0),
            thread: Mutex::new(handle),
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> FsyncPolicy {
        FsyncPolicy::from_u8(self.shared.policy.load(Ordering::Relaxed))
    }

    /// Changes the policy at run time (`CONFIG SET appendfsync`).
    pub fn set_policy(&self, policy: FsyncPolicy) {
        self.shared.policy.store(policy.to_u8(), Ordering::Relaxed);
    }

    /// Number of fsyncs done so far (for `INFO persistence`).
    pub fn fsyncs(&self) -> u64 {
        self.shared.fsyncs.load(Ordering::Relaxed)
    }

    /// Makes every write applied so far as durable as the policy requires.
    pub async fn commit(&self) -> Result<(), StorageError> {
        let ticket = self.next_ticket.fetch_add(1, Ordering::AcqRel) + 1;
        // Let the other ready connections apply (and ticket) their writes first.
        tokio::task::yield_now().await;
        if self.policy() != FsyncPolicy::Always {
            if self.handed_to_os.load(Ordering::Acquire) >= ticket {
                return Ok(());
            }
            // Every ticket up to `upto` was taken after its writes were applied, so this one
            // write of the journal buffer covers them all.
            let upto = self.next_ticket.load(Ordering::Acquire);
            self.shared.store.flush()?;
            self.handed_to_os.fetch_max(upto, Ordering::AcqRel);
            return Ok(());
        }
        {
            let mut requested = self.shared.requested.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if *requested < ticket {
                *requested = self.next_ticket.load(Ordering::Acquire);
                self.shared.wake.notify_one();
            }
        }
        let mut rx = self.shared.synced.subscribe();
        let state = rx
            .wait_for(|s| s.upto >= ticket || s.failed)
            .await
            .map_err(|_| StorageError::Engine("fsync thread stopped".into()))?;
        if state.failed {
            return Err(StorageError::Engine("fsync failed; the store is read-only until restart".into()));
        }
        Ok(())
    }

    /// Flushes and fsyncs everything now (shutdown, `SAVE`-like paths). Blocking.
    pub fn sync_now(&self) -> Result<(), StorageError> {
        self.shared.store.sync()
    }

    /// Stops the sync thread after a final fsync.
    pub fn stop(&self) {
        self.shared.stopping.store(true, Ordering::Release);
        self.shared.wake.notify_all();
        let handle = self.thread.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

impl Drop for Durability {
    fn drop(&mut self) {
        self.stop();
    }
}

fn sync_loop(shared: &Shared) {
    let mut done = 0u64;
    loop {
        let target = {
            let mut requested = shared.requested.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            while *requested <= done && !shared.stopping.load(Ordering::Acquire) {
                let (guard, timeout) = shared
                    .wake
                    .wait_timeout(requested, Duration::from_secs(1))
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                requested = guard;
                if timeout.timed_out()
                    && FsyncPolicy::from_u8(shared.policy.load(Ordering::Relaxed)) == FsyncPolicy::Everysec
                {
                    break;
                }
            }
            *requested
        };
        // Every writer holding a ticket <= target applied its write before taking the ticket,
        // so this fsync (which starts now) covers them all.
        let result = shared.store.sync();
        shared.fsyncs.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(()) => {
                done = done.max(target);
                shared.synced.send_modify(|s| s.upto = s.upto.max(target));
            }
            Err(e) => {
                tracing::error!(error = %e, "fsync failed");
                shared.synced.send_modify(|s| s.failed = true);
            }
        }
        if shared.stopping.load(Ordering::Acquire) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{MemStore, Space};

    /// A MemStore that counts `flush` calls.
    #[derive(Default)]
    struct CountingStore {
        inner: MemStore,
        flushes: AtomicU64,
    }

    impl Store for CountingStore {
        fn get(&self, space: Space, key: &[u8]) -> Result<Option<bytes::Bytes>, StorageError> {
            self.inner.get(space, key)
        }
        fn write(&self, batch: &[crate::storage::Write]) -> Result<(), StorageError> {
            self.inner.write(batch)
        }
        fn scan(
            &self,
            space: Space,
            from: &[u8],
            to: Option<&[u8]>,
            limit: usize,
        ) -> Result<Vec<(bytes::Bytes, bytes::Bytes)>, StorageError> {
            self.inner.scan(space, from, to, limit)
        }
        fn flush(&self) -> Result<(), StorageError> {
            self.flushes.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        fn sync(&self) -> Result<(), StorageError> {
            self.inner.sync()
        }
        fn clear(&self) -> Result<(), StorageError> {
            self.inner.clear()
        }
        fn disk_space(&self) -> u64 {
            0
        }
        fn space_disk_space(&self, _space: Space) -> u64 {
            0
        }
        fn compact(&self, space: Space) -> Result<(), StorageError> {
            self.inner.compact(space)
        }
        fn snapshot(&self) -> Box<dyn crate::storage::Snapshot> {
            self.inner.snapshot()
        }
    }

    async fn commit_concurrently(d: &Arc<Durability>, writers: usize) {
        let tasks: Vec<_> = (0..writers)
            .map(|_| {
                let d = Arc::clone(d);
                tokio::spawn(async move { d.commit().await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    }

    #[tokio::test]
    async fn always_groups_every_ready_writer_into_one_fsync() {
        let d = Durability::start(Arc::new(MemStore::new()), FsyncPolicy::Always);
        commit_concurrently(&d, 50).await;
        assert_eq!(d.fsyncs(), 1, "50 writers ready in the same scheduler round share one fsync");
        commit_concurrently(&d, 3).await;
        assert_eq!(d.fsyncs(), 2);
        d.stop();
    }

    #[tokio::test]
    async fn no_policy_hands_a_round_of_writers_to_the_os_with_one_write() {
        let store = Arc::new(CountingStore::default());
        let d = Durability::start(Arc::clone(&store) as Arc<dyn Store>, FsyncPolicy::No);
        commit_concurrently(&d, 50).await;
        assert_eq!(store.flushes.load(Ordering::Relaxed), 1);
        for _ in 0..10 {
            d.commit().await.unwrap();
        }
        assert_eq!(store.flushes.load(Ordering::Relaxed), 11, "a lone writer still flushes its own write");
        assert_eq!(d.fsyncs(), 0);
        d.stop();
    }
}
