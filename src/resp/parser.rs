//! The RESP request parser: turns the bytes a client sent into commands.
//!
//! This file owns the request side of the wire protocol, exactly as Redis 7.0 reads it
//! (`processInlineBuffer`, `processMultibulkBuffer` and `string2ll` in `networking.c`/`util.c`,
//! `sdssplitargs` in `sds.c`): multibulk requests (`*<n>\r\n` then `n` × `$<len>\r\n<bytes>\r\n`),
//! inline requests (a text line split with `sdssplitargs` quoting rules), pipelines mixing both,
//! and Redis's protocol errors, byte for byte. It never touches the socket: the connection loop
//! in `resp/` reads into a [`BytesMut`], calls [`RequestParser::parse`] until it returns
//! `Ok(None)`, runs each command, and on a [`ProtocolError`] replies `-ERR <Display>` and closes
//! the connection, as Redis does.
//!
//! The parser is incremental: it keeps Redis's `multibulklen`/`bulklen` state between calls and
//! splits each finished argument off the front of the buffer as a zero-copy [`Bytes`], so a huge
//! request arriving in many small reads is never re-scanned from its start.
//!
//! Contract with the caller: between two calls the caller only appends to `buf` (it may reserve
//! or reallocate it, but must not drop or reorder unparsed bytes).
//!
//! Redis quirks kept on purpose: line ends are searched like C `strchr`, so a NUL byte before the
//! newline of an inline request (or before the `\r` of a `*`/`$` line) hides it until the
//! "too big" limit trips; a `\r` only needs *some* byte after it, and the two bytes after a bulk
//! are skipped unchecked. Differences: the default `max_multibulk_len` is 1 Mi arguments, where
//! Redis 7.0 accepts up to `INT_MAX` (set it to `i32::MAX as usize` for Redis's exact bound), and
//! `Display` cannot carry a raw byte ≥ 0x80 in "expected '$', got 'X'" (see
//! [`ProtocolError::message_bytes`]).

use bytes::{Buf, Bytes, BytesMut};

/// Redis `PROTO_INLINE_MAX_SIZE`.
const PROTO_INLINE_MAX_SIZE: usize = 64 * 1024;
/// Redis's fixed upper bound on a multibulk count (`ll > INT_MAX`).
const REDIS_MAX_MULTIBULK: i64 = i32::MAX as i64;
/// Redis refuses multibulk counts above this from clients that must still authenticate.
const UNAUTH_MAX_MULTIBULK: i64 = 10;
/// Redis refuses bulk lengths above this from clients that must still authenticate.
const UNAUTH_MAX_BULK: i64 = 16384;
/// Never preallocate more argument slots than this from an announced count (Redis does the same).
const MAX_ARGV_PREALLOC: usize = 1024;
/// `string2ll` rejects strings this long or longer (Redis `LONG_STR_SIZE`).
const LONG_STR_SIZE: usize = 21;

/// Size limits applied while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParserLimits {
    /// Largest bulk argument accepted (Redis `proto-max-bulk-len`, default 512 MiB).
    pub max_bulk_len: usize,
    /// Largest multibulk argument count accepted; above it: "invalid multibulk length". Default
    /// 1024 × 1024 (Redis ≤ 6.2's bound); Redis 7.0 accepts up to `INT_MAX`, which also caps
    /// any larger setting here.
    pub max_multibulk_len: usize,
    /// Largest unterminated inline request / count line kept waiting for its newline
    /// (Redis `PROTO_INLINE_MAX_SIZE`, 64 KiB).
    pub max_inline_len: usize,
}

impl Default for ParserLimits {
    fn default() -> Self {
        ParserLimits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: 1024 * 1024,
            max_inline_len: PROTO_INLINE_MAX_SIZE,
        }
    }
}

/// A request the client sent cannot be parsed. `Display` is Redis's exact error text; the
/// connection replies `-ERR <text>\r\n` and closes.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// The multibulk count is not a number, or is too large.
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// The bulk length is not a number, is negative, or exceeds `max_bulk_len`.
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// An argument header did not start with `$`; carries the byte found instead.
    #[error("Protocol error: expected '$', got '{}", GotByte(*.0))]
    ExpectedDollar(u8),
    /// No `\r` within `max_inline_len` bytes of a `*` count line.
    #[error("Protocol error: too big mbulk count string")]
    TooBigMbulkCount,
    /// No `\r` within `max_inline_len` bytes of a `$` length line.
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCount,
    /// No `\n` within `max_inline_len` bytes of an inline request.
    #[error("Protocol error: too big inline request")]
    TooBigInline,
    /// An inline request has an unterminated quote, or a closing quote not followed by a space.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// A multibulk count above 10 from a client that has not authenticated yet.
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    /// A bulk length above 16384 from a client that has not authenticated yet.
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulkLength,
}

impl ProtocolError {
    /// The exact bytes Redis puts after `-ERR ` for this error. Equal to `Display` except for
    /// [`ProtocolError::ExpectedDollar`] with a byte ≥ 0x80, which Redis sends raw while
    /// `Display` (a `String`) shows it as the Latin-1 character.
    pub fn message_bytes(&self) -> Vec<u8> {
        match *self {
            ProtocolError::ExpectedDollar(b) => {
                let mut v = b"Protocol error: expected '$', got '".to_vec();
                match b {
                    // `%c` of NUL ends the C string: the message stops here.
                    0 => {}
                    // `addReplyErrorFormat` maps CR and LF to spaces.
                    b'\r' | b'\n' => v.extend_from_slice(b" '"),
                    _ => v.extend_from_slice(&[b, b'\'']),
                }
                v
            }
            ref other => other.to_string().into_bytes(),
        }
    }
}

/// Formats the `X'` tail of "expected '$', got 'X'" the way Redis's `%c` plus
/// `addReplyErrorFormat` sanitising does.
struct GotByte(u8);

impl std::fmt::Display for GotByte {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            0 => Ok(()),
            b'\r' | b'\n' => f.write_str(" '"),
            b => write!(f, "{}'", char::from(b)),
        }
    }
}

/// Incremental parser for one connection's request stream.
#[derive(Debug)]
pub struct RequestParser {
    limits: ParserLimits,
    /// Arguments still to read in the current multibulk request (Redis `multibulklen`).
    remaining: usize,
    /// Length of the bulk argument being read, once its `$` line is parsed (Redis `bulklen`).
    bulk_len: Option<usize>,
    /// Arguments of the current multibulk request read so far.
    args: Vec<Bytes>,
    /// Bytes at the front of the buffer already searched for the current line terminator.
    scan_from: usize,
    /// Bytes missing for the current bulk argument (with its CRLF) at the last `parse`.
    needed: Option<usize>,
    /// Whether the client must still authenticate (Redis's `authRequired`).
    auth_required: bool,
    /// Set once a protocol error was returned; every later call returns it again.
    failed: Option<ProtocolError>,
}

impl Default for RequestParser {
    fn default() -> Self {
        RequestParser::new(ParserLimits::default())
    }
}

impl RequestParser {
    /// A parser at the start of a request stream.
    pub fn new(limits: ParserLimits) -> Self {
        RequestParser {
            limits,
            remaining: 0,
            bulk_len: None,
            args: Vec::new(),
            scan_from: 0,
            needed: None,
            auth_required: false,
            failed: None,
        }
    }

    /// Changes the limits (e.g. `CONFIG SET proto-max-bulk-len`); they apply to every length
    /// checked from now on, including later arguments of a request already in progress.
    pub fn set_limits(&mut self, limits: ParserLimits) {
        self.limits = limits;
    }

