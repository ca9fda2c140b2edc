//! Redis-style glob matching, shared by `KEYS`, `SCAN … MATCH` and `COMMAND LIST FILTERBY PATTERN`.
//!
//! [`glob_match`] is a faithful port of Redis 7.0's `stringmatchlen` (`src/util.c`): `*`, `?`,
//! `[abc]`, `[^abc]`, `[a-z]` (reversed ranges allowed), `\` escapes, the same treatment of
//! malformed patterns (an unclosed `[` class runs to the end of the pattern), and the same
//! defences against exponential backtracking: once the rest of a pattern failed to match after a
//! `*` at every position, earlier `*`s stop trying longer matches, and recursion deeper than 1000
//! `*`s fails the match. Byte ranges compare as C `char`s do on x86-64 (signed), like Redis there.

/// Redis's nesting limit for `*` recursion.
const MAX_NESTING: u32 = 1000;

/// Whether `s` matches the glob `pattern`; `nocase` folds ASCII case like Redis's `tolower`.
/// As in Redis, `*` does not match the empty string as a whole pattern (`KEYS *` and `SCAN`
/// skip matching for a lone `*` before they get here).
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    let mut skip_longer_matches = false;
    match_impl(pattern, s, nocase, &mut skip_longer_matches, 0)
}

fn match_impl(pat: &[u8], s: &[u8], nocase: bool, skip_longer: &mut bool, nesting: u32) -> bool {
    if nesting > MAX_NESTING {
        return false;
    }
    // C reads the NUL terminator one past the end in a few places; emulate it.
    let at = |i: usize| pat.get(i).copied().unwrap_or(0);
    let same = |a: u8, b: u8| a == b || (nocase && a.eq_ignore_ascii_case(&b));
    let (mut p, mut i) = (0, 0);
    while p < pat.len() && i < s.len() {
        match pat[p] {
            b'*' => {
                while at(p + 1) == b'*' {
                    p += 1;
                }
                if p + 1 == pat.len() {
                    return true;
                }
                while i < s.len() {
                    if match_impl(&pat[p + 1..], &s[i..], nocase, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    i += 1;
                }
                // The rest matched nowhere in the remaining string: longer matches of earlier
                // `*`s cannot help either.
                *skip_longer = true;
                return false;
            }
            b'?' => i += 1,
            b'[' => {
                p += 1;
                let negate = at(p) == b'^';
                if negate {
                    p += 1;
                }
                let mut matched = false;
                loop {
                    let left = pat.len() - p;
                    if at(p) == b'\\' && left >= 2 {
                        p += 1;
                        matched |= pat[p] == s[i];
                    } else if at(p) == b']' {
                        break;
                    } else if left == 0 {
                        p -= 1; // unclosed class: stop on the last pattern byte
                        break;
                    } else if left >= 3 && pat[p + 1] == b'-' {
                        // Redis orders the bounds before folding case, as C chars.
                        let (a, b) = (i32::from(pat[p] as i8), i32::from(pat[p + 2] as i8));
                        let (lo, hi) = (fold(a.min(b), nocase), fold(a.max(b), nocase));
                        let c = fold(i32::from(s[i] as i8), nocase);
                        matched |= lo <= c && c <= hi;
                        p += 2;
                    } else {
                        matched |= same(pat[p], s[i]);
                    }
                    p += 1;
                }
                if matched == negate {
                    return false;
                }
                i += 1;
            }
            c => {
                let c = if c == b'\\' && pat.len() - p >= 2 {
                    p += 1;
                    pat[p]
                } else {
                    c
                };
                if !same(c, s[i]) {
                    return false;
                }
                i += 1;
            }
        }
        p += 1;
        if i == s.len() {
            while at(p) == b'*' {
                p += 1;
            }
            break;
        }
    }
    p == pat.len() && i == s.len()
}

/// glibc's `tolower` on a C `char` (signed on x86-64, where Redis is built and tested): ASCII
/// letters fold, and -128..=-2 come back as 128..=254.
fn fold(c: i32, nocase: bool) -> i32 {
    match c {
        _ if !nocase => c,
        -128..=-2 => c + 256,
        65..=90 => c + 32,
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn wildcards() {
        assert!(m("*", "anything") && m("", "") && m("a*", "a"));
        assert!(!m("*", ""), "like Redis; KEYS and SCAN special-case a lone `*` before matching");
        assert!(!m("", "a") && !m("a", ""));
        assert!(m("h?llo", "hello") && m("h?llo", "hallo") && !m("h?llo", "hllo"));
        assert!(m("h*llo", "hllo") && m("h*llo", "heeeello") && !m("h*llo", "heeeelo"));
        assert!(m("a**b", "axxb") && m("*a*", "xxaxx") && !m("*a*", "xxx"));
        assert!(m("user:*:name", "user:42:name") && !m("user:*:name", "user:42:age"));
        assert!(m("a*", "a") && m("a***", "a") && !m("a*?", "a"));
    }

    #[test]
    fn classes() {
        assert!(m("h[ae]llo", "hello") && m("h[ae]llo", "hallo") && !m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo") && !m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo") && !m("h[a-b]llo", "hcllo"));
        assert!(m("[z-a]", "m"), "reversed ranges are allowed");
        assert!(m("[\\]]", "]") && m("[\\-]", "-") && !m("[\\a]", "b"));
        assert!(m("[a-]", "]") && !m("[a-]", "-"), "range to the closing bracket, like Redis");
        assert!(!m("[", "a") && !m("a[", "a") && !m("a[", "ab"), "unclosed");
        assert!(m("[^", "x") && m("[^", "^"), "an unclosed `[^` matches any byte");
        assert!(m("[abc", "b") && !m("[abc", "d"));
    }

    #[test]
    fn escapes() {
        assert!(m("\\*", "*") && !m("\\*", "a") && m("\\?x", "?x"));
        assert!(m("a\\", "a\\"), "a trailing backslash is literal");
        assert!(m("\\[a]", "[a]"));
    }

    #[test]
    fn nocase() {
        assert!(glob_match(b"HeLLo", b"hello", true) && !glob_match(b"HeLLo", b"hello", false));
        assert!(glob_match(b"[A-C]x", b"bX", true) && !glob_match(b"[A-C]x", b"bX", false));
        assert!(glob_match(b"client*", b"CLIENT|ID", true));
    }

    #[test]
    fn bytes_above_ascii_compare_as_signed_chars() {
        assert!(glob_match(b"[\x80-\xff]", b"\x90", false));
        // 'a' (97) to 0xff (-1) is the range -1..=97 as signed chars: 'b' is outside.
        assert!(!glob_match(b"[a-\xff]", b"b", false) && glob_match(b"[a-\xff]", b"0", false));
        // With nocase, glibc's tolower turns 0x80..=0xfe back into 128..=254.
        assert!(!glob_match(b"[\x80-\\]", b"-", true) && glob_match(b"[\x80-\\]", b"-", false));
    }

    #[test]
    fn no_exponential_blowup() {
        // Redis's regression tests for "pattern matching (very) long nested loops".
        let s = "a".repeat(40);
        assert!(!m("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", &s));
        let s = "a".repeat(50_000);
        let p = "*?".repeat(50_000);
        assert!(!m(&p, &s), "the nesting limit gives up, like Redis");
        assert!(m(&"*?".repeat(500), &"a".repeat(500)));
    }
}
