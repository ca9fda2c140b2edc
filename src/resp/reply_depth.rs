//! Bounded nesting when a [`Reply`](super::reply::Reply) is decoded with serde. Peers send the
//! replies of forwarded commands (`cluster::messages`); serde's derived code recurses once per
//! level of arrays, maps and sets, so without a bound a corrupt or hostile message of nested
//! one-element arrays (two bytes a level) overflowed the stack and aborted the node — found by the
//! `cluster_messages` fuzz target. The depth is tracked per thread (decoding is synchronous):
//! `reply.rs` routes every nested list through [`nested`], and [`decode_bounded`] tells the
//! caller whether a decode failed on the bound, so it can report that clearly (the serde error
//! of the format may not carry the text).

use std::cell::Cell;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// Deepest nesting of arrays, maps and sets a decoded reply may have (Redis replies nest a few
/// levels at most); deeper is refused.
pub const MAX_REPLY_DEPTH: usize = 128;

thread_local! {
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    static EXCEEDED: Cell<bool> = const { Cell::new(false) };
}

/// Restores the depth of the enclosing level, also when decoding fails or unwinds.
struct Leave(usize);

impl Drop for Leave {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(self.0));
    }
}

/// `deserialize_with` of the nested lists of `Reply`: one level deeper, or an error past
/// [`MAX_REPLY_DEPTH`].
pub(super) fn nested<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    let outer = DEPTH.with(Cell::get);
    if outer >= MAX_REPLY_DEPTH {
        EXCEEDED.with(|e| e.set(true));
        return Err(D::Error::custom(format_args!("reply nested deeper than {MAX_REPLY_DEPTH} levels")));
    }
    DEPTH.with(|d| d.set(outer + 1));
    let _leave = Leave(outer);
    T::deserialize(d)
}

/// Runs `decode` (a deserialisation that may contain replies) and returns its result with
/// whether it met a reply nested deeper than [`MAX_REPLY_DEPTH`].
pub fn decode_bounded<R>(decode: impl FnOnce() -> R) -> (R, bool) {
    let outer = EXCEEDED.with(|e| e.replace(false));
    let result = decode();
    (result, EXCEEDED.with(|e| e.replace(outer)))
}
