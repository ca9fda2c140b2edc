//! Building the trees at start, while the node serves: [`super::AntiEntropy::attach`] subscribed
//! to the change feed and took a snapshot of the store at the same instant; the trees then hold
//! the XOR of every change since. Adding every key of the snapshot completes them: for one key,
//! the changes since chain from its digest in the snapshot to its digest now, so snapshot ⊕ changes
//! = now, exactly, whatever the order. The scan reads `aae-rebuild-keys-per-sec` at most, a page at
//! a time. A `FLUSHALL` meanwhile makes the snapshot moot: the trees were cleared and the rest of
//! the snapshot is dropped.

use std::sync::atomic::Ordering;
use std::sync::PoisonError;

use tokio::sync::watch;

use super::budget::Budget;
use super::AntiEntropy;
use crate::coordinator::Digest;
use crate::storage::{keys, next_page, Snapshot, Space};

const PAGE: usize = 1000;

impl AntiEntropy {
    /// Adds the snapshot's keys to the trees, then marks them ready. Returns early (not ready)
    /// when `shutdown` turns true or the snapshot cannot be read.
    pub async fn build(&self, snapshot: Box<dyn Snapshot>, shutdown: &mut watch::Receiver<bool>) {
        let mut budget = Budget::new(self.settings.rebuild_keys_per_sec);
        let mut from: Vec<u8> = Vec::new();
        loop {
            if *shutdown.borrow() {
                return;
            }
            let page = match snapshot.scan(Space::Data, &from, None, PAGE) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "anti-entropy could not read the store to build its trees");
                    return;
                }
            };
            {
                let _flush = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
                // Cleared since the snapshot was taken (at attach): the trees hold the truth already.
                if self.cleared.load(Ordering::Acquire) != 0 {
                    break;
                }
                for (skey, bytes) in &page {
                    self.trees.change(keys::position(skey), Digest::ABSENT, Digest::of_bytes(bytes));
                }
            }
            self.stats.rebuild_keys.fetch_add(page.len() as u64, Ordering::Relaxed);
            match next_page(&page, PAGE) {
                Some(next) => from = next,
                None => break,
            }
            tokio::select! {
                _ = budget.spend(page.len() as u64) => {}
                _ = shutdown.changed() => return,
            }
        }
        drop(snapshot);
        self.ready.store(true, Ordering::Release);
        tracing::info!(keys = self.stats.rebuild_keys.load(Ordering::Relaxed), "anti-entropy trees built");
    }
}
