//! The static command table: every command Cartwheel knows, with the metadata Redis 7.0 reports
//! for it (arity, flags, key positions and key specs, ACL categories, tips, and the documentation
//! that `COMMAND DOCS` serves: summary, since, group, complexity, history and arguments).
//!
//! The request path calls [`lookup`] (and [`lookup_sub`] for container commands such as `CLIENT`)
//! for every command, then [`arity_ok`]; `command::introspection` turns the same entries into the
//! replies of `COMMAND`, `COMMAND INFO|DOCS|LIST|COUNT|GETKEYS`. The Redis entries were generated
//! from a Redis 7.0.15 server (`COMMAND INFO` and `COMMAND DOCS`, cross-checked against its
//! `src/commands/*.json`) and are kept verbatim, including Redis's own groups (`WAIT` is
//! "generic", `FUNCTION` is "scripting"); `CLIENT SETINFO` comes from Redis 7.2, and the `kv.*`
//! commands are Cartwheel's own. [`COMMANDS`] is sorted by name (the order `COMMAND` lists them
//! in); container commands list only the subcommands Cartwheel implements.

/// One command (or subcommand) and its Redis-visible metadata.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    /// Lowercase name; a subcommand is named `container|sub` as Redis reports it (`client|id`).
    pub name: &'static str,
    /// Redis arity, counting the command name: `n` means exactly `n`, `-n` at least `n`.
    pub arity: i32,
    /// Command flags as `COMMAND INFO` prints them (`write`, `readonly`, `denyoom`, `fast`…).
    pub flags: &'static [&'static str],
    /// Legacy key range: position of the first key (0: no keys).
    pub first_key: i32,
    /// Legacy key range: position of the last key (-1: the last argument).
    pub last_key: i32,
    /// Legacy key range: distance between keys.
    pub step: i32,
    /// ACL categories including the implicit ones (`@write`, `@string`, `@fast`…).
    pub acl_categories: &'static [&'static str],
    /// Command tips (`nondeterministic_output`, `request_policy:all_shards`…).
    pub tips: &'static [&'static str],
    /// Redis 7 key specs; [`crate::command::introspection::command_getkeys`] follows them.
    pub key_specs: &'static [KeySpec],
    /// Documentation group (`string`, `generic`, `connection`, `server`, `cluster`, `cartwheel`…).
    pub group: &'static str,
    /// Version that introduced the command.
    pub since: &'static str,
    /// One-line summary.
    pub summary: &'static str,
    /// Time complexity.
    pub complexity: &'static str,
    /// Documentation flags (`deprecated`, `syscmd`).
    pub doc_flags: &'static [&'static str],
    /// Version that deprecated the command, if any.
    pub deprecated_since: Option<&'static str>,
    /// What replaces a deprecated command.
    pub replaced_by: Option<&'static str>,
    /// `(version, change)` pairs.
    pub history: &'static [(&'static str, &'static str)],
    /// Argument grammar, for `COMMAND DOCS` (redis-cli's hints).
    pub arguments: &'static [Arg],
    /// Subcommands of a container command; empty for plain commands.
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    /// Base for table entries: every optional field empty (`..CommandSpec::DEFAULT`).
    pub const DEFAULT: CommandSpec = CommandSpec {
        name: "",
        arity: 0,
        flags: &[],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &[],
        tips: &[],
        key_specs: &[],
        group: "",
        since: "",
        summary: "",
        complexity: "",
        doc_flags: &[],
        deprecated_since: None,
        replaced_by: None,
        history: &[],
        arguments: &[],
        subcommands: &[],
    };

    /// Whether `flag` (as printed by `COMMAND INFO`, e.g. `"write"`) is set.
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// The part of the name after `container|`, or the whole name for a top-level command.
    pub fn sub_name(&self) -> &'static str {
        match self.name.split_once('|') {
            Some((_, sub)) => sub,
            None => self.name,
        }
    }
}

/// The type of a documented argument, as `COMMAND DOCS` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// `string`
    String,
    /// `integer`
    Integer,
    /// `double`
    Double,
    /// `key`
    Key,
    /// `pattern`
    Pattern,
    /// `unix-time`
    UnixTime,
    /// `pure-token`: the token alone, no value.
    PureToken,
    /// `oneof`: exactly one of the nested arguments.
    OneOf,
    /// `block`: the nested arguments in sequence.
    Block,
}

impl ArgKind {
    /// The name `COMMAND DOCS` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            ArgKind::String => "string",
            ArgKind::Integer => "integer",
            ArgKind::Double => "double",
            ArgKind::Key => "key",
            ArgKind::Pattern => "pattern",
            ArgKind::UnixTime => "unix-time",
            ArgKind::PureToken => "pure-token",
            ArgKind::OneOf => "oneof",
            ArgKind::Block => "block",
        }
    }
}

/// One documented argument; built with the `const` helpers below so the table stays readable.
#[derive(Debug, Clone, Copy)]
pub struct Arg {
    /// Argument name.
    pub name: &'static str,
    /// Argument type.
    pub kind: ArgKind,
    /// Index into the command's key specs, for `key` arguments.
    pub key_spec_index: Option<u32>,
    /// Literal token that precedes (or, for `pure-token`, is) the argument.
    pub token: Option<&'static str>,
    /// Short description.
    pub summary: Option<&'static str>,
    /// Version that introduced the argument.
    pub since: Option<&'static str>,
    /// Version that deprecated the argument.
    pub deprecated_since: Option<&'static str>,
    /// May be omitted.
    pub optional: bool,
    /// May be repeated.
    pub multiple: bool,
    /// Each repetition repeats the token too.
    pub multiple_token: bool,
    /// Nested arguments of a `oneof` or `block`.
    pub args: &'static [Arg],
}

impl Arg {
    /// A plain argument of `kind`.
    pub const fn new(name: &'static str, kind: ArgKind) -> Arg {
        Arg {
            name,
            kind,
            key_spec_index: None,
            token: None,
            summary: None,
            since: None,
            deprecated_since: None,
            optional: false,
            multiple: false,
            multiple_token: false,
            args: &[],
        }
    }

    /// A key argument described by key spec `spec`.
    pub const fn key(name: &'static str, spec: u32) -> Arg {
        let mut arg = Arg::new(name, ArgKind::Key);
        arg.key_spec_index = Some(spec);
        arg
    }

    /// A `oneof` group.
    pub const fn one_of(name: &'static str, args: &'static [Arg]) -> Arg {
        let mut arg = Arg::new(name, ArgKind::OneOf);
        arg.args = args;
        arg
    }

    /// A `block` (sequence) group.
    pub const fn block(name: &'static str, args: &'static [Arg]) -> Arg {
        let mut arg = Arg::new(name, ArgKind::Block);
        arg.args = args;
        arg
    }

    /// Sets the token.
    pub const fn token(mut self, token: &'static str) -> Arg {
        self.token = Some(token);
        self
    }

    /// Sets the summary.
    pub const fn summary(mut self, summary: &'static str) -> Arg {
        self.summary = Some(summary);
        self
    }

    /// Sets the version that introduced the argument.
    pub const fn since(mut self, since: &'static str) -> Arg {
        self.since = Some(since);
        self
    }

    /// Sets the version that deprecated the argument.
    pub const fn deprecated_since(mut self, version: &'static str) -> Arg {
        self.deprecated_since = Some(version);
        self
    }

    /// Marks the argument optional.
    pub const fn optional(mut self) -> Arg {
        self.optional = true;
        self
    }

    /// Marks the argument repeatable.
    pub const fn multiple(mut self) -> Arg {
        self.multiple = true;
        self
    }

    /// Marks the token as repeated with each value.
    pub const fn multiple_token(mut self) -> Arg {
        self.multiple_token = true;
        self
    }
}

/// A Redis 7 key spec: where the key arguments of a command are.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    /// Free-text notes.
    pub notes: Option<&'static str>,
    /// Key flags as printed (`RO`, `RW`, `OW`, `RM`, `access`, `update`, `insert`, `delete`…).
    pub flags: &'static [&'static str],
    /// Where the search for keys starts.
    pub begin_search: BeginSearch,
    /// How keys are found from there.
    pub find_keys: FindKeys,
}

impl KeySpec {
    /// A key spec without notes.
    pub const fn new(flags: &'static [&'static str], begin_search: BeginSearch, find_keys: FindKeys) -> KeySpec {
        KeySpec { notes: None, flags, begin_search, find_keys }
    }

    /// Adds notes.
    pub const fn notes(mut self, notes: &'static str) -> KeySpec {
        self.notes = Some(notes);
        self
    }
}

/// Key spec `begin_search`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeginSearch {
    /// Keys start at this argument index.
    Index(i32),
    /// Keys start after `keyword`, searched from `start_from` (negative: from the end, backwards).
    Keyword {
        /// The keyword.
        keyword: &'static str,
        /// Search start index.
        start_from: i32,
    },
    /// Not described; the command computes its keys itself.
    Unknown,
}

