//! Wire format of gossip messages, and its bounds. Used by the `state` and `gossip` modules; a
//! hand codec so that every length is checked before anything is allocated.
//!
//! ```text
//! message = u8 version=2 | u8 kind | body            (integers big-endian, nothing may trail)
//! Syn     = from[20] generation:u64 | u16 n digest* | u16 n tombstone*
//! SynAck  = from[20] generation:u64 | u16 n record* | u16 n want:id[20]* | u16 n tombstone*
//! Ack     = from[20] generation:u64 | u16 n record*
//! digest  = id[20] generation:u64 heartbeat:u64
//! tombstone = id[20] generation:u64 ttl_ms:u64
//! record  = id[20] generation:u64 heartbeat:u64 status:u8 client:addr cluster:addr
//!           u8 len zone | weight:u32 vnodes:u32 replicas:u8 | u16 n (id[20] generation:u64)*
//! addr    = 4 ip[4] port:u16 | 6 ip[16] port:u16
//! ```
//!
//! Version 2 added `replicas` (N) to the record; version 1 peers are refused (`Version`).
//!
//! Every list holds at most [`MAX_MEMBERS`] entries, zones at most [`MAX_ZONE_LEN`] bytes of
//! UTF-8, and a message at most [`MAX_MESSAGE_BYTES`]; senders cap the records of one message to
//! `RECORD_BUDGET` bytes (the rest follows in later rounds).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

use super::{LocalMember, MemberStatus};
use crate::version::NodeId;

/// Wire format version.
pub const WIRE_VERSION: u8 = 2;
/// Most members a cluster (and any list in a message) may hold.
pub const MAX_MEMBERS: usize = 1024;
/// Longest zone name, in bytes.
pub const MAX_ZONE_LEN: usize = 64;
/// Largest gossip message accepted.
pub const MAX_MESSAGE_BYTES: usize = 4 << 20;
/// Records put in one message, in encoded bytes.
pub(crate) const RECORD_BUDGET: usize = 1 << 20;

const KIND_SYN: u8 = 1;
const KIND_SYN_ACK: u8 = 2;
const KIND_ACK: u8 = 3;

/// Why a gossip message could not be decoded. Never retryable.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// The bytes ended early.
    #[error("truncated message")]
    Truncated,
    /// Unknown wire version.
    #[error("unknown gossip version {0}")]
    Version(u8),
    /// Unknown message kind.
    #[error("unknown gossip message kind {0}")]
    Kind(u8),
    /// A list, zone or the message itself exceeds its bound.
    #[error("{0} exceeds its bound")]
    TooLarge(&'static str),
    /// A zone is not UTF-8.
    #[error("zone is not UTF-8")]
    BadZone,
    /// An address tag is neither 4 nor 6.
    #[error("bad address tag {0}")]
    BadAddr(u8),
    /// Unknown member status.
    #[error("bad member status {0}")]
    BadStatus(u8),
    /// Bytes left after the message.
    #[error("{0} trailing bytes")]
    Trailing(usize),
}

/// One member's self-owned state as gossiped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) member: LocalMember,
    pub(crate) heartbeat: u64,
    pub(crate) status: MemberStatus,
    /// The members (id, generation) the owner suspects, sorted.
    pub(crate) suspects: Vec<(NodeId, u64)>,
}

impl Record {
    /// Scuttlebutt order: a greater key replaces the record.
    pub(crate) fn key(&self) -> (u64, u64) {
        (self.member.generation, self.heartbeat)
    }

    /// Encoded size in bytes.
    pub(crate) fn encoded_len(&self) -> usize {
        20 + 8 + 8 + 1 + 2 * 19 + 1 + self.member.zone.len() + 8 + 1 + 2 + 28 * self.suspects.len()
    }
}

/// One digest entry: what the sender knows about a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Digest {
    pub(crate) id: NodeId,
    pub(crate) generation: u64,
    pub(crate) heartbeat: u64,
}

