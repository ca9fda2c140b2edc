//! Reply values and their wire encoding.
//!
//! Commands never touch the socket: they return a [`Reply`], and the connection loop encodes it
//! into the connection's output buffer with [`Reply::encode`] in the protocol version the client
//! negotiated (`HELLO 2|3`). RESP3-only shapes (maps, sets, doubles, booleans, verbatim strings,
//! null) degrade to their RESP2 equivalents exactly as Redis does.

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};

/// The protocol version a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// RESP2, the default.
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}

/// One reply to one command (serde: forwarded commands carry their reply between nodes; decoding
/// refuses nesting deeper than [`super::reply_depth::MAX_REPLY_DEPTH`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Reply {
    /// `+OK` style status.
    Status(Cow<'static, str>),
    /// `-ERR …` style error; the text carries its own prefix (`ERR`, `WRONGTYPE`, `NOQUORUM`…).
    Error(Cow<'static, str>),
    /// `:123`.
    Int(i64),
    /// `$3\r\nfoo`.
    Bulk(Bytes),
    /// The null reply: `$-1` in RESP2, `_` in RESP3.
    Nil,
    /// The null array: `*-1` in RESP2, `_` in RESP3.
    NilArray,
    /// `*N` followed by N replies.
    Array(#[serde(deserialize_with = "super::reply_depth::nested")] Vec<Reply>),
    /// RESP3 map (`%N`); a flat array of 2N items in RESP2.
    Map(#[serde(deserialize_with = "super::reply_depth::nested")] Vec<(Reply, Reply)>),
    /// RESP3 set (`~N`); an array in RESP2.
    Set(#[serde(deserialize_with = "super::reply_depth::nested")] Vec<Reply>),
    /// RESP3 double (`,1.5`); a bulk string in RESP2.
    Double(f64),
    /// RESP3 boolean (`#t`); the integer 1/0 in RESP2.
    Bool(bool),
    /// RESP3 verbatim string (`=N\r\ntxt:…`); a bulk string in RESP2.
    Verbatim(Bytes),
}

impl Reply {
    /// `+OK`.
    pub const fn ok() -> Reply {
        Reply::Status(Cow::Borrowed("OK"))
    }

    /// A status reply from static text.
    pub const fn status(s: &'static str) -> Reply {
        Reply::Status(Cow::Borrowed(s))
    }

    /// An error reply; `text` includes the error code prefix, e.g. `"ERR syntax error"`.
    pub fn error(text: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Error(text.into())
    }

    /// A bulk string reply copied from a slice.
    pub fn bulk(data: impl AsRef<[u8]>) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(data.as_ref()))
    }

    /// A bulk string reply from a `String` (no copy).
    pub fn bulk_string(s: String) -> Reply {
        Reply::Bulk(Bytes::from(s))
    }

    /// Whether this reply is an error.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Appends the wire form of this reply to `out`.
    pub fn encode(&self, proto: Protocol, out: &mut BytesMut) {
        match self {
            Reply::Status(s) => {
                out.put_u8(b'+');
                put_line(out, s.as_bytes());
            }
            Reply::Error(s) => {
                out.put_u8(b'-');
                put_line(out, s.as_bytes());
            }
            Reply::Int(n) => put_len(out, b':', *n),
            Reply::Bulk(b) => put_bulk(out, b),
            Reply::Nil => match proto {
                Protocol::Resp2 => out.put_slice(b"$-1\r\n"),
                Protocol::Resp3 => out.put_slice(b"_\r\n"),
            },
            Reply::NilArray => match proto {
                Protocol::Resp2 => out.put_slice(b"*-1\r\n"),
                Protocol::Resp3 => out.put_slice(b"_\r\n"),
            },
            Reply::Array(items) => {
                put_len(out, b'*', items.len() as i64);
                for item in items {
                    item.encode(proto, out);
                }
            }
            Reply::Map(pairs) => {
                match proto {
                    Protocol::Resp2 => put_len(out, b'*', 2 * pairs.len() as i64),
                    Protocol::Resp3 => put_len(out, b'%', pairs.len() as i64),
                }
                for (k, v) in pairs {
                    k.encode(proto, out);
                    v.encode(proto, out);
                }
            }
            Reply::Set(items) => {
                let prefix = match proto {
                    Protocol::Resp2 => b'*',
                    Protocol::Resp3 => b'~',
                };
                put_len(out, prefix, items.len() as i64);
                for item in items {
                    item.encode(proto, out);
                }
            }
            Reply::Double(d) => {
                let text = format_double(*d);
                match proto {
                    Protocol::Resp2 => put_bulk(out, text.as_bytes()),
                    Protocol::Resp3 => {
                        out.put_u8(b',');
                        put_line(out, text.as_bytes());
                    }
                }
            }
            Reply::Bool(b) => match proto {
                Protocol::Resp2 => put_len(out, b':', i64::from(*b)),
                Protocol::Resp3 => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            },
            Reply::Verbatim(b) => match proto {
                Protocol::Resp2 => put_bulk(out, b),
                Protocol::Resp3 => {
                    put_len(out, b'=', b.len() as i64 + 4);
                    out.put_slice(b"txt:");
                    out.put_slice(b);
                    out.put_slice(b"\r\n");
                }
            },
        }
    }
}

/// Formats a double like Redis does for RESP3 doubles and RESP2 bulk doubles (`%.17g`, with
/// `inf`/`-inf`/`nan`).
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        "nan".to_string()
    } else if d.is_infinite() {
        if d > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        // Shortest representation that round-trips; Redis prints integers without ".0".
        let s = format!("{d}");
        s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
    }
}

