//! Replies of Redis's `COMMAND` introspection family, built from the static command table.
//!
//! The `COMMAND` handler parses the subcommand and calls one of these; each returns a [`Reply`]
//! shaped exactly like Redis 7.0's (sets, maps and nulls included, so RESP2 and RESP3 both come
//! out right): `COMMAND` and `COMMAND INFO` give Redis's 10-element array per command,
//! `COMMAND DOCS` the documentation maps redis-cli reads at start-up, `COMMAND LIST` the names
//! (with `FILTERBY MODULE|ACLCAT|PATTERN`), `COMMAND COUNT` the number of top-level commands, and
//! `COMMAND GETKEYS` the key arguments found by following the table's key specs. Commands are
//! listed in table order (sorted by name) where Redis uses its hash-table order.

use bytes::Bytes;

use crate::command::glob::glob_match;
use crate::command::table::{
    arity_ok, lookup, lookup_full, lookup_sub, Arg, ArgKind, BeginSearch, CommandSpec, FindKeys, KeySpec, COMMANDS,
};
use crate::resp::reply::Reply;

fn bulk(s: &'static str) -> Reply {
    Reply::Bulk(Bytes::from_static(s.as_bytes()))
}

fn status_set(items: &[&'static str]) -> Reply {
    Reply::Set(items.iter().map(|s| Reply::status(s)).collect())
}

fn map(pairs: Vec<(&'static str, Reply)>) -> Reply {
    Reply::Map(pairs.into_iter().map(|(k, v)| (bulk(k), v)).collect())
}

fn int(n: i32) -> Reply {
    Reply::Int(i64::from(n))
}

/// The 10-element array Redis returns for one command in `COMMAND` / `COMMAND INFO`.
pub fn command_info(spec: &CommandSpec) -> Reply {
    let subcommands = if spec.subcommands.is_empty() {
        Reply::Set(Vec::new()) // Redis sends an empty *set* here, but an array of subcommands.
    } else {
        Reply::Array(spec.subcommands.iter().map(command_info).collect())
    };
    Reply::Array(vec![
        bulk(spec.name),
        int(spec.arity),
        status_set(spec.flags),
        int(spec.first_key),
        int(spec.last_key),
        int(spec.step),
        status_set(spec.acl_categories),
        Reply::Set(spec.tips.iter().map(|t| bulk(t)).collect()),
        Reply::Set(spec.key_specs.iter().map(key_spec).collect()),
        subcommands,
    ])
}

fn key_spec(ks: &KeySpec) -> Reply {
    let (bs_type, bs_spec) = match ks.begin_search {
        BeginSearch::Index(pos) => ("index", vec![("index", int(pos))]),
        BeginSearch::Keyword { keyword, start_from } => {
            ("keyword", vec![("keyword", bulk(keyword)), ("startfrom", int(start_from))])
        }
        BeginSearch::Unknown => ("unknown", vec![]),
    };
    let (fk_type, fk_spec) = match ks.find_keys {
        FindKeys::Range { last_key, key_step, limit } => {
            ("range", vec![("lastkey", int(last_key)), ("keystep", int(key_step)), ("limit", int(limit))])
        }
        FindKeys::KeyNum { key_num_idx, first_key, key_step } => {
            ("keynum", vec![("keynumidx", int(key_num_idx)), ("firstkey", int(first_key)), ("keystep", int(key_step))])
        }
        FindKeys::Unknown => ("unknown", vec![]),
    };
    let mut pairs = Vec::with_capacity(4);
    if let Some(notes) = ks.notes {
        pairs.push(("notes", bulk(notes)));
    }
    pairs.push(("flags", status_set(ks.flags)));
    pairs.push(("begin_search", map(vec![("type", bulk(bs_type)), ("spec", map(bs_spec))])));
    pairs.push(("find_keys", map(vec![("type", bulk(fk_type)), ("spec", map(fk_spec))])));
    map(pairs)
}

/// `COMMAND`: the info array of every top-level command.
pub fn command_all() -> Reply {
    Reply::Array(COMMANDS.iter().map(command_info).collect())
}

/// `COMMAND COUNT`: the number of top-level commands.
pub fn command_count() -> Reply {
    Reply::Int(COMMANDS.len() as i64)
}

/// `COMMAND INFO [name …]`: one entry per name (`client|id` finds a subcommand), a null for an
/// unknown one; every command when no name is given.
pub fn command_info_for(names: &[Bytes]) -> Reply {
    if names.is_empty() {
        return command_all();
    }
    let infos = names.iter().map(|n| lookup_full(n).map_or(Reply::Nil, command_info));
    Reply::Array(infos.collect())
}

/// `COMMAND DOCS [name …]`: a map from full name to documentation; unknown names are left out,
/// and no name means every command.
pub fn command_docs_for(names: &[Bytes]) -> Reply {
    let docs = |spec: &'static CommandSpec| (bulk(spec.name), command_docs(spec));
    if names.is_empty() {
        return Reply::Map(COMMANDS.iter().map(docs).collect());
    }
    Reply::Map(names.iter().filter_map(|n| lookup_full(n)).map(docs).collect())
}

fn command_docs(spec: &'static CommandSpec) -> Reply {
    let mut pairs = Vec::with_capacity(8);
    let texts =
        [("summary", spec.summary), ("since", spec.since), ("group", spec.group), ("complexity", spec.complexity)];
    // Redis always sends the group; the others only when set.
    for (field, text) in texts.into_iter().filter(|(f, t)| !t.is_empty() || *f == "group") {
        pairs.push((field, bulk(text)));
    }
    if !spec.doc_flags.is_empty() {
        pairs.push(("doc_flags", status_set(spec.doc_flags)));
    }
    if let Some(v) = spec.deprecated_since {
        pairs.push(("deprecated_since", bulk(v)));
    }
    if let Some(v) = spec.replaced_by {
        pairs.push(("replaced_by", bulk(v)));
    }
    if !spec.history.is_empty() {
        let entries = spec.history.iter().map(|(v, c)| Reply::Array(vec![bulk(v), bulk(c)]));
        pairs.push(("history", Reply::Set(entries.collect())));
    }
    if !spec.arguments.is_empty() {
        pairs.push(("arguments", arg_list(spec.arguments)));
    }
    if !spec.subcommands.is_empty() {
        let subs = spec.subcommands.iter().map(|s| (bulk(s.name), command_docs(s)));
        pairs.push(("subcommands", Reply::Map(subs.collect())));
    }
    map(pairs)
}

fn arg_list(args: &'static [Arg]) -> Reply {
    Reply::Array(args.iter().map(arg_doc).collect())
}

fn arg_doc(arg: &'static Arg) -> Reply {
    let mut pairs = vec![("name", bulk(arg.name)), ("type", bulk(arg.kind.as_str()))];
    if let Some(i) = arg.key_spec_index {
        pairs.push(("key_spec_index", Reply::Int(i64::from(i))));
    }
    let texts = [
        ("token", arg.token),
        ("summary", arg.summary),
        ("since", arg.since),
        ("deprecated_since", arg.deprecated_since),
    ];
    pairs.extend(texts.into_iter().filter_map(|(k, v)| v.map(|v| (k, bulk(v)))));
    let flags = [(arg.optional, "optional"), (arg.multiple, "multiple"), (arg.multiple_token, "multiple_token")];
    let set: Vec<&'static str> = flags.iter().filter(|(on, _)| *on).map(|(_, f)| *f).collect();
    if !set.is_empty() {
        pairs.push(("flags", status_set(&set)));
    }
    if matches!(arg.kind, ArgKind::OneOf | ArgKind::Block) {
        pairs.push(("arguments", arg_list(arg.args)));
    }
    map(pairs)
}

/// `COMMAND LIST [FILTERBY MODULE m | ACLCAT cat | PATTERN glob]`: full names of commands and
/// subcommands. The caller passes the filter type and argument (case of the type ignored).
pub fn command_list(filter: Option<(&[u8], &[u8])>) -> Reply {
    let keep: Box<dyn Fn(&CommandSpec) -> bool> = match filter {
        None => Box::new(|_| true),
        Some((kind, _)) if kind.eq_ignore_ascii_case(b"module") => Box::new(|_| false),
        Some((kind, cat)) if kind.eq_ignore_ascii_case(b"aclcat") => Box::new(move |spec| {
            let has = |c: &&str| c.trim_start_matches('@').as_bytes().eq_ignore_ascii_case(cat);
            spec.acl_categories.iter().any(has)
        }),
        Some((kind, pattern)) if kind.eq_ignore_ascii_case(b"pattern") => {
            Box::new(move |spec| glob_match(pattern, spec.name.as_bytes(), true))
        }
        Some(_) => return Reply::error("ERR syntax error"),
    };
    let all = COMMANDS.iter().flat_map(|c| std::iter::once(c).chain(c.subcommands));
    Reply::Array(all.filter(|s| keep(s)).map(|s| bulk(s.name)).collect())
}

/// `COMMAND GETKEYS cmd arg …` (`args` starts at `cmd`): the key arguments, found with the
/// command's key specs, with Redis's errors.
pub fn command_getkeys(args: &[Bytes]) -> Reply {
    // `command|getkeys` has arity -4: at least the command and one argument.
    let [name, first_arg, ..] = args else {
        return Reply::error("ERR wrong number of arguments for 'command|getkeys' command");
    };
    let spec = match lookup(name) {
        Some(parent) if !parent.subcommands.is_empty() => lookup_sub(parent, first_arg),
        other => other,
    };
    let Some(spec) = spec else {
        return Reply::error("ERR Invalid command specified");
    };
    if !spec.key_specs.iter().any(|ks| !ks.flags.contains(&"not_key")) {
        return Reply::error("ERR The command has no key arguments");
    }
    if !arity_ok(spec, args.len()) {
        return Reply::error("ERR Invalid number of arguments specified for command");
    }
    match key_positions(spec, args) {
        Some(pos) => Reply::Array(pos.into_iter().map(|i| Reply::Bulk(args[i].clone())).collect()),
        None if spec.has_flag("no_mandatory_keys") => Reply::Array(Vec::new()),
        None => Reply::error("ERR Invalid arguments specified for command"),
    }
}

/// Positions of the key arguments in `argv` (command name at 0), following the key specs like
/// Redis's `getKeysUsingKeySpecs`; `None` when the arguments do not fit a spec.
pub fn key_positions(spec: &CommandSpec, argv: &[Bytes]) -> Option<Vec<usize>> {
    let argc = argv.len() as i64;
    let mut keys = Vec::new();
    for ks in spec.key_specs.iter().filter(|ks| !ks.flags.contains(&"not_key")) {
        let first = match ks.begin_search {
            BeginSearch::Index(pos) => i64::from(pos),
            BeginSearch::Keyword { keyword, start_from } => {
                // Like Redis, the search stops before the last (or, backwards, first) argument.
                let found = if start_from > 0 {
                    (i64::from(start_from)..argc - 1).find(|&i| eq_kw(argv, i, keyword))
                } else {
                    (2..=argc + i64::from(start_from)).rev().find(|&i| eq_kw(argv, i, keyword))
                };
                match found {
                    Some(i) => i + 1,
                    None => continue,
                }
            }
            BeginSearch::Unknown => return None,
        };
        let (first, last, step) = match ks.find_keys {
            FindKeys::Range { last_key, key_step, limit } => {
                let last = match (last_key, limit) {
                    (l, _) if l >= 0 => first + i64::from(l),
                    (l, 0) => argc + i64::from(l),
                    (l, lim) => first + ((argc - first) / i64::from(lim) + i64::from(l)),
                };
                (first, last, i64::from(key_step))
            }
            FindKeys::KeyNum { key_num_idx, first_key, key_step } => {
                let idx = usize::try_from(first + i64::from(key_num_idx)).ok()?;
                let raw = argv.get(idx)?;
                // Redis's string2ll: plain digits, no sign, no leading zero.
                if raw.is_empty() || raw.len() > 18 || (raw.len() > 1 && raw[0] == b'0') {
                    return None;
                }
                if !raw.iter().all(u8::is_ascii_digit) {
                    return None;
                }
                let n = raw.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
                let start = first + i64::from(first_key);
                (start, start + n - 1, i64::from(key_step))
            }
            FindKeys::Unknown => return None,
        };
        if last >= argc || last < first || first >= argc || step <= 0 || ks.flags.contains(&"incomplete") {
            return None;
        }
        keys.extend((first..=last).step_by(step as usize).map(|i| i as usize));
    }
    Some(keys)
}

fn eq_kw(argv: &[Bytes], i: i64, keyword: &str) -> bool {
    usize::try_from(i).ok().and_then(|i| argv.get(i)).is_some_and(|a| a.eq_ignore_ascii_case(keyword.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::reply::Protocol;
    use bytes::BytesMut;

    fn wire(reply: &Reply, proto: Protocol) -> String {
        let mut out = BytesMut::new();
        reply.encode(proto, &mut out);
        String::from_utf8(out.to_vec()).expect("utf-8")
    }

    fn args(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect()
    }

    fn names(reply: &Reply) -> Vec<String> {
        let Reply::Array(items) = reply else { panic!("not an array: {reply:?}") };
        let name = |r: &Reply| match r {
            Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("not a bulk: {other:?}"),
        };
        items.iter().map(name).collect()
    }

    // Captured from redis-server 7.0.15.
    const INFO_GET_RESP2: &str = "\
        *1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n\
        +@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n\
        +access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n\
        *2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n\
        $4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n\
        :0\r\n*0\r\n";

    const INFO_GET_RESP3: &str = "\
        *1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n\
        +@read\r\n+@string\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n\
        +access\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n\
        %1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n\
        $4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n\
        :0\r\n~0\r\n";

    const INFO_CLIENT_ID_RESP3: &str = "\
        *1\r\n*10\r\n$9\r\nclient|id\r\n:2\r\n~3\r\n+noscript\r\n+loading\r\n+stale\r\n\
        :0\r\n:0\r\n:0\r\n~2\r\n+@slow\r\n+@connection\r\n~0\r\n~0\r\n~0\r\n";

    const DOCS_GET_RESP2: &str = "\
        *2\r\n$3\r\nget\r\n*10\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n$5\r\n\
        since\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\n\
        O(1)\r\n$9\r\narguments\r\n*1\r\n*6\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n\
        $3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n";

    const DOCS_SET_RESP3: &str = "\
        %1\r\n$3\r\nset\r\n%6\r\n$7\r\nsummary\r\n$29\r\nSet the string value of a key\r\n\
        $5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n\
        $4\r\nO(1)\r\n$7\r\nhistory\r\n~4\r\n*2\r\n$6\r\n2.6.12\r\n$44\r\n\
        Added the `EX`, `PX`, `NX` and `XX` options.\r\n*2\r\n$5\r\n6.0.0\r\n$27\r\n\
        Added the `KEEPTTL` option.\r\n*2\r\n$5\r\n6.2.0\r\n$42\r\n\
        Added the `GET`, `EXAT` and `PXAT` option.\r\n*2\r\n$5\r\n7.0.0\r\n$55\r\n\
        Allowed the `NX` and `GET` options to be used together.\r\n$9\r\narguments\r\n*5\r\n\
        %3\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\n\
        key_spec_index\r\n:0\r\n%2\r\n$4\r\nname\r\n$5\r\nvalue\r\n$4\r\ntype\r\n$6\r\n\
        string\r\n%5\r\n$4\r\nname\r\n$9\r\ncondition\r\n$4\r\ntype\r\n$5\r\noneof\r\n$5\r\n\
        since\r\n$6\r\n2.6.12\r\n$5\r\nflags\r\n~1\r\n+optional\r\n$9\r\narguments\r\n*2\r\n\
        %3\r\n$4\r\nname\r\n$2\r\nnx\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n\
        $2\r\nNX\r\n%3\r\n$4\r\nname\r\n$2\r\nxx\r\n$4\r\ntype\r\n$10\r\npure-token\r\n\
        $5\r\ntoken\r\n$2\r\nXX\r\n%5\r\n$4\r\nname\r\n$3\r\nget\r\n$4\r\ntype\r\n$10\r\n\
        pure-token\r\n$5\r\ntoken\r\n$3\r\nGET\r\n$5\r\nsince\r\n$5\r\n6.2.0\r\n$5\r\n\
        flags\r\n~1\r\n+optional\r\n%4\r\n$4\r\nname\r\n$10\r\nexpiration\r\n$4\r\ntype\r\n\
        $5\r\noneof\r\n$5\r\nflags\r\n~1\r\n+optional\r\n$9\r\narguments\r\n*5\r\n%4\r\n\
        $4\r\nname\r\n$7\r\nseconds\r\n$4\r\ntype\r\n$7\r\ninteger\r\n$5\r\ntoken\r\n$2\r\n\
        EX\r\n$5\r\nsince\r\n$6\r\n2.6.12\r\n%4\r\n$4\r\nname\r\n$12\r\nmilliseconds\r\n\
        $4\r\ntype\r\n$7\r\ninteger\r\n$5\r\ntoken\r\n$2\r\nPX\r\n$5\r\nsince\r\n$6\r\n\
        2.6.12\r\n%4\r\n$4\r\nname\r\n$17\r\nunix-time-seconds\r\n$4\r\ntype\r\n$9\r\n\
        unix-time\r\n$5\r\ntoken\r\n$4\r\nEXAT\r\n$5\r\nsince\r\n$5\r\n6.2.0\r\n%4\r\n$4\r\n\
        name\r\n$22\r\nunix-time-milliseconds\r\n$4\r\ntype\r\n$9\r\nunix-time\r\n$5\r\n\
        token\r\n$4\r\nPXAT\r\n$5\r\nsince\r\n$5\r\n6.2.0\r\n%4\r\n$4\r\nname\r\n$7\r\n\
        keepttl\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$7\r\nKEEPTTL\r\n$5\r\n\
        since\r\n$5\r\n6.0.0\r\n";

    #[test]
    fn info_and_docs_are_byte_equal_to_redis() {
        let (r2, r3) = (Protocol::Resp2, Protocol::Resp3);
        assert_eq!(wire(&command_info_for(&args(&["get"])), r2), INFO_GET_RESP2);
        assert_eq!(wire(&command_info_for(&args(&["GET"])), r3), INFO_GET_RESP3);
        assert_eq!(wire(&command_info_for(&args(&["client|id"])), r3), INFO_CLIENT_ID_RESP3);
        assert_eq!(wire(&command_docs_for(&args(&["get"])), r2), DOCS_GET_RESP2);
        assert_eq!(wire(&command_docs_for(&args(&["set"])), r3), DOCS_SET_RESP3);
    }

    #[test]
    fn info_shapes() {
        let Reply::Array(entries) = command_info_for(&args(&["set", "nosuch", "client", "get|x"])) else {
            panic!("array")
        };
        assert_eq!(entries.len(), 4);
        assert!(entries[1] == Reply::Nil && entries[3] == Reply::Nil);
        let Reply::Array(set) = &entries[0] else { panic!("array") };
        assert_eq!(set.len(), 10);
        assert_eq!(set[0], Reply::bulk("set"));
        assert_eq!(set[1], Reply::Int(-3));
        let flags = vec![Reply::status("write"), Reply::status("denyoom")];
        assert_eq!(set[2], Reply::Set(flags));
        let Reply::Array(client) = &entries[2] else { panic!("array") };
        assert_eq!((client[1].clone(), client[2].clone()), (Reply::Int(-2), Reply::Set(vec![])));
        let Reply::Array(subs) = &client[9] else { panic!("subcommands array") };
        let sub_names: Vec<_> = subs
            .iter()
            .map(|s| match s {
                Reply::Array(f) => f[0].clone(),
                _ => panic!("info"),
            })
            .collect();
        assert!(sub_names.contains(&Reply::bulk("client|setname")));
        assert!(sub_names.contains(&Reply::bulk("client|setinfo")));
        let Reply::Array(all) = command_info_for(&[]) else { panic!("array") };
        assert_eq!(all.len(), COMMANDS.len());
        assert_eq!(command_all(), Reply::Array(all));
        assert_eq!(command_count(), Reply::Int(COMMANDS.len() as i64));
    }

    #[test]
    fn docs_shapes() {
        let docs = command_docs_for(&args(&["nosuch", "client", "kv.put"]));
        let Reply::Map(pairs) = &docs else { panic!("map") };
        let keys: Vec<_> = pairs.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys, vec![Reply::bulk("client"), Reply::bulk("kv.put")]);
        let Reply::Map(client) = &pairs[0].1 else { panic!("map") };
        let (last_key, subs) = client.last().expect("fields");
        assert_eq!(last_key, &Reply::bulk("subcommands"));
        assert!(matches!(subs, Reply::Map(m) if m.iter().any(|(k, _)| k == &Reply::bulk("client|id"))));
        assert_eq!(command_docs_for(&args(&["nosuch"])), Reply::Map(vec![]));
        let Reply::Map(all) = command_docs_for(&[]) else { panic!("map") };
        assert_eq!(all.len(), COMMANDS.len());
    }

    #[test]
    fn list_and_filters() {
        let all = names(&command_list(None));
        assert!(all.contains(&"get".to_string()) && all.contains(&"object|encoding".to_string()));
        let pattern = names(&command_list(Some((b"PATTERN", b"CLIENT*"))));
        assert!(pattern.iter().all(|n| n.starts_with("client")) && pattern.len() > 5);
        let kv = names(&command_list(Some((b"pattern", b"kv.*"))));
        assert_eq!(kv.len(), 7);
        let strings = names(&command_list(Some((b"aclcat", b"STRING"))));
        assert!(strings.contains(&"lcs".to_string()) && !strings.contains(&"del".to_string()));
        assert_eq!(command_list(Some((b"aclcat", b"nosuch"))), Reply::Array(vec![]));
        assert_eq!(command_list(Some((b"module", b"x"))), Reply::Array(vec![]));
        assert_eq!(command_list(Some((b"bogus", b"x"))), Reply::error("ERR syntax error"));
    }

    #[test]
    fn getkeys_like_redis() {
        let keys = |w: &[&str]| command_getkeys(&args(w));
        assert_eq!(keys(&["set", "a", "b"]), Reply::Array(vec![Reply::bulk("a")]));
        let mset = wire(&keys(&["mset", "a", "b", "c", "d"]), Protocol::Resp2);
        assert_eq!(mset, "*2\r\n$1\r\na\r\n$1\r\nc\r\n");
        assert_eq!(names(&keys(&["mset", "a", "b", "c"])), ["a", "c"]);
        assert_eq!(names(&keys(&["copy", "a", "b", "DB", "1"])), ["a", "b"]);
        assert_eq!(names(&keys(&["exists", "a", "b", "c"])), ["a", "b", "c"]);
        assert_eq!(names(&keys(&["object", "encoding", "k"])), ["k"]);
        assert_eq!(names(&keys(&["KV.PUT", "k", "ctx", "v"])), ["k"]);
        let invalid = Reply::error("ERR Invalid command specified");
        assert_eq!(keys(&["nosuch", "a"]), invalid);
        assert_eq!(keys(&["client", "nosuch"]), invalid);
        let no_keys = Reply::error("ERR The command has no key arguments");
        assert_eq!(keys(&["client", "id"]), no_keys);
        assert_eq!(keys(&["ping", "x"]), no_keys);
        let arity = Reply::error("ERR Invalid number of arguments specified for command");
        assert_eq!(keys(&["get", "a", "b"]), arity);
        let usage = Reply::error("ERR wrong number of arguments for 'command|getkeys' command");
        assert!(keys(&[]) == usage && keys(&["get"]) == usage);
    }

    #[test]
    fn key_specs_beyond_ranges() {
        const SPECS: &[KeySpec] = &[
            KeySpec::new(
                &["RO"],
                BeginSearch::Index(2),
                FindKeys::KeyNum { key_num_idx: 0, first_key: 1, key_step: 1 },
            ),
            KeySpec::new(
                &["OW"],
                BeginSearch::Keyword { keyword: "STORE", start_from: -2 },
                FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            ),
        ];
        const SPEC: CommandSpec = CommandSpec { name: "x", arity: -3, key_specs: SPECS, ..CommandSpec::DEFAULT };
        let argv = args(&["x", "y", "2", "k1", "k2", "STORE", "dst"]);
        assert_eq!(key_positions(&SPEC, &argv), Some(vec![3, 4, 6]));
        assert_eq!(key_positions(&SPEC, &args(&["x", "y", "3", "k1"])), None);
        assert_eq!(key_positions(&SPEC, &args(&["x", "y", "1", "k1"])), Some(vec![3]));
    }
}