/// A removal: every incarnation of `id` up to `generation` is forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tombstone {
    pub(crate) id: NodeId,
    pub(crate) generation: u64,
    /// Remaining lifetime at the sender, in milliseconds.
    pub(crate) ttl_ms: u64,
}

/// The three gossip messages (see the module doc of `membership`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Message {
    Syn { from: NodeId, generation: u64, digest: Vec<Digest>, tombstones: Vec<Tombstone> },
    SynAck { from: NodeId, generation: u64, records: Vec<Record>, want: Vec<NodeId>, tombstones: Vec<Tombstone> },
    Ack { from: NodeId, generation: u64, records: Vec<Record> },
}

impl Message {
    pub(crate) fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(256);
        out.put_u8(WIRE_VERSION);
        match self {
            Message::Syn { from, generation, digest, tombstones } => {
                out.put_u8(KIND_SYN);
                put_from(&mut out, from, *generation);
                put_len(&mut out, digest.len());
                for d in digest {
                    out.put_slice(&d.id.0);
                    out.put_u64(d.generation);
                    out.put_u64(d.heartbeat);
                }
                put_tombstones(&mut out, tombstones);
            }
            Message::SynAck { from, generation, records, want, tombstones } => {
                out.put_u8(KIND_SYN_ACK);
                put_from(&mut out, from, *generation);
                put_records(&mut out, records);
                put_len(&mut out, want.len());
                for id in want {
                    out.put_slice(&id.0);
                }
                put_tombstones(&mut out, tombstones);
            }
            Message::Ack { from, generation, records } => {
                out.put_u8(KIND_ACK);
                put_from(&mut out, from, *generation);
                put_records(&mut out, records);
            }
        }
        out.freeze()
    }

    pub(crate) fn decode(data: &[u8]) -> Result<Message, CodecError> {
        if data.len() > MAX_MESSAGE_BYTES {
            return Err(CodecError::TooLarge("message"));
        }
        let mut r = Reader { data };
        let version = r.u8()?;
        if version != WIRE_VERSION {
            return Err(CodecError::Version(version));
        }
        let msg = match r.u8()? {
            KIND_SYN => {
                let (from, generation) = (r.id()?, r.u64()?);
                let n = r.len("digest")?;
                let mut digest = Vec::with_capacity(n);
                for _ in 0..n {
                    digest.push(Digest { id: r.id()?, generation: r.u64()?, heartbeat: r.u64()? });
                }
                Message::Syn { from, generation, digest, tombstones: r.tombstones()? }
            }
            KIND_SYN_ACK => {
                let (from, generation) = (r.id()?, r.u64()?);
                let records = r.records()?;
                let n = r.len("want")?;
                let mut want = Vec::with_capacity(n);
                for _ in 0..n {
                    want.push(r.id()?);
                }
                Message::SynAck { from, generation, records, want, tombstones: r.tombstones()? }
            }
            KIND_ACK => {
                let (from, generation) = (r.id()?, r.u64()?);
                Message::Ack { from, generation, records: r.records()? }
            }
            other => return Err(CodecError::Kind(other)),
        };
        match r.data.len() {
            0 => Ok(msg),
            n => Err(CodecError::Trailing(n)),
        }
    }
}

fn put_from(out: &mut BytesMut, from: &NodeId, generation: u64) {
    out.put_slice(&from.0);
    out.put_u64(generation);
}

/// Lists are capped by their producers; the cast saturates defensively.
fn put_len(out: &mut BytesMut, n: usize) {
    out.put_u16(u16::try_from(n).unwrap_or(u16::MAX));
}

fn put_tombstones(out: &mut BytesMut, tombstones: &[Tombstone]) {
    put_len(out, tombstones.len());
    for t in tombstones {
        out.put_slice(&t.id.0);
        out.put_u64(t.generation);
        out.put_u64(t.ttl_ms);
    }
}