fn put_line(out: &mut BytesMut, text: &[u8]) {
    // Simple strings and errors must not contain CR or LF; replace them like Redis does.
    if text.iter().any(|&c| c == b'\r' || c == b'\n') {
        out.extend(text.iter().map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }));
    } else {
        out.put_slice(text);
    }
    out.put_slice(b"\r\n");
}

fn put_len(out: &mut BytesMut, prefix: u8, n: i64) {
    let mut buf = itoa::Buffer::new();
    out.put_u8(prefix);
    out.put_slice(buf.format(n).as_bytes());
    out.put_slice(b"\r\n");
}

fn put_bulk(out: &mut BytesMut, data: &[u8]) {
    out.reserve(data.len() + 16);
    put_len(out, b'$', data.len() as i64);
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(r: &Reply, p: Protocol) -> String {
        let mut out = BytesMut::new();
        r.encode(p, &mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn resp2_and_resp3_shapes() {
        assert_eq!(wire(&Reply::ok(), Protocol::Resp2), "+OK\r\n");
        assert_eq!(wire(&Reply::error("ERR x"), Protocol::Resp2), "-ERR x\r\n");
        assert_eq!(wire(&Reply::Int(-3), Protocol::Resp2), ":-3\r\n");
        assert_eq!(wire(&Reply::bulk("ab"), Protocol::Resp2), "$2\r\nab\r\n");
        assert_eq!(wire(&Reply::Nil, Protocol::Resp2), "$-1\r\n");
        assert_eq!(wire(&Reply::Nil, Protocol::Resp3), "_\r\n");
        assert_eq!(wire(&Reply::NilArray, Protocol::Resp2), "*-1\r\n");
        let map = Reply::Map(vec![(Reply::bulk("k"), Reply::Int(1))]);
        assert_eq!(wire(&map, Protocol::Resp2), "*2\r\n$1\r\nk\r\n:1\r\n");
        assert_eq!(wire(&map, Protocol::Resp3), "%1\r\n$1\r\nk\r\n:1\r\n");
        assert_eq!(wire(&Reply::Double(1.5), Protocol::Resp3), ",1.5\r\n");
        assert_eq!(wire(&Reply::Double(3.0), Protocol::Resp2), "$1\r\n3\r\n");
        assert_eq!(wire(&Reply::Bool(true), Protocol::Resp2), ":1\r\n");
        assert_eq!(wire(&Reply::Bool(false), Protocol::Resp3), "#f\r\n");
        assert_eq!(wire(&Reply::Verbatim(Bytes::from_static(b"hi")), Protocol::Resp3), "=6\r\ntxt:hi\r\n");
    }

    #[test]
    fn status_lines_never_break_framing() {
        assert_eq!(wire(&Reply::error("ERR a\r\nb"), Protocol::Resp2), "-ERR a  b\r\n");
    }
}
