//! An in-memory [`Store`] over a `BTreeMap`, for unit tests of the layers above storage. It
//! passes the same conformance suite as [`super::FjallStore`]; it is never durable.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Mutex;

use bytes::Bytes;

use super::{Snapshot, Space, StorageError, Store, Write};

/// A volatile ordered map per space.
#[derive(Debug, Default)]
pub struct MemStore {
    map: Mutex<[BTreeMap<Bytes, Bytes>; 2]>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> MemStore {
        MemStore::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, [BTreeMap<Bytes, Bytes>; 2]> {
        self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Store for MemStore {
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Bytes>, StorageError> {
        Ok(self.lock()[space as usize].get(key).cloned())
    }

    fn write(&self, batch: &[Write]) -> Result<(), StorageError> {
        let mut map = self.lock();
        for w in batch {
            match w {
                Write::Put(space, k, v) => {
                    map[*space as usize].insert(k.clone(), v.clone());
                }
                Write::Delete(space, k) => {
                    map[*space as usize].remove(k);
                }
            }
        }
        Ok(())
    }

    fn scan(
        &self,
        space: Space,
        from: &[u8],
        to: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Bytes, Bytes)>, StorageError> {
        Ok(range(&self.lock()[space as usize], from, to, limit))
    }

    fn flush(&self) -> Result<(), StorageError> {
        Ok(())
    }

    fn sync(&self) -> Result<(), StorageError> {
        Ok(())
    }

    fn clear(&self) -> Result<(), StorageError> {
        self.lock().iter_mut().for_each(BTreeMap::clear);
        Ok(())
    }

    fn disk_space(&self) -> u64 {
        0
    }

    fn snapshot(&self) -> Box<dyn Snapshot> {
        Box::new(MemSnapshot(self.lock().clone()))
    }

    fn space_disk_space(&self, _space: Space) -> u64 {
        0
    }

    fn compact(&self, _space: Space) -> Result<(), StorageError> {
        Ok(())
    }
}

/// A copy of the maps.
struct MemSnapshot([BTreeMap<Bytes, Bytes>; 2]);

impl Snapshot for MemSnapshot {
    fn scan(
        &self,
        space: Space,
        from: &[u8],
        to: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Bytes, Bytes)>, StorageError> {
        Ok(range(&self.0[space as usize], from, to, limit))
    }
}

fn range(map: &BTreeMap<Bytes, Bytes>, from: &[u8], to: Option<&[u8]>, limit: usize) -> Vec<(Bytes, Bytes)> {
    let upper = to.map_or(Bound::Unbounded, Bound::Excluded);
    map.range::<[u8], _>((Bound::Included(from), upper)).take(limit).map(|(k, v)| (k.clone(), v.clone())).collect()
}