fn put_records(out: &mut BytesMut, records: &[Record]) {
    put_len(out, records.len());
    for rec in records {
        let m = &rec.member;
        out.put_slice(&m.id.0);
        out.put_u64(m.generation);
        out.put_u64(rec.heartbeat);
        out.put_u8(match rec.status {
            MemberStatus::Joining => 0,
            MemberStatus::Up => 1,
            MemberStatus::Leaving => 2,
        });
        put_addr(out, m.client_addr);
        put_addr(out, m.cluster_addr);
        out.put_u8(u8::try_from(m.zone.len()).unwrap_or(u8::MAX));
        out.put_slice(m.zone.as_bytes());
        out.put_u32(m.weight);
        out.put_u32(m.vnodes);
        out.put_u8(u8::try_from(m.replicas).unwrap_or(u8::MAX));
        put_len(out, rec.suspects.len());
        for (id, generation) in &rec.suspects {
            out.put_slice(&id.0);
            out.put_u64(*generation);
        }
    }
}

fn put_addr(out: &mut BytesMut, addr: SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => {
            out.put_u8(4);
            out.put_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out.put_u8(6);
            out.put_slice(&ip.octets());
        }
    }
    out.put_u16(addr.port());
}

struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.data.len() < n {
            return Err(CodecError::Truncated);
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, CodecError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, CodecError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn id(&mut self) -> Result<NodeId, CodecError> {
        Ok(NodeId(self.array()?))
    }

    /// A list length, bounded by [`MAX_MEMBERS`] (so allocations stay bounded).
    fn len(&mut self, what: &'static str) -> Result<usize, CodecError> {
        let n = usize::from(self.u16()?);
        if n > MAX_MEMBERS {
            return Err(CodecError::TooLarge(what));
        }
        Ok(n)
    }

    fn addr(&mut self) -> Result<SocketAddr, CodecError> {
        let ip = match self.u8()? {
            4 => IpAddr::V4(Ipv4Addr::from(self.array::<4>()?)),
            6 => IpAddr::V6(Ipv6Addr::from(self.array::<16>()?)),
            tag => return Err(CodecError::BadAddr(tag)),
        };
        Ok(SocketAddr::new(ip, self.u16()?))
    }

    fn tombstones(&mut self) -> Result<Vec<Tombstone>, CodecError> {
        let n = self.len("tombstones")?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(Tombstone { id: self.id()?, generation: self.u64()?, ttl_ms: self.u64()? });
        }
        Ok(out)
    }

    fn records(&mut self) -> Result<Vec<Record>, CodecError> {
        let n = self.len("records")?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.record()?);
        }
        Ok(out)
    }

    fn record(&mut self) -> Result<Record, CodecError> {
        let (id, generation, heartbeat) = (self.id()?, self.u64()?, self.u64()?);
        let status = match self.u8()? {
            0 => MemberStatus::Joining,
            1 => MemberStatus::Up,
            2 => MemberStatus::Leaving,
            other => return Err(CodecError::BadStatus(other)),
        };
        let (client_addr, cluster_addr) = (self.addr()?, self.addr()?);
        let zone_len = usize::from(self.u8()?);
        if zone_len > MAX_ZONE_LEN {
            return Err(CodecError::TooLarge("zone"));
        }
        let zone = std::str::from_utf8(self.take(zone_len)?).map_err(|_| CodecError::BadZone)?.to_owned();
        let (weight, vnodes, replicas) = (self.u32()?, self.u32()?, usize::from(self.u8()?));
        let n = self.len("suspects")?;
        let mut suspects = Vec::with_capacity(n);
        for _ in 0..n {
            suspects.push((self.id()?, self.u64()?));
        }
        let member = LocalMember { id, client_addr, cluster_addr, zone, weight, vnodes, generation, replicas };
        Ok(Record { member, heartbeat, status, suspects })
    }
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
