//! Storage: durable bytes on disk, and nothing else.
//!
//! The [`Store`] trait is the seam between the coordinator and the disk. It knows nothing of
//! versions, TTLs or Redis: keys are *storage keys* (`slot (2 bytes, big endian) ‖ user key`, see
//! [`keys`]) so every slot is one contiguous range, values are encoded sibling sets. Two
//! implementations pass one conformance suite: [`FjallStore`] (fjall LSM tree, the real thing)
//! and [`MemStore`] (a `BTreeMap`, for unit tests). Besides the node's own data a store holds a
//! separate **hints** space: versions this node keeps for other nodes (hinted handoff, see
//! `coordinator::hints`), written in the same atomic batches and journal, scanned and compacted on
//! their own so that they never mix with owned data. Durability policy (`fsync = no | everysec |
//! always`, group commit) lives in [`durability`].

pub mod durability;
mod fjall_store;
pub mod keys;
mod mem_store;

#[cfg(test)]
mod conformance;

use bytes::Bytes;
use thiserror::Error;

pub use durability::{Durability, FsyncPolicy};
pub use fjall_store::FjallStore;
pub use mem_store::MemStore;

/// A storage failure. Never retryable by the caller: the node reports it to the client and logs.
#[derive(Debug, Error)]
pub enum StorageError {
    /// The underlying engine failed (I/O error, corruption, poisoned after a failed fsync).
    #[error("storage engine error: {0}")]
    Engine(String),
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

/// One mutation of a write batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Store `value` under the storage key.
    Put(Bytes, Bytes),
    /// Remove the storage key.
    Delete(Bytes),
    /// Store `value` under a key of the hints space.
    Hint(Bytes, Bytes),
    /// Remove a key of the hints space.
    Unhint(Bytes),
}

/// An ordered key-value store with atomic batches.
///
/// Calls are synchronous and fast in the common case (memtable and block cache); see
/// `coordinator` for how they are kept from stalling the async runtime.
pub trait Store: Send + Sync + 'static {
    /// The stored value of a storage key.
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>, StorageError>;

    /// Applies all writes atomically (all or none survive a crash). Not yet durable: see
    /// [`Store::flush`] and [`Store::sync`].
    fn write(&self, batch: &[Write]) -> Result<(), StorageError>;

    /// Up to `limit` entries with `from <= key < to` (`to = None`: to the end), in key order.
    fn scan(&self, from: &[u8], to: Option<&[u8]>, limit: usize) -> Result<Vec<(Bytes, Bytes)>, StorageError>;

    /// Hands buffered writes to the operating system (survives a process crash).
    fn flush(&self) -> Result<(), StorageError>;

    /// Makes every write so far durable on disk (survives a power loss).
    fn sync(&self) -> Result<(), StorageError>;

    /// Removes every key, hints included.
    fn clear(&self) -> Result<(), StorageError>;

    /// Bytes used on disk (0 for memory).
    fn disk_space(&self) -> u64;

    /// The stored value of a key of the hints space.
    fn get_hint(&self, key: &[u8]) -> Result<Option<Bytes>, StorageError>;

    /// Like [`Store::scan`], over the hints space.
    fn scan_hints(&self, from: &[u8], to: Option<&[u8]>, limit: usize) -> Result<Vec<(Bytes, Bytes)>, StorageError>;

    /// Rewrites the hints space so that the room taken by delivered hints is given back (blocking:
    /// call it off the async workers).
    fn compact_hints(&self) -> Result<(), StorageError>;

    /// Bytes the hints space uses on disk (0 for memory).
    fn hints_disk_space(&self) -> u64;
}