    /// Marks the client as not yet authenticated (Redis's `authRequired`): while set, multibulk
    /// counts above 10 and bulk lengths above 16384 are refused as Redis does. Off by default.
    pub fn set_auth_required(&mut self, required: bool) {
        self.auth_required = required;
    }

    /// True while a multibulk request is partially parsed (its `*<n>` line has been read but not
    /// all of its arguments).
    pub fn in_progress(&self) -> bool {
        self.remaining > 0
    }

    /// A hint: the bytes (including the trailing CRLF) still missing from the buffer, as of the
    /// last [`parse`](Self::parse) call, to finish the bulk argument being read; `None` when no
    /// bulk argument is being waited for.
    pub fn bytes_needed(&self) -> Option<usize> {
        self.needed
    }

    /// Parses the next complete request from the front of `buf`, consuming its bytes.
    ///
    /// `Ok(None)` means more data is needed: everything that could safely be consumed has been
    /// (finished arguments of a partial multibulk request are kept inside the parser). Empty
    /// requests (an empty inline line, `*0`, a negative count) are skipped. Arguments are
    /// zero-copy slices of `buf` whenever the wire bytes are the argument bytes. After an error
    /// the parser stays failed and returns the same error on every call.
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        self.needed = None;
        let result = self.parse_inner(buf);
        if let Err(err) = &result {
            self.failed = Some(err.clone());
            self.needed = None;
        }
        result
    }

    fn parse_inner(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        while self.remaining == 0 {
            let Some(&first) = buf.first() else {
                return Ok(None);
            };
            if first == b'*' {
                if !self.read_multibulk_count(buf)? {
                    return Ok(None);
                }
            } else {
                match self.read_inline(buf)? {
                    None => return Ok(None),
                    Some(args) if args.is_empty() => {}
                    Some(args) => return Ok(Some(args)),
                }
            }
        }
        self.read_bulks(buf)
    }

    /// Like C `strchr(buf, needle)` on the NUL-terminated query buffer Redis keeps: the index of
    /// the first `needle`, or `None` if a NUL byte or the end of the data comes first. Resumes
    /// where the previous unsuccessful search of the same line stopped.
    fn find_terminator(&mut self, buf: &[u8], needle: u8) -> Option<usize> {
        let from = self.scan_from.min(buf.len());
        let hay = buf.get(from..).unwrap_or_default();
        match memchr::memchr2(needle, 0, hay) {
            Some(off) => {
                let i = from + off;
                // Stop here next time too: a NUL hides everything after it, as in Redis.
                self.scan_from = i;
                (buf.get(i) == Some(&needle)).then_some(i)
            }
            None => {
                self.scan_from = buf.len();
                None
            }
        }
    }

    /// Consumes `n` bytes of line/header data from the front of `buf`.
    fn consume(&mut self, buf: &mut BytesMut, n: usize) {
        buf.advance(n);
        self.scan_from = 0;
    }

    /// Reads a `*<n>\r\n` line. Returns `Ok(false)` if more data is needed, `Ok(true)` once the
    /// line is consumed (with `remaining` set, or left at 0 for an empty request).
    fn read_multibulk_count(&mut self, buf: &mut BytesMut) -> Result<bool, ProtocolError> {
        let Some(i) = digits_line_end(buf, b'*').or_else(|| self.find_terminator(buf, b'\r')) else {
            if buf.len() > self.limits.max_inline_len {
                return Err(ProtocolError::TooBigMbulkCount);
            }
            return Ok(false);
        };
        // Redis only checks that one more byte follows the '\r', not that it is '\n'.
        if i + 2 > buf.len() {
            return Ok(false);
        }
        let ll = buf.get(1..i).and_then(string2ll).ok_or(ProtocolError::InvalidMultibulkLength)?;
        let max = i64::try_from(self.limits.max_multibulk_len).unwrap_or(i64::MAX).min(REDIS_MAX_MULTIBULK);
        if ll > max {
            return Err(ProtocolError::InvalidMultibulkLength);
        }
        if ll > UNAUTH_MAX_MULTIBULK && self.auth_required {
            return Err(ProtocolError::UnauthenticatedMultibulkLength);
        }
        self.consume(buf, i + 2);
        if ll > 0 {
            let n = usize::try_from(ll).map_err(|_| ProtocolError::InvalidMultibulkLength)?;
            self.remaining = n;
            self.bulk_len = None;
            self.args = Vec::with_capacity(n.min(MAX_ARGV_PREALLOC));
        }
        Ok(true)
    }

    /// Reads the bulk arguments of the multibulk request in progress.
    fn read_bulks(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        while self.remaining > 0 {
            let len = match self.bulk_len {
                Some(len) => len,
                None => match self.read_bulk_len(buf)? {
                    Some(len) => len,
                    None => return Ok(None),
                },
            };
            let total = len.saturating_add(2);
            if buf.len() < total {
                self.needed = Some(total - buf.len());
                return Ok(None);
            }
            let arg = buf.split_to(len).freeze();
            // Redis skips the two bytes after the data without looking at them.
            buf.advance(2);
            self.args.push(arg);
            self.remaining -= 1;
            self.bulk_len = None;
        }
        Ok(Some(std::mem::take(&mut self.args)))
    }

    /// Reads a `$<len>\r\n` line; `Ok(None)` if more data is needed.
    fn read_bulk_len(&mut self, buf: &mut BytesMut) -> Result<Option<usize>, ProtocolError> {
        let Some(i) = digits_line_end(buf, b'$').or_else(|| self.find_terminator(buf, b'\r')) else {
            if buf.len() > self.limits.max_inline_len {
                return Err(ProtocolError::TooBigBulkCount);
            }
            return Ok(None);
        };
        if i + 2 > buf.len() {
            return Ok(None);
        }
        match buf.first() {
            Some(b'$') => {}
            Some(&other) => return Err(ProtocolError::ExpectedDollar(other)),
            None => return Ok(None),
        }
        let ll = buf.get(1..i).and_then(string2ll).ok_or(ProtocolError::InvalidBulkLength)?;
        let len = usize::try_from(ll).map_err(|_| ProtocolError::InvalidBulkLength)?;
        if len > self.limits.max_bulk_len {
            return Err(ProtocolError::InvalidBulkLength);
        }
        if ll > UNAUTH_MAX_BULK && self.auth_required {
            return Err(ProtocolError::UnauthenticatedBulkLength);
        }
        self.consume(buf, i + 2);
        self.bulk_len = Some(len);
        Ok(Some(len))
    }

    /// Reads an inline request line; `Ok(None)` if more data is needed. An empty argument list
    /// means an empty line was consumed.
    fn read_inline(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let Some(i) = self.find_terminator(buf, b'\n') else {
            if buf.len() > self.limits.max_inline_len {
                return Err(ProtocolError::TooBigInline);
            }
            return Ok(None);
        };
        let end = if i > 0 && buf.get(i - 1) == Some(&b'\r') { i - 1 } else { i };
        let line = buf.split_to(i + 1).freeze();
        self.scan_from = 0;
        if end == 0 {
            return Ok(Some(Vec::new()));
        }
        split_args(&line, end).map(Some).ok_or(ProtocolError::UnbalancedQuotes)
    }
}

/// Fast path for the common `$<digits>\r` / `*<digits>\r` header line: the index of its `\r`
/// when the line is `prefix`, then ASCII digits up to that `\r`, which is then exactly what the
/// generic NUL-aware search would find. `None` means "use the generic search".
#[inline]
fn digits_line_end(buf: &[u8], prefix: u8) -> Option<usize> {
    let (&first, digits) = buf.split_first()?;
    if first != prefix {
        return None;
    }
    let n = digits.iter().take(LONG_STR_SIZE).position(|b| !b.is_ascii_digit())?;
    (digits.get(n) == Some(&b'\r')).then_some(n + 1)
}

