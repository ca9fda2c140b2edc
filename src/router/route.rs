//! Where a command runs in a cluster. Called by the router for every command once it has been
//! checked and counted.
//!
//! - A **write** runs on its key's coordinator: the first healthy replica of the slot's
//!   preference list. Any other node forwards it there (Dynamo's "hop") and relays the reply.
//! - A **read** runs on any healthy replica of its key — here when this node is one (no hop), else
//!   on the coordinator — after a quorum read of R replicas ([`Cluster::quorum_read`]).
//! - `MGET MSET DEL UNLINK EXISTS TOUCH` with keys on several nodes are **split**: one
//!   sub-command per node, run concurrently, replies put back together in argument order
//!   (`MSET` is then atomic per node, not across nodes — like Redis Cluster clients do it).
//!   Other multi-key commands (`RENAME COPY MSETNX LCS`…) need all their keys on one coordinator
//!   (use hash tags: `{user1}.a`, `{user1}.b`) and answer `-CROSSSLOT` otherwise.
//! - A command forwarded here by another node ([`Origin::Forwarded`]) runs here — never forwarded
//!   again, so a disagreement between two views can never bounce a command back and forth — if
//!   this node coordinates (its view of the members is confirmed) and holds a replica of every key
//!   in its view. Otherwise nothing runs (`-TRYAGAIN …`) and the forwarding node tries the next
//!   replica: a node never stores a client's write as its own data for a slot it does not
//!   replicate.
//! - A node that does not coordinate yet (just restarted, view not confirmed: `cluster/join.rs`)
//!   forwards its clients' commands to each key's first live replica other than itself, from the
//!   membership it saved (one that does not serve yet answers `-TRYAGAIN` and the next is tried);
//!   that node checks its own view as above. Only when no such replica is known does it answer
//!   `-TRYAGAIN`.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::join_all;

use crate::cluster::messages::{Forward, Request, Response};
use crate::cluster::quorum::{Kind, QuorumError};
use crate::cluster::{CallError, Cluster, Peer};
use crate::command::args::is;
use crate::command::introspection::key_positions;
use crate::command::session::Consistency;
use crate::command::table::CommandSpec;
use crate::command::{dispatch, Context, Session};
use crate::resp::reply::Reply;
use crate::rpc::RpcError;
use crate::storage::keys;
use crate::version::NodeId;

/// The reply of a node that has not joined its cluster yet (Redis Cluster's retryable error).
const NOT_READY: &str = "TRYAGAIN this node has not joined its cluster yet";

/// The start of the reply of a node asked to coordinate a key it holds no replica of in its view.
const NOT_REPLICA: &str = "TRYAGAIN this node holds no replica of slot";

/// The reply when every replica a command was forwarded to declined it (none ran it).
const NONE_COORDINATES: &str =
    "TRYAGAIN no replica of the key can coordinate it right now (the nodes' views of the cluster differ); retry";

/// Whether a forwarded command's reply says that nothing ran there, so the next replica may
/// run it.
fn ran_nothing(reply: &str) -> bool {
    reply == NOT_READY || reply.starts_with(NOT_REPLICA)
}

/// Commands split across nodes by key, and how their per-node replies combine.
fn split_kind(name: &str) -> Option<Combine> {
    match name {
        "mget" => Some(Combine::Values),
        "mset" => Some(Combine::AllOk),
        "del" | "unlink" | "exists" | "touch" => Some(Combine::Sum),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy)]
enum Combine {
    Values,
    AllOk,
    Sum,
}

/// Commands that are never routed: they are about this node, or cluster-wide by themselves.
fn local_only(name: &str) -> bool {
    matches!(name, "kv.local" | "kv.preflist" | "object")
}

/// What every routing step needs to know about the command being routed.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    cluster: &'a Arc<Cluster>,
    node: &'a Context,
    spec: &'a CommandSpec,
    write: bool,
}

/// The argument positions of a command's keys when it is routed by key; `None` when it runs on
/// this node whatever its keys (no keys, or a command about this node).
fn routed_keys(spec: &CommandSpec, args: &[Bytes]) -> Option<Vec<usize>> {
    key_positions(spec, args).filter(|p| !p.is_empty() && !local_only(spec.name))
}

/// Where a command came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// A client of this node: it runs here, is forwarded or is split.
    Client,
    /// Another node forwarded it here: it runs here, as the coordinator of its keys, whatever this
    /// node's view says.
    Forwarded,
}

