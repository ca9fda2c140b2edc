//! Keyspace commands: `DEL EXISTS TYPE EXPIRE… TTL… PERSIST SCAN KEYS RANDOMKEY RENAME COPY
//! TOUCH OBJECT`.
//!
//! `SCAN` cursors are storage positions (`slot << 48 | hash`, see [`crate::storage::keys`]), so a
//! cursor is stateless and a full scan returns every key that existed throughout it.

use std::sync::Arc;

use bytes::Bytes;

use super::args::{is, parse_i64};
use super::glob::glob_match;
use super::Context;
use super::{errors, CmdResult, Session};
use crate::cluster::{CallError, Cluster};
use crate::coordinator::{Coordinator, Current, Mutation, Writes};
use crate::resp::reply::Reply;
use crate::storage::keys;

pub(super) fn del(node: &Context, s: &mut Session, a: &[Bytes]) -> CmdResult {
    node.coord.update_many(&mut s.writes, &a[1..], |cur| {
        let mut seen: Vec<&Bytes> = Vec::new();
        let mut n = 0;
        let muts = cur
            .iter()
            .zip(&a[1..])
            .map(|(c, k)| {
                if c.exists() && !seen.contains(&k) {
                    seen.push(k);
                    n += 1;
                    Mutation::Delete
                } else {
                    Mutation::Keep
                }
            })
            .collect();
        (muts, Reply::Int(n))
    })
}

pub(super) fn exists(c: &Coordinator, w: &mut Writes, a: &[Bytes]) -> CmdResult {
    let mut n = 0;
    for k in &a[1..] {
        n += i64::from(c.read(w, k)?.exists());
    }
    Ok(Reply::Int(n))
}

pub(super) fn touch(c: &Coordinator, w: &mut Writes, a: &[Bytes]) -> CmdResult {
    exists(c, w, a)
}

pub(super) fn type_of(c: &Coordinator, w: &mut Writes, a: &[Bytes]) -> CmdResult {
    Ok(Reply::status(if c.read(w, &a[1])?.exists() { "string" } else { "none" }))
}

/// `EXPIRE`-family condition flags.
#[derive(Debug, Default, Clone, Copy)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn expire_flags(opts: &[Bytes]) -> Result<ExpireFlags, Reply> {
    let mut f = ExpireFlags::default();
    for o in opts {
        if is(o, "nx") {
            f.nx = true;
        } else if is(o, "xx") {
            f.xx = true;
        } else if is(o, "gt") {
            f.gt = true;
        } else if is(o, "lt") {
            f.lt = true;
        } else {
            return Err(Reply::error(format!("ERR Unsupported option {}", errors::sanitize(o, 128))));
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(Reply::error("ERR NX and XX, GT or LT options at the same time are not compatible"));
    }
    if f.gt && f.lt {
        return Err(Reply::error("ERR GT and LT options at the same time are not compatible"));
    }
    Ok(f)
}

pub(super) fn expire(node: &Context, s: &mut Session, a: &[Bytes], unit_ms: i64, absolute: bool) -> CmdResult {
    let cmd = match (unit_ms, absolute) {
        (1000, false) => "expire",
        (1, false) => "pexpire",
        (1000, true) => "expireat",
        _ => "pexpireat",
    };
    let Some(v) = parse_i64(&a[2]) else { return Ok(errors::not_integer()) };
    let flags = match expire_flags(&a[3..]) {
        Ok(f) => f,
        Err(r) => return Ok(r),
    };
    let base = if absolute { 0 } else { node.coord.now_ms() as i64 };
    let Some(when) = v.checked_mul(unit_ms).and_then(|ms| ms.checked_add(base)) else {
        return Ok(errors::invalid_expire(cmd));
    };
    node.coord.update(&mut s.writes, &a[1], |cur| {
        let Some(value) = cur.value().cloned() else { return (Mutation::Keep, Reply::Int(0)) };
        let current = cur.expires_at();
        let allowed = match current {
            None => !(flags.xx || flags.gt),
            Some(t) => !flags.nx && (!flags.gt || when > t as i64) && (!flags.lt || when < t as i64),
        };
        if !allowed {
            return (Mutation::Keep, Reply::Int(0));
        }
        if when <= cur.now_ms() as i64 {
            return (Mutation::Delete, Reply::Int(1));
        }
        (Mutation::Put { value, expires_at: Some(when as u64) }, Reply::Int(1))
    })
}

