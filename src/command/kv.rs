//! Dynamo-native commands: the causal truth under the Redis view.
//!
//! - `KV.GET key` → `[context, [value …]]`: every live sibling and the context that covers them.
//! - `KV.PUT key context value [EX s|PX ms]`: a write that supersedes exactly what `context` saw;
//!   anything else stays as a sibling (Dynamo's `put(key, context, object)`).
//! - `KV.DEL key context`: the same, writing a tombstone.
//! - `KV.LOCAL key [HINTS]`: this node's stored siblings with their dots, HLC times, expiry and
//!   tombstone flags; with `HINTS`, the copies it keeps for other nodes (hinted handoff), by target.
//! - `KV.CONSISTENCY [R r] [W w] [ONE|QUORUM|ALL] [STRICT|SLOPPY]`: per-connection quorums.
//!   On a single node every quorum is clamped to N = 1.

use bytes::Bytes;

use super::args::{is, parse_i64};
use super::session::Consistency;
use super::strings::expiry;
use super::Context;
use super::{errors, CmdResult, Session};
use crate::coordinator::{Coordinator, Mutation, Writes};
use crate::resp::reply::Reply;
use crate::version::VersionVector;

pub(super) fn get(c: &Coordinator, w: &mut Writes, a: &[Bytes]) -> CmdResult {
    let cur = c.read(w, &a[1])?;
    let now = cur.now_ms();
    let Some(set) = cur.set() else {
        return Ok(Reply::Array(vec![Reply::bulk(""), Reply::Array(vec![])]));
    };
    let values = set
        .siblings()
        .filter(|(_, s)| !s.is_absent_at(now))
        .filter_map(|(_, s)| s.value.clone().map(Reply::Bulk))
        .collect();
    Ok(Reply::Array(vec![Reply::bulk_string(set.join().to_context_string()), Reply::Array(values)]))
}

fn context(arg: &[u8]) -> Result<VersionVector, Reply> {
    VersionVector::parse_context(arg).map_err(|_| Reply::error("ERR invalid causal context"))
}

pub(super) fn put(node: &Context, s: &mut Session, a: &[Bytes]) -> CmdResult {
    let ctx = match context(&a[2]) {
        Ok(c) => c,
        Err(r) => return Ok(r),
    };
    let mut expires_at = None;
    match &a[4..] {
        [] => {}
        [opt, arg] if is(opt, "ex") || is(opt, "px") => {
            let unit = if is(opt, "ex") { 1000 } else { 1 };
            match expiry(node.coord.now_ms(), arg, unit, false, "kv.put") {
                Ok(t) => expires_at = Some(t),
                Err(r) => return Ok(r),
            }
        }
        _ => return Ok(errors::syntax()),
    }
    let value = Some(a[3].clone());
    node.coord.update(&mut s.writes, &a[1], |_| (Mutation::Causal { context: ctx, value, expires_at }, Reply::ok()))
}

pub(super) fn del(node: &Context, s: &mut Session, a: &[Bytes]) -> CmdResult {
    let ctx = match context(&a[2]) {
        Ok(c) => c,
        Err(r) => return Ok(r),
    };
    node.coord.update(&mut s.writes, &a[1], |_| {
        (Mutation::Causal { context: ctx, value: None, expires_at: None }, Reply::ok())
    })
}

pub(super) fn local(c: &Coordinator, a: &[Bytes]) -> CmdResult {
    if a.len() > 3 || (a.len() == 3 && !is(&a[2], "hints")) {
        return Ok(Reply::error("ERR syntax error"));
    }
    if a.len() == 3 {
        // The copies this node keeps for other nodes (hinted handoff), apart from its own data.
        let entries = c
            .hints_for(&a[1])?
            .into_iter()
            .map(|(target, set)| {
                Reply::Map(vec![
                    (Reply::bulk("target"), Reply::bulk_string(target.to_string())),
                    (Reply::bulk("siblings"), siblings(&set)),
                ])
            })
            .collect();
        return Ok(Reply::Array(entries));
    }
    let Some(set) = c.local(&a[1])? else { return Ok(Reply::Array(vec![])) };
    Ok(siblings(&set))
}

fn siblings(set: &crate::version::DvvSet) -> Reply {
    let siblings = set
        .siblings()
        .map(|(dot, s)| {
            let dot = dot.map_or(Reply::Nil, |d| Reply::bulk_string(format!("{}:{}", d.node, d.counter)));
            Reply::Map(vec![
                (Reply::bulk("dot"), dot),
                (Reply::bulk("timestamp"), Reply::Int(s.timestamp as i64)),
                (Reply::bulk("expires_at"), s.expires_at.map_or(Reply::Nil, |t| Reply::Int(t as i64))),
                (Reply::bulk("tombstone"), Reply::Int(i64::from(s.value.is_none()))),
                (Reply::bulk("value"), s.value.clone().map_or(Reply::Nil, Reply::Bulk)),
            ])
        })
        .collect();
    Reply::Array(siblings)
}

/// `KV.CONSISTENCY …` where keys have `n` replicas now (N clamped to the member count), the
/// cluster is configured for `limit` replicas, and the defaults are `(r, w)` (a standalone node:
/// 1, 1, 1, 1). An R or W outside `1..=limit` is refused, not clamped.
pub(super) fn consistency(s: &mut Session, a: &[Bytes], n: usize, limit: usize, defaults: (usize, usize)) -> Reply {
    let n = n.max(1);
    if a.len() == 1 {
        let shown = |q: Option<usize>, d: usize| Reply::Int(q.unwrap_or(d).clamp(1, n) as i64);
        return Reply::Map(vec![
            (Reply::bulk("n"), Reply::Int(n as i64)),
            (Reply::bulk("r"), shown(s.consistency.r, defaults.0)),
            (Reply::bulk("w"), shown(s.consistency.w, defaults.1)),
            (Reply::bulk("mode"), Reply::bulk(if s.consistency.strict { "strict" } else { "sloppy" })),
        ]);
    }
    let mut c = s.consistency;
    let mut i = 1;
    while i < a.len() {
        let opt = &a[i];
        if (is(opt, "r") || is(opt, "w")) && i + 1 < a.len() {
            let limit = limit.max(1);
            let q = match parse_i64(&a[i + 1]) {
                Some(q) if q >= 1 && q as u64 <= limit as u64 => Some(q as usize),
                _ => {
                    return Reply::error(format!("ERR R and W must be between 1 and {limit} (the replicas per key, N)"))
                }
            };
            if is(opt, "r") {
                c.r = q;
            } else {
                c.w = q;
            }
            i += 2;
            continue;
        }
        if is(opt, "one") {
            (c.r, c.w) = (Some(1), Some(1));
        } else if is(opt, "quorum") {
            (c.r, c.w) = (Some(n / 2 + 1), Some(n / 2 + 1));
        } else if is(opt, "all") {
            (c.r, c.w) = (Some(n), Some(n));
        } else if is(opt, "strict") {
            c.strict = true;
        } else if is(opt, "sloppy") {
            c.strict = false;
        } else if is(opt, "default") {
            c = Consistency::default();
        } else {
            return errors::syntax();
        }
        i += 1;
    }
    s.consistency = c;
    Reply::ok()
}