/// Runs a command in the cluster: here, forwarded, or split.
pub(super) async fn route(
    cluster: &Arc<Cluster>,
    node: &Context,
    session: &mut Session,
    spec: &CommandSpec,
    args: &[Bytes],
    origin: Origin,
) -> Reply {
    let Some(positions) = routed_keys(spec, args) else { return dispatch(node, session, spec.name, args).await };
    let write = spec.flags.contains(&"write");
    let ctx = Ctx { cluster, node, spec, write };
    let topo = cluster.topology();
    let ready = cluster.ready();
    if origin == Origin::Forwarded {
        // Nothing runs here: the forwarding node tries the next replica.
        if !ready {
            return Reply::error(NOT_READY);
        }
        let slots = positions.iter().map(|&i| keys::slot_of(&args[i]));
        if let Some(slot) = slots.into_iter().find(|&s| !topo.is_replica(s)) {
            return Reply::error(format!("{NOT_REPLICA} {slot} in its view of the cluster"));
        }
        return run_here(ctx, session, args, &positions).await;
    }
    let me = topo.me();
    let mut targets: Vec<(usize, Option<&Peer>)> = Vec::with_capacity(positions.len());
    for &i in &positions {
        let slot = keys::slot_of(&args[i]);
        let target = if !ready {
            // Not coordinating yet: the first live replica other than this node (members known
            // from the saved membership count as live until the failure detector says otherwise).
            topo.primaries(slot).find(|p| p.alive && p.member.id != me)
        } else if !write && topo.is_replica(slot) {
            topo.my_peer()
        } else {
            topo.coordinator(slot)
        };
        targets.push((i, target));
    }
    if let Some((i, _)) = targets.iter().find(|(_, t)| t.is_none()) {
        if !ready {
            // Nothing ran: a client may retry.
            return Reply::error(NOT_READY);
        }
        let slot = keys::slot_of(&args[*i]);
        let n = topo.primaries(slot).count();
        return no_replica(cluster, write, n);
    }
    let first = targets[0].1.as_ref().map(|p| p.member.id);
    if targets.iter().all(|(_, t)| t.as_ref().map(|p| p.member.id) == first) {
        if first == Some(me) {
            return run_here(ctx, session, args, &positions).await;
        }
        // The coordinator first, then the slot's other healthy replicas in preference order
        // (used when the coordinator cannot be reached and the command is safe to resend).
        let slot = keys::slot_of(&args[positions[0]]);
        let mut candidates: Vec<&Peer> = targets.swap_remove(0).1.into_iter().collect();
        let other = |p: &&Peer| {
            let usable = if ready { p.healthy } else { p.alive && p.member.id != me };
            usable && Some(p.member.id) != first
        };
        candidates.extend(topo.primaries(slot).filter(other));
        return forward_with_retry(ctx, session, args, &positions, candidates).await;
    }
    match split_kind(spec.name) {
        Some(combine) => split(ctx, session, args, targets, combine, me).await,
        None => Reply::error("CROSSSLOT Keys in request don't hash to the same slot"),
    }
}

/// Commands that may be sent again to another replica when the first did not answer: resending
/// them cannot apply them twice in a way anyone could see, and their reply does not depend on
/// what the first copy did (plain writes of a given value answered `+OK`, reads — a second copy of
/// the same value under the last-writer-wins view). `INCR`, `APPEND`, `SET … NX|GET`, `RENAME`…
/// are not resent after a timeout, and neither are:
/// - `KV.PUT` and `KV.DEL`: applied by both coordinators, the value would become two siblings
///   with two dots, and a later `KV.PUT` whose read saw only one of them would leave the other —
///   the value it superseded would come back (the fault-injection checker caught exactly that);
/// - `DEL`, `UNLINK`, `EXPIREAT`, `PEXPIREAT`, `PERSIST`: their reply counts what they changed,
///   and when the first copy ran but its answer was lost the second finds nothing left to change —
///   a `DEL` answered 0 for a key it deleted (the checker caught that under packet loss; a lock
///   released with "`DEL` answered 1" would be fooled). They answer `-NOQUORUM … did not answer`
///   instead: the client knows the outcome is unknown.
fn safe_to_resend(spec: &CommandSpec, args: &[Bytes]) -> bool {
    match spec.name {
        "set" => !args[3..].iter().any(|a| is(a, "nx") || is(a, "xx") || is(a, "get")),
        "mset" | "setex" | "psetex" => true,
        _ => !spec.flags.contains(&"write"),
    }
}

