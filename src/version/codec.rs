//! The versioned on-disk (and on-wire) encoding of a [`DvvSet`].
//!
//! Storage keeps each key's sibling set as these bytes; the cluster protocol will send the same
//! bytes between replicas. Layout (format 1), integers as LEB128 varints:
//!
//! ```text
//! u8 format=1 | entries | (node[20] counter nvalues sibling*)* | nanon | sibling*
//! sibling = u8 flags (1=value, 2=expiry) | timestamp | [expires_at] | [len bytes]
//! ```
//!
//! Decoding never panics and never allocates from an unchecked length: every count is bounded by
//! the bytes that remain. Values are zero-copy slices of the input.

use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

use super::{DvvSet, NodeId, Sibling};

/// The current format byte.
pub const FORMAT: u8 = 1;

const FLAG_VALUE: u8 = 1;
const FLAG_EXPIRY: u8 = 2;

/// Why stored bytes could not be decoded. Not retryable: the data is corrupt or from a newer
/// version of Cartwheel.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The format byte is not one this build understands.
    #[error("unknown version format {0}")]
    UnknownFormat(u8),
    /// The bytes ended early or a length was out of range.
    #[error("truncated or malformed version data")]
    Malformed,
}

/// Appends the encoding of `set` to `out`.
pub fn encode(set: &DvvSet, out: &mut BytesMut) {
    let (entries, anonymous) = set.parts();
    let entries: Vec<_> = entries.collect();
    out.put_u8(FORMAT);
    put_varint(out, entries.len() as u64);
    for (node, counter, values) in entries {
        out.put_slice(&node.0);
        put_varint(out, counter);
        put_varint(out, values.len() as u64);
        for v in values {
            put_sibling(out, v);
        }
    }
    put_varint(out, anonymous.len() as u64);
    for v in anonymous {
        put_sibling(out, v);
    }
}

/// The encoding of `set` as a fresh buffer.
pub fn to_bytes(set: &DvvSet) -> Bytes {
    let mut out = BytesMut::with_capacity(64 + set.siblings().map(|(_, s)| s.size()).sum::<usize>());
    encode(set, &mut out);
    out.freeze()
}

/// Decodes bytes produced by [`encode`].
pub fn decode(data: &Bytes) -> Result<DvvSet, DecodeError> {
    let mut r = Reader { data, pos: 0 };
    let format = r.u8()?;
    if format != FORMAT {
        return Err(DecodeError::UnknownFormat(format));
    }
    let n_entries = r.count(21)?;
    let mut entries = Vec::with_capacity(n_entries);
    for _ in 0..n_entries {
        let node = NodeId(r.array20()?);
        let counter = r.varint()?;
        let n_values = r.count(2)?;
        let mut values = Vec::with_capacity(n_values);
        for _ in 0..n_values {
            values.push(r.sibling()?);
        }
        entries.push((node, counter, values));
    }
    let n_anon = r.count(2)?;
    let mut anonymous = Vec::with_capacity(n_anon);
    for _ in 0..n_anon {
        anonymous.push(r.sibling()?);
    }
    if r.pos != data.len() {
        return Err(DecodeError::Malformed);
    }
    DvvSet::from_parts(entries, anonymous).ok_or(DecodeError::Malformed)
}

fn put_sibling(out: &mut BytesMut, s: &Sibling) {
    let mut flags = 0;
    if s.value.is_some() {
        flags |= FLAG_VALUE;
    }
    if s.expires_at.is_some() {
        flags |= FLAG_EXPIRY;
    }
    out.put_u8(flags);
    put_varint(out, s.timestamp);
    if let Some(t) = s.expires_at {
        put_varint(out, t);
    }
    if let Some(v) = &s.value {
        put_varint(out, v.len() as u64);
        out.put_slice(v);
    }
}

/// Appends `v` as an LEB128 varint.
pub fn put_varint(out: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        out.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}

struct Reader<'a> {
    data: &'a Bytes,
    pos: usize,
}

impl Reader<'_> {
    fn u8(&mut self) -> Result<u8, DecodeError> {
        let b = *self.data.get(self.pos).ok_or(DecodeError::Malformed)?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::Malformed)
    }

    /// A count of items each at least `min_size` bytes long, checked against what remains.
    fn count(&mut self, min_size: usize) -> Result<usize, DecodeError> {
        let n = usize::try_from(self.varint()?).map_err(|_| DecodeError::Malformed)?;
        let remaining = self.data.len() - self.pos;
        if n.saturating_mul(min_size) > remaining {
            return Err(DecodeError::Malformed);
        }
        Ok(n)
    }

    fn array20(&mut self) -> Result<[u8; 20], DecodeError> {
        let end = self.pos.checked_add(20).ok_or(DecodeError::Malformed)?;
        let slice = self.data.get(self.pos..end).ok_or(DecodeError::Malformed)?;
        let mut out = [0u8; 20];
        out.copy_from_slice(slice);
        self.pos = end;
        Ok(out)
    }

    fn sibling(&mut self) -> Result<Sibling, DecodeError> {
        let flags = self.u8()?;
        if flags & !(FLAG_VALUE | FLAG_EXPIRY) != 0 {
            return Err(DecodeError::Malformed);
        }
        let timestamp = self.varint()?;
        let expires_at = if flags & FLAG_EXPIRY != 0 { Some(self.varint()?) } else { None };
        let value = if flags & FLAG_VALUE != 0 {
            let len = self.count(1)?;
            let v = self.data.slice(self.pos..self.pos + len);
            self.pos += len;
            Some(v)
        } else {
            None
        };
        Ok(Sibling { value, timestamp, expires_at })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::version::VersionVector;

    fn sibling() -> impl Strategy<Value = Sibling> {
        (
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
            any::<u64>(),
            proptest::option::of(any::<u64>()),
        )
            .prop_map(|(v, timestamp, expires_at)| Sibling {
                value: v.map(Bytes::from),
                timestamp,
                expires_at,
            })
    }

    fn dvvset() -> impl Strategy<Value = DvvSet> {
        proptest::collection::vec((0u8..4, any::<bool>(), sibling()), 0..12).prop_map(|writes| {
            let mut s = DvvSet::default();
            for (node, blind, v) in writes {
                let ctx = if blind { VersionVector::default() } else { s.join() };
                s = DvvSet::update(DvvSet::with_context(&ctx, v), &s, NodeId([node; 20]));
            }
            s
        })
    }

    proptest! {
        #[test]
        fn round_trip(set in dvvset()) {
            let bytes = to_bytes(&set);
            prop_assert_eq!(decode(&bytes), Ok(set));
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&Bytes::from(data));
        }

        #[test]
        fn truncation_is_an_error(set in dvvset(), cut in any::<prop::sample::Index>()) {
            let bytes = to_bytes(&set);
            let cut = cut.index(bytes.len());
            prop_assert!(decode(&bytes.slice(..cut)).is_err());
        }
    }

    #[test]
    fn unknown_format_is_reported() {
        assert_eq!(decode(&Bytes::from_static(&[9])), Err(DecodeError::UnknownFormat(9)));
    }
}
