//! String commands: `GET SET` and friends, counters, ranges, `LCS`.
//!
//! Every write is a read–modify–write through [`Coordinator::update`], so `INCR`, `APPEND`,
//! `SET NX|XX|GET`, `GETSET`… are atomic per key. TTLs are absolute expiry times on the version.

use bytes::{Bytes, BytesMut};

use super::args::{format_f64, is, parse_f64, parse_i64};
use super::Context;
use super::{errors, CmdResult, Session};
use crate::coordinator::{Coordinator, Current, Mutation, Writes};
use crate::resp::reply::Reply;

fn bulk_or_nil(v: Option<&Bytes>) -> Reply {
    v.map_or(Reply::Nil, |b| Reply::Bulk(b.clone()))
}

pub(super) fn get(c: &Coordinator, w: &mut Writes, a: &[Bytes]) -> CmdResult {
    Ok(bulk_or_nil(c.read(w, &a[1])?.value()))
}

/// How a write treats the key's TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ttl {
    /// Remove any TTL.
    Clear,
    /// Keep the current TTL.
    Keep,
    /// Expire at this absolute time (Unix ms).
    At(u64),
}

impl Ttl {
    fn resolve(self, cur: &Current) -> Option<u64> {
        match self {
            Ttl::Clear => None,
            Ttl::Keep => cur.expires_at(),
            Ttl::At(t) => Some(t),
        }
    }
}

/// Parses an expiry argument: `unit_ms` is 1000 for seconds, 1 for ms; `absolute` for
/// `EXAT`/`PXAT`. `Err` carries Redis's reply.
pub(super) fn expiry(now: u64, arg: &[u8], unit_ms: i64, absolute: bool, cmd: &str) -> Result<u64, Reply> {
    let v = parse_i64(arg).ok_or_else(errors::not_integer)?;
    if v <= 0 {
        return Err(errors::invalid_expire(cmd));
    }
    let ms = v.checked_mul(unit_ms).ok_or_else(|| errors::invalid_expire(cmd))?;
    let at = if absolute { Some(ms) } else { ms.checked_add(now as i64) };
    match at {
        Some(t) if t > 0 => Ok(t as u64),
        _ => Err(errors::invalid_expire(cmd)),
    }
}

/// A put of `value` with `ttl`, or a delete when the TTL is already in the past.
fn put(value: Bytes, ttl: Ttl, cur: &Current) -> Mutation {
    match ttl.resolve(cur) {
        Some(t) if t <= cur.now_ms() => Mutation::Delete,
        expires_at => Mutation::Put { value, expires_at },
    }
}

pub(super) fn set(node: &Context, s: &mut Session, a: &[Bytes]) -> CmdResult {
    let now = node.coord.now_ms();
    let (mut nx, mut xx, mut get_old, mut ttl) = (false, false, false, Ttl::Clear);
    let mut ttl_given = false;
    let mut i = 3;
    while i < a.len() {
        let opt = &a[i];
        let next = a.get(i + 1);
        if is(opt, "nx") && !xx {
            nx = true;
        } else if is(opt, "xx") && !nx {
            xx = true;
        } else if is(opt, "get") {
            get_old = true;
        } else if is(opt, "keepttl") && !ttl_given {
            ttl = Ttl::Keep;
            ttl_given = true;
        } else if let (Some(unit_abs), false, Some(arg)) = (expire_option(opt), ttl_given, next) {
            match expiry(now, arg, unit_abs.0, unit_abs.1, "set") {
                Ok(t) => ttl = Ttl::At(t),
                Err(r) => return Ok(r),
            }
            ttl_given = true;
            i += 1;
        } else {
            return Ok(errors::syntax());
        }
        i += 1;
    }
    let value = a[2].clone();
    node.coord.update(&mut s.writes, &a[1], |cur| {
        let exists = cur.exists();
        let old = if get_old { bulk_or_nil(cur.value()) } else { Reply::Nil };
        if (nx && exists) || (xx && !exists) {
            return (Mutation::Keep, if get_old { old } else { Reply::Nil });
        }
        (put(value, ttl, cur), if get_old { old } else { Reply::ok() })
    })
}

