//! An in-memory [`Store`] over a `BTreeMap`, for unit tests of the layers above storage. It
//! passes the same conformance suite as [`super::FjallStore`]; it is never durable.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Mutex;

use bytes::Bytes;

use super::{StorageError, Store, Write};

/// A volatile ordered map.
#[derive(Debug, Default)]
pub struct MemStore {
    map: Mutex<Spaces>,
}

#[derive(Debug, Default)]
struct Spaces {
    data: BTreeMap<Bytes, Bytes>,
    hints: BTreeMap<Bytes, Bytes>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> MemStore {
        MemStore::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Spaces> {
        self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Store for MemStore {
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>, StorageError> {
        Ok(self.lock().data.get(key).cloned())
    }

    fn write(&self, batch: &[Write]) -> Result<(), StorageError> {
        let mut map = self.lock();
        for w in batch {
            match w {
                Write::Put(k, v) => {
                    map.data.insert(k.clone(), v.clone());
                }
                Write::Delete(k) => {
                    map.data.remove(k);
                }
                Write::Hint(k, v) => {
                    map.hints.insert(k.clone(), v.clone());
                }
                Write::Unhint(k) => {
                    map.hints.remove(k);
                }
            }
        }
        Ok(())
    }

    fn scan(&self, from: &[u8], to: Option<&[u8]>, limit: usize) -> Result<Vec<(Bytes, Bytes)>, StorageError> {
        Ok(scan(&self.lock().data, from, to, limit))
    }

    fn flush(&self) -> Result<(), StorageError> {
        Ok(())
    }

    fn sync(&self) -> Result<(), StorageError> {
        Ok(())
    }

    fn clear(&self) -> Result<(), StorageError> {
        let mut map = self.lock();
        map.data.clear();
        map.hints.clear();
        Ok(())
    }

    fn disk_space(&self) -> u64 {
        0
    }

    fn get_hint(&self, key: &[u8]) -> Result<Option<Bytes>, StorageError> {
        Ok(self.lock().hints.get(key).cloned())
    }

    fn scan_hints(&self, from: &[u8], to: Option<&[u8]>, limit: usize) -> Result<Vec<(Bytes, Bytes)>, StorageError> {
        Ok(scan(&self.lock().hints, from, to, limit))
    }

    fn compact_hints(&self) -> Result<(), StorageError> {
        Ok(())
    }

    fn hints_disk_space(&self) -> u64 {
        0
    }
}

fn scan(map: &BTreeMap<Bytes, Bytes>, from: &[u8], to: Option<&[u8]>, limit: usize) -> Vec<(Bytes, Bytes)> {
    let upper = to.map_or(Bound::Unbounded, Bound::Excluded);
    map.range::<[u8], _>((Bound::Included(from), upper)).take(limit).map(|(k, v)| (k.clone(), v.clone())).collect()
}
