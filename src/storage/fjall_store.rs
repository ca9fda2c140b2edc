//! The real [`Store`]: one fjall database in the node's data directory, keyspace `data`.
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
        Ok(FjallStore { db, data })
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
            }
        }
        b.commit()?;
        Ok(())
    }

    fn scan(&self, from: &[u8], to: Option<&[u8]>, limit: usize) -> Result<Vec<(Bytes, Bytes)>, StorageError> {
        let iter = match to {
            Some(to) => self.data.range(from..to),
            None => self.data.range(from..),
        };
        let mut out = Vec::new();
        for guard in iter.take(limit) {
            let (k, v) = guard.into_inner()?;
            out.push((Bytes::from(k), Bytes::from(v)));
        }
        Ok(out)
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
        Ok(())
    }

    fn disk_space(&self) -> u64 {
        self.db.disk_space().unwrap_or(0)
    }
}
