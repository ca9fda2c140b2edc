//! Server commands that are not `INFO` or `CONFIG`: `COMMAND`, `TIME`, `FLUSHDB/FLUSHALL`,
//! `SHUTDOWN`, `FUNCTION FLUSH`.

use bytes::Bytes;

use super::args::is;
use super::introspection as intro;
use super::Context;
use super::{errors, CmdResult, Session};
use crate::resp::reply::Reply;

pub(super) fn command(a: &[Bytes]) -> Reply {
    let Some(sub) = a.get(1) else { return intro::command_all() };
    if is(sub, "count") {
        intro::command_count()
    } else if is(sub, "info") {
        intro::command_info_for(&a[2..])
    } else if is(sub, "docs") {
        intro::command_docs_for(&a[2..])
    } else if is(sub, "list") {
        match &a[2..] {
            [] => intro::command_list(None),
            [f, kind, value] if is(f, "filterby") => intro::command_list(Some((kind, value))),
            _ => errors::syntax(),
        }
    } else if is(sub, "getkeys") {
        intro::command_getkeys(&a[2..])
    } else {
        errors::unknown_subcommand("command", sub)
    }
}

pub(super) fn time(node: &Context) -> Reply {
    let us = node.coord.clock().now_us();
    Reply::Array(vec![
        Reply::bulk_string((us / 1_000_000).to_string()),
        Reply::bulk_string((us % 1_000_000).to_string()),
    ])
}

/// `FLUSHALL|FLUSHDB [SYNC|ASYNC]`: whether the arguments are valid.
pub(super) fn flush_args_ok(a: &[Bytes]) -> bool {
    match a.get(1) {
        None => true,
        Some(m) => (is(m, "sync") || is(m, "async")) && a.len() == 2,
    }
}

pub(super) fn flush(node: &Context, s: &mut Session, a: &[Bytes]) -> CmdResult {
    if !flush_args_ok(a) {
        return Ok(errors::syntax());
    }
    node.coord.flush_all(&mut s.writes)?;
    Ok(Reply::ok())
}

pub(super) fn shutdown(node: &Context, s: &mut Session, a: &[Bytes]) -> Reply {
    let mut abort = false;
    for opt in &a[1..] {
        if is(opt, "abort") {
            abort = true;
        } else if !(is(opt, "nosave") || is(opt, "save") || is(opt, "now") || is(opt, "force")) {
            return errors::syntax();
        }
    }
    if abort {
        return Reply::error("ERR No shutdown in progress.");
    }
    tracing::warn!(client = %s.client.addr, "SHUTDOWN requested by a client");
    s.close = true;
    node.request_shutdown();
    Reply::ok()
}

pub(super) fn function(a: &[Bytes]) -> Reply {
    if is(&a[1], "flush") && a.len() <= 3 {
        if let Some(m) = a.get(2) {
            if !(is(m, "sync") || is(m, "async")) {
                return errors::syntax();
            }
        }
        return Reply::ok();
    }
    errors::unknown_subcommand("function", &a[1])
}