/// `EX`/`PX`/`EXAT`/`PXAT` → (unit in ms, absolute).
fn expire_option(opt: &[u8]) -> Option<(i64, bool)> {
    if is(opt, "ex") {
        Some((1000, false))
    } else if is(opt, "px") {
        Some((1, false))
    } else if is(opt, "exat") {
        Some((1000, true))
    } else if is(opt, "pxat") {
        Some((1, true))
    } else {
        None
    }
}

pub(super) fn setnx(node: &Context, s: &mut Session, a: &[Bytes]) -> CmdResult {
    let value = a[2].clone();
    node.coord.update(&mut s.writes, &a[1], |cur| {
        if cur.exists() {
            (Mutation::Keep, Reply::Int(0))
        } else {
            (Mutation::Put { value, expires_at: None }, Reply::Int(1))
        }
    })
}

pub(super) fn setex(node: &Context, s: &mut Session, a: &[Bytes], unit_ms: i64) -> CmdResult {
    let cmd = if unit_ms == 1 { "psetex" } else { "setex" };
    let at = match expiry(node.coord.now_ms(), &a[2], unit_ms, false, cmd) {
        Ok(t) => t,
        Err(r) => return Ok(r),
    };
    let value = a[3].clone();
    node.coord.update(&mut s.writes, &a[1], |cur| (put(value, Ttl::At(at), cur), Reply::ok()))
}

pub(super) fn getset(node: &Context, s: &mut Session, a: &[Bytes]) -> CmdResult {
    let value = a[2].clone();
    node.coord.update(&mut s.writes, &a[1], |cur| (Mutation::Put { value, expires_at: None }, bulk_or_nil(cur.value())))
}

pub(super) fn getdel(node: &Context, s: &mut Session, a: &[Bytes]) -> CmdResult {
    node.coord.update(&mut s.writes, &a[1], |cur| match cur.value() {
        Some(v) => (Mutation::Delete, Reply::Bulk(v.clone())),
        None => (Mutation::Keep, Reply::Nil),
    })
}

pub(super) fn getex(node: &Context, s: &mut Session, a: &[Bytes]) -> CmdResult {
    let now = node.coord.now_ms();
    let mut ttl: Option<Ttl> = None;
    let mut i = 2;
    while i < a.len() {
        let opt = &a[i];
        if is(opt, "persist") && ttl.is_none() {
            ttl = Some(Ttl::Clear);
        } else if let (Some((unit, abs)), None, Some(arg)) = (expire_option(opt), ttl, a.get(i + 1)) {
            match expiry(now, arg, unit, abs, "getex") {
                Ok(t) => ttl = Some(Ttl::At(t)),
                Err(r) => return Ok(r),
            }
            i += 1;
        } else {
            return Ok(errors::syntax());
        }
        i += 1;
    }
    let Some(ttl) = ttl else { return get(&node.coord, &mut s.writes, a) };
    node.coord.update(&mut s.writes, &a[1], |cur| match cur.value() {
        None => (Mutation::Keep, Reply::Nil),
        Some(v) if ttl == Ttl::Clear && cur.expires_at().is_none() => (Mutation::Keep, Reply::Bulk(v.clone())),
        Some(v) => (put(v.clone(), ttl, cur), Reply::Bulk(v.clone())),
    })
}

pub(super) fn mget(c: &Coordinator, w: &mut Writes, a: &[Bytes]) -> CmdResult {
    let mut out = Vec::with_capacity(a.len() - 1);
    for k in &a[1..] {
        out.push(bulk_or_nil(c.read(w, k)?.value()));
    }
    Ok(Reply::Array(out))
}

fn pairs(a: &[Bytes]) -> Option<(Vec<Bytes>, Vec<Bytes>)> {
    if a.len() < 3 || (a.len() - 1) % 2 != 0 {
        return None;
    }
    Some(a[1..].chunks(2).map(|p| (p[0].clone(), p[1].clone())).unzip())
}

pub(super) fn mset(node: &Context, s: &mut Session, a: &[Bytes]) -> CmdResult {
    let Some((keys, values)) = pairs(a) else { return Ok(errors::wrong_arity("mset")) };
    node.coord.update_many(&mut s.writes, &keys, |_| {
        (values.into_iter().map(|value| Mutation::Put { value, expires_at: None }).collect(), Reply::ok())
    })
}

