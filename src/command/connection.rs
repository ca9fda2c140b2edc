//! Connection commands: `PING HELLO AUTH SELECT QUIT RESET CLIENT …`. They change the
//! [`Session`] (protocol, authentication, reply mode, name) rather than data.

use std::sync::atomic::Ordering;
use std::sync::PoisonError;

use bytes::Bytes;

use super::args::{is, parse_i64};
use super::session::{Consistency, ReplyMode};
use super::Context;
use super::{errors, Session};
use crate::resp::reply::{Protocol, Reply};

/// The Redis version we report, for clients that branch on it.
pub const REDIS_VERSION: &str = "7.0.15";

pub(super) fn ping(a: &[Bytes]) -> Reply {
    match a.len() {
        1 => Reply::status("PONG"),
        2 => Reply::Bulk(a[1].clone()),
        _ => errors::wrong_arity("ping"),
    }
}

fn check_password(node: &Context, user: &[u8], pass: &[u8]) -> Result<(), Reply> {
    let cfg = node.config();
    let ok = is(user, "default") && cfg.requirepass.as_deref().is_none_or(|p| p.as_bytes() == pass);
    if ok {
        Ok(())
    } else {
        node.stats.auth_failures.fetch_add(1, Ordering::Relaxed);
        Err(Reply::error("WRONGPASS invalid username-password pair or user is disabled."))
    }
}

pub(super) fn auth(node: &Context, s: &mut Session, a: &[Bytes]) -> Reply {
    let (user, pass) = match a.len() {
        2 => (&b"default"[..], &a[1]),
        3 => (&a[1][..], &a[2]),
        _ => return errors::syntax(),
    };
    if a.len() == 2 && node.config().requirepass.is_none() {
        return Reply::error(
            "ERR AUTH <password> called without any password configured for the default user. \
             Are you sure your configuration is correct?",
        );
    }
    match check_password(node, user, pass) {
        Ok(()) => {
            s.authenticated = true;
            Reply::ok()
        }
        Err(r) => r,
    }
}

pub(super) fn hello(node: &Context, s: &mut Session, a: &[Bytes]) -> Reply {
    let mut proto = s.proto;
    if let Some(v) = a.get(1) {
        match parse_i64(v) {
            Some(2) => proto = Protocol::Resp2,
            Some(3) => proto = Protocol::Resp3,
            Some(_) => return Reply::error("NOPROTO unsupported protocol version"),
            None => return Reply::error("ERR Protocol version is not an integer or out of range"),
        }
    }
    let mut name = None;
    let mut i = 2;
    while i < a.len() {
        if is(&a[i], "auth") && i + 2 < a.len() {
            if let Err(r) = check_password(node, &a[i + 1], &a[i + 2]) {
                return r;
            }
            s.authenticated = true;
            i += 3;
        } else if is(&a[i], "setname") && i + 1 < a.len() {
            if !valid_name(&a[i + 1]) {
                return invalid_name();
            }
            name = Some(a[i + 1].clone());
            i += 2;
        } else {
            return Reply::error(format!("ERR Syntax error in HELLO option '{}'", errors::sanitize(&a[i], 128)));
        }
    }
    if !s.authenticated {
        return Reply::error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> \
             AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol \
             version at the same time",
        );
    }
    if let Some(n) = name {
        *s.client.name.lock().unwrap_or_else(PoisonError::into_inner) = Some(n);
    }
    s.proto = proto;
    s.client.resp.store(if proto == Protocol::Resp3 { 3 } else { 2 }, Ordering::Relaxed);
    Reply::Map(vec![
        (Reply::bulk("server"), Reply::bulk("redis")),
        (Reply::bulk("version"), Reply::bulk(REDIS_VERSION)),
        (Reply::bulk("proto"), Reply::Int(if proto == Protocol::Resp3 { 3 } else { 2 })),
        (Reply::bulk("id"), Reply::Int(s.client.id as i64)),
        (Reply::bulk("mode"), Reply::bulk("standalone")),
        (Reply::bulk("role"), Reply::bulk("master")),
        (Reply::bulk("modules"), Reply::Array(vec![])),
    ])
}

