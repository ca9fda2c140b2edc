//! `keyspace_hits` / `keyspace_misses` as Redis counts them: every key a read command looks up
//! is a hit when it exists and a miss when it does not; writes are not lookups. Called by
//! [`super::dispatch`] with the reply of the command it ran (so on the node that ran it: the
//! coordinator for a forwarded command), which tells the two apart without touching the
//! handlers.

use bytes::Bytes;

use crate::metrics::Metrics;
use crate::resp::reply::Reply;

/// Counts the lookups of the read `name` (arguments `a`) whose reply is `reply`; other commands
/// count nothing.
#[inline]
pub(super) fn count(metrics: &Metrics, name: &str, a: &[Bytes], reply: &Reply) {
    let absent = match name {
        "get" | "getex" | "getdel" => matches!(reply, Reply::Nil),
        "ttl" | "pttl" | "expiretime" | "pexpiretime" => matches!(reply, Reply::Int(-2)),
        // A missing key has length 0 (an empty string is counted as a miss too).
        "strlen" => matches!(reply, Reply::Int(0)),
        "type" => matches!(reply, Reply::Status(t) if t.as_ref() == "none"),
        "exists" => {
            if let Reply::Int(found) = *reply {
                let found = found.max(0) as u64;
                metrics.record_lookups(found, (a.len() as u64 - 1).saturating_sub(found));
            }
            return;
        }
        "mget" => {
            if let Reply::Array(items) = reply {
                let misses = items.iter().filter(|r| matches!(r, Reply::Nil)).count() as u64;
                metrics.record_lookups(items.len() as u64 - misses, misses);
            }
            return;
        }
        _ => return,
    };
    if matches!(reply, Reply::Error(_)) {
        return;
    }
    if absent {
        metrics.record_lookups(0, 1);
    } else {
        metrics.record_lookups(1, 0);
    }
}