/// Forwards to the first candidate; on failure, to the next one when that is safe. Neither the
/// second copy nor an error reply goes out before the first copy can no longer take effect
/// ([`Cluster::call_settled`]): the two copies are never both live, and a client told of a failure
/// may write again at once without the first copy landing after that write.
async fn forward_with_retry(
    ctx: Ctx<'_>,
    session: &mut Session,
    args: &[Bytes],
    positions: &[usize],
    candidates: Vec<&Peer>,
) -> Reply {
    let (cluster, spec) = (ctx.cluster, ctx.spec);
    let me = cluster.topology().me();
    let mut last_error = None;
    let mut declined = false;
    for p in candidates {
        if p.member.id == me {
            if cluster.ready() {
                return run_here(ctx, session, args, positions).await;
            }
            continue;
        }
        match forward(cluster, session.consistency, p, args).await {
            // That node ran nothing: the next one may serve it.
            Ok(Reply::Error(e)) if ran_nothing(&e) => {
                declined = true;
                last_error = Some((p, CallError::Remote(e.into_owned())));
            }
            Ok(reply) => return reply,
            Err(e) => {
                cluster.membership().report_unreachable(&p.member.id);
                let never_sent = matches!(e, CallError::Rpc(RpcError::Unreachable(_)));
                let resend = never_sent || (e.retryable() && safe_to_resend(spec, args));
                last_error = Some((p, e));
                if !resend {
                    break;
                }
            }
        }
    }
    match last_error {
        Some((_, CallError::Remote(_))) if declined => Reply::error(NONE_COORDINATES),
        Some((p, e)) => unanswered(cluster, p, &e),
        None => no_replica(cluster, ctx.write, 0),
    }
}

/// The reply when a command's coordinator did not answer.
fn unanswered(cluster: &Cluster, peer: &Peer, e: &CallError) -> Reply {
    cluster.stats.quorum_failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Reply::error(format!("NOQUORUM coordinator {} ({}) did not answer: {e}", peer.member.id, peer.member.cluster_addr))
}

fn no_replica(cluster: &Cluster, write: bool, n: usize) -> Reply {
    let kind = if write { Kind::Write } else { Kind::Read };
    let needed = if write { cluster.settings().write_quorum } else { cluster.settings().read_quorum };
    cluster.stats.quorum_failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Reply::error(QuorumError { kind, needed: needed.min(n.max(1)), got: 0, unreachable: n }.to_string())
}

/// Runs a command on this node as the coordinator of its keys.
async fn run_here(ctx: Ctx<'_>, session: &mut Session, args: &[Bytes], positions: &[usize]) -> Reply {
    let Ctx { cluster, node, spec, write } = ctx;
    let r = session.consistency.r.unwrap_or(cluster.settings().read_quorum);
    let w = session.consistency.w.unwrap_or(cluster.settings().write_quorum);
    // A read-modify-write command runs on the coordinator's own copy (Riak's model): its keys are
    // read with a quorum only when the command is a pure read.
    if !write {
        let keys_in: Vec<Bytes> = positions.iter().map(|&i| args[i].clone()).collect();
        if let Err(e) = cluster.quorum_read(&keys_in, r, session.consistency.strict).await {
            return Reply::error(e.to_string());
        }
    }
    session.writes.start_capture();
    let reply = dispatch(node, session, spec.name, args).await;
    let written = session.writes.take_captured();
    if written.is_empty() {
        return reply;
    }
    match cluster.replicate(written, w, session.consistency.strict).await {
        Ok(()) => reply,
        Err(e) => Reply::error(e.to_string()),
    }
}

/// Sends the command to `peer` and returns its reply; a failure is returned once the forward can no
/// longer run there.
async fn forward(cluster: &Arc<Cluster>, c: Consistency, peer: &Peer, args: &[Bytes]) -> Result<Reply, CallError> {
    cluster.stats.forwarded.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let req = Request::Forward(Forward {
        args: args.to_vec(),
        r: c.r.map(|q| q as u32),
        w: c.w.map(|q| q as u32),
        strict: c.strict,
    });
    match cluster.call_settled(peer.member.cluster_addr, &req).await? {
        Response::Reply(reply) => Ok(reply),
        _ => Err(CallError::Unexpected),
    }
}

