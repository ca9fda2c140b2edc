//! Ring geometry: where slots and virtual-node tokens sit on the 64-bit ring.
//!
//! Both positions are pure functions of their inputs, so every node derives the same ring from
//! the same member list without negotiating anything. [`super::Ring::new`] calls [`token`] for
//! every virtual node and [`slot_position`] for every slot; tests pin both with known answers.

use siphasher::sip::SipHasher24;

use crate::version::NodeId;

/// First SipHash-2-4 key of [`token`]: the ASCII bytes `"cartwhee"` read big-endian.
///
/// Changing either key moves every token, i.e. reshuffles every slot of a running cluster:
/// treat the pair as part of the on-the-wire format.
pub const TOKEN_KEY0: u64 = u64::from_be_bytes(*b"cartwhee");

/// Second SipHash-2-4 key of [`token`]: the ASCII bytes `"l-ring-1"` read big-endian.
pub const TOKEN_KEY1: u64 = u64::from_be_bytes(*b"l-ring-1");

/// Ring position of token `i` of node `id`: SipHash-2-4 keyed with ([`TOKEN_KEY0`],
/// [`TOKEN_KEY1`]) over the 24 bytes `id ‖ i as u32 big-endian`.
pub fn token(id: &NodeId, i: u32) -> u64 {
    let mut input = [0u8; 24];
    input[..20].copy_from_slice(&id.0);
    input[20..].copy_from_slice(&i.to_be_bytes());
    SipHasher24::new_with_keys(TOKEN_KEY0, TOKEN_KEY1).hash(&input)
}

/// Ring position of slot `slot`: `slot × 2^64 / 16384`, i.e. `slot << 50`.
///
/// Slots above 16383 are reduced modulo [`super::SLOTS`] (only the low 14 bits count), so the
/// function is total.
pub fn slot_position(slot: u16) -> u64 {
    u64::from(slot & SLOT_MASK) << 50
}

/// The low 14 bits of a `u16`: the valid slot range `0..16384`.
const SLOT_MASK: u16 = (super::SLOTS - 1) as u16;