/// Key spec `find_keys`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindKeys {
    /// Keys up to `last_key` relative to the start (negative: from the end), every `key_step`;
    /// with a negative `last_key`, `limit` > 0 keeps only 1/limit of the remaining arguments.
    Range {
        /// Last key, relative.
        last_key: i32,
        /// Step between keys.
        key_step: i32,
        /// Fraction limit.
        limit: i32,
    },
    /// The number of keys is the argument at `key_num_idx`; keys start at `first_key` after the
    /// start, every `key_step`.
    KeyNum {
        /// Index of the key count, relative.
        key_num_idx: i32,
        /// First key, relative.
        first_key: i32,
        /// Step between keys.
        key_step: i32,
    },
    /// Not described.
    Unknown,
}

/// Longest top-level command name in [`COMMANDS`] (checked by a test).
const MAX_NAME_LEN: usize = 16;

/// Slots of the lookup hash table: a power of two, at least twice the number of commands.
const SLOTS: usize = 256;
const _: () = assert!(COMMANDS.len() * 2 <= SLOTS && SLOTS.is_power_of_two());

/// Hash slot of a name, the same for any ASCII case: one multiplication over its length and a few
/// of its bytes (`| 0x20` folds letters; other bytes only need to hash consistently).
fn slot(name: &[u8]) -> usize {
    let len = name.len();
    let byte = |i: usize| u64::from(name[i] | 0x20);
    let word = len as u64
        | byte(0) << 8
        | byte(1.min(len - 1)) << 16
        | byte(len - 1) << 24
        | byte(len.saturating_sub(2)) << 32
        | byte(len / 2) << 40;
    (word.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize % SLOTS
}

/// Open-addressing index over [`COMMANDS`]: 0 is empty, `i + 1` is `COMMANDS[i]`.
fn index() -> &'static [u8; SLOTS] {
    static INDEX: std::sync::OnceLock<[u8; SLOTS]> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        let mut slots = [0u8; SLOTS];
        for (i, spec) in COMMANDS.iter().enumerate() {
            let mut h = slot(spec.name.as_bytes());
            while slots[h] != 0 {
                h = (h + 1) % SLOTS;
            }
            slots[h] = (i + 1) as u8; // fits: COMMANDS.len() < SLOTS / 2
        }
        slots
    })
}

/// Case-insensitive lookup of a top-level command by name. Hot path (every request): no
/// allocation, one multiplicative hash into a 256-byte index built once, then a
/// case-insensitive comparison (rarely more than one).
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return None;
    }
    let slots = index();
    let mut h = slot(name);
    loop {
        let spec = COMMANDS.get(usize::from(slots[h]).checked_sub(1)?)?;
        if spec.name.as_bytes().eq_ignore_ascii_case(name) {
            return Some(spec);
        }
        h = (h + 1) % SLOTS;
    }
}

/// Case-insensitive lookup of a subcommand of a container command (`client`, `setname`).
pub fn lookup_sub(parent: &'static CommandSpec, sub: &[u8]) -> Option<&'static CommandSpec> {
    parent.subcommands.iter().find(|spec| spec.sub_name().as_bytes().eq_ignore_ascii_case(sub))
}

/// Lookup by full name as `COMMAND INFO|DOCS` accept it: `get`, or `client|id` for a subcommand
/// (Redis's `lookupCommandBySds`). A `|` on a command without subcommands finds nothing.
pub fn lookup_full(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut parts = name.splitn(3, |&b| b == b'|');
    let top = lookup(parts.next()?)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(top),
        (Some(sub), None) => lookup_sub(top, sub),
        (Some(_), Some(_)) => None,
    }
}

/// Redis's arity check: exact for `arity > 0`, a minimum for `arity < 0`; `argc` counts the
/// command name (and, for a subcommand, the container name too).
pub fn arity_ok(spec: &CommandSpec, argc: usize) -> bool {
    let need = spec.arity.unsigned_abs() as usize;
    if spec.arity >= 0 {
        argc == need
    } else {
        argc >= need
    }
}

