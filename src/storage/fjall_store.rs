//! The real [`Store`]: one fjall database in the node's data directory, keyspace `data` for the
//! node's own keys and keyspace `hints` for hinted handoff (one database, so one journal: a batch
//! touching both is atomic).
//!
//! Journal persistence is manual (`manual_journal_persist`): a write batch lands in fjall's
//! journal buffer and memtable without a syscall, and the durability layer decides when to hand
//! the buffer to the OS (once per scheduler round of client batches) and when to fsync (every
//! second, or group commit for `fsync = always`). That keeps per-command syscalls off the hot path.

use std::path::Path;

use bytes::Bytes;
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

use super::{StorageError, Store, Write};

/// fjall-backed storage.
pub struct FjallStore {
    db: Database,
    data: Keyspace,
    hints: Keyspace,
}

impl FjallStore {
    /// Opens (or creates) the database under `dir`. `cache_bytes` sizes fjall's block cache.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<FjallStore, StorageError> {
        let open_err =
            |e: &dyn std::fmt::Display| StorageError::Open { path: dir.display().to_string(), reason: e.to_string() };
        std::fs::create_dir_all(dir).map_err(|e| open_err(&e))?;
        let db = Database::builder(dir.join("fjall"))
            .manual_journal_persist(true)
            .cache_size(cache_bytes)
            .open()
            .map_err(|e| open_err(&e))?;
        let data = db
            .keyspace("data", || KeyspaceCreateOptions::default().manual_journal_persist(true))
            .map_err(|e| open_err(&e))?;
        let hints = db
            .keyspace("hints", || KeyspaceCreateOptions::default().manual_journal_persist(true))
            .map_err(|e| open_err(&e))?;
        Ok(FjallStore { db, data, hints })
    }
}

impl Store for FjallStore {
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>, StorageError> {
        Ok(self.data.get(key)?.map(Bytes::from))
    }

    fn write(&self, batch: &[Write]) -> Result<(), StorageError> {
        if let [Write::Put(k, v)] = batch {
            self.data.insert(k.clone(), v.clone())?;
            return Ok(());
        }
        let mut b = self.db.batch();
        for w in batch {
            match w {
                Write::Put(k, v) => b.insert(&self.data, k.clone(), v.clone()),
                Write::Delete(k) => b.remove(&self.data, k.clone()),
                Write::Hint(k, v) => b.insert(&self.hints, k.clone(), v.clone()),
                Write::Unhint(k) => b.remove(&self.hints, k.clone()),
            }
        }
        b.commit()?;
        Ok(())
    }

    fn scan(&self, from: &[u8], to: Option<&[u8]>, limit: usize) -> Result<Vec<(Bytes, Bytes)>, StorageError> {
        scan(&self.data, from, to, limit)
    }

    fn flush(&self) -> Result<(), StorageError> {
        self.db.persist(PersistMode::Buffer)?;
        Ok(())
    }

    fn sync(&self) -> Result<(), StorageError> {
        self.db.persist(PersistMode::SyncData)?;
        Ok(())
    }

    fn clear(&self) -> Result<(), StorageError> {
        self.data.clear()?;
        self.hints.clear()?;
        Ok(())
    }

    fn disk_space(&self) -> u64 {
        self.db.disk_space().unwrap_or(0)
    }

    fn get_hint(&self, key: &[u8]) -> Result<Option<Bytes>, StorageError> {
        Ok(self.hints.get(key)?.map(Bytes::from))
    }

    fn scan_hints(&self, from: &[u8], to: Option<&[u8]>, limit: usize) -> Result<Vec<(Bytes, Bytes)>, StorageError> {
        scan(&self.hints, from, to, limit)
    }

    fn compact_hints(&self) -> Result<(), StorageError> {
        // Flush the memtable first so that the delete markers of delivered hints reach the
        // tables being compacted; a major compaction then drops them with what they shadow.
        self.hints.rotate_memtable_and_wait()?;
        self.hints.major_compact()?;
        Ok(())
    }

    fn hints_disk_space(&self) -> u64 {
        self.hints.disk_space()
    }
}

fn scan(space: &Keyspace, from: &[u8], to: Option<&[u8]>, limit: usize) -> Result<Vec<(Bytes, Bytes)>, StorageError> {
    let iter = match to {
        Some(to) => space.range(from..to),
        None => space.range(from..),
    };
    let mut out = Vec::new();
    for guard in iter.take(limit) {
        let (k, v) = guard.into_inner()?;
        out.push((Bytes::from(k), Bytes::from(v)));
    }
    Ok(out)
}
