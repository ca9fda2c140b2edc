//! The storage key layout: `slot (u16 BE) ‖ hash (48 bits BE) ‖ user key`.
//!
//! A user key maps to one of 16384 slots exactly as in Redis Cluster (CRC16 with `{hash tag}`
//! rules, via `redis_protocol::redis_keyslot`); the slot prefix keeps every slot one contiguous
//! range on disk, which Merkle trees and slot transfers scan. Inside a slot keys are ordered by
//! a 48-bit SipHash of the key rather than by the key itself: that order gives every key a fixed
//! 62-bit position (`slot << 48 | hash`), which is what a Redis `SCAN` cursor — an integer — can
//! carry. A cursor therefore resumes exactly where the previous page stopped, with no server-side
//! state, and never misses a key that existed for the whole scan (duplicates only on a 48-bit
//! hash collision inside one slot).

use std::hash::Hasher;

use bytes::{BufMut, Bytes, BytesMut};
use siphasher::sip::SipHasher13;

/// Number of slots in the keyspace.
pub const SLOTS: u16 = 16384;

/// Bytes before the user key in a storage key.
pub const PREFIX_LEN: usize = 8;

/// The slot of a user key.
pub fn slot_of(key: &[u8]) -> u16 {
    redis_protocol::redis_keyslot(key)
}

fn hash48(key: &[u8]) -> u64 {
    let mut h = SipHasher13::new_with_keys(0x6361_7274_7768_6565, 0x6c5f_6b65_7973_0001);
    h.write(key);
    h.finish() >> 16
}

/// The 62-bit position of a user key: `slot << 48 | hash48`.
pub fn position_of(key: &[u8]) -> u64 {
    (u64::from(slot_of(key)) << 48) | hash48(key)
}

/// The storage key of a user key.
pub fn storage_key(key: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(key.len() + PREFIX_LEN);
    out.put_u64(position_of(key));
    out.put_slice(key);
    out.freeze()
}

/// The user key inside a storage key (empty for malformed keys).
pub fn user_key(storage_key: &Bytes) -> Bytes {
    if storage_key.len() < PREFIX_LEN {
        return Bytes::new();
    }
    storage_key.slice(PREFIX_LEN..)
}

/// The position prefix of a storage key.
pub fn position(storage_key: &[u8]) -> u64 {
    let mut p = [0u8; 8];
    let n = storage_key.len().min(8);
    p[..n].copy_from_slice(&storage_key[..n]);
    u64::from_be_bytes(p)
}

/// The smallest storage key at or after `position`.
pub fn seek(position: u64) -> [u8; 8] {
    position.to_be_bytes()
}

/// The first storage key of `slot` (inclusive lower bound of its range).
pub fn slot_start(slot: u16) -> [u8; 8] {
    seek(u64::from(slot) << 48)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_redis_cluster_slots() {
        assert_eq!(slot_of(b"foo"), 12182);
        assert_eq!(slot_of(b"{user1000}.following"), slot_of(b"{user1000}.followers"));
        let k = storage_key(b"foo");
        assert_eq!(&k[..2], &12182u16.to_be_bytes());
        assert_eq!(position(&k) >> 48, 12182);
        assert_eq!(user_key(&k), Bytes::from_static(b"foo"));
        assert!(slot_start(1)[..] > slot_start(0)[..]);
        assert!(k[..] >= slot_start(12182)[..] && k[..] < slot_start(12183)[..]);
    }
}
