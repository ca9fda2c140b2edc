//! What offloading needs from this node's copy (the worker is `cluster/offload.rs`): which slots
//! hold anything at all ([`Coordinator::slot_stored`], counting tombstones too — they carry
//! deletes), a slot's stored versions page by page, and dropping a key's copy once the slot's
//! replicas hold it — only if it is still exactly the version they were sent, so a change made in
//! the meantime is never lost. The drop goes through the one write point, so the change feed (and
//! anti-entropy's trees) see it; it is not replicated.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::feed::{Batch, Digest};
use super::{CoordError, Coordinator};
use crate::storage::{keys, Space};
use crate::version::codec;

impl Coordinator {
    /// Keys this node stores in `slot`, tombstone-only ones included.
    pub fn slot_stored(&self, slot: u16) -> u64 {
        self.slot_stored.get(usize::from(slot)).map_or(0, |c| c.load(Ordering::Relaxed).max(0) as u64)
    }

    /// Up to `limit` stored `(storage key, encoded set)` of `slot` whose storage key comes after
    /// `after` (empty: from the slot's start), in storage order.
    pub fn slot_page(&self, slot: u16, after: &[u8], limit: usize) -> Result<Vec<(Bytes, Bytes)>, CoordError> {
        let end = (slot + 1 < keys::SLOTS).then(|| keys::slot_start(slot + 1));
        let from = if after.is_empty() { keys::slot_start(slot).to_vec() } else { after.to_vec() };
        let page = self.store.scan(Space::Data, &from, end.as_ref().map(|e| &e[..]), limit + 1)?;
        Ok(page.into_iter().filter(|(k, _)| after.is_empty() || k.as_ref() != after).take(limit).collect())
    }

    /// Deletes this node's copy of `key` if it is still exactly `expected` (encoded); whether it
    /// did. Not replicated.
    pub fn drop_copy(&self, key: &[u8], expected: &Bytes) -> Result<bool, CoordError> {
        let _guard = self.locks.lock_one(key);
        let skey = keys::storage_key(key);
        match self.stored_bytes(&skey)? {
            Some(bytes) if bytes == *expected => {
                let stored = codec::decode(&bytes)?;
                let mut batch = Batch::new(self.feed.on(), 1);
                batch.delete(skey.clone(), Some(&stored), Some(Digest::of_bytes(&bytes)));
                self.apply(batch, None)?;
                self.account(&skey, Some(&stored), None);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
