//! The real [`Store`]: one fjall database in the node's data directory, one keyspace per
//! [`Space`] (`data`, `hints`) — one database, so one journal: a batch touching several spaces is
//! atomic.
//!
//! Journal persistence is manual (`manual_journal_persist`): a write batch lands in fjall's
//! journal buffer and memtable without a syscall, and the durability layer decides when to hand
//! the buffer to the OS (once per scheduler round of client batches) and when to fsync (every
//! second, or group commit for `fsync = always`). That keeps per-command syscalls off the hot path.

use std::path::Path;

use bytes::Bytes;
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode, Readable};

use super::{Snapshot, Space, StorageError, Store, Write};

/// fjall-backed storage.
pub struct FjallStore {
    db: Database,
    /// One keyspace per [`Space`], indexed by [`FjallStore::space`].
    spaces: Vec<Keyspace>,
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
        let mut spaces = Vec::with_capacity(Space::ALL.len());
        for space in Space::ALL {
            let ks = db
                .keyspace(space.name(), || KeyspaceCreateOptions::default().manual_journal_persist(true))
                .map_err(|e| open_err(&e))?;
            spaces.push(ks);
        }
        Ok(FjallStore { db, spaces })
    }

    fn space(&self, space: Space) -> &Keyspace {
        &self.spaces[space as usize]
    }
}

impl Store for FjallStore {
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Bytes>, StorageError> {
        Ok(self.space(space).get(key)?.map(Bytes::from))
    }

    fn write(&self, batch: &[Write]) -> Result<(), StorageError> {
        if let [Write::Put(space, k, v)] = batch {
            self.space(*space).insert(k.clone(), v.clone())?;
            return Ok(());
        }
        let mut b = self.db.batch();
        for w in batch {
            match w {
                Write::Put(space, k, v) => b.insert(self.space(*space), k.clone(), v.clone()),
                Write::Delete(space, k) => b.remove(self.space(*space), k.clone()),
            }
        }
        b.commit()?;
        Ok(())
    }

    fn scan(
        &self,
        space: Space,
        from: &[u8],
        to: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Bytes, Bytes)>, StorageError> {
        scan(self.space(space), from, to, limit)
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
        for ks in &self.spaces {
            ks.clear()?;
        }
        Ok(())
    }

    fn disk_space(&self) -> u64 {
        self.db.disk_space().unwrap_or(0)
    }

    fn space_disk_space(&self, space: Space) -> u64 {
        self.space(space).disk_space()
    }

    fn compact(&self, space: Space) -> Result<(), StorageError> {
        // Flush the memtable first so that the delete markers reach the tables being compacted;
        // a major compaction then drops them with what they shadow.
        let ks = self.space(space);
        ks.rotate_memtable_and_wait()?;
        ks.major_compact()?;
        Ok(())
    }

    fn snapshot(&self) -> Box<dyn Snapshot> {
        Box::new(FjallSnapshot { snapshot: self.db.snapshot(), spaces: self.spaces.clone() })
    }
}

/// A fjall cross-keyspace snapshot with the keyspaces it reads.
struct FjallSnapshot {
    snapshot: fjall::Snapshot,
    spaces: Vec<Keyspace>,
}

impl Snapshot for FjallSnapshot {
    fn scan(
        &self,
        space: Space,
        from: &[u8],
        to: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Bytes, Bytes)>, StorageError> {
        let ks = &self.spaces[space as usize];
        let iter = match to {
            Some(to) => self.snapshot.range(ks, from..to),
            None => self.snapshot.range(ks, from..),
        };
        collect(iter, limit)
    }
}

fn scan(space: &Keyspace, from: &[u8], to: Option<&[u8]>, limit: usize) -> Result<Vec<(Bytes, Bytes)>, StorageError> {
    let iter = match to {
        Some(to) => space.range(from..to),
        None => space.range(from..),
    };
    collect(iter, limit)
}

fn collect(iter: fjall::Iter, limit: usize) -> Result<Vec<(Bytes, Bytes)>, StorageError> {
    let mut out = Vec::new();
    for guard in iter.take(limit) {
        let (k, v) = guard.into_inner()?;
        out.push((Bytes::from(k), Bytes::from(v)));
    }
    Ok(out)
}