pub(super) fn msetnx(node: &Context, s: &mut Session, a: &[Bytes]) -> CmdResult {
    let Some((keys, values)) = pairs(a) else { return Ok(errors::wrong_arity("msetnx")) };
    node.coord.update_many(&mut s.writes, &keys, |cur| {
        if cur.iter().any(Current::exists) {
            return (vec![Mutation::Keep; values.len()], Reply::Int(0));
        }
        (values.into_iter().map(|value| Mutation::Put { value, expires_at: None }).collect(), Reply::Int(1))
    })
}

pub(super) fn append(node: &Context, s: &mut Session, a: &[Bytes]) -> CmdResult {
    let max = node.config().proto_max_bulk_len;
    let tail = &a[2];
    node.coord.update(&mut s.writes, &a[1], |cur| {
        let old = cur.value().cloned().unwrap_or_default();
        if old.len() + tail.len() > max {
            return (Mutation::Keep, errors::too_big());
        }
        let mut v = BytesMut::with_capacity(old.len() + tail.len());
        v.extend_from_slice(&old);
        v.extend_from_slice(tail);
        let len = v.len() as i64;
        (put(v.freeze(), Ttl::Keep, cur), Reply::Int(len))
    })
}

pub(super) fn strlen(c: &Coordinator, w: &mut Writes, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(c.read(w, &a[1])?.value().map_or(0, Bytes::len) as i64))
}

pub(super) fn getrange(c: &Coordinator, w: &mut Writes, a: &[Bytes]) -> CmdResult {
    let (Some(start), Some(end)) = (parse_i64(&a[2]), parse_i64(&a[3])) else {
        return Ok(errors::not_integer());
    };
    let cur = c.read(w, &a[1])?;
    let v = cur.value().cloned().unwrap_or_default();
    Ok(Reply::Bulk(range_of(&v, start, end)))
}