pub(super) fn ttl(c: &Coordinator, w: &mut Writes, a: &[Bytes], unit_ms: u64, absolute: bool) -> CmdResult {
    let cur = c.read(w, &a[1])?;
    Ok(Reply::Int(match (cur.ttl_ms(), cur.expires_at()) {
        (None, _) => -2,
        (Some(None), _) => -1,
        (_, Some(at)) if absolute => (at / unit_ms) as i64,
        (Some(Some(ms)), _) => ((ms + unit_ms / 2) / unit_ms) as i64,
    }))
}

pub(super) fn persist(node: &Context, s: &mut Session, a: &[Bytes]) -> CmdResult {
    node.coord.update(&mut s.writes, &a[1], |cur| match (cur.value(), cur.expires_at()) {
        (Some(v), Some(_)) => (Mutation::Put { value: v.clone(), expires_at: None }, Reply::Int(1)),
        _ => (Mutation::Keep, Reply::Int(0)),
    })
}

/// Reads up to `count` stored keys from `position`; returns live keys passing `filter` and the
/// position to resume from (0 at the end).
fn scan_page(
    c: &Coordinator,
    position: u64,
    count: usize,
    filter: impl Fn(&Bytes) -> bool,
) -> Result<(Vec<Bytes>, u64), crate::coordinator::CoordError> {
    let mut count = count;
    let mut page = c.scan(&keys::seek(position), count + 1)?;
    // The next cursor must move on and must not be 0 (which means "done"): on a 48-bit hash
    // collision at the page boundary, take the colliding keys into this page.
    while page.len() > count && matches!(keys::position(&page[count].0), p if p == position || p == 0) {
        count += 1;
        let mut from = page[count - 1].0.to_vec();
        from.push(0);
        page.truncate(count);
        page.extend(c.scan(&from, 1)?);
    }
    let next = if page.len() > count { keys::position(&page[count].0) } else { 0 };
    let keys_out = page
        .into_iter()
        .take(count)
        .filter(|(_, cur)| cur.exists())
        .map(|(sk, _)| keys::user_key(&sk))
        .filter(|k| filter(k))
        .collect();
    Ok((keys_out, next))
}

/// Parsed `SCAN` arguments: cursor, page size, and the key filter.
struct ScanArgs {
    cursor: u64,
    count: usize,
    pattern: Option<Bytes>,
    type_ok: bool,
}

impl ScanArgs {
    fn parse(a: &[Bytes]) -> Result<ScanArgs, Reply> {
        let cursor = match std::str::from_utf8(&a[1]).ok().and_then(|t| t.parse::<u64>().ok()) {
            Some(v) => v,
            None => return Err(Reply::error("ERR invalid cursor")),
        };
        let (mut pattern, mut count, mut type_filter) = (None, 10usize, None);
        let mut i = 2;
        while i < a.len() {
            let Some(arg) = a.get(i + 1) else { return Err(errors::syntax()) };
            if is(&a[i], "match") {
                pattern = Some(arg.clone());
            } else if is(&a[i], "count") {
                match parse_i64(arg) {
                    Some(n) if n >= 1 => count = n.min(100_000) as usize,
                    Some(_) => return Err(errors::syntax()),
                    None => return Err(errors::not_integer()),
                }
            } else if is(&a[i], "type") {
                type_filter = Some(arg.to_ascii_lowercase());
            } else {
                return Err(errors::syntax());
            }
            i += 2;
        }
        let type_ok = type_filter.as_deref().is_none_or(|t| t == b"string");
        Ok(ScanArgs { cursor, count, pattern, type_ok })
    }