/// Every command Cartwheel knows, sorted by name.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "append",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@fast"],
        key_specs: &[KeySpec::new(
            &["RW", "insert"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "string",
        since: "2.0.0",
        summary: "Append a value to a key",
        complexity: "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.",
        arguments: &[
            Arg::key("key", 0),
            Arg::new("value", ArgKind::String),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "auth",
        arity: -2,
        flags: &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@fast", "@connection"],
        group: "connection",
        since: "1.0.0",
        summary: "Authenticate to the server",
        complexity: "O(N) where N is the number of passwords defined for the user",
        history: &[
            ("6.0.0", "Added ACL style (username and password)."),
        ],
        arguments: &[
            Arg::new("username", ArgKind::String).since("6.0.0").optional(),
            Arg::new("password", ArgKind::String),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "client",
        arity: -2,
        flags: &[],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@slow"],
        group: "connection",
        since: "2.4.0",
        summary: "A container for client connection commands",
        complexity: "Depends on subcommand.",
        subcommands: &[
            CommandSpec {
                name: "client|getname",
                arity: 2,
                flags: &["noscript", "loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow", "@connection"],
                group: "connection",
                since: "2.6.9",
                summary: "Get the current connection name",
                complexity: "O(1)",
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "client|id",
                arity: 2,
                flags: &["noscript", "loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow", "@connection"],
                group: "connection",
                since: "5.0.0",
                summary: "Returns the client ID for the current connection",
                complexity: "O(1)",
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "client|info",
                arity: 2,
                flags: &["noscript", "loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow", "@connection"],
                tips: &["nondeterministic_output"],
                group: "connection",
                since: "6.2.0",
                summary: "Returns information about the current client connection.",
                complexity: "O(1)",
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "client|kill",
                arity: -3,
                flags: &["admin", "noscript", "loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous", "@connection"],
                group: "connection",
                since: "2.4.0",
                summary: "Kill the connection of a client",
                complexity: "O(N) where N is the number of client connections",
                history: &[
                    ("2.8.12", "Added new filter format."),
                    ("2.8.12", "`ID` option."),
                    ("3.2.0", "Added `master` type in for `TYPE` option."),
                    ("5.0.0", "Replaced `slave` `TYPE` with `replica`. `slave` still supported for backward compatibility."),
                    ("6.2.0", "`LADDR` option."),
                ],
                arguments: &[
                    Arg::one_of("filter", &[
                            Arg::new("ip:port", ArgKind::String).deprecated_since("2.8.12"),
                            Arg::one_of("new-format", &[
                                    Arg::new("client-id", ArgKind::Integer).token("ID").since("2.8.12").optional(),
                                    Arg::one_of("normal_master_slave_pubsub", &[
                                            Arg::new("normal", ArgKind::PureToken).token("NORMAL"),
                                            Arg::new("master", ArgKind::PureToken).token("MASTER").since("3.2.0"),
                                            Arg::new("slave", ArgKind::PureToken).token("SLAVE"),
                                            Arg::new("replica", ArgKind::PureToken).token("REPLICA").since("5.0.0"),
                                            Arg::new("pubsub", ArgKind::PureToken).token("PUBSUB"),
                                        ]).token("TYPE").since("2.8.12").optional(),
                                    Arg::new("username", ArgKind::String).token("USER").optional(),
                                    Arg::new("ip:port", ArgKind::String).token("ADDR").optional(),
                                    Arg::new("ip:port", ArgKind::String).token("LADDR").since("6.2.0").optional(),
                                    Arg::new("yes/no", ArgKind::String).token("SKIPME").optional(),
                                ]).multiple(),
                        ]),
                ],
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "client|list",
                arity: -2,
                flags: &["admin", "noscript", "loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous", "@connection"],
                tips: &["nondeterministic_output"],
                group: "connection",
                since: "2.4.0",
                summary: "Get the list of client connections",
                complexity: "O(N) where N is the number of client connections",
                history: &[
                    ("2.8.12", "Added unique client `id` field."),
                    ("5.0.0", "Added optional `TYPE` filter."),
                    ("6.0.0", "Added `user` field."),
                    ("6.2.0", "Added `argv-mem`, `tot-mem`, `laddr` and `redir` fields and the optional `ID` filter."),
                    ("7.0.0", "Added `resp`, `multi-mem`, `rbs` and `rbp` fields."),
                    ("7.0.3", "Added `ssub` field."),
                ],
                arguments: &[
                    Arg::one_of("normal_master_replica_pubsub", &[
                            Arg::new("normal", ArgKind::PureToken).token("NORMAL"),
                            Arg::new("master", ArgKind::PureToken).token("MASTER"),
                            Arg::new("replica", ArgKind::PureToken).token("REPLICA"),
                            Arg::new("pubsub", ArgKind::PureToken).token("PUBSUB"),
                        ]).token("TYPE").since("5.0.0").optional(),
                    Arg::block("id", &[
                            Arg::new("client-id", ArgKind::Integer).multiple(),
                        ]).token("ID").since("6.2.0").optional(),
                ],
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "client|no-evict",
                arity: 3,
                flags: &["admin", "noscript", "loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous", "@connection"],
                group: "connection",
                since: "7.0.0",
                summary: "Set client eviction mode for the current connection",
                complexity: "O(1)",
                arguments: &[
                    Arg::one_of("enabled", &[
                            Arg::new("on", ArgKind::PureToken).token("ON"),
                            Arg::new("off", ArgKind::PureToken).token("OFF"),
                        ]),
                ],
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "client|reply",
                arity: 3,
                flags: &["noscript", "loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow", "@connection"],
                group: "connection",
                since: "3.2.0",
                summary: "Instruct the server whether to reply to commands",
                complexity: "O(1)",
                arguments: &[
                    Arg::one_of("on_off_skip", &[
                            Arg::new("on", ArgKind::PureToken).token("ON"),
                            Arg::new("off", ArgKind::PureToken).token("OFF"),
                            Arg::new("skip", ArgKind::PureToken).token("SKIP"),
                        ]),
                ],
                ..CommandSpec::DEFAULT
            },
// From Redis 7.2 (CLIENT SETINFO postdates 7.0; client libraries send it on connect).
        CommandSpec {
            name: "client|setinfo",
            arity: 4,
            flags: &["noscript", "loading", "stale"],
            first_key: 0,
            last_key: 0,
            step: 0,
            acl_categories: &["@slow", "@connection"],
            group: "connection",
            since: "7.2.0",
            summary: "Sets information specific to the client or connection.",
            complexity: "O(1)",
            arguments: &[Arg::one_of(
                "attr",
                &[
                    Arg::new("libname", ArgKind::String).token("lib-name"),
                    Arg::new("libver", ArgKind::String).token("lib-ver"),
                ],
            )],
            ..CommandSpec::DEFAULT
        },
            CommandSpec {
                name: "client|setname",
                arity: 3,
                flags: &["noscript", "loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow", "@connection"],
                group: "connection",
                since: "2.6.9",
                summary: "Set the current connection name",
                complexity: "O(1)",
                arguments: &[
                    Arg::new("connection-name", ArgKind::String),
                ],
                ..CommandSpec::DEFAULT
            },
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "cluster",
        arity: -2,
        flags: &[],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@slow"],
        group: "cluster",
        since: "3.0.0",
        summary: "A container for cluster commands",
        complexity: "Depends on subcommand.",
        subcommands: &[
            CommandSpec {
                name: "cluster|countkeysinslot",
                arity: 3,
                flags: &["stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow"],
                group: "cluster",
                since: "3.0.0",
                summary: "Return the number of local keys in the specified hash slot",
                complexity: "O(1)",
                arguments: &[
                    Arg::new("slot", ArgKind::Integer),
                ],
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "cluster|forget",
                arity: 3,
                flags: &["admin", "noscript", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous"],
                group: "cluster",
                since: "3.0.0",
                summary: "Remove a node from the nodes table",
                complexity: "O(1)",
                arguments: &[
                    Arg::new("node-id", ArgKind::String),
                ],
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "cluster|getkeysinslot",
                arity: 4,
                flags: &["stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow"],
                tips: &["nondeterministic_output"],
                group: "cluster",
                since: "3.0.0",
                summary: "Return local key names in the specified hash slot",
                complexity: "O(log(N)) where N is the number of requested keys",
                arguments: &[
                    Arg::new("slot", ArgKind::Integer),
                    Arg::new("count", ArgKind::Integer),
                ],
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "cluster|info",
                arity: 2,
                flags: &["stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow"],
                tips: &["nondeterministic_output"],
                group: "cluster",
                since: "3.0.0",
                summary: "Provides info about Redis Cluster node state",
                complexity: "O(1)",
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "cluster|keyslot",
                arity: 3,
                flags: &["stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow"],
                group: "cluster",
                since: "3.0.0",
                summary: "Returns the hash slot of the specified key",
                complexity: "O(N) where N is the number of bytes in the key",
                arguments: &[
                    Arg::new("key", ArgKind::String),
                ],
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "cluster|meet",
                arity: -4,
                flags: &["admin", "noscript", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous"],
                group: "cluster",
                since: "3.0.0",
                summary: "Force a node cluster to handshake with another node",
                complexity: "O(1)",
                history: &[
                    ("4.0.0", "Added the optional `cluster_bus_port` argument."),
                ],
                arguments: &[
                    Arg::new("ip", ArgKind::String),
                    Arg::new("port", ArgKind::Integer),
                    Arg::new("cluster-bus-port", ArgKind::Integer).since("4.0.0").optional(),
                ],
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "cluster|myid",
                arity: 2,
                flags: &["stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow"],
                group: "cluster",
                since: "3.0.0",
                summary: "Return the node id",
                complexity: "O(1)",
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "cluster|nodes",
                arity: 2,
                flags: &["stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow"],
                tips: &["nondeterministic_output"],
                group: "cluster",
                since: "3.0.0",
                summary: "Get Cluster config for the node",
                complexity: "O(N) where N is the total number of Cluster nodes",
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "cluster|shards",
                arity: 2,
                flags: &["stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow"],
                tips: &["nondeterministic_output"],
                group: "cluster",
                since: "7.0.0",
                summary: "Get array of cluster slots to node mappings",
                complexity: "O(N) where N is the total number of cluster nodes",
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "cluster|slots",
                arity: 2,
                flags: &["stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow"],
                tips: &["nondeterministic_output"],
                group: "cluster",
                since: "3.0.0",
                summary: "Get array of Cluster slot to node mappings",
                complexity: "O(N) where N is the total number of Cluster nodes",
                doc_flags: &["deprecated"],
                deprecated_since: Some("7.0.0"),
                replaced_by: Some("`CLUSTER SHARDS`"),
                history: &[
                    ("4.0.0", "Added node IDs."),
                    ("7.0.0", "Added additional networking metadata field."),
                ],
                ..CommandSpec::DEFAULT
            },
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "command",
        arity: -1,
        flags: &["loading", "stale"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@slow", "@connection"],
        tips: &["nondeterministic_output_order"],
        group: "server",
        since: "2.8.13",
        summary: "Get array of Redis command details",
        complexity: "O(N) where N is the total number of Redis commands",
        subcommands: &[
            CommandSpec {
                name: "command|count",
                arity: 2,
                flags: &["loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow", "@connection"],
                group: "server",
                since: "2.8.13",
                summary: "Get total number of Redis commands",
                complexity: "O(1)",
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "command|docs",
                arity: -2,
                flags: &["loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow", "@connection"],
                tips: &["nondeterministic_output_order"],
                group: "server",
                since: "7.0.0",
                summary: "Get array of specific Redis command documentation",
                complexity: "O(N) where N is the number of commands to look up",
                arguments: &[
                    Arg::new("command-name", ArgKind::String).optional().multiple(),
                ],
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "command|getkeys",
                arity: -4,
                flags: &["loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow", "@connection"],
                group: "server",
                since: "2.8.13",
                summary: "Extract keys given a full Redis command",
                complexity: "O(N) where N is the number of arguments to the command",
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "command|info",
                arity: -2,
                flags: &["loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow", "@connection"],
                tips: &["nondeterministic_output_order"],
                group: "server",
                since: "2.8.13",
                summary: "Get array of specific Redis command details, or all when no argument is given.",
                complexity: "O(N) where N is the number of commands to look up",
                history: &[
                    ("7.0.0", "Allowed to be called with no argument to get info on all commands."),
                ],
                arguments: &[
                    Arg::new("command-name", ArgKind::String).optional().multiple(),
                ],
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "command|list",
                arity: -2,
                flags: &["loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow", "@connection"],
                tips: &["nondeterministic_output_order"],
                group: "server",
                since: "7.0.0",
                summary: "Get an array of Redis command names",
                complexity: "O(N) where N is the total number of Redis commands",
                arguments: &[
                    Arg::one_of("filterby", &[
                            Arg::new("module-name", ArgKind::String).token("MODULE"),
                            Arg::new("category", ArgKind::String).token("ACLCAT"),
                            Arg::new("pattern", ArgKind::Pattern).token("PATTERN"),
                        ]).token("FILTERBY").optional(),
                ],
                ..CommandSpec::DEFAULT
            },
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "config",
        arity: -2,
        flags: &[],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@slow"],
        group: "server",
        since: "2.0.0",
        summary: "A container for server configuration commands",
        complexity: "Depends on subcommand.",
        subcommands: &[
            CommandSpec {
                name: "config|get",
                arity: -3,
                flags: &["admin", "noscript", "loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous"],
                group: "server",
                since: "2.0.0",
                summary: "Get the values of configuration parameters",
                complexity: "O(N) when N is the number of configuration parameters provided",
                history: &[
                    ("7.0.0", "Added the ability to pass multiple pattern parameters in one call"),
                ],
                arguments: &[
                    Arg::block("parameter", &[
                            Arg::new("parameter", ArgKind::String),
                        ]).multiple(),
                ],
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "config|resetstat",
                arity: 2,
                flags: &["admin", "noscript", "loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous"],
                group: "server",
                since: "2.0.0",
                summary: "Reset the stats returned by INFO",
                complexity: "O(1)",
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "config|set",
                arity: -4,
                flags: &["admin", "noscript", "loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous"],
                tips: &["request_policy:all_nodes", "response_policy:all_succeeded"],
                group: "server",
                since: "2.0.0",
                summary: "Set configuration parameters to the given values",
                complexity: "O(N) when N is the number of configuration parameters provided",
                history: &[
                    ("7.0.0", "Added the ability to set multiple parameters in one call."),
                ],
                arguments: &[
                    Arg::block("parameter_value", &[
                            Arg::new("parameter", ArgKind::String),
                            Arg::new("value", ArgKind::String),
                        ]).multiple(),
                ],
                ..CommandSpec::DEFAULT
            },
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "copy",
        arity: -3,
        flags: &["write", "denyoom"],
        first_key: 1,
        last_key: 2,
        step: 1,
        acl_categories: &["@keyspace", "@write", "@slow"],
        key_specs: &[
            KeySpec::new(
                &["RO", "access"],
                BeginSearch::Index(1),
                FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            ),
            KeySpec::new(
                &["OW", "update"],
                BeginSearch::Index(2),
                FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            ),
        ],
        group: "generic",
        since: "6.2.0",
        summary: "Copy a key",
        complexity: "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
        arguments: &[
            Arg::key("source", 0),
            Arg::key("destination", 1),
            Arg::new("destination-db", ArgKind::Integer).token("DB").optional(),
            Arg::new("replace", ArgKind::PureToken).token("REPLACE").optional(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "dbsize",
        arity: 1,
        flags: &["readonly", "fast"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@keyspace", "@read", "@fast"],
        tips: &["request_policy:all_shards", "response_policy:agg_sum"],
        group: "server",
        since: "1.0.0",
        summary: "Return the number of keys in the selected database",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "decr",
        arity: 2,
        flags: &["write", "denyoom", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@fast"],
        key_specs: &[KeySpec::new(
            &["RW", "access", "update"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "string",
        since: "1.0.0",
        summary: "Decrement the integer value of a key by one",
        complexity: "O(1)",
        arguments: &[
            Arg::key("key", 0),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "decrby",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@fast"],
        key_specs: &[KeySpec::new(
            &["RW", "access", "update"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "string",
        since: "1.0.0",
        summary: "Decrement the integer value of a key by the given number",
        complexity: "O(1)",
        arguments: &[
            Arg::key("key", 0),
            Arg::new("decrement", ArgKind::Integer),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "del",
        arity: -2,
        flags: &["write"],
        first_key: 1,
        last_key: -1,
        step: 1,
        acl_categories: &["@keyspace", "@write", "@slow"],
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        key_specs: &[KeySpec::new(
            &["RM", "delete"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: -1, key_step: 1, limit: 0 },
        )],
        group: "generic",
        since: "1.0.0",
        summary: "Delete a key",
        complexity: "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
        arguments: &[
            Arg::key("key", 0).multiple(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "echo",
        arity: 2,
        flags: &["loading", "stale", "fast"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@fast", "@connection"],
        group: "connection",
        since: "1.0.0",
        summary: "Echo the given string",
        complexity: "O(1)",
        arguments: &[
            Arg::new("message", ArgKind::String),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "exists",
        arity: -2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: -1,
        step: 1,
        acl_categories: &["@keyspace", "@read", "@fast"],
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        key_specs: &[KeySpec::new(
            &["RO"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: -1, key_step: 1, limit: 0 },
        )],
        group: "generic",
        since: "1.0.0",
        summary: "Determine if a key exists",
        complexity: "O(N) where N is the number of keys to check.",
        history: &[
            ("3.0.3", "Accepts multiple `key` arguments."),
        ],
        arguments: &[
            Arg::key("key", 0).multiple(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "expire",
        arity: -3,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@keyspace", "@write", "@fast"],
        key_specs: &[KeySpec::new(
            &["RW", "update"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "generic",
        since: "1.0.0",
        summary: "Set a key's time to live in seconds",
        complexity: "O(1)",
        history: &[
            ("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),
        ],
        arguments: &[
            Arg::key("key", 0),
            Arg::new("seconds", ArgKind::Integer),
            Arg::one_of("condition", &[
                    Arg::new("nx", ArgKind::PureToken).token("NX"),
                    Arg::new("xx", ArgKind::PureToken).token("XX"),
                    Arg::new("gt", ArgKind::PureToken).token("GT"),
                    Arg::new("lt", ArgKind::PureToken).token("LT"),
                ]).since("7.0.0").optional(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "expireat",
        arity: -3,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@keyspace", "@write", "@fast"],
        key_specs: &[KeySpec::new(
            &["RW", "update"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "generic",
        since: "1.2.0",
        summary: "Set the expiration for a key as a UNIX timestamp",
        complexity: "O(1)",
        history: &[
            ("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),
        ],
        arguments: &[
            Arg::key("key", 0),
            Arg::new("unix-time-seconds", ArgKind::UnixTime),
            Arg::one_of("condition", &[
                    Arg::new("nx", ArgKind::PureToken).token("NX"),
                    Arg::new("xx", ArgKind::PureToken).token("XX"),
                    Arg::new("gt", ArgKind::PureToken).token("GT"),
                    Arg::new("lt", ArgKind::PureToken).token("LT"),
                ]).since("7.0.0").optional(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "expiretime",
        arity: 2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@keyspace", "@read", "@fast"],
        key_specs: &[KeySpec::new(
            &["RO", "access"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "generic",
        since: "7.0.0",
        summary: "Get the expiration Unix timestamp for a key",
        complexity: "O(1)",
        arguments: &[
            Arg::key("key", 0),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "flushall",
        arity: -1,
        flags: &["write"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@keyspace", "@write", "@slow", "@dangerous"],
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        group: "server",
        since: "1.0.0",
        summary: "Remove all keys from all databases",
        complexity: "O(N) where N is the total number of keys in all databases",
        history: &[
            ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
            ("6.2.0", "Added the `SYNC` flushing mode modifier."),
        ],
        arguments: &[
            Arg::one_of("async", &[
                    Arg::new("async", ArgKind::PureToken).token("ASYNC").since("4.0.0"),
                    Arg::new("sync", ArgKind::PureToken).token("SYNC").since("6.2.0"),
                ]).optional(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "flushdb",
        arity: -1,
        flags: &["write"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@keyspace", "@write", "@slow", "@dangerous"],
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        group: "server",
        since: "1.0.0",
        summary: "Remove all keys from the current database",
        complexity: "O(N) where N is the number of keys in the selected database",
        history: &[
            ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
            ("6.2.0", "Added the `SYNC` flushing mode modifier."),
        ],
        arguments: &[
            Arg::one_of("async", &[
                    Arg::new("async", ArgKind::PureToken).token("ASYNC").since("4.0.0"),
                    Arg::new("sync", ArgKind::PureToken).token("SYNC").since("6.2.0"),
                ]).optional(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "function",
        arity: -2,
        flags: &[],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@slow"],
        group: "scripting",
        since: "7.0.0",
        summary: "A container for function commands",
        complexity: "Depends on subcommand.",
        subcommands: &[
            CommandSpec {
                name: "function|flush",
                arity: -2,
                flags: &["write", "noscript"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@write", "@slow", "@scripting"],
                tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
                group: "scripting",
                since: "7.0.0",
                summary: "Deleting all functions",
                complexity: "O(N) where N is the number of functions deleted",
                arguments: &[
                    Arg::one_of("async", &[
                            Arg::new("async", ArgKind::PureToken).token("ASYNC"),
                            Arg::new("sync", ArgKind::PureToken).token("SYNC"),
                        ]).optional(),
                ],
                ..CommandSpec::DEFAULT
            },
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "get",
        arity: 2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@read", "@string", "@fast"],
        key_specs: &[KeySpec::new(
            &["RO", "access"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "string",
        since: "1.0.0",
        summary: "Get the value of a key",
        complexity: "O(1)",
        arguments: &[
            Arg::key("key", 0),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "getbit",
        arity: 3,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@read", "@bitmap", "@fast"],
        key_specs: &[KeySpec::new(
            &["RO", "access"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "bitmap",
        since: "2.2.0",
        summary: "Returns the bit value at offset in the string value stored at key",
        complexity: "O(1)",
        arguments: &[
            Arg::key("key", 0),
            Arg::new("offset", ArgKind::Integer),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "getdel",
        arity: 2,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@fast"],
        key_specs: &[KeySpec::new(
            &["RW", "access", "delete"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "string",
        since: "6.2.0",
        summary: "Get the value of a key and delete the key",
        complexity: "O(1)",
        arguments: &[
            Arg::key("key", 0),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "getex",
        arity: -2,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@fast"],
        key_specs: &[
            KeySpec::new(
                &["RW", "access", "update"],
                BeginSearch::Index(1),
                FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            )
            .notes("RW and UPDATE because it changes the TTL"),
        ],
        group: "string",
        since: "6.2.0",
        summary: "Get the value of a key and optionally set its expiration",
        complexity: "O(1)",
        arguments: &[
            Arg::key("key", 0),
            Arg::one_of("expiration", &[
                    Arg::new("seconds", ArgKind::Integer).token("EX"),
                    Arg::new("milliseconds", ArgKind::Integer).token("PX"),
                    Arg::new("unix-time-seconds", ArgKind::UnixTime).token("EXAT"),
                    Arg::new("unix-time-milliseconds", ArgKind::UnixTime).token("PXAT"),
                    Arg::new("persist", ArgKind::PureToken).token("PERSIST"),
                ]).optional(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "getrange",
        arity: 4,
        flags: &["readonly"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@read", "@string", "@slow"],
        key_specs: &[KeySpec::new(
            &["RO", "access"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "string",
        since: "2.4.0",
        summary: "Get a substring of the string stored at a key",
        complexity: "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
        arguments: &[
            Arg::key("key", 0),
            Arg::new("start", ArgKind::Integer),
            Arg::new("end", ArgKind::Integer),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "getset",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@fast"],
        key_specs: &[KeySpec::new(
            &["RW", "access", "update"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "string",
        since: "1.0.0",
        summary: "Set the string value of a key and return its old value",
        complexity: "O(1)",
        doc_flags: &["deprecated"],
        deprecated_since: Some("6.2.0"),
        replaced_by: Some("`SET` with the `!GET` argument"),
        arguments: &[
            Arg::key("key", 0),
            Arg::new("value", ArgKind::String),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hello",
        arity: -1,
        flags: &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@fast", "@connection"],
        group: "connection",
        since: "6.0.0",
        summary: "Handshake with Redis",
        complexity: "O(1)",
        history: &[
            ("6.2.0", "`protover` made optional; when called without arguments the command reports the current connection's context."),
        ],
        arguments: &[
            Arg::block("arguments", &[
                    Arg::new("protover", ArgKind::Integer),
                    Arg::block("username_password", &[
                            Arg::new("username", ArgKind::String),
                            Arg::new("password", ArgKind::String),
                        ]).token("AUTH").optional(),
                    Arg::new("clientname", ArgKind::String).token("SETNAME").optional(),
                ]).optional(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "incr",
        arity: 2,
        flags: &["write", "denyoom", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@fast"],
        key_specs: &[KeySpec::new(
            &["RW", "access", "update"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "string",
        since: "1.0.0",
        summary: "Increment the integer value of a key by one",
        complexity: "O(1)",
        arguments: &[
            Arg::key("key", 0),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "incrby",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@fast"],
        key_specs: &[KeySpec::new(
            &["RW", "access", "update"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "string",
        since: "1.0.0",
        summary: "Increment the integer value of a key by the given amount",
        complexity: "O(1)",
        arguments: &[
            Arg::key("key", 0),
            Arg::new("increment", ArgKind::Integer),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "incrbyfloat",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@fast"],
        key_specs: &[KeySpec::new(
            &["RW", "access", "update"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "string",
        since: "2.6.0",
        summary: "Increment the float value of a key by the given amount",
        complexity: "O(1)",
        arguments: &[
            Arg::key("key", 0),
            Arg::new("increment", ArgKind::Double),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "info",
        arity: -1,
        flags: &["loading", "stale"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@slow", "@dangerous"],
        tips: &["nondeterministic_output", "request_policy:all_shards", "response_policy:special"],
        group: "server",
        since: "1.0.0",
        summary: "Get information and statistics about the server",
        complexity: "O(1)",
        history: &[
            ("7.0.0", "Added support for taking multiple section arguments."),
        ],
        arguments: &[
            Arg::new("section", ArgKind::String).optional().multiple(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "keys",
        arity: 2,
        flags: &["readonly"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@keyspace", "@read", "@slow", "@dangerous"],
        tips: &["request_policy:all_shards", "nondeterministic_output_order"],
        group: "generic",
        since: "1.0.0",
        summary: "Find all keys matching the given pattern",
        complexity: "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
        arguments: &[
            Arg::new("pattern", ArgKind::Pattern),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "kv.aae",
        arity: -2,
        flags: &["admin", "noscript", "loading", "stale"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@admin", "@slow", "@dangerous"],
        tips: &["nondeterministic_output"],
        group: "cartwheel",
        since: "0.1.0",
        summary: "Shows anti-entropy's state and one slot's hash tree, or runs an exchange with the peers now",
        complexity: "O(1) for STATUS and SLOT; EXCHANGE is O(S + D) for S shared slots and D differing keys",
        arguments: &[Arg::one_of(
            "subcommand",
            &[
                Arg::new("status", ArgKind::PureToken).token("STATUS"),
                Arg::new("slot", ArgKind::Integer).token("SLOT"),
                Arg::new("exchange", ArgKind::String).token("EXCHANGE").optional(),
            ],
        )],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "kv.consistency",
        arity: -1,
        flags: &["noscript", "loading", "stale", "fast"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@fast", "@connection"],
        group: "cartwheel",
        since: "0.1.0",
        summary: "Sets or shows this connection's read/write quorums and sloppy or strict quorum mode",
        complexity: "O(1)",
        arguments: &[
            Arg::new("r", ArgKind::Integer).token("R").optional(),
            Arg::new("w", ArgKind::Integer).token("W").optional(),
            Arg::one_of(
                "level",
                &[
                    Arg::new("one", ArgKind::PureToken).token("ONE"),
                    Arg::new("quorum", ArgKind::PureToken).token("QUORUM"),
                    Arg::new("all", ArgKind::PureToken).token("ALL"),
                ],
            )
            .optional(),
            Arg::one_of(
                "mode",
                &[
                    Arg::new("strict", ArgKind::PureToken).token("STRICT"),
                    Arg::new("sloppy", ArgKind::PureToken).token("SLOPPY"),
                ],
            )
            .optional(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "kv.del",
        arity: 3,
        flags: &["write"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@keyspace", "@write", "@slow"],
        key_specs: &[KeySpec::new(
            &["RM", "delete"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "cartwheel",
        since: "0.1.0",
        summary: "Deletes a key by writing a tombstone that supersedes the siblings its causal context covers",
        complexity: "O(S) where S is the number of siblings of the key",
        arguments: &[Arg::key("key", 0), Arg::new("context", ArgKind::String)],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "kv.get",
        arity: 2,
        flags: &["readonly"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@read", "@string", "@slow"],
        key_specs: &[KeySpec::new(
            &["RO", "access"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "cartwheel",
        since: "0.1.0",
        summary: "Returns the causal context and every sibling value of a key, read from R replicas",
        complexity: "O(S) where S is the number of siblings of the key",
        arguments: &[Arg::key("key", 0)],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "kv.local",
        arity: -2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@read", "@string", "@fast"],
        tips: &["nondeterministic_output"],
        key_specs: &[KeySpec::new(
            &["RO", "access"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "cartwheel",
        since: "0.1.0",
        summary: "Returns the causal context and siblings of a key as stored on this node only, without a quorum",
        complexity: "O(S) where S is the number of siblings of the key",
        arguments: &[Arg::key("key", 0)],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "kv.preflist",
        arity: 2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@keyspace", "@read", "@fast"],
        tips: &["nondeterministic_output"],
        key_specs: &[KeySpec::new(
            &["RO"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "cartwheel",
        since: "0.1.0",
        summary: "Returns the slot of a key and its preference list: the N replica nodes, then the sloppy-quorum fallbacks",
        complexity: "O(N) where N is the number of nodes in the cluster",
        arguments: &[Arg::key("key", 0)],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "kv.put",
        arity: -4,
        flags: &["write", "denyoom"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@slow"],
        key_specs: &[KeySpec::new(
            &["RW", "update"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "cartwheel",
        since: "0.1.0",
        summary: "Writes a value under a causal context, replacing exactly the siblings the context covers",
        complexity: "O(S) where S is the number of siblings of the key",
        arguments: &[
            Arg::key("key", 0),
            Arg::new("context", ArgKind::String),
            Arg::new("value", ArgKind::String),
            Arg::one_of(
                "expiration",
                &[
                    Arg::new("seconds", ArgKind::Integer).token("EX"),
                    Arg::new("milliseconds", ArgKind::Integer).token("PX"),
                ],
            )
            .optional(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "lastsave",
        arity: 1,
        flags: &["loading", "stale", "fast"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@admin", "@fast", "@dangerous"],
        tips: &["nondeterministic_output"],
        group: "server",
        since: "1.0.0",
        summary: "Get the UNIX time stamp of the last successful save to disk",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "lcs",
        arity: -3,
        flags: &["readonly"],
        first_key: 1,
        last_key: 2,
        step: 1,
        acl_categories: &["@read", "@string", "@slow"],
        key_specs: &[KeySpec::new(
            &["RO", "access"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 1, key_step: 1, limit: 0 },
        )],
        group: "string",
        since: "7.0.0",
        summary: "Find longest common substring",
        complexity: "O(N*M) where N and M are the lengths of s1 and s2, respectively",
        arguments: &[
            Arg::key("key1", 0),
            Arg::key("key2", 0),
            Arg::new("len", ArgKind::PureToken).token("LEN").optional(),
            Arg::new("idx", ArgKind::PureToken).token("IDX").optional(),
            Arg::new("len", ArgKind::Integer).token("MINMATCHLEN").optional(),
            Arg::new("withmatchlen", ArgKind::PureToken).token("WITHMATCHLEN").optional(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "mget",
        arity: -2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: -1,
        step: 1,
        acl_categories: &["@read", "@string", "@fast"],
        tips: &["request_policy:multi_shard"],
        key_specs: &[KeySpec::new(
            &["RO", "access"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: -1, key_step: 1, limit: 0 },
        )],
        group: "string",
        since: "1.0.0",
        summary: "Get the values of all the given keys",
        complexity: "O(N) where N is the number of keys to retrieve.",
        arguments: &[
            Arg::key("key", 0).multiple(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "mset",
        arity: -3,
        flags: &["write", "denyoom"],
        first_key: 1,
        last_key: -1,
        step: 2,
        acl_categories: &["@write", "@string", "@slow"],
        tips: &["request_policy:multi_shard", "response_policy:all_succeeded"],
        key_specs: &[KeySpec::new(
            &["OW", "update"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: -1, key_step: 2, limit: 0 },
        )],
        group: "string",
        since: "1.0.1",
        summary: "Set multiple keys to multiple values",
        complexity: "O(N) where N is the number of keys to set.",
        arguments: &[
            Arg::block("key_value", &[
                    Arg::key("key", 0),
                    Arg::new("value", ArgKind::String),
                ]).multiple(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "msetnx",
        arity: -3,
        flags: &["write", "denyoom"],
        first_key: 1,
        last_key: -1,
        step: 2,
        acl_categories: &["@write", "@string", "@slow"],
        tips: &["request_policy:multi_shard", "response_policy:agg_min"],
        key_specs: &[KeySpec::new(
            &["OW", "insert"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: -1, key_step: 2, limit: 0 },
        )],
        group: "string",
        since: "1.0.1",
        summary: "Set multiple keys to multiple values, only if none of the keys exist",
        complexity: "O(N) where N is the number of keys to set.",
        arguments: &[
            Arg::block("key_value", &[
                    Arg::key("key", 0),
                    Arg::new("value", ArgKind::String),
                ]).multiple(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "object",
        arity: -2,
        flags: &[],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@slow"],
        group: "generic",
        since: "2.2.3",
        summary: "A container for object introspection commands",
        complexity: "Depends on subcommand.",
        subcommands: &[
            CommandSpec {
                name: "object|encoding",
                arity: 3,
                flags: &["readonly"],
                first_key: 2,
                last_key: 2,
                step: 1,
                acl_categories: &["@keyspace", "@read", "@slow"],
                tips: &["nondeterministic_output"],
                key_specs: &[KeySpec::new(
                    &["RO"],
                    BeginSearch::Index(2),
                    FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
                )],
                group: "generic",
                since: "2.2.3",
                summary: "Inspect the internal encoding of a Redis object",
                complexity: "O(1)",
                arguments: &[
                    Arg::key("key", 0),
                ],
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "object|freq",
                arity: 3,
                flags: &["readonly"],
                first_key: 2,
                last_key: 2,
                step: 1,
                acl_categories: &["@keyspace", "@read", "@slow"],
                tips: &["nondeterministic_output"],
                key_specs: &[KeySpec::new(
                    &["RO"],
                    BeginSearch::Index(2),
                    FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
                )],
                group: "generic",
                since: "4.0.0",
                summary: "Get the logarithmic access frequency counter of a Redis object",
                complexity: "O(1)",
                arguments: &[
                    Arg::key("key", 0),
                ],
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "object|help",
                arity: 2,
                flags: &["loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@keyspace", "@slow"],
                group: "generic",
                since: "6.2.0",
                summary: "Show helpful text about the different subcommands",
                complexity: "O(1)",
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "object|idletime",
                arity: 3,
                flags: &["readonly"],
                first_key: 2,
                last_key: 2,
                step: 1,
                acl_categories: &["@keyspace", "@read", "@slow"],
                tips: &["nondeterministic_output"],
                key_specs: &[KeySpec::new(
                    &["RO"],
                    BeginSearch::Index(2),
                    FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
                )],
                group: "generic",
                since: "2.2.3",
                summary: "Get the time since a Redis object was last accessed",
                complexity: "O(1)",
                arguments: &[
                    Arg::key("key", 0),
                ],
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "object|refcount",
                arity: 3,
                flags: &["readonly"],
                first_key: 2,
                last_key: 2,
                step: 1,
                acl_categories: &["@keyspace", "@read", "@slow"],
                tips: &["nondeterministic_output"],
                key_specs: &[KeySpec::new(
                    &["RO"],
                    BeginSearch::Index(2),
                    FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
                )],
                group: "generic",
                since: "2.2.3",
                summary: "Get the number of references to the value of the key",
                complexity: "O(1)",
                arguments: &[
                    Arg::key("key", 0),
                ],
                ..CommandSpec::DEFAULT
            },
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "persist",
        arity: 2,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@keyspace", "@write", "@fast"],
        key_specs: &[KeySpec::new(
            &["RW", "update"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "generic",
        since: "2.2.0",
        summary: "Remove the expiration from a key",
        complexity: "O(1)",
        arguments: &[
            Arg::key("key", 0),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "pexpire",
        arity: -3,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@keyspace", "@write", "@fast"],
        key_specs: &[KeySpec::new(
            &["RW", "update"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "generic",
        since: "2.6.0",
        summary: "Set a key's time to live in milliseconds",
        complexity: "O(1)",
        history: &[
            ("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),
        ],
        arguments: &[
            Arg::key("key", 0),
            Arg::new("milliseconds", ArgKind::Integer),
            Arg::one_of("condition", &[
                    Arg::new("nx", ArgKind::PureToken).token("NX"),
                    Arg::new("xx", ArgKind::PureToken).token("XX"),
                    Arg::new("gt", ArgKind::PureToken).token("GT"),
                    Arg::new("lt", ArgKind::PureToken).token("LT"),
                ]).since("7.0.0").optional(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "pexpireat",
        arity: -3,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@keyspace", "@write", "@fast"],
        key_specs: &[KeySpec::new(
            &["RW", "update"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "generic",
        since: "2.6.0",
        summary: "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
        complexity: "O(1)",
        history: &[
            ("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),
        ],
        arguments: &[
            Arg::key("key", 0),
            Arg::new("unix-time-milliseconds", ArgKind::UnixTime),
            Arg::one_of("condition", &[
                    Arg::new("nx", ArgKind::PureToken).token("NX"),
                    Arg::new("xx", ArgKind::PureToken).token("XX"),
                    Arg::new("gt", ArgKind::PureToken).token("GT"),
                    Arg::new("lt", ArgKind::PureToken).token("LT"),
                ]).since("7.0.0").optional(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "pexpiretime",
        arity: 2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@keyspace", "@read", "@fast"],
        key_specs: &[KeySpec::new(
            &["RO", "access"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "generic",
        since: "7.0.0",
        summary: "Get the expiration Unix timestamp for a key in milliseconds",
        complexity: "O(1)",
        arguments: &[
            Arg::key("key", 0),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "ping",
        arity: -1,
        flags: &["fast"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@fast", "@connection"],
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        group: "connection",
        since: "1.0.0",
        summary: "Ping the server",
        complexity: "O(1)",
        arguments: &[
            Arg::new("message", ArgKind::String).optional(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "psetex",
        arity: 4,
        flags: &["write", "denyoom"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@slow"],
        key_specs: &[KeySpec::new(
            &["OW", "update"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "string",
        since: "2.6.0",
        summary: "Set the value and expiration in milliseconds of a key",
        complexity: "O(1)",
        arguments: &[
            Arg::key("key", 0),
            Arg::new("milliseconds", ArgKind::Integer),
            Arg::new("value", ArgKind::String),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "pttl",
        arity: 2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@keyspace", "@read", "@fast"],
        tips: &["nondeterministic_output"],
        key_specs: &[KeySpec::new(
            &["RO", "access"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "generic",
        since: "2.6.0",
        summary: "Get the time to live for a key in milliseconds",
        complexity: "O(1)",
        history: &[
            ("2.8.0", "Added the -2 reply."),
        ],
        arguments: &[
            Arg::key("key", 0),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "quit",
        arity: -1,
        flags: &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@fast", "@connection"],
        group: "connection",
        since: "1.0.0",
        summary: "Close the connection",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "randomkey",
        arity: 1,
        flags: &["readonly"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@keyspace", "@read", "@slow"],
        tips: &["request_policy:all_shards", "nondeterministic_output"],
        group: "generic",
        since: "1.0.0",
        summary: "Return a random key from the keyspace",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "readonly",
        arity: 1,
        flags: &["loading", "stale", "fast"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@fast", "@connection"],
        group: "cluster",
        since: "3.0.0",
        summary: "Enables read queries for a connection to a cluster replica node",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "readwrite",
        arity: 1,
        flags: &["loading", "stale", "fast"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@fast", "@connection"],
        group: "cluster",
        since: "3.0.0",
        summary: "Disables read queries for a connection to a cluster replica node",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "rename",
        arity: 3,
        flags: &["write"],
        first_key: 1,
        last_key: 2,
        step: 1,
        acl_categories: &["@keyspace", "@write", "@slow"],
        key_specs: &[
            KeySpec::new(
                &["RW", "access", "delete"],
                BeginSearch::Index(1),
                FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            ),
            KeySpec::new(
                &["OW", "update"],
                BeginSearch::Index(2),
                FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            ),
        ],
        group: "generic",
        since: "1.0.0",
        summary: "Rename a key",
        complexity: "O(1)",
        arguments: &[
            Arg::key("key", 0),
            Arg::key("newkey", 1),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "renamenx",
        arity: 3,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 2,
        step: 1,
        acl_categories: &["@keyspace", "@write", "@fast"],
        key_specs: &[
            KeySpec::new(
                &["RW", "access", "delete"],
                BeginSearch::Index(1),
                FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            ),
            KeySpec::new(
                &["OW", "insert"],
                BeginSearch::Index(2),
                FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            ),
        ],
        group: "generic",
        since: "1.0.0",
        summary: "Rename a key, only if the new key does not exist",
        complexity: "O(1)",
        history: &[
            ("3.2.0", "The command no longer returns an error when source and destination names are the same."),
        ],
        arguments: &[
            Arg::key("key", 0),
            Arg::key("newkey", 1),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "reset",
        arity: 1,
        flags: &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@fast", "@connection"],
        group: "connection",
        since: "6.2.0",
        summary: "Reset the connection",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "scan",
        arity: -2,
        flags: &["readonly"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@keyspace", "@read", "@slow"],
        tips: &["nondeterministic_output", "request_policy:special"],
        group: "generic",
        since: "2.8.0",
        summary: "Incrementally iterate the keys space",
        complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        history: &[
            ("6.0.0", "Added the `TYPE` subcommand."),
        ],
        arguments: &[
            Arg::new("cursor", ArgKind::Integer),
            Arg::new("pattern", ArgKind::Pattern).token("MATCH").optional(),
            Arg::new("count", ArgKind::Integer).token("COUNT").optional(),
            Arg::new("type", ArgKind::String).token("TYPE").since("6.0.0").optional(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "select",
        arity: 2,
        flags: &["loading", "stale", "fast"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@fast", "@connection"],
        group: "connection",
        since: "1.0.0",
        summary: "Change the selected database for the current connection",
        complexity: "O(1)",
        arguments: &[
            Arg::new("index", ArgKind::Integer),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "set",
        arity: -3,
        flags: &["write", "denyoom"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@slow"],
        key_specs: &[
            KeySpec::new(
                &["RW", "access", "update", "variable_flags"],
                BeginSearch::Index(1),
                FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            )
            .notes("RW and ACCESS due to the optional `GET` argument"),
        ],
        group: "string",
        since: "1.0.0",
        summary: "Set the string value of a key",
        complexity: "O(1)",
        history: &[
            ("2.6.12", "Added the `EX`, `PX`, `NX` and `XX` options."),
            ("6.0.0", "Added the `KEEPTTL` option."),
            ("6.2.0", "Added the `GET`, `EXAT` and `PXAT` option."),
            ("7.0.0", "Allowed the `NX` and `GET` options to be used together."),
        ],
        arguments: &[
            Arg::key("key", 0),
            Arg::new("value", ArgKind::String),
            Arg::one_of("condition", &[
                    Arg::new("nx", ArgKind::PureToken).token("NX"),
                    Arg::new("xx", ArgKind::PureToken).token("XX"),
                ]).since("2.6.12").optional(),
            Arg::new("get", ArgKind::PureToken).token("GET").since("6.2.0").optional(),
            Arg::one_of("expiration", &[
                    Arg::new("seconds", ArgKind::Integer).token("EX").since("2.6.12"),
                    Arg::new("milliseconds", ArgKind::Integer).token("PX").since("2.6.12"),
                    Arg::new("unix-time-seconds", ArgKind::UnixTime).token("EXAT").since("6.2.0"),
                    Arg::new("unix-time-milliseconds", ArgKind::UnixTime).token("PXAT").since("6.2.0"),
                    Arg::new("keepttl", ArgKind::PureToken).token("KEEPTTL").since("6.0.0"),
                ]).optional(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "setbit",
        arity: 4,
        flags: &["write", "denyoom"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@bitmap", "@slow"],
        key_specs: &[KeySpec::new(
            &["RW", "access", "update"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "bitmap",
        since: "2.2.0",
        summary: "Sets or clears the bit at offset in the string value stored at key",
        complexity: "O(1)",
        arguments: &[
            Arg::key("key", 0),
            Arg::new("offset", ArgKind::Integer),
            Arg::new("value", ArgKind::Integer),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "setex",
        arity: 4,
        flags: &["write", "denyoom"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@slow"],
        key_specs: &[KeySpec::new(
            &["OW", "update"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "string",
        since: "2.0.0",
        summary: "Set the value and expiration of a key",
        complexity: "O(1)",
        arguments: &[
            Arg::key("key", 0),
            Arg::new("seconds", ArgKind::Integer),
            Arg::new("value", ArgKind::String),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "setnx",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@fast"],
        key_specs: &[KeySpec::new(
            &["OW", "insert"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "string",
        since: "1.0.0",
        summary: "Set the value of a key, only if the key does not exist",
        complexity: "O(1)",
        arguments: &[
            Arg::key("key", 0),
            Arg::new("value", ArgKind::String),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "setrange",
        arity: 4,
        flags: &["write", "denyoom"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@slow"],
        key_specs: &[KeySpec::new(
            &["RW", "update"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "string",
        since: "2.2.0",
        summary: "Overwrite part of a string at key starting at the specified offset",
        complexity: "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
        arguments: &[
            Arg::key("key", 0),
            Arg::new("offset", ArgKind::Integer),
            Arg::new("value", ArgKind::String),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "shutdown",
        arity: -1,
        flags: &["admin", "noscript", "loading", "stale", "no_multi", "allow_busy"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@admin", "@slow", "@dangerous"],
        group: "server",
        since: "1.0.0",
        summary: "Synchronously save the dataset to disk and then shut down the server",
        complexity: "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
        history: &[
            ("7.0.0", "Added the `NOW`, `FORCE` and `ABORT` modifiers."),
        ],
        arguments: &[
            Arg::one_of("nosave_save", &[
                    Arg::new("nosave", ArgKind::PureToken).token("NOSAVE"),
                    Arg::new("save", ArgKind::PureToken).token("SAVE"),
                ]).optional(),
            Arg::new("now", ArgKind::PureToken).token("NOW").since("7.0.0").optional(),
            Arg::new("force", ArgKind::PureToken).token("FORCE").since("7.0.0").optional(),
            Arg::new("abort", ArgKind::PureToken).token("ABORT").since("7.0.0").optional(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "strlen",
        arity: 2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@read", "@string", "@fast"],
        key_specs: &[KeySpec::new(
            &["RO"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "string",
        since: "2.2.0",
        summary: "Get the length of the value stored in a key",
        complexity: "O(1)",
        arguments: &[
            Arg::key("key", 0),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "substr",
        arity: 4,
        flags: &["readonly"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@read", "@string", "@slow"],
        key_specs: &[KeySpec::new(
            &["RO", "access"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "string",
        since: "1.0.0",
        summary: "Get a substring of the string stored at a key",
        complexity: "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
        doc_flags: &["deprecated"],
        deprecated_since: Some("2.0.0"),
        replaced_by: Some("`GETRANGE`"),
        arguments: &[
            Arg::key("key", 0),
            Arg::new("start", ArgKind::Integer),
            Arg::new("end", ArgKind::Integer),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "time",
        arity: 1,
        flags: &["loading", "stale", "fast"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@fast"],
        tips: &["nondeterministic_output"],
        group: "server",
        since: "2.6.0",
        summary: "Return the current server time",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "touch",
        arity: -2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: -1,
        step: 1,
        acl_categories: &["@keyspace", "@read", "@fast"],
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        key_specs: &[KeySpec::new(
            &["RO"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: -1, key_step: 1, limit: 0 },
        )],
        group: "generic",
        since: "3.2.1",
        summary: "Alters the last access time of a key(s). Returns the number of existing keys specified.",
        complexity: "O(N) where N is the number of keys that will be touched.",
        arguments: &[
            Arg::key("key", 0).multiple(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "ttl",
        arity: 2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@keyspace", "@read", "@fast"],
        tips: &["nondeterministic_output"],
        key_specs: &[KeySpec::new(
            &["RO", "access"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "generic",
        since: "1.0.0",
        summary: "Get the time to live for a key in seconds",
        complexity: "O(1)",
        history: &[
            ("2.8.0", "Added the -2 reply."),
        ],
        arguments: &[
            Arg::key("key", 0),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "type",
        arity: 2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@keyspace", "@read", "@fast"],
        key_specs: &[KeySpec::new(
            &["RO"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
        )],
        group: "generic",
        since: "1.0.0",
        summary: "Determine the type stored at key",
        complexity: "O(1)",
        arguments: &[
            Arg::key("key", 0),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "unlink",
        arity: -2,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: -1,
        step: 1,
        acl_categories: &["@keyspace", "@write", "@fast"],
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        key_specs: &[KeySpec::new(
            &["RM", "delete"],
            BeginSearch::Index(1),
            FindKeys::Range { last_key: -1, key_step: 1, limit: 0 },
        )],
        group: "generic",
        since: "4.0.0",
        summary: "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
        complexity: "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.",
        arguments: &[
            Arg::key("key", 0).multiple(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "wait",
        arity: 3,
        flags: &["noscript"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@slow", "@connection"],
        tips: &["request_policy:all_shards", "response_policy:agg_min"],
        group: "generic",
        since: "3.0.0",
        summary: "Wait for the synchronous replication of all the write commands sent in the context of the current connection",
        complexity: "O(1)",
        arguments: &[
            Arg::new("numreplicas", ArgKind::Integer),
            Arg::new("timeout", ArgKind::Integer),
        ],
        ..CommandSpec::DEFAULT
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> impl Iterator<Item = &'static CommandSpec> {
        COMMANDS.iter().flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
    }

    #[test]
    fn table_is_sorted_unique_and_lowercase() {
        for pair in COMMANDS.windows(2) {
            assert!(pair[0].name < pair[1].name, "{} !< {}", pair[0].name, pair[1].name);
        }
        for spec in all() {
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
            assert!(spec.arity != 0, "{}", spec.name);
            assert!(!spec.summary.is_empty() && !spec.since.is_empty(), "{}", spec.name);
            assert!(!spec.group.is_empty() && !spec.complexity.is_empty(), "{}", spec.name);
        }
        assert!(COMMANDS.iter().all(|c| c.name.len() <= MAX_NAME_LEN));
    }

    #[test]
    fn subcommands_are_named_after_their_container() {
        for parent in COMMANDS {
            for sub in parent.subcommands {
                let (container, name) = sub.name.split_once('|').expect("container|sub");
                assert_eq!(container, parent.name);
                assert!(std::ptr::eq(lookup_sub(parent, name.as_bytes()).expect("sub"), sub));
                assert!(sub.subcommands.is_empty());
            }
        }
    }

    #[test]
    fn key_arguments_point_at_key_specs() {
        fn walk(spec: &CommandSpec, args: &[Arg]) {
            for arg in args {
                assert_eq!(arg.kind == ArgKind::Key, arg.key_spec_index.is_some(), "{}", spec.name);
                if let Some(i) = arg.key_spec_index {
                    assert!((i as usize) < spec.key_specs.len(), "{}", spec.name);
                }
                let nested = matches!(arg.kind, ArgKind::OneOf | ArgKind::Block);
                assert_eq!(nested, !arg.args.is_empty(), "{} {}", spec.name, arg.name);
                walk(spec, arg.args);
            }
        }
        for spec in all() {
            walk(spec, spec.arguments);
            // The legacy range exists exactly when there are key specs.
            assert_eq!(spec.first_key > 0, !spec.key_specs.is_empty(), "{}", spec.name);
        }
    }

    #[test]
    fn hash_index_probes_are_short() {
        let probes = |name: &str| {
            let (slots, mut h, mut n) = (index(), slot(name.as_bytes()), 1);
            while COMMANDS[usize::from(slots[h]) - 1].name != name {
                h = (h + 1) % SLOTS;
                n += 1;
            }
            n
        };
        assert!(COMMANDS.iter().all(|c| probes(c.name) <= 4));
        assert!(slot(b"PEXPIRETIME") == slot(b"pexpiretime") && slot(b"Kv.Put") == slot(b"kv.put"));
    }

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(lookup(b"get").map(|c| c.name), Some("get"));
        assert_eq!(lookup(b"GeT").map(|c| c.name), Some("get"));
        assert_eq!(lookup(b"KV.PUT").map(|c| c.name), Some("kv.put"));
        assert_eq!(lookup(b"PEXPIRETIME").map(|c| c.name), Some("pexpiretime"));
        assert!(lookup(b"").is_none());
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(lookup(b"getttttttttttttttttttttt").is_none());
        assert!(lookup(b"client|id").is_none());
        for spec in COMMANDS {
            assert!(std::ptr::eq(lookup(spec.name.as_bytes()).expect("found"), spec));
            let upper = spec.name.to_ascii_uppercase();
            assert!(std::ptr::eq(lookup(upper.as_bytes()).expect("found"), spec));
        }
    }

    #[test]
    fn lookup_sub_and_full_names() {
        let client = lookup(b"client").expect("client");
        assert_eq!(lookup_sub(client, b"SETNAME").map(|c| c.name), Some("client|setname"));
        assert_eq!(lookup_sub(client, b"no-evict").map(|c| c.name), Some("client|no-evict"));
        assert!(lookup_sub(client, b"nosuch").is_none());
        assert!(lookup_sub(lookup(b"get").expect("get"), b"x").is_none());
        assert_eq!(lookup_full(b"CLIENT|ID").map(|c| c.name), Some("client|id"));
        assert_eq!(lookup_full(b"get").map(|c| c.name), Some("get"));
        assert!(lookup_full(b"get|x").is_none());
        assert!(lookup_full(b"client|id|x").is_none());
    }

    #[test]
    fn arity_matches_redis() {
        let get = lookup(b"get").expect("get");
        assert!(!arity_ok(get, 1) && arity_ok(get, 2) && !arity_ok(get, 3));
        let set = lookup(b"set").expect("set");
        assert!(!arity_ok(set, 2) && arity_ok(set, 3) && arity_ok(set, 9));
        let kv_put = lookup(b"kv.put").expect("kv.put");
        assert!(!arity_ok(kv_put, 3) && arity_ok(kv_put, 4) && arity_ok(kv_put, 6));
        let consistency = lookup(b"kv.consistency").expect("kv.consistency");
        assert!(arity_ok(consistency, 1) && arity_ok(consistency, 5));
    }

    #[test]
    fn metadata_spot_checks() {
        let get = lookup(b"get").expect("get");
        assert_eq!(get.flags, ["readonly", "fast"]);
        assert_eq!(get.acl_categories, ["@read", "@string", "@fast"]);
        assert_eq!((get.first_key, get.last_key, get.step), (1, 1, 1));
        let mset = lookup(b"mset").expect("mset");
        assert_eq!((mset.arity, mset.first_key, mset.last_key, mset.step), (-3, 1, -1, 2));
        let ping = lookup(b"ping").expect("ping");
        assert_eq!(ping.tips, ["request_policy:all_shards", "response_policy:all_succeeded"]);
        assert_eq!(lookup(b"wait").map(|c| c.group), Some("generic"));
        let kv_get = lookup(b"kv.get").expect("kv.get");
        assert_eq!((kv_get.group, kv_get.since, kv_get.first_key), ("cartwheel", "0.1.0", 1));
        assert!(kv_get.has_flag("readonly") && lookup(b"kv.put").is_some_and(|c| c.has_flag("denyoom")));
    }
}