/// Redis's GETRANGE index arithmetic.
fn range_of(v: &Bytes, mut start: i64, mut end: i64) -> Bytes {
    let len = v.len() as i64;
    if start < 0 && end < 0 && start > end {
        return Bytes::new();
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if len == 0 || start >= len || start > end {
        return Bytes::new();
    }
    end = end.min(len - 1);
    v.slice(start as usize..=end as usize)
}

pub(super) fn setrange(node: &Context, s: &mut Session, a: &[Bytes]) -> CmdResult {
    let Some(offset) = parse_i64(&a[2]) else { return Ok(errors::not_integer()) };
    if offset < 0 {
        return Ok(Reply::error("ERR offset is out of range"));
    }
    let offset = offset as usize;
    let patch = &a[3];
    let max = node.config().proto_max_bulk_len;
    node.coord.update(&mut s.writes, &a[1], |cur| {
        let old = cur.value().cloned().unwrap_or_default();
        if patch.is_empty() {
            return (Mutation::Keep, Reply::Int(old.len() as i64));
        }
        if offset.saturating_add(patch.len()) > max {
            return (Mutation::Keep, errors::too_big());
        }
        let mut v = BytesMut::from(&old[..]);
        if v.len() < offset + patch.len() {
            v.resize(offset + patch.len(), 0);
        }
        v[offset..offset + patch.len()].copy_from_slice(patch);
        let len = v.len() as i64;
        (put(v.freeze(), Ttl::Keep, cur), Reply::Int(len))
    })
}

pub(super) fn incrby(node: &Context, s: &mut Session, a: &[Bytes], negate: bool) -> CmdResult {
    let Some(by) = parse_i64(&a[2]) else { return Ok(errors::not_integer()) };
    let by = if negate {
        match by.checked_neg() {
            Some(v) => v,
            None => return Ok(Reply::error("ERR decrement would overflow")),
        }
    } else {
        by
    };
    incr_by(node, s, &a[1], by)
}

pub(super) fn incr_by(node: &Context, s: &mut Session, key: &Bytes, by: i64) -> CmdResult {
    node.coord.update(&mut s.writes, key, |cur| {
        let old = match cur.value() {
            None => 0,
            Some(v) => match parse_i64(v) {
                Some(n) => n,
                None => return (Mutation::Keep, errors::not_integer()),
            },
        };
        let Some(new) = old.checked_add(by) else {
            return (Mutation::Keep, Reply::error("ERR increment or decrement would overflow"));
        };
        let text = Bytes::copy_from_slice(itoa::Buffer::new().format(new).as_bytes());
        (put(text, Ttl::Keep, cur), Reply::Int(new))
    })
}

pub(super) fn incrbyfloat(node: &Context, s: &mut Session, a: &[Bytes]) -> CmdResult {
    let Some(by) = parse_f64(&a[2]) else { return Ok(errors::not_float()) };
    node.coord.update(&mut s.writes, &a[1], |cur| {
        let old = match cur.value() {
            None => 0.0,
            Some(v) => match parse_f64(v) {
                Some(n) => n,
                None => return (Mutation::Keep, errors::not_float()),
            },
        };
        let new = old + by;
        if !new.is_finite() {
            return (Mutation::Keep, Reply::error("ERR increment would produce NaN or Infinity"));
        }
        let text = Bytes::from(format_f64(new));
        (put(text.clone(), Ttl::Keep, cur), Reply::Bulk(text))
    })
}

pub(super) fn lcs(node: &Context, w: &mut Writes, a: &[Bytes]) -> CmdResult {
    let c = &node.coord;
    let (mut len_only, mut idx, mut with_len, mut min_len) = (false, false, false, 0i64);
    let mut i = 3;
    while i < a.len() {
        if is(&a[i], "len") {
            len_only = true;
        } else if is(&a[i], "idx") {
            idx = true;
        } else if is(&a[i], "withmatchlen") {
            with_len = true;
        } else if is(&a[i], "minmatchlen") && i + 1 < a.len() {
            match parse_i64(&a[i + 1]) {
                Some(n) => min_len = n.max(0),
                None => return Ok(errors::not_integer()),
            }
            i += 1;
        } else {
            return Ok(errors::syntax());
        }
        i += 1;
    }
    if len_only && idx {
        return Ok(Reply::error("ERR If you want both the length and indexes, please just use IDX."));
    }
    let x = c.read(w, &a[1])?.value().cloned().unwrap_or_default();
    let y = c.read(w, &a[2])?.value().cloned().unwrap_or_default();
    let opts = super::lcs::Options { len_only, idx, with_len, min_len: min_len as usize };
    Ok(super::lcs::reply(&x, &y, opts, node.config().proto_max_bulk_len))
}

/// Parses a bit offset like Redis's `getBitOffsetFromArgument`.
fn bit_offset(arg: &[u8], max_bulk: usize) -> Result<usize, Reply> {
    match parse_i64(arg) {
        Some(o) if o >= 0 && ((o as u64) >> 3) < max_bulk as u64 => Ok(o as usize),
        _ => Err(Reply::error("ERR bit offset is not an integer or out of range")),
    }
}

pub(super) fn getbit(c: &Coordinator, w: &mut Writes, a: &[Bytes], max_bulk: usize) -> CmdResult {
    let offset = match bit_offset(&a[2], max_bulk) {
        Ok(o) => o,
        Err(r) => return Ok(r),
    };
    let cur = c.read(w, &a[1])?;
    let byte = cur.value().and_then(|v| v.get(offset >> 3).copied()).unwrap_or(0);
    Ok(Reply::Int(i64::from((byte >> (7 - (offset & 7))) & 1)))
}

pub(super) fn setbit(node: &Context, s: &mut Session, a: &[Bytes]) -> CmdResult {
    let offset = match bit_offset(&a[2], node.config().proto_max_bulk_len) {
        Ok(o) => o,
        Err(r) => return Ok(r),
    };
    let on = match a[3].as_ref() {
        b"1" => true,
        b"0" => false,
        _ => return Ok(Reply::error("ERR bit is not an integer or out of range")),
    };
    node.coord.update(&mut s.writes, &a[1], |cur| {
        let mut v = BytesMut::from(cur.value().map_or(&b""[..], |b| &b[..]));
        let idx = offset >> 3;
        if v.len() <= idx {
            v.resize(idx + 1, 0);
        }
        let mask = 1u8 << (7 - (offset & 7));
        let old = i64::from(v[idx] & mask != 0);
        if on {
            v[idx] |= mask;
        } else {
            v[idx] &= !mask;
        }
        (put(v.freeze(), Ttl::Keep, cur), Reply::Int(old))
    })
}
