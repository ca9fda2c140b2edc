//! `LCS`: longest common subsequence of two strings, a port of Redis 7.0's `lcsCommand`
//! (dynamic programming table, then a walk back that reports matching ranges for `IDX`).

use bytes::Bytes;

use crate::resp::reply::Reply;

/// What the client asked for.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// `LEN`: only the length.
    pub len_only: bool,
    /// `IDX`: the matching ranges.
    pub idx: bool,
    /// `WITHMATCHLEN`: each range with its length.
    pub with_len: bool,
    /// `MINMATCHLEN`: omit shorter ranges.
    pub min_len: usize,
}

/// The reply to `LCS` for strings `a` and `b`; the table may use at most `max_bytes`.
pub fn reply(a: &[u8], b: &[u8], o: Options, max_bytes: usize) -> Reply {
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen + 1).saturating_mul(blen + 1);
    if cells.saturating_mul(4) > max_bytes || alen >= u32::MAX as usize - 1 || blen >= u32::MAX as usize - 1 {
        return Reply::error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
    }
    let w = blen + 1;
    let mut dp = vec![0u32; cells];
    for i in 1..=alen {
        for j in 1..=blen {
            dp[i * w + j] = if a[i - 1] == b[j - 1] {
                dp[(i - 1) * w + j - 1] + 1
            } else {
                dp[(i - 1) * w + j].max(dp[i * w + j - 1])
            };
        }
    }
    let total = dp[alen * w + blen] as usize;
    let mut result = vec![0u8; total];
    let mut matches = Vec::new();
    let (mut i, mut j, mut idx) = (alen, blen, total);
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (alen, 0, 0, 0);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            if a_start == alen {
                (a_start, a_end, b_start, b_end) = (i - 1, i - 1, j - 1, j - 1);
            } else if a_start == i && b_start == j {
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if dp[(i - 1) * w + j] > dp[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if a_start != alen {
                emit = true;
            }
        }
        if emit {
            let len = a_end - a_start + 1;
            if o.min_len == 0 || len >= o.min_len {
                let range = |s: usize, e: usize| Reply::Array(vec![Reply::Int(s as i64), Reply::Int(e as i64)]);
                let mut m = vec![range(a_start, a_end), range(b_start, b_end)];
                if o.with_len {
                    m.push(Reply::Int(len as i64));
                }
                matches.push(Reply::Array(m));
            }
            a_start = alen;
        }
    }
    if o.idx {
        Reply::Map(vec![
            (Reply::bulk("matches"), Reply::Array(matches)),
            (Reply::bulk("len"), Reply::Int(total as i64)),
        ])
    } else if o.len_only {
        Reply::Int(total as i64)
    } else {
        Reply::Bulk(Bytes::from(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Options = Options { len_only: false, idx: false, with_len: false, min_len: 0 };

    #[test]
    fn redis_documentation_examples() {
        assert_eq!(reply(b"ohmytext", b"mynewtext", PLAIN, 1 << 20), Reply::bulk("mytext"));
        let len = Options { len_only: true, ..PLAIN };
        assert_eq!(reply(b"ohmytext", b"mynewtext", len, 1 << 20), Reply::Int(6));
        let idx = Options { idx: true, min_len: 4, ..PLAIN };
        let r = reply(b"ohmytext", b"mynewtext", idx, 1 << 20);
        let range = |s, e| Reply::Array(vec![Reply::Int(s), Reply::Int(e)]);
        assert_eq!(
            r,
            Reply::Map(vec![
                (Reply::bulk("matches"), Reply::Array(vec![Reply::Array(vec![range(4, 7), range(5, 8)])])),
                (Reply::bulk("len"), Reply::Int(6)),
            ])
        );
    }

    #[test]
    fn refuses_tables_beyond_the_limit() {
        assert!(reply(&[1; 100], &[2; 100], PLAIN, 1000).is_error());
    }
}