    fn wants(&self, key: &Bytes) -> bool {
        self.type_ok && self.pattern.as_ref().is_none_or(|p| glob_match(p, key, false))
    }
}

fn scan_reply(next: u64, found: Vec<Bytes>) -> Reply {
    Reply::Array(vec![Reply::bulk_string(next.to_string()), Reply::Array(found.into_iter().map(Reply::Bulk).collect())])
}

pub(super) fn scan(c: &Coordinator, a: &[Bytes]) -> CmdResult {
    let args = match ScanArgs::parse(a) {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    let (found, next) = scan_page(c, args.cursor, args.count, |k| args.wants(k))?;
    Ok(scan_reply(next, found))
}

pub(super) fn keys(c: &Coordinator, a: &[Bytes]) -> CmdResult {
    let pattern = &a[1];
    let all = pattern.as_ref() == b"*";
    let mut out = Vec::new();
    let mut position = 0u64;
    loop {
        let (found, next) = scan_page(c, position, 1024, |k| all || glob_match(pattern, k, false))?;
        out.extend(found.into_iter().map(Reply::Bulk));
        if next == 0 {
            break;
        }
        position = next;
    }
    Ok(Reply::Array(out))
}

/// The cluster-wide forms of `DBSIZE SCAN KEYS FLUSHALL FLUSHDB`; `None` for other commands.
pub(super) async fn cluster_wide(cluster: &Arc<Cluster>, s: &mut Session, name: &str, a: &[Bytes]) -> Option<Reply> {
    let failed = |e: CallError| Reply::error(format!("ERR cluster request failed: {e}"));
    Some(match name {
        "dbsize" => cluster.dbsize().await.map_or_else(failed, |n| Reply::Int(n as i64)),
        "scan" => {
            let args = match ScanArgs::parse(a) {
                Ok(s) => s,
                Err(r) => return Some(r),
            };
            match cluster.scan_page(args.cursor, args.count).await {
                Ok((page, next)) => {
                    let found = page
                        .into_iter()
                        .filter(|(_, cur)| cur.exists())
                        .map(|(sk, _)| keys::user_key(&sk))
                        .filter(|k| args.wants(k))
                        .collect();
                    scan_reply(next, found)
                }
                Err(e) => failed(e),
            }
        }
        "keys" => {
            let pattern = &a[1];
            let mut out = Vec::new();
            let mut position = 0u64;
            loop {
                match cluster.scan_page(position, 1024).await {
                    Ok((page, next)) => {
                        out.extend(
                            page.into_iter()
                                .filter(|(sk, cur)| cur.exists() && glob_match(pattern, &keys::user_key(sk), false))
                                .map(|(sk, _)| Reply::Bulk(keys::user_key(&sk))),
                        );
                        if next == 0 {
                            break Reply::Array(out);
                        }
                        position = next;
                    }
                    Err(e) => break failed(e),
                }
            }
        }
        "flushall" | "flushdb" => {
            if !super::server::flush_args_ok(a) {
                return Some(errors::syntax());
            }
            cluster.flush_all(&mut s.writes).await.map_or_else(failed, |()| Reply::ok())
        }
        _ => return None,
    })
}

pub(super) fn randomkey(c: &Coordinator) -> CmdResult {
    for _ in 0..16 {
        let start = fastrand::u64(..(u64::from(keys::SLOTS) << 48));
        let page = c.scan(&keys::seek(start), 8)?;
        let page = if page.is_empty() { c.scan(&[], 8)? } else { page };
        if page.is_empty() {
            return Ok(Reply::Nil);
        }
        if let Some((sk, _)) = page.iter().find(|(_, cur)| cur.exists()) {
            return Ok(Reply::Bulk(keys::user_key(sk)));
        }
    }
    // Many expired or deleted entries in a row: fall back to a walk from the start.
    let (found, _) = scan_page(c, 0, 10_000, |_| true)?;
    Ok(found.into_iter().next().map_or(Reply::Nil, Reply::Bulk))
}

pub(super) fn rename(node: &Context, s: &mut Session, a: &[Bytes], nx: bool) -> CmdResult {
    let same = a[1] == a[2];
    node.coord.update_many(&mut s.writes, &[a[1].clone(), a[2].clone()], |cur| {
        let Some(src) = cur[0].live().cloned() else {
            return (vec![Mutation::Keep, Mutation::Keep], Reply::error("ERR no such key"));
        };
        if same {
            return (vec![Mutation::Keep, Mutation::Keep], if nx { Reply::Int(0) } else { Reply::ok() });
        }
        if nx && cur[1].exists() {
            return (vec![Mutation::Keep, Mutation::Keep], Reply::Int(0));
        }
        let value = src.value.unwrap_or_default();
        let moved = Mutation::Put { value, expires_at: src.expires_at };
        (vec![Mutation::Delete, moved], if nx { Reply::Int(1) } else { Reply::ok() })
    })
}

pub(super) fn copy(node: &Context, s: &mut Session, a: &[Bytes]) -> CmdResult {
    let mut replace = false;
    let mut i = 3;
    while i < a.len() {
        if is(&a[i], "replace") {
            replace = true;
        } else if is(&a[i], "db") && i + 1 < a.len() {
            match parse_i64(&a[i + 1]) {
                Some(0) => {}
                Some(_) => return Ok(Reply::error("ERR DB index is out of range")),
                None => return Ok(errors::not_integer()),
            }
            i += 1;
        } else {
            return Ok(errors::syntax());
        }
        i += 1;
    }
    if a[1] == a[2] {
        return Ok(Reply::error("ERR source and destination objects are the same"));
    }
    node.coord.update_many(&mut s.writes, &[a[1].clone(), a[2].clone()], |cur| {
        let keep = vec![Mutation::Keep, Mutation::Keep];
        let Some(src) = cur[0].live().cloned() else { return (keep, Reply::Int(0)) };
        if cur[1].exists() && !replace {
            return (keep, Reply::Int(0));
        }
        let value = src.value.unwrap_or_default();
        (vec![Mutation::Keep, Mutation::Put { value, expires_at: src.expires_at }], Reply::Int(1))
    })
}

/// Redis's encoding name for a string value.
fn encoding_of(cur: &Current) -> Option<&'static str> {
    let v = cur.value()?;
    Some(if v.len() <= 20 && parse_i64(v).is_some() {
        "int"
    } else if v.len() <= 44 {
        "embstr"
    } else {
        "raw"
    })
}

pub(super) fn object(c: &Coordinator, w: &mut Writes, a: &[Bytes]) -> CmdResult {
    let sub = &a[1];
    if is(sub, "help") && a.len() == 2 {
        let lines = [
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
            "HELP",
            "    Print this help.",
        ];
        return Ok(Reply::Array(lines.iter().map(|l| Reply::status(l)).collect()));
    }
    if a.len() != 3 {
        return Ok(errors::unknown_subcommand("object", sub));
    }
    let cur = c.read(w, &a[2])?;
    if !cur.exists() {
        return Ok(Reply::Nil);
    }
    Ok(if is(sub, "encoding") {
        encoding_of(&cur).map_or(Reply::Nil, Reply::bulk)
    } else if is(sub, "refcount") {
        Reply::Int(1)
    } else if is(sub, "idletime") {
        Reply::Int(0)
    } else if is(sub, "freq") {
        Reply::error(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that \
             when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        )
    } else {
        errors::unknown_subcommand("object", sub)
    })
}