/// Redis `string2ll`: a strict base-10 `long long` (no sign but `-`, no leading zeros, no
/// spaces, fewer than 21 bytes, no overflow). `None` when the bytes are not such a number.
fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= LONG_STR_SIZE {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let (&first, rest) = digits.split_first()?;
    if !(b'1'..=b'9').contains(&first) {
        return None;
    }
    let mut v = u64::from(first - b'0');
    for &c in rest {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        // Down to i64::MIN, whose magnitude is i64::MAX + 1.
        if v > (i64::MAX as u64) + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// C `isspace` in the "C" locale.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// One argument being built by [`split_args`]: a run of source bytes that can be sliced
/// zero-copy, spilled into an owned buffer once an escape or skipped quote breaks the run.
struct Token {
    owned: Option<Vec<u8>>,
    start: usize,
    end: usize,
}

impl Token {
    fn new() -> Self {
        Token { owned: None, start: 0, end: 0 }
    }

    /// Appends the source byte at `p`.
    fn push_src(&mut self, src: &[u8], p: usize) {
        if self.start == self.end {
            self.start = p;
            self.end = p + 1;
        } else if self.end == p {
            self.end += 1;
        } else {
            self.spill(src);
            self.start = p;
            self.end = p + 1;
        }
    }

    /// Appends a byte that is not a copy of the source byte at the current position.
    fn push_byte(&mut self, src: &[u8], b: u8) {
        self.spill(src).push(b);
    }

    fn spill(&mut self, src: &[u8]) -> &mut Vec<u8> {
        let run = src.get(self.start..self.end).unwrap_or_default();
        self.start = self.end;
        let owned = self.owned.get_or_insert_with(Vec::new);
        owned.extend_from_slice(run);
        owned
    }

    fn finish(mut self, line: &Bytes) -> Bytes {
        if self.owned.is_none() {
            return line.slice(self.start..self.end);
        }
        let v = std::mem::take(self.spill(line));
        Bytes::from(v)
    }
}

/// Redis `sdssplitargs` on `line[..end]`; `None` on unbalanced quotes. A NUL byte ends the
/// string as it does in C.
fn split_args(line: &Bytes, end: usize) -> Option<Vec<Bytes>> {
    let src = line.get(..end).unwrap_or_default();
    let at = |i: usize| src.get(i).copied().unwrap_or(0);
    let mut p = 0;
    let mut out = Vec::new();
    loop {
        while at(p) != 0 && is_c_space(at(p)) {
            p += 1;
        }
        if at(p) == 0 {
            return Some(out);
        }
        let mut tok = Token::new();
        let (mut in_dq, mut in_sq, mut done) = (false, false, false);
        while !done {
            let c = at(p);
            if in_dq {
                let hex = match (c, at(p + 1)) {
                    (b'\\', b'x') => hex_value(at(p + 2)).zip(hex_value(at(p + 3))),
                    _ => None,
                };
                if let Some((hi, lo)) = hex {
                    tok.push_byte(src, hi * 16 + lo);
                    p += 3;
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    let e = match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    };
                    tok.push_byte(src, e);
                } else if c == b'"' {
                    // The closing quote must be followed by a space or nothing at all.
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    tok.push_src(src, p);
                }
            } else if in_sq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    tok.push_byte(src, b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    tok.push_src(src, p);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    _ => tok.push_src(src, p),
                }
            }
            if at(p) != 0 {
                p += 1;
            }
        }
        out.push(tok.finish(line));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Cmd = Vec<Vec<u8>>;

    // ---- helpers -------------------------------------------------------------------------

    fn to_vecs(args: Vec<Bytes>) -> Cmd {
        args.into_iter().map(|b| b.to_vec()).collect()
    }

    /// Feeds `data` in one piece; returns the commands and the error, if any.
    fn parse_all_with(data: &[u8], limits: ParserLimits) -> (Vec<Cmd>, Option<ProtocolError>) {
        parse_chunked_with(data, &[data.len().max(1)], limits)
    }

    fn parse_all(data: &[u8]) -> (Vec<Cmd>, Option<ProtocolError>) {
        parse_all_with(data, ParserLimits::default())
    }

    /// Feeds `data` in chunks whose sizes cycle through `sizes`, draining after each chunk.
    fn parse_chunked_with(data: &[u8], sizes: &[usize], limits: ParserLimits) -> (Vec<Cmd>, Option<ProtocolError>) {
        let mut p = RequestParser::new(limits);
        let mut buf = BytesMut::new();
        let mut cmds = Vec::new();
        let mut pos = 0;
        let mut k = 0;
        loop {
            loop {
                match p.parse(&mut buf) {
                    Ok(Some(args)) => {
                        assert!(!args.is_empty(), "empty command returned");
                        cmds.push(to_vecs(args));
                    }
                    Ok(None) => break,
                    Err(e) => return (cmds, Some(e)),
                }
            }
            if pos >= data.len() {
                return (cmds, None);
            }
            let n = sizes[k % sizes.len()].max(1).min(data.len() - pos);
            k += 1;
            buf.extend_from_slice(&data[pos..pos + n]);
            pos += n;
        }
    }

    fn parse_chunked(data: &[u8], sizes: &[usize]) -> (Vec<Cmd>, Option<ProtocolError>) {
        parse_chunked_with(data, sizes, ParserLimits::default())
    }

    fn cmd(args: &[&[u8]]) -> Cmd {
        args.iter().map(|a| a.to_vec()).collect()
    }

    fn encode_multibulk(args: &[Vec<u8>]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// Encodes an argument as a double-quoted inline token, escaping with `\xHH` or the short
    /// escapes depending on `style`.
    fn quote_inline(arg: &[u8], style: u8) -> Vec<u8> {
        let mut out = vec![b'"'];
        for &b in arg {
            match (b, style % 3) {
                (b'"', 1) => out.extend_from_slice(b"\\\""),
                (b'\\', 1) => out.extend_from_slice(b"\\\\"),
                (b'\n', 1) => out.extend_from_slice(b"\\n"),
                (b'\r', 1) => out.extend_from_slice(b"\\r"),
                (b'\t', 1) => out.extend_from_slice(b"\\t"),
                (0x20..=0x7e, 0 | 1) if b != b'"' && b != b'\\' => out.push(b),
                _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
            }
        }
        out.push(b'"');
        out
    }

    /// Tiny deterministic PRNG (xorshift64*), so tests need no extra crates.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Straight port of Redis's processInputBuffer loop over one complete buffer, used as an
    /// oracle for the incremental parser (C `strchr` semantics included).
    fn reference(data: &[u8]) -> (Vec<Cmd>, Option<ProtocolError>) {
        let strchr = |from: usize, c: u8| -> Option<usize> {
            for (i, &b) in data.iter().enumerate().skip(from) {
                if b == c {
                    return Some(i);
                }
                if b == 0 {
                    return None;
                }
            }
            None
        };
        let mut pos = 0;
        let mut cmds = Vec::new();
        while pos < data.len() {
            if data[pos] != b'*' {
                let Some(nl) = strchr(pos, b'\n') else {
                    if data.len() - pos > PROTO_INLINE_MAX_SIZE {
                        return (cmds, Some(ProtocolError::TooBigInline));
                    }
                    break;
                };
                let mut end = nl;
                if nl != pos && data[nl - 1] == b'\r' {
                    end -= 1;
                }
                let line = Bytes::copy_from_slice(&data[pos..end]);
                let Some(args) = split_args(&line, line.len()) else {
                    return (cmds, Some(ProtocolError::UnbalancedQuotes));
                };
                pos = nl + 1;
                if !args.is_empty() {
                    cmds.push(to_vecs(args));
                }
                continue;
            }
            let Some(cr) = strchr(pos, b'\r') else {
                if data.len() - pos > PROTO_INLINE_MAX_SIZE {
                    return (cmds, Some(ProtocolError::TooBigMbulkCount));
                }
                break;
            };
            if cr + 2 > data.len() {
                break;
            }
            let Some(n) = string2ll(&data[pos + 1..cr]).filter(|&n| n <= 1024 * 1024) else {
                return (cmds, Some(ProtocolError::InvalidMultibulkLength));
            };
            pos = cr + 2;
            let mut args = Vec::new();
            let mut left = n;
            while left > 0 {
                let Some(cr) = strchr(pos, b'\r') else {
                    if data.len() - pos > PROTO_INLINE_MAX_SIZE {
                        return (cmds, Some(ProtocolError::TooBigBulkCount));
                    }
                    return (cmds, None);
                };
                if cr + 2 > data.len() {
                    return (cmds, None);
                }
                if data[pos] != b'$' {
                    return (cmds, Some(ProtocolError::ExpectedDollar(data[pos])));
                }
                let Some(len) = string2ll(&data[pos + 1..cr]).filter(|&l| (0..=512 << 20).contains(&l)) else {
                    return (cmds, Some(ProtocolError::InvalidBulkLength));
                };
                pos = cr + 2;
                let len = len as usize;
                if data.len() - pos < len + 2 {
                    return (cmds, None);
                }
                args.push(data[pos..pos + len].to_vec());
                pos += len + 2;
                left -= 1;
            }
            if !args.is_empty() {
                cmds.push(args);
            }
        }
        (cmds, None)
    }

    // ---- error texts ----------------------------------------------------------------------

    #[test]
    fn error_display_is_redis_text() {
        use ProtocolError::*;
        let cases: &[(ProtocolError, &str)] = &[
            (InvalidMultibulkLength, "Protocol error: invalid multibulk length"),
            (InvalidBulkLength, "Protocol error: invalid bulk length"),
            (ExpectedDollar(b'f'), "Protocol error: expected '$', got 'f'"),
            (ExpectedDollar(b'\r'), "Protocol error: expected '$', got ' '"),
            (ExpectedDollar(b'\n'), "Protocol error: expected '$', got ' '"),
            (ExpectedDollar(0), "Protocol error: expected '$', got '"),
            (TooBigMbulkCount, "Protocol error: too big mbulk count string"),
            (TooBigBulkCount, "Protocol error: too big bulk count string"),
            (TooBigInline, "Protocol error: too big inline request"),
            (UnbalancedQuotes, "Protocol error: unbalanced quotes in request"),
            (UnauthenticatedMultibulkLength, "Protocol error: unauthenticated multibulk length"),
            (UnauthenticatedBulkLength, "Protocol error: unauthenticated bulk length"),
        ];
        for (err, text) in cases {
            assert_eq!(err.to_string(), *text);
            assert_eq!(err.message_bytes(), text.as_bytes());
        }
        assert_eq!(ExpectedDollar(0xff).message_bytes(), b"Protocol error: expected '$', got '\xff'".to_vec());
        assert_eq!(ExpectedDollar(0xe9).to_string(), "Protocol error: expected '$', got '\u{e9}'");
    }

    // ---- tests/unit/protocol.tcl ----------------------------------------------------------

    const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";

    fn with_ping(prefix: &[u8]) -> Vec<u8> {
        [prefix, PING].concat()
    }

    #[test]
    fn tcl_handle_an_empty_query() {
        assert_eq!(parse_all(&with_ping(b"\r\n")), (vec![cmd(&[b"PING"])], None));
    }

    #[test]
    fn tcl_negative_multibulk_length() {
        assert_eq!(parse_all(&with_ping(b"*-10\r\n")), (vec![cmd(&[b"PING"])], None));
    }

    #[test]
    fn tcl_out_of_range_multibulk_length() {
        assert_eq!(parse_all(b"*3000000000\r\n"), (vec![], Some(ProtocolError::InvalidMultibulkLength)));
    }

    #[test]
    fn tcl_wrong_multibulk_payload_header() {
        let (cmds, err) = parse_all(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n");
        assert!(cmds.is_empty());
        let err = err.unwrap();
        assert_eq!(err, ProtocolError::ExpectedDollar(b'f'));
        assert_eq!(err.to_string(), "Protocol error: expected '$', got 'f'");
    }

    #[test]
    fn tcl_negative_multibulk_payload_length() {
        assert_eq!(
            parse_all(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n"),
            (vec![], Some(ProtocolError::InvalidBulkLength))
        );
    }

    #[test]
    fn tcl_out_of_range_multibulk_payload_length() {
        assert_eq!(
            parse_all(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n"),
            (vec![], Some(ProtocolError::InvalidBulkLength))
        );
    }

    #[test]
    fn tcl_non_number_multibulk_payload_length() {
        assert_eq!(
            parse_all(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n"),
            (vec![], Some(ProtocolError::InvalidBulkLength))
        );
    }

    #[test]
    fn tcl_multibulk_request_not_followed_by_bulk_arguments() {
        assert_eq!(parse_all(b"*1\r\nfoo\r\n"), (vec![], Some(ProtocolError::ExpectedDollar(b'f'))));
    }

    #[test]
    fn tcl_unbalanced_number_of_quotes() {
        assert_eq!(
            parse_all(b"set \"\"\"test-key\"\"\" test-value\r\nping\r\n"),
            (vec![], Some(ProtocolError::UnbalancedQuotes))
        );
    }

    /// "Protocol desync regression test #1..3": a NUL then endless data must end in an error.
    #[test]
    fn tcl_protocol_desync_regressions() {
        let cases: [(&[u8], ProtocolError); 3] = [
            (b"\x00", ProtocolError::TooBigInline),
            (b"*\x00", ProtocolError::TooBigMbulkCount),
            (b"$\x00", ProtocolError::TooBigInline),
        ];
        // The tcl test actually writes the literal word "payload" (no newline) over and over;
        // the intended payload is 1024 'A's and a newline. Both must end in the error.
        let intended = [vec![b'A'; 1024], b"\n".to_vec()].concat();
        for payload in [b"payload".to_vec(), intended] {
            for (seq, want) in &cases {
                let mut p = RequestParser::default();
                let mut buf = BytesMut::from(*seq);
                let mut got = None;
                for _ in 0..100_000 {
                    match p.parse(&mut buf) {
                        Ok(None) => buf.extend_from_slice(&payload),
                        Ok(Some(c)) => panic!("unexpected command {c:?}"),
                        Err(e) => {
                            got = Some(e);
                            break;
                        }
                    }
                }
                assert_eq!(got.as_ref(), Some(want), "seq {seq:?}");
                assert!(got.unwrap().to_string().contains("Protocol error"));
            }
        }
    }

    #[test]
    fn tcl_auth_limits_for_unauthenticated_clients() {
        let mut p = RequestParser::default();
        p.set_auth_required(true);
        let mut buf = BytesMut::from(&b"*100\r\n"[..]);
        assert_eq!(p.parse(&mut buf), Err(ProtocolError::UnauthenticatedMultibulkLength));
        let mut p = RequestParser::default();
        p.set_auth_required(true);
        let mut buf = BytesMut::from(&b"*1\r\n$100000000\r\n"[..]);
        assert_eq!(p.parse(&mut buf), Err(ProtocolError::UnauthenticatedBulkLength));
        // At the bounds it is fine, and an authenticated client has no such limit.
        let mut p = RequestParser::default();
        p.set_auth_required(true);
        let args: Vec<Vec<u8>> = (0..10).map(|_| vec![b'a'; 16384]).collect();
        let mut buf = BytesMut::from(&encode_multibulk(&args)[..]);
        assert_eq!(p.parse(&mut buf).map(|c| c.map(to_vecs)), Ok(Some(args)));
        p.set_auth_required(false);
        let mut buf = BytesMut::from(&b"*100\r\n"[..]);
        assert_eq!(p.parse(&mut buf), Ok(None));
        assert!(p.in_progress());
        // The invalid-length check comes first, as in Redis.
        let mut p = RequestParser::default();
        p.set_auth_required(true);
        assert_eq!(p.parse(&mut BytesMut::from(&b"*x\r\n"[..])), Err(ProtocolError::InvalidMultibulkLength));
    }

    // ---- multibulk ------------------------------------------------------------------------

    #[test]
    fn simple_multibulk() {
        assert_eq!(
            parse_all(b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"),
            (vec![cmd(&[b"SET", b"key", b"value"])], None)
        );
    }

    #[test]
    fn binary_and_empty_bulks() {
        let args = vec![b"".to_vec(), b"\r\n\x00\xff*$".to_vec(), vec![0; 3]];
        assert_eq!(parse_all(&encode_multibulk(&args)), (vec![args], None));
    }

    #[test]
    fn empty_multibulks_are_skipped() {
        for prefix in [&b"*0\r\n"[..], b"*-1\r\n", b"*-10\r\n", b"*0\r\n*-1\r\n*0\r\n"] {
            assert_eq!(parse_all(&with_ping(prefix)), (vec![cmd(&[b"PING"])], None));
            assert_eq!(parse_all(prefix), (vec![], None));
        }
        let mut p = RequestParser::default();
        let mut buf = BytesMut::from(&b"*0\r\n"[..]);
        assert_eq!(p.parse(&mut buf), Ok(None));
        assert!(buf.is_empty());
        assert!(!p.in_progress());
    }

    #[test]
    fn multibulk_count_uses_string2ll() {
        let bad: &[&[u8]] = &[
            b"*+3\r\n",
            b"*03\r\n",
            b"* 3\r\n",
            b"*3 \r\n",
            b"*\r\n",
            b"*-\r\n",
            b"*-0\r\n",
            b"*3x\r\n",
            b"*0x3\r\n",
            b"*1.0\r\n",
            b"*00\r\n",
            b"*9223372036854775808\r\n",
            b"*99999999999999999999\r\n",
            b"*000000000000000000001\r\n",
        ];
        for &b in bad {
            assert_eq!(
                parse_all(b),
                (vec![], Some(ProtocolError::InvalidMultibulkLength)),
                "{:?}",
                String::from_utf8_lossy(b)
            );
        }
        // Very negative counts are valid empty requests.
        for &ok in &[&b"*-9223372036854775808\r\n"[..], b"*-5\r\n", b"*0\r\n"] {
            assert_eq!(parse_all(&with_ping(ok)), (vec![cmd(&[b"PING"])], None));
        }
        assert_eq!(parse_all(b"*-9223372036854775809\r\n"), (vec![], Some(ProtocolError::InvalidMultibulkLength)));
    }

    #[test]
    fn bulk_length_uses_string2ll() {
        let bad: &[&[u8]] = &[
            b"$+3\r\n",
            b"$03\r\n",
            b"$ 3\r\n",
            b"$3 \r\n",
            b"$\r\n",
            b"$-\r\n",
            b"$-0\r\n",
            b"$-1\r\n",
            b"$3x\r\n",
            b"$00\r\n",
            b"$9223372036854775808\r\n",
        ];
        for &b in bad {
            let data = [&b"*1\r\n"[..], b, b"abc\r\n"].concat();
            assert_eq!(
                parse_all(&data),
                (vec![], Some(ProtocolError::InvalidBulkLength)),
                "{:?}",
                String::from_utf8_lossy(b)
            );
        }
        assert_eq!(parse_all(b"*1\r\n$0\r\n\r\n"), (vec![vec![b"".to_vec()]], None));
    }

    #[test]
    fn multibulk_count_limit() {
        let mut p = RequestParser::default();
        let mut buf = BytesMut::from(&b"*1048576\r\n"[..]);
        assert_eq!(p.parse(&mut buf), Ok(None));
        assert!(p.in_progress());
        assert!(p.args.capacity() <= MAX_ARGV_PREALLOC);
        assert_eq!(parse_all(b"*1048577\r\n"), (vec![], Some(ProtocolError::InvalidMultibulkLength)));
        // A configured limit above Redis's INT_MAX is still capped at INT_MAX.
        let limits = ParserLimits { max_multibulk_len: usize::MAX, ..ParserLimits::default() };
        let mut p = RequestParser::new(limits);
        assert_eq!(p.parse(&mut BytesMut::from(&b"*2147483647\r\n"[..])), Ok(None));
        assert!(p.args.capacity() <= MAX_ARGV_PREALLOC);
        assert_eq!(parse_all_with(b"*2147483648\r\n", limits), (vec![], Some(ProtocolError::InvalidMultibulkLength)));
    }

    #[test]
    fn bulk_length_limit_and_set_limits() {
        let limits = ParserLimits { max_bulk_len: 5, ..ParserLimits::default() };
        assert_eq!(parse_all_with(b"*1\r\n$5\r\nhello\r\n", limits), (vec![cmd(&[b"hello"])], None));
        assert_eq!(parse_all_with(b"*1\r\n$6\r\nhello!\r\n", limits), (vec![], Some(ProtocolError::InvalidBulkLength)));
        // Default: 512 MiB exactly is accepted (waits for data), one more is refused.
        let mut p = RequestParser::default();
        let mut buf = BytesMut::from(&b"*1\r\n$536870912\r\n"[..]);
        assert_eq!(p.parse(&mut buf), Ok(None));
        assert_eq!(p.bytes_needed(), Some(536_870_914));
        assert_eq!(parse_all(b"*1\r\n$536870913\r\n"), (vec![], Some(ProtocolError::InvalidBulkLength)));
        // Lowered at runtime in the middle of a request: applies to the next length read.
        let mut p = RequestParser::default();
        let mut buf = BytesMut::from(&b"*2\r\n$6\r\nhello!\r\n"[..]);
        assert_eq!(p.parse(&mut buf), Ok(None));
        p.set_limits(limits);
        buf.extend_from_slice(b"$6\r\nworld!\r\n");
        assert_eq!(p.parse(&mut buf), Err(ProtocolError::InvalidBulkLength));
        p = RequestParser::new(limits);
        p.set_limits(ParserLimits::default());
        let mut buf = BytesMut::from(&b"*1\r\n$6\r\nhello!\r\n"[..]);
        assert_eq!(p.parse(&mut buf).map(|c| c.map(to_vecs)), Ok(Some(cmd(&[b"hello!"]))));
    }

    #[test]
    fn bulk_trailer_is_skipped_unchecked() {
        assert_eq!(parse_all(&with_ping(b"*1\r\n$3\r\nfooXY")), (vec![cmd(&[b"foo"]), cmd(&[b"PING"])], None));
        // Needs both trailer bytes before the argument completes.
        let mut p = RequestParser::default();
        let mut buf = BytesMut::from(&b"*1\r\n$3\r\nfoo\r"[..]);
        assert_eq!(p.parse(&mut buf), Ok(None));
        assert_eq!(p.bytes_needed(), Some(1));
        buf.extend_from_slice(b"\n");
        assert_eq!(p.parse(&mut buf).map(|c| c.map(to_vecs)), Ok(Some(cmd(&[b"foo"]))));
    }

    #[test]
    fn header_cr_needs_one_more_byte_but_not_lf() {
        assert_eq!(parse_all(b"*1\rX$3\rYfoo\r\n"), (vec![cmd(&[b"foo"])], None));
        let mut p = RequestParser::default();
        let mut buf = BytesMut::from(&b"*1\r"[..]);
        assert_eq!(p.parse(&mut buf), Ok(None));
        assert_eq!(&buf[..], b"*1\r");
        assert!(!p.in_progress());
        buf.extend_from_slice(b"\n$1\r");
        assert_eq!(p.parse(&mut buf), Ok(None));
        assert_eq!(&buf[..], b"$1\r");
        assert!(p.in_progress());
        assert_eq!(p.bytes_needed(), None);
        buf.extend_from_slice(b"\na\r\n");
        assert_eq!(p.parse(&mut buf).map(|c| c.map(to_vecs)), Ok(Some(cmd(&[b"a"]))));
    }

    #[test]
    fn expected_dollar_reports_the_byte() {
        assert_eq!(parse_all(b"*1\r\n\r\n"), (vec![], Some(ProtocolError::ExpectedDollar(b'\r'))));
        assert_eq!(parse_all(b"*1\r\n\n\r\n"), (vec![], Some(ProtocolError::ExpectedDollar(b'\n'))));
        assert_eq!(parse_all(b"*2\r\n$1\r\na\r\n*1\r\n"), (vec![], Some(ProtocolError::ExpectedDollar(b'*'))));
        let (_, err) = parse_all(b"*1\r\n\xfe\r\n");
        assert_eq!(err, Some(ProtocolError::ExpectedDollar(0xfe)));
        // Only once a whole line is there.
        assert_eq!(parse_all(b"*1\r\nfoo"), (vec![], None));
        // The byte after the '\r' is enough; what follows the first '\r' does not matter.
        assert_eq!(parse_all(b"*1\r\n\r12\r"), (vec![], Some(ProtocolError::ExpectedDollar(b'\r'))));
        assert_eq!(parse_all(b"*1\r\nx12\r\n"), (vec![], Some(ProtocolError::ExpectedDollar(b'x'))));
        assert_eq!(parse_all(b"*1\r\n\x0012\r\n"), (vec![], None));
        assert_eq!(parse_all(b"*1\r\nfoo\r"), (vec![], None));
    }

    #[test]
    fn too_big_count_strings() {
        let limit = PROTO_INLINE_MAX_SIZE;
        let mut data = vec![b'*'];
        data.resize(limit, b'1');
        assert_eq!(parse_all(&data), (vec![], None));
        data.push(b'1');
        assert_eq!(parse_all(&data), (vec![], Some(ProtocolError::TooBigMbulkCount)));

        let mut data = b"*1\r\n$".to_vec();
        data.resize(4 + limit, b'1');
        assert_eq!(parse_all(&data), (vec![], None));
        data.push(b'1');
        assert_eq!(parse_all(&data), (vec![], Some(ProtocolError::TooBigBulkCount)));

        // A NUL hides a later '\r', as strchr does in Redis.
        let mut data = b"*1\x00\r\n".to_vec();
        assert_eq!(parse_all(&data), (vec![], None));
        data.resize(limit + 10, b'x');
        assert_eq!(parse_all(&data), (vec![], Some(ProtocolError::TooBigMbulkCount)));
        let mut data = b"*1\r\n$1\x00\r\n".to_vec();
        assert_eq!(parse_all(&data), (vec![], None));
        data.resize(limit + 10, b'x');
        assert_eq!(parse_all(&data), (vec![], Some(ProtocolError::TooBigBulkCount)));
    }

    #[test]
    fn bulk_data_may_contain_nul() {
        let args = vec![b"a\x00b".to_vec(), vec![0]];
        assert_eq!(parse_all(&encode_multibulk(&args)), (vec![args], None));
    }

    #[test]
    fn huge_bulk_in_small_reads() {
        let big = vec![b'v'; 3 * 1024 * 1024];
        let data = encode_multibulk(&[b"SET".to_vec(), b"k".to_vec(), big.clone()]);
        let mut p = RequestParser::default();
        let mut buf = BytesMut::new();
        let mut out = None;
        for chunk in data.chunks(1000) {
            buf.extend_from_slice(chunk);
            if let Some(c) = p.parse(&mut buf).unwrap() {
                out = Some(c);
            } else {
                assert!(p.in_progress());
                if let Some(n) = p.bytes_needed() {
                    // The hint is exact: the bulk's remaining bytes plus its CRLF.
                    assert_eq!(buf.len() + n, big.len() + 2);
                }
            }
        }
        assert_eq!(out.map(to_vecs), Some(vec![b"SET".to_vec(), b"k".to_vec(), big]));
        assert!(!p.in_progress());
        assert_eq!(p.bytes_needed(), None);
        assert!(buf.is_empty());
    }

    #[test]
    fn partial_request_is_consumed_as_it_arrives() {
        let mut p = RequestParser::default();
        let mut buf = BytesMut::from(&b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhel"[..]);
        assert_eq!(p.parse(&mut buf), Ok(None));
        assert!(p.in_progress());
        assert_eq!(p.bytes_needed(), Some(4));
        assert_eq!(&buf[..], b"hel");
        buf.extend_from_slice(b"lo\r\n");
        let got = p.parse(&mut buf).unwrap().map(to_vecs);
        assert_eq!(got, Some(cmd(&[b"SET", b"k", b"hello"])));
        assert!(!p.in_progress());
        assert!(buf.is_empty());
    }

    #[test]
    fn arguments_are_zero_copy() {
        let data =
            [&encode_multibulk(&[b"SET".to_vec(), b"key".to_vec(), vec![b'x'; 100]])[..], b"GET key\r\n"].concat();
        let mut buf = BytesMut::with_capacity(data.len());
        buf.extend_from_slice(&data);
        let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
        let mut p = RequestParser::default();
        let a = p.parse(&mut buf).unwrap().unwrap();
        let b = p.parse(&mut buf).unwrap().unwrap();
        for arg in a.iter().chain(b.iter()) {
            assert!(range.contains(&(arg.as_ptr() as usize)), "{arg:?} was copied");
        }
    }

    #[test]
    fn errors_are_sticky() {
        let mut p = RequestParser::default();
        let mut buf = BytesMut::from(&b"*x\r\n"[..]);
        assert_eq!(p.parse(&mut buf), Err(ProtocolError::InvalidMultibulkLength));
        buf.clear();
        buf.extend_from_slice(PING);
        assert_eq!(p.parse(&mut buf), Err(ProtocolError::InvalidMultibulkLength));
    }

    #[test]
    fn error_after_complete_requests_in_pipeline() {
        let data = [PING, b"GET a\r\n", b"*1\r\n$x\r\n", PING].concat();
        assert_eq!(
            parse_all(&data),
            (vec![cmd(&[b"PING"]), cmd(&[b"GET", b"a"])], Some(ProtocolError::InvalidBulkLength))
        );
    }

    #[test]
    fn empty_buffer_needs_data() {
        let mut p = RequestParser::default();
        let mut buf = BytesMut::new();
        assert_eq!(p.parse(&mut buf), Ok(None));
        assert!(!p.in_progress());
        assert_eq!(p.bytes_needed(), None);
    }

    // ---- inline ---------------------------------------------------------------------------

    fn inline(line: &[u8]) -> Result<Vec<Cmd>, ProtocolError> {
        match parse_all(line) {
            (cmds, None) => Ok(cmds),
            (_, Some(e)) => Err(e),
        }
    }

    fn inline1(line: &str) -> Result<Cmd, ProtocolError> {
        let cmds = inline(format!("{line}\r\n").as_bytes())?;
        assert!(cmds.len() <= 1);
        Ok(cmds.into_iter().next().unwrap_or_default())
    }

    #[test]
    fn inline_basic_and_line_endings() {
        assert_eq!(inline(b"PING\r\n"), Ok(vec![cmd(&[b"PING"])]));
        assert_eq!(inline(b"PING\n"), Ok(vec![cmd(&[b"PING"])]));
        assert_eq!(inline(b"PING"), Ok(vec![]));
        assert_eq!(inline(b"PING\r"), Ok(vec![]));
        assert_eq!(inline(b"  set \t a\t\tb   \r\n"), Ok(vec![cmd(&[b"set", b"a", b"b"])]));
        // Only one '\r' is stripped, and a '\r' inside the line separates arguments.
        assert_eq!(inline(b"a\r\r\n"), Ok(vec![cmd(&[b"a"])]));
        assert_eq!(inline(b"a\rb\n"), Ok(vec![cmd(&[b"a", b"b"])]));
        // \v and \f are blanks between arguments but not argument terminators.
        assert_eq!(inline(b"\x0b\x0ca\x0bb\n"), Ok(vec![cmd(&[b"a\x0bb"])]));
        // Non-ASCII bytes are plain argument bytes.
        assert_eq!(inline(b"\xff\xa0 b\n"), Ok(vec![cmd(&[b"\xff\xa0", b"b"])]));
    }

    #[test]
    fn empty_inline_lines_are_skipped() {
        let data = [&b"\r\n\n   \r\n\t\n\x0b\n"[..], PING, b"\n"].concat();
        assert_eq!(parse_all(&data), (vec![cmd(&[b"PING"])], None));
        let mut p = RequestParser::default();
        let mut buf = BytesMut::from(&b"\r\n\n"[..]);
        assert_eq!(p.parse(&mut buf), Ok(None));
        assert!(buf.is_empty());
    }

    #[test]
    fn inline_double_quotes() {
        assert_eq!(inline1(r#"set "a b" c"#), Ok(cmd(&[b"set", b"a b", b"c"])));
        assert_eq!(inline1(r#""""#), Ok(cmd(&[b""])));
        assert_eq!(inline1(r#""" """#), Ok(cmd(&[b"", b""])));
        assert_eq!(inline1(r#""\n\r\t\b\a\\\"\'\z""#), Ok(cmd(&[b"\n\r\t\x08\x07\\\"'z"])));
        assert_eq!(inline1(r#""\x41\x6a\xFF\x00""#), Ok(cmd(&[b"Aj\xff\x00"])));
        // Not a full \xHH: the backslash escapes the 'x'.
        assert_eq!(inline1(r#""\xZZ""#), Ok(cmd(&[b"xZZ"])));
        assert_eq!(inline1(r#""\x4""#), Ok(cmd(&[b"x4"])));
        assert_eq!(inline1(r#""\x4g""#), Ok(cmd(&[b"x4g"])));
        // Unquoted prefix joins the quoted part.
        assert_eq!(inline1(r#"ab"c d" e"#), Ok(cmd(&[b"abc d", b"e"])));
        // Closing quote then a tab is fine.
        assert_eq!(inline1("\"a\"\tb"), Ok(cmd(&[b"a", b"b"])));
        // Errors.
        for bad in [r#""abc"#, r#""a"b"#, r#""abc\""#, r#""\"#, r#"x "a"" y"#] {
            assert_eq!(inline1(bad), Err(ProtocolError::UnbalancedQuotes), "{bad}");
        }
    }

    #[test]
    fn inline_single_quotes() {
        assert_eq!(inline1(r"'it\'s' x"), Ok(cmd(&[b"it's", b"x"])));
        assert_eq!(inline1(r"'a\nb'"), Ok(cmd(&[b"a\\nb"])));
        assert_eq!(inline1(r#"'a "b"'"#), Ok(cmd(&[b"a \"b\""])));
        assert_eq!(inline1(r"''"), Ok(cmd(&[b""])));
        assert_eq!(inline1(r"'a\\b'"), Ok(cmd(&[b"a\\\\b"])));
        // A backslash before the closing quote escapes it.
        for bad in [r"'abc", r"'a'b", r"'abc\'", r"a'", r"'\\'"] {
            assert_eq!(inline1(bad), Err(ProtocolError::UnbalancedQuotes), "{bad}");
        }
    }

    #[test]
    fn inline_unquoted_tokens_are_zero_copy_and_quoted_ones_correct() {
        let line = Bytes::from_static(b"get \"k\" ab\"c\\x41\" 'z'");
        let args = split_args(&line, line.len()).unwrap();
        assert_eq!(to_vecs(args.clone()), cmd(&[b"get", b"k", b"abcA", b"z"]));
        let range = line.as_ptr() as usize..line.as_ptr() as usize + line.len();
        for i in [0, 1, 3] {
            assert!(range.contains(&(args[i].as_ptr() as usize)));
        }
    }

    #[test]
    fn inline_nul_hides_the_newline() {
        // Redis searches the line end with strchr, which stops at a NUL.
        let mut p = RequestParser::default();
        let mut buf = BytesMut::from(&b"GET a\x00b\r\n"[..]);
        assert_eq!(p.parse(&mut buf), Ok(None));
        assert_eq!(buf.len(), 9);
        buf.extend_from_slice(&vec![b'\n'; PROTO_INLINE_MAX_SIZE]);
        assert_eq!(p.parse(&mut buf), Err(ProtocolError::TooBigInline));
    }

    #[test]
    fn too_big_inline_request() {
        let limit = PROTO_INLINE_MAX_SIZE;
        let data = vec![b'a'; limit];
        assert_eq!(parse_all(&data), (vec![], None));
        let data = vec![b'a'; limit + 1];
        assert_eq!(parse_all(&data), (vec![], Some(ProtocolError::TooBigInline)));
        // A longer line whose newline is already in the buffer is accepted, as in Redis.
        let mut data = vec![b'a'; limit + 5000];
        data.extend_from_slice(b" b\r\n");
        let (cmds, err) = parse_all(&data);
        assert_eq!(err, None);
        assert_eq!(cmds, vec![vec![vec![b'a'; limit + 5000], b"b".to_vec()]]);
        // …but not when it arrives in pieces.
        let (_, err) = parse_chunked(&data, &[4096]);
        assert_eq!(err, Some(ProtocolError::TooBigInline));
        // Custom limit.
        let limits = ParserLimits { max_inline_len: 8, ..ParserLimits::default() };
        assert_eq!(parse_all_with(b"12345678", limits), (vec![], None));
        assert_eq!(parse_all_with(b"123456789", limits), (vec![], Some(ProtocolError::TooBigInline)));
    }

    #[test]
    fn inline_line_fed_byte_by_byte_is_scanned_once() {
        let line = [vec![b'x'; 60_000], b"\r\n".to_vec()].concat();
        let mut p = RequestParser::default();
        let mut buf = BytesMut::new();
        let mut got = None;
        for &b in &line {
            buf.extend_from_slice(&[b]);
            if let Some(c) = p.parse(&mut buf).unwrap() {
                got = Some(c);
            } else {
                assert_eq!(p.scan_from, buf.len());
            }
        }
        assert_eq!(got.map(to_vecs), Some(vec![vec![b'x'; 60_000]]));
    }

    // ---- string2ll ------------------------------------------------------------------------

    #[test]
    fn string2ll_matches_redis() {
        let cases: &[(&[u8], Option<i64>)] = &[
            (b"0", Some(0)),
            (b"1", Some(1)),
            (b"-1", Some(-1)),
            (b"1234567890", Some(1_234_567_890)),
            (b"9223372036854775807", Some(i64::MAX)),
            (b"-9223372036854775808", Some(i64::MIN)),
            (b"9223372036854775808", None),
            (b"-9223372036854775809", None),
            (b"18446744073709551615", None),
            (b"18446744073709551616", None),
            (b"", None),
            (b"-", None),
            (b"-0", None),
            (b"00", None),
            (b"01", None),
            (b"+1", None),
            (b" 1", None),
            (b"1 ", None),
            (b"1a", None),
            (b"\x001", None),
            (b"100000000000000000000", None),
        ];
        for (s, want) in cases {
            assert_eq!(string2ll(s), *want, "{:?}", String::from_utf8_lossy(s));
        }
    }

    // ---- pipelines and chunking -----------------------------------------------------------

    /// Builds `n` mixed requests (multibulk, inline, empty ones) and the commands expected.
    fn mixed_pipeline(n: usize, seed: u64) -> (Vec<u8>, Vec<Cmd>) {
        let mut rng = Rng(seed);
        let mut data = Vec::new();
        let mut want = Vec::new();
        for i in 0..n {
            match rng.below(6) {
                0 | 1 => {
                    let argc = 1 + rng.below(5);
                    let args: Cmd = (0..argc)
                        .map(|_| {
                            let cap = if rng.below(20) == 0 { 5000 } else { 20 };
                            let len = rng.below(cap);
                            (0..len).map(|_| rng.next() as u8).collect()
                        })
                        .collect();
                    data.extend_from_slice(&encode_multibulk(&args));
                    want.push(args);
                }
                2 => {
                    let key = format!("key:{i}");
                    data.extend_from_slice(format!("SET {key} \"v\\x{:02x} \\\"q\\\"\"\r\n", i % 256).as_bytes());
                    let mut v = vec![b'v', (i % 256) as u8];
                    v.extend_from_slice(b" \"q\"");
                    want.push(vec![b"SET".to_vec(), key.into_bytes(), v]);
                }
                3 => {
                    data.extend_from_slice(format!("get 'k {i}'\n").as_bytes());
                    want.push(vec![b"get".to_vec(), format!("k {i}").into_bytes()]);
                }
                4 => data.extend_from_slice([&b"\r\n"[..], b"\n", b"*0\r\n", b"*-1\r\n", b"  \r\n"][rng.below(5)]),
                _ => {
                    data.extend_from_slice(PING);
                    want.push(cmd(&[b"PING"]));
                }
            }
        }
        (data, want)
    }

    #[test]
    fn pipeline_of_1000_mixed_requests() {
        let (data, want) = mixed_pipeline(1000, 0x5eed);
        assert!(want.len() > 700);
        assert_eq!(parse_all(&data), (want.clone(), None));
        assert_eq!(reference(&data), (want, None));
    }

    #[test]
    fn pipeline_split_one_byte_at_a_time() {
        let (data, want) = mixed_pipeline(300, 7);
        assert_eq!(parse_chunked(&data, &[1]), (want, None));
    }

    #[test]
    fn pipeline_split_in_random_chunks() {
        let (data, want) = mixed_pipeline(1000, 42);
        let mut rng = Rng(99);
        for _ in 0..5 {
            let sizes: Vec<usize> = (0..97).map(|_| 1 + rng.below(300)).collect();
            assert_eq!(parse_chunked(&data, &sizes), (want.clone(), None));
        }
    }

    #[test]
    fn every_split_point_of_a_request() {
        let data =
            [&b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$10\r\n0123456789\r\n"[..], b"set \"a\\x41\" 'b'\r\n", b"*0\r\n\n"]
                .concat();
        let want: (Vec<Cmd>, Option<ProtocolError>) =
            (vec![cmd(&[b"SET", b"key", b"0123456789"]), cmd(&[b"set", b"aA", b"b"])], None);
        for cut in 0..=data.len() {
            let mut p = RequestParser::default();
            let mut buf = BytesMut::from(&data[..cut]);
            let mut cmds = Vec::new();
            while let Some(c) = p.parse(&mut buf).unwrap() {
                cmds.push(to_vecs(c));
            }
            buf.extend_from_slice(&data[cut..]);
            while let Some(c) = p.parse(&mut buf).unwrap() {
                cmds.push(to_vecs(c));
            }
            assert_eq!((cmds, None), want, "cut at {cut}");
        }
    }

    // ---- property tests -------------------------------------------------------------------

    fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
        prop::collection::vec(1usize..64, 1..8)
    }

    /// Garbage biased towards protocol-looking bytes.
    fn garbage() -> impl Strategy<Value = Vec<u8>> {
        const PIECES: &[&[u8]] = &[
            b"\r\n",
            b"\n",
            b"\r",
            b"*",
            b"$",
            b"\"",
            b"'",
            b"\\",
            b" ",
            b"\0",
            b"-1",
            b"0",
            b"1",
            b"2",
            b"3",
            b"10",
            b"*2\r\n$1\r\na\r\n",
            b"$3\r\nabc\r\n",
            b"\\x4",
        ];
        prop::collection::vec(any::<(u8, u8)>(), 0..80).prop_map(|picks| {
            let mut out = Vec::new();
            for (kind, byte) in picks {
                match PIECES.get(usize::from(kind) % (PIECES.len() + 4)) {
                    Some(piece) => out.extend_from_slice(piece),
                    None => out.push(byte),
                }
            }
            out
        })
    }

    proptest! {
        // The differential test against the Redis port finds rare paths: give it more cases.
        #![proptest_config(ProptestConfig::with_cases(5000))]

        #[test]
        fn prop_garbage_never_panics_and_matches_redis(data in garbage(), sizes in chunk_sizes()) {
            let whole = parse_all(&data);
            prop_assert_eq!(&whole, &reference(&data));
            prop_assert_eq!(&parse_chunked(&data, &sizes), &whole);
            prop_assert_eq!(&parse_chunked(&data, &[1]), &whole);
        }
    }

    proptest! {
        #[test]
        fn prop_multibulk_round_trip(
            reqs in prop::collection::vec(
                prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..6),
                1..5,
            ),
            sizes in chunk_sizes(),
        ) {
            let data: Vec<u8> = reqs.iter().flat_map(|a| encode_multibulk(a)).collect();
            let want: Vec<Cmd> = reqs.into_iter().filter(|a| !a.is_empty()).collect();
            prop_assert_eq!(parse_all(&data), (want.clone(), None));
            prop_assert_eq!(parse_chunked(&data, &sizes), (want, None));
        }

        #[test]
        fn prop_random_bytes_never_panic(
            data in prop::collection::vec(any::<u8>(), 0..300),
            sizes in chunk_sizes(),
            tiny in 0usize..12,
        ) {
            let whole = parse_all(&data);
            prop_assert_eq!(&whole, &reference(&data));
            prop_assert_eq!(&parse_chunked(&data, &sizes), &whole);
            // With tiny limits results may depend on chunking (as in Redis); only no panics.
            let limits = ParserLimits { max_bulk_len: tiny, max_multibulk_len: tiny, max_inline_len: tiny };
            let _ = parse_chunked_with(&data, &sizes, limits);
        }

        #[test]
        fn prop_inline_quoted_round_trip(
            args in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..30), 1..6),
            styles in prop::collection::vec(any::<u8>(), 6),
            crlf in any::<bool>(),
            sizes in chunk_sizes(),
        ) {
            let mut line = Vec::new();
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    line.extend_from_slice(if styles[i] & 8 == 0 { b" " } else { b" \t " });
                }
                line.extend_from_slice(&quote_inline(a, styles[i]));
            }
            line.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            let data = [line.as_slice(), PING].concat();
            let want = vec![args, cmd(&[b"PING"])];
            prop_assert_eq!(parse_all(&data), (want.clone(), None));
            prop_assert_eq!(parse_chunked(&data, &sizes), (want, None));
        }
    }
}