/// A split part's reply: the peer's, or the error of not reaching it (given once the part can no
/// longer run there).
async fn forward_part(cluster: &Arc<Cluster>, c: Consistency, peer: &Peer, args: &[Bytes]) -> Reply {
    forward(cluster, c, peer, args).await.unwrap_or_else(|e| unanswered(cluster, peer, &e))
}

/// Runs one sub-command per target node and combines the replies.
async fn split(
    ctx: Ctx<'_>,
    session: &mut Session,
    args: &[Bytes],
    targets: Vec<(usize, Option<&Peer>)>,
    combine: Combine,
    me: NodeId,
) -> Reply {
    let (cluster, spec) = (ctx.cluster, ctx.spec);
    // Group argument positions by node, keeping argument order inside each group.
    let per_key = if spec.name == "mset" { 2 } else { 1 };
    let mut groups: HashMap<NodeId, (&Peer, Vec<usize>)> = HashMap::new();
    let mut order: Vec<NodeId> = Vec::new();
    for (i, p) in targets.into_iter().filter_map(|(i, p)| p.map(|p| (i, p))) {
        let id = p.member.id;
        groups.entry(id).or_insert_with(|| {
            order.push(id);
            (p, Vec::new())
        });
        if let Some(g) = groups.get_mut(&id) {
            g.1.push(i);
        }
    }
    let mut local = None;
    let mut remote = Vec::new();
    for id in &order {
        let Some((peer, idx)) = groups.remove(id) else { continue };
        let mut sub = vec![args[0].clone()];
        for &i in &idx {
            sub.extend_from_slice(&args[i..i + per_key]);
        }
        if *id == me {
            local = Some((idx, sub));
        } else {
            remote.push((idx, peer, sub));
        }
    }
    let consistency = session.consistency;
    let remote_replies = join_all(remote.iter().map(|(_, peer, sub)| forward_part(cluster, consistency, peer, sub)));
    let local_reply = async {
        match &local {
            Some((_, sub)) => {
                let positions: Vec<usize> = (1..sub.len()).step_by(per_key).collect();
                Some(run_here(ctx, session, sub, &positions).await)
            }
            None => None,
        }
    };
    let (local_reply, remote_replies) = tokio::join!(local_reply, remote_replies);
    let mut parts: Vec<(Vec<usize>, Reply)> = Vec::new();
    if let (Some((idx, _)), Some(r)) = (local, local_reply) {
        parts.push((idx, r));
    }
    for ((idx, _, _), r) in remote.into_iter().zip(remote_replies) {
        parts.push((idx, r));
    }
    combine_replies(combine, parts, args.len())
}

fn combine_replies(combine: Combine, parts: Vec<(Vec<usize>, Reply)>, argc: usize) -> Reply {
    if let Some((_, e)) = parts.iter().find(|(_, r)| matches!(r, Reply::Error(_))) {
        return e.clone();
    }
    match combine {
        Combine::Sum => Reply::Int(parts.iter().map(|(_, r)| if let Reply::Int(n) = r { *n } else { 0 }).sum()),
        Combine::AllOk => Reply::ok(),
        Combine::Values => {
            let mut out = vec![Reply::Nil; argc];
            for (idx, r) in parts {
                if let Reply::Array(values) = r {
                    for (i, v) in idx.into_iter().zip(values) {
                        out[i] = v;
                    }
                }
            }
            Reply::Array(out.into_iter().skip(1).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::table::lookup;

    fn resend(args: &[&str]) -> bool {
        let spec = lookup(args[0].as_bytes()).expect("known command");
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
        safe_to_resend(spec, &args)
    }

    #[test]
    fn only_writes_whose_second_copy_nobody_can_see_are_resent_after_a_timeout() {
        assert!(resend(&["set", "k", "v"]));
        assert!(resend(&["mset", "k", "v"]));
        assert!(resend(&["get", "k"]));
        // Their reply counts what the first copy may already have done.
        assert!(!resend(&["del", "k"]));
        assert!(!resend(&["pexpireat", "k", "1"]));
        assert!(!resend(&["set", "k", "v", "NX"]));
        assert!(!resend(&["incr", "k"]));
        // Two coordinators would give the value two dots: a ghost sibling after the next KV.PUT.
        assert!(!resend(&["kv.put", "k", "", "v"]));
        assert!(!resend(&["kv.del", "k", ""]));
    }
}
