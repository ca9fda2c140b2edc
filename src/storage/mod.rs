//! Storage: durable bytes on disk, and nothing else.
//!
//! The [`Store`] trait is the seam between the coordinator and the disk. It knows nothing of
//! versions, TTLs or Redis: keys are *storage keys* (`slot (2 bytes, big endian) ‖ user key`, see
//! [`keys`]) so every slot is one contiguous range, values are encoded sibling sets. Two
//! implementations pass one conformance suite: [`FjallStore`] (fjall LSM tree, the real thing)
//! and [`MemStore`] (a `BTreeMap`, for unit tests). A store holds named [`Space`]s: the node's
//! own `data` and the `hints` it keeps for other nodes (hinted handoff, see `coordinator::hints`),
//! written in the same atomic batches and journal, scanned and compacted on their own so that
//! they never mix. Every scanner reads through [`scan_all`]; a [`Snapshot`] is a frozen view for
//! long, throttled scans (anti-entropy's tree rebuild). Durability policy (`fsync = no |
//! everysec | always`, group commit) lives in [`durability`]; the data directory's [`format`]
//! version is checked before anything is opened.

pub mod durability;
mod fjall_store;
pub mod format;
pub mod keys;
mod mem_store;

#[cfg(test)]
mod conformance;

use bytes::Bytes;
use thiserror::Error;

pub use durability::{Durability, FsyncPolicy};
pub use fjall_store::FjallStore;
pub use format::{check_format, FORMAT_VERSION};
pub use mem_store::MemStore;

/// A storage failure. Never retryable by the caller: the node reports it to the client and logs.
#[derive(Debug, Error)]
pub enum StorageError {
    /// The underlying engine failed (I/O error, corruption, poisoned after a failed fsync).
    #[error("storage engine error: {0}")]
    Engine(String),
    /// The data directory is of another format than this build's, and cannot be migrated.
    #[error("cannot use data directory {path}: {reason}")]
    Format {
        /// The directory.
        path: String,
        /// Why, and what to do.
        reason: String,
    },
    /// The data directory is unusable (missing, not writable, locked by another process).
    #[error("cannot open data directory {path}: {reason}")]
    Open {
        /// The directory.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

impl From<fjall::Error> for StorageError {
    fn from(e: fjall::Error) -> Self {
        StorageError::Engine(e.to_string())
    }
}

/// A named space of a store: its own ordered keys, written in the same atomic batches and
/// journal as the others, scanned and compacted on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Space {
    /// The node's own data: storage keys ([`keys`]) → encoded sibling sets.
    Data,
    /// Versions kept for other nodes (hinted handoff, `coordinator::hints`).
    Hints,
}

impl Space {
    /// Every space.
    pub const ALL: [Space; 2] = [Space::Data, Space::Hints];

    /// Its name on disk.
    pub fn name(self) -> &'static str {
        match self {
            Space::Data => "data",
            Space::Hints => "hints",
        }
    }
}

/// One mutation of a write batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Store a value under a key of a space.
    Put(Space, Bytes, Bytes),
    /// Remove a key of a space.
    Delete(Space, Bytes),
}

/// An ordered key-value store of named [`Space`]s with atomic batches across them.
///
/// Calls are synchronous and fast in the common case (memtable and block cache); see
/// `coordinator` for how they are kept from stalling the async runtime. Every scanner reads
/// through [`scan_all`] (whole ranges, a page at a time) or [`Store::scan`] (one bounded page).
pub trait Store: Send + Sync + 'static {
    /// The stored value of a key.
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Bytes>, StorageError>;

    /// Applies all writes atomically (all or none survive a crash). Not yet durable: see
    /// [`Store::flush`] and [`Store::sync`].
    fn write(&self, batch: &[Write]) -> Result<(), StorageError>;

    /// Up to `limit` entries of `space` with `from <= key < to` (`to = None`: to the end), in key
    /// order.
    fn scan(
        &self,
        space: Space,
        from: &[u8],
        to: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Bytes, Bytes)>, StorageError>;

    /// Hands buffered writes to the operating system (survives a process crash).
    fn flush(&self) -> Result<(), StorageError>;

    /// Makes every write so far durable on disk (survives a power loss).
    fn sync(&self) -> Result<(), StorageError>;

    /// Removes every key of every space.
    fn clear(&self) -> Result<(), StorageError>;

    /// Bytes used on disk by the whole store (0 for memory).
    fn disk_space(&self) -> u64;

    /// Bytes one space uses on disk (0 for memory).
    fn space_disk_space(&self, space: Space) -> u64;

    /// Rewrites a space so that the room taken by deleted keys is given back (blocking: call it
    /// off the async workers).
    fn compact(&self, space: Space) -> Result<(), StorageError>;

    /// A consistent read-only view of the store as it is now; later writes do not show in it.
    /// Keep it short-lived: it holds old data on disk until it is dropped.
    fn snapshot(&self) -> Box<dyn Snapshot>;
}

/// A frozen view of a [`Store`] ([`Store::snapshot`]).
pub trait Snapshot: Send + Sync {
    /// Like [`Store::scan`], as of the moment the snapshot was taken.
    fn scan(
        &self,
        space: Space,
        from: &[u8],
        to: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Bytes, Bytes)>, StorageError>;
}

/// Every entry of `space` with `from <= key < to`, in key order, read `page` entries at a time:
/// the one paging loop of the code base.
pub fn scan_all<'a>(store: &'a dyn Store, space: Space, from: &[u8], to: Option<&[u8]>, page: usize) -> Scan<'a> {
    Scan {
        store,
        space,
        next: Some(from.to_vec()),
        to: to.map(<[u8]>::to_vec),
        page: page.max(1),
        buf: std::collections::VecDeque::new(),
    }
}

/// Where the page after `page` starts, when it was read with `limit`: just after its last key;
/// `None` when it was the last page (shorter than `limit`). Every resumable scanner pages with it.
pub fn next_page<T>(page: &[(Bytes, T)], limit: usize) -> Option<Vec<u8>> {
    if page.len() < limit {
        return None;
    }
    page.last().map(|(k, _)| {
        let mut next = Vec::with_capacity(k.len() + 1);
        next.extend_from_slice(k);
        next.push(0);
        next
    })
}

/// The iterator of [`scan_all`]; an error ends it.
pub struct Scan<'a> {
    store: &'a dyn Store,
    space: Space,
    /// Where the next page starts (`None`: the range is exhausted).
    next: Option<Vec<u8>>,
    to: Option<Vec<u8>>,
    page: usize,
    buf: std::collections::VecDeque<(Bytes, Bytes)>,
}

impl Iterator for Scan<'_> {
    type Item = Result<(Bytes, Bytes), StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            let from = self.next.take()?;
            match self.store.scan(self.space, &from, self.to.as_deref(), self.page) {
                Ok(page) => {
                    self.next = next_page(&page, self.page);
                    self.buf = page.into();
                }
                Err(e) => return Some(Err(e)),
            }
        }
        self.buf.pop_front().map(Ok)
    }
}