pub(super) fn select(a: &[Bytes]) -> Reply {
    match parse_i64(&a[1]) {
        Some(0) => Reply::ok(),
        Some(_) => Reply::error("ERR DB index is out of range"),
        None => errors::not_integer(),
    }
}

pub(super) fn quit(s: &mut Session) -> Reply {
    s.close = true;
    Reply::ok()
}

pub(super) fn reset(node: &Context, s: &mut Session) -> Reply {
    s.proto = Protocol::Resp2;
    s.client.resp.store(2, Ordering::Relaxed);
    s.reply_mode = ReplyMode::On;
    s.consistency = Consistency::default();
    s.authenticated = node.config().requirepass.is_none();
    *s.client.name.lock().unwrap_or_else(PoisonError::into_inner) = None;
    Reply::status("RESET")
}

fn valid_name(n: &[u8]) -> bool {
    n.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

fn invalid_name() -> Reply {
    Reply::error("ERR Client names cannot contain spaces, newlines or special characters.")
}

pub(super) fn client(node: &Context, s: &mut Session, a: &[Bytes]) -> Reply {
    let sub = &a[1];
    let n = a.len();
    if is(sub, "id") && n == 2 {
        Reply::Int(s.client.id as i64)
    } else if is(sub, "setname") && n == 3 {
        if !valid_name(&a[2]) {
            return invalid_name();
        }
        let name = if a[2].is_empty() { None } else { Some(a[2].clone()) };
        *s.client.name.lock().unwrap_or_else(PoisonError::into_inner) = name;
        Reply::ok()
    } else if is(sub, "getname") && n == 2 {
        s.client.name.lock().unwrap_or_else(PoisonError::into_inner).clone().map_or(Reply::Nil, Reply::Bulk)
    } else if is(sub, "setinfo") && n == 4 {
        let mut lib = s.client.lib.lock().unwrap_or_else(PoisonError::into_inner);
        if is(&a[2], "lib-name") {
            if !valid_name(&a[3]) {
                return Reply::error("ERR lib-name cannot contain spaces, newlines or special characters.");
            }
            lib.0 = Some(a[3].clone());
        } else if is(&a[2], "lib-ver") {
            if !valid_name(&a[3]) {
                return Reply::error("ERR lib-ver cannot contain spaces, newlines or special characters.");
            }
            lib.1 = Some(a[3].clone());
        } else {
            return Reply::error(format!("ERR Unrecognized option '{}'", errors::sanitize(&a[2], 128)));
        }
        Reply::ok()
    } else if is(sub, "info") && n == 2 {
        Reply::Verbatim(Bytes::from(s.client.info_line() + "\n"))
    } else if is(sub, "list") {
        client_list(node, &a[2..])
    } else if is(sub, "kill") && n >= 3 {
        client_kill(node, s, &a[2..])
    } else if is(sub, "no-evict") && n == 3 {
        if is(&a[2], "on") || is(&a[2], "off") {
            Reply::ok()
        } else {
            errors::syntax()
        }
    } else if is(sub, "reply") && n == 3 {
        if is(&a[2], "on") {
            s.reply_mode = ReplyMode::On;
            Reply::ok()
        } else if is(&a[2], "off") {
            s.reply_mode = ReplyMode::Off;
            Reply::ok()
        } else if is(&a[2], "skip") {
            if s.reply_mode != ReplyMode::Off {
                s.reply_mode = ReplyMode::SkipNext;
            }
            Reply::ok()
        } else {
            errors::syntax()
        }
    } else if is(sub, "help") && n == 2 {
        let lines = [
            "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are: ID, ADDR, LADDR, TYPE, USER, SKIPME.",
            "LIST [options ...]",
            "    Return information about client connections. Options: TYPE, ID.",
            "NO-EVICT (ON|OFF)",
            "    Accepted for compatibility; Cartwheel does not evict clients.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
            "HELP",
            "    Print this help.",
        ];
        Reply::Array(lines.iter().map(|l| Reply::status(l)).collect())
    } else {
        errors::unknown_subcommand("client", sub)
    }
}

fn client_list(node: &Context, opts: &[Bytes]) -> Reply {
    let mut ids: Option<Vec<u64>> = None;
    let mut i = 0;
    while i < opts.len() {
        if is(&opts[i], "type") && i + 1 < opts.len() {
            let t = &opts[i + 1];
            if !(is(t, "normal") || is(t, "master") || is(t, "replica") || is(t, "pubsub")) {
                return Reply::error(format!("ERR Unknown client type '{}'", errors::sanitize(t, 128)));
            }
            if !is(t, "normal") {
                return Reply::Verbatim(Bytes::new());
            }
            i += 2;
        } else if is(&opts[i], "id") && i + 1 < opts.len() {
            let mut v = Vec::new();
            for id in &opts[i + 1..] {
                match parse_i64(id) {
                    Some(n) if n > 0 => v.push(n as u64),
                    _ => return Reply::error("ERR Invalid client ID"),
                }
            }
            ids = Some(v);
            i = opts.len();
        } else {
            return errors::syntax();
        }
    }
    let mut out = String::new();
    for c in node.clients.all() {
        if ids.as_ref().is_none_or(|v| v.contains(&c.id)) {
            out.push_str(&c.info_line());
            out.push('\n');
        }
    }
    Reply::Verbatim(Bytes::from(out))
}

fn client_kill(node: &Context, s: &mut Session, opts: &[Bytes]) -> Reply {
    let clients = node.clients.all();
    if opts.len() == 1 {
        let addr = String::from_utf8_lossy(&opts[0]);
        return match clients.iter().find(|c| c.addr.to_string() == addr) {
            Some(c) => {
                kill(s, c);
                Reply::ok()
            }
            None => Reply::error("ERR No such client"),
        };
    }
    if opts.len() % 2 != 0 {
        return errors::syntax();
    }
    let (mut id, mut addr, mut laddr, mut skipme, mut user) = (None, None, None, true, None);
    for pair in opts.chunks(2) {
        let (k, v) = (&pair[0], &pair[1]);
        if is(k, "id") {
            match parse_i64(v) {
                Some(n) if n > 0 => id = Some(n as u64),
                _ => return Reply::error("ERR client-id should be greater than 0"),
            }
        } else if is(k, "addr") {
            addr = Some(String::from_utf8_lossy(v).into_owned());
        } else if is(k, "laddr") {
            laddr = Some(String::from_utf8_lossy(v).into_owned());
        } else if is(k, "skipme") {
            skipme = if is(v, "yes") {
                true
            } else if is(v, "no") {
                false
            } else {
                return errors::syntax();
            };
        } else if is(k, "user") {
            user = Some(v.clone());
        } else if is(k, "type") {
            if !is(v, "normal") {
                return Reply::Int(0);
            }
        } else {
            return errors::syntax();
        }
    }
    let mut killed = 0;
    for c in &clients {
        let matches = id.is_none_or(|i| c.id == i)
            && addr.as_ref().is_none_or(|a| c.addr.to_string() == *a)
            && laddr.as_ref().is_none_or(|a| c.laddr.to_string() == *a)
            && user.as_ref().is_none_or(|u| is(u, "default"))
            && !(skipme && c.id == s.client.id);
        if matches {
            kill(s, c);
            killed += 1;
        }
    }
    Reply::Int(killed)
}

fn kill(s: &mut Session, c: &crate::resp::clients::ClientEntry) {
    if c.id == s.client.id {
        s.close = true;
    } else {
        c.kill.notify_one();
    }
}
