//! The router: the first stop of every client command, between the connection and the
//! command handlers.
//!
//! [`execute`] looks the command up in the command table, checks its arity and the client's
//! authentication, counts it (`INFO commandstats`, `errorstats`), and then runs it where it
//! belongs: on a standalone node always here ([`dispatch`]); in a cluster [`route`] decides
//! between here, the key's coordinator (forwarded — Dynamo's "hop") and a split across nodes.
//!
//! A command another node forwarded here enters through [`execute_forwarded`]: it was checked and
//! counted on the client's node, so here it only runs, as the coordinator of its keys.

mod route;

use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;

use crate::command::{dispatch, errors, table, Context, Session};
use crate::resp::reply::Reply;
use route::Origin;

/// Runs one command a client sent for `session` and returns its reply.
pub async fn execute(node: &Context, session: &mut Session, args: Vec<Bytes>) -> Reply {
    let Some(name) = args.first() else { return Reply::Nil };
    let Some(spec) = table::lookup(name) else {
        let reply = errors::unknown_command(name, &args[1..]);
        node.stats.record_error("ERR");
        return reply;
    };
    // What CLIENT LIST shows as `cmd=`: the full name, `client|list` for a subcommand.
    let mut full_name = spec.name;
    if !spec.subcommands.is_empty() && args.len() >= 2 {
        match table::lookup_sub(spec, &args[1]) {
            Some(sub) if !table::arity_ok(sub, args.len()) => return errors::wrong_arity(sub.name),
            Some(sub) => full_name = sub.name,
            None => return errors::unknown_subcommand(spec.name, &args[1]),
        }
    } else if !table::arity_ok(spec, args.len()) {
        return errors::wrong_arity(spec.name);
    }
    if !session.authenticated && !matches!(spec.name, "auth" | "hello" | "quit" | "reset") {
        return Reply::error("NOAUTH Authentication required.");
    }
    session.note_command(full_name);
    node.stats.commands.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let reply = match node.cluster.as_ref() {
        Some(cluster) => route::route(cluster, node, session, spec, &args, Origin::Client).await,
        None => dispatch(node, session, spec.name, &args).await,
    };
    let failed = if let Reply::Error(text) = &reply {
        node.stats.record_error(text);
        true
    } else {
        false
    };
    node.stats.record_command(spec.name, started.elapsed().as_micros() as u64, failed);
    reply
}

/// Runs a command another node forwarded here (its client's node already checked and counted it):
/// no table checks, no stats, straight to this node's part as the coordinator of its keys.
pub async fn execute_forwarded(node: &Context, session: &mut Session, args: Vec<Bytes>) -> Reply {
    let Some(spec) = args.first().and_then(|name| table::lookup(name)) else {
        return Reply::error("ERR forwarded command unknown here");
    };
    match node.cluster.as_ref() {
        Some(cluster) => route::route(cluster, node, session, spec, &args, Origin::Forwarded).await,
        None => dispatch(node, session, spec.name, &args).await,
    }
}
