//! Commands: from an argument vector to a [`Reply`].
//!
//! The [`table`] describes every command (arity, flags, key positions); [`dispatch`] runs one on
//! this node by handing it to its family's handler — one file per family: [`connection`],
//! [`server`], [`strings`], [`keyspace`], [`kv`]. The router (`crate::router`) has already
//! checked arity and authentication and decided that the command runs here. Handlers read and
//! write keys only through the [`crate::coordinator::Coordinator`] in their [`Context`] and never
//! touch the socket; per-connection state lives in [`Session`].

mod aae_cmd;
pub mod args;
mod cluster_cmd;
pub mod cluster_state;
mod config_cmd;
mod connection;
mod context;
pub mod errors;
pub mod glob;
mod info;
pub mod introspection;
mod keyspace;
mod kv;
mod lcs;
mod lookups;
mod server;
pub mod session;
mod strings;
pub mod table;

use bytes::Bytes;

pub use context::Context;
pub use session::{ReplyMode, Session};

use crate::coordinator::CoordError;
use crate::resp::reply::Reply;

/// Runs a command on this node (the router has already checked it and routed it here).
pub async fn dispatch(node: &Context, s: &mut Session, name: &str, a: &[Bytes]) -> Reply {
    let c = &node.coord;
    if let Some(cluster) = node.cluster.as_ref() {
        if let Some(reply) = keyspace::cluster_wide(cluster, s, name, a).await {
            return reply;
        }
    }
    let result = match name {
        // strings
        "get" => strings::get(c, &mut s.writes, a),
        "set" => strings::set(node, s, a),
        "setnx" => strings::setnx(node, s, a),
        "setex" => strings::setex(node, s, a, 1000),
        "psetex" => strings::setex(node, s, a, 1),
        "getset" => strings::getset(node, s, a),
        "getdel" => strings::getdel(node, s, a),
        "getex" => strings::getex(node, s, a),
        "mget" => strings::mget(c, &mut s.writes, a),
        "mset" => strings::mset(node, s, a),
        "msetnx" => strings::msetnx(node, s, a),
        "append" => strings::append(node, s, a),
        "strlen" => strings::strlen(c, &mut s.writes, a),
        "getrange" | "substr" => strings::getrange(c, &mut s.writes, a),
        "setrange" => strings::setrange(node, s, a),
        "incr" => strings::incr_by(node, s, &a[1], 1),
        "decr" => strings::incr_by(node, s, &a[1], -1),
        "incrby" => strings::incrby(node, s, a, false),
        "decrby" => strings::incrby(node, s, a, true),
        "incrbyfloat" => strings::incrbyfloat(node, s, a),
        "lcs" => strings::lcs(node, &mut s.writes, a),
        "getbit" => strings::getbit(c, &mut s.writes, a, node.config().proto_max_bulk_len),
        "setbit" => strings::setbit(node, s, a),
        // keyspace
        "del" | "unlink" => keyspace::del(node, s, a),
        "exists" => keyspace::exists(c, &mut s.writes, a),
        "touch" => keyspace::touch(c, &mut s.writes, a),
        "type" => keyspace::type_of(c, &mut s.writes, a),
        "expire" => keyspace::expire(node, s, a, 1000, false),
        "pexpire" => keyspace::expire(node, s, a, 1, false),
        "expireat" => keyspace::expire(node, s, a, 1000, true),
        "pexpireat" => keyspace::expire(node, s, a, 1, true),
        "ttl" => keyspace::ttl(c, &mut s.writes, a, 1000, false),
        "pttl" => keyspace::ttl(c, &mut s.writes, a, 1, false),
        "expiretime" => keyspace::ttl(c, &mut s.writes, a, 1000, true),
        "pexpiretime" => keyspace::ttl(c, &mut s.writes, a, 1, true),
        "persist" => keyspace::persist(node, s, a),
        "scan" => keyspace::scan(c, a),
        "keys" => keyspace::keys(c, a),
        "randomkey" => keyspace::randomkey(c),
        "rename" => keyspace::rename(node, s, a, false),
        "renamenx" => keyspace::rename(node, s, a, true),
        "copy" => keyspace::copy(node, s, a),
        "object" => keyspace::object(c, &mut s.writes, a),
        // Dynamo-native
        "kv.get" => kv::get(c, &mut s.writes, a),
        "kv.put" => kv::put(node, s, a),
        "kv.del" => kv::del(node, s, a),
        "kv.local" => kv::local(c, a),
        "kv.preflist" => Ok(cluster_cmd::preflist(node, a)),
        "kv.aae" => Ok(aae_cmd::aae(node, a).await),
        "cluster" => Ok(cluster_cmd::cluster(node, a).await),
        "kv.consistency" => Ok(match node.cluster.as_ref() {
            None => kv::consistency(s, a, 1, 1, (1, 1)),
            Some(cl) => {
                let st = cl.settings();
                kv::consistency(s, a, cl.topology().replicas(), st.replicas, (st.read_quorum, st.write_quorum))
            }
        }),
        // connection
        "ping" => Ok(connection::ping(a)),
        "echo" => Ok(Reply::Bulk(a[1].clone())),
        "hello" => Ok(connection::hello(node, s, a)),
        "auth" => Ok(connection::auth(node, s, a)),
        "select" => Ok(connection::select(a)),
        "quit" => Ok(connection::quit(s)),
        "reset" => Ok(connection::reset(node, s)),
        "client" => Ok(connection::client(node, s, a)),
        // server
        "info" => Ok(info::info(node, a)),
        "config" => Ok(config_cmd::config(node, a)),
        "command" => Ok(server::command(a)),
        "dbsize" => Ok(Reply::Int(c.dbsize() as i64)),
        "time" => Ok(server::time(node)),
        "flushdb" | "flushall" => server::flush(node, s, a),
        "wait" => Ok(Reply::Int(0)),
        "shutdown" => Ok(server::shutdown(node, s, a)),
        "function" => Ok(server::function(a)),
        "lastsave" => Ok(Reply::Int((node.started_unix_ms / 1000) as i64)),
        "readonly" | "readwrite" => Ok(Reply::ok()),
        _ => Ok(errors::unknown_command(&a[0], &a[1..])),
    };
    let reply = result.unwrap_or_else(|e| errors::internal(&e));
    lookups::count(&node.stats.metrics, name, a, &reply);
    reply
}

/// The result of a handler: a reply, or a coordinator failure reported as `-ERR`.
pub type CmdResult = Result<Reply, CoordError>;
