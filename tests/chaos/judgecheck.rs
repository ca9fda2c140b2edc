//! A check of the rollback judges themselves, run before every chaos run: hand-made histories
//! with a known answer — rollbacks that must be reported, and concurrent or unacknowledged
//! histories that must not — so a judge that cannot fail (or fails everything) stops the run
//! before it reports anything.

use crate::history::{Event, Op, Outcome};
use crate::mixcheck::judge_mix;
use crate::rollback::{judge_overwrite, Finals};

use Outcome::{Error, Fail, Ok as Acked, Unknown};

/// The mix judge's answer: (rollback + lost, unexpected, stale reads).
type MixAnswer = (usize, usize, usize);

/// One hand-made operation: kind, value, TTL (ms, 0 = none), reply, outcome, start and end (ms).
type Step = (&'static str, Option<&'static str>, u64, Option<&'static str>, Outcome, u64, u64);

fn ops(key: &str, steps: &[Step]) -> Vec<Op> {
    steps
        .iter()
        .map(|&(kind, value, ttl, reply, outcome, start, end)| Op {
            kind,
            key: key.to_string(),
            value: value.map(str::to_string),
            seen: Vec::new(),
            context: None,
            reply: reply.map(str::to_string),
            ttl_ms: (ttl > 0).then_some(ttl),
            outcome,
            error: None,
            start_ms: start,
            start_us: start * 1000,
            latency_us: end.saturating_sub(start) * 1000,
            phase: 0,
        })
        .collect()
}

fn finals(key: &str, state: Option<&str>, read_ms: u64) -> Finals {
    let mut f = Finals { read_us: read_ms * 1000, ..Finals::default() };
    f.get.insert(key.to_string(), Ok(state.map(str::to_string)));
    f
}

/// The mix judge's answer on one key.
fn mix(steps: &[Step], state: Option<&str>, read_ms: u64, events: &[Event]) -> MixAnswer {
    let v = judge_mix(&ops("m:0", steps), &finals("m:0", state, read_ms), &[], events);
    (v.rollback + v.lost, v.unexpected, v.stale_reads)
}

/// (rollback, rollback to an error-replied write, lost, unexpected) of the overwrite judge on one key.
fn overwrite(steps: &[Step], state: Option<&str>) -> (usize, usize, usize, usize) {
    let v = judge_overwrite(&ops("o:0:0", steps), &finals("o:0:0", state, 100_000), &[]);
    (v.rollback, v.rollback_of_error, v.lost, v.unexpected)
}

/// Runs every case; the first wrong answer is an error.
pub fn check_judges() -> Result<usize, String> {
    let set = |v, o, s, e| ("mix.set", Some(v), 0, None, o, s, e);
    let getset = |v, r, s, e| ("mix.getset", Some(v), 0, r, Acked, s, e);
    let del = |r, o, s, e| ("mix.del", None, 0, r, o, s, e);
    let pexpire = |ttl, r, o, s, e| ("mix.pexpire", None, ttl, r, o, s, e);
    let ow = |v, o, s, e| ("ow.set", Some(v), 0, None, o, s, e);
    let skew = |t_ms, action| Event { t_ms, unix_ms: 0, action, fault: "clock of n2 +120 s".into() };
    let skewed = [skew(0, "start"), skew(5_000, "heal")];
    let two = [set("a", Acked, 0, 1), set("b", Acked, 2, 3)];
    let cases: Vec<(&str, MixAnswer, MixAnswer)> = vec![
        ("a value replaced by a later acknowledged SET", mix(&two, Some("a"), 100_000, &[]), (1, 0, 0)),
        ("the last acknowledged value", mix(&two, Some("b"), 100_000, &[]), (0, 0, 0)),
        ("nil after acknowledged SETs", mix(&two, None, 100_000, &[]), (1, 0, 0)),
        ("a value nobody wrote", mix(&two, Some("z"), 100_000, &[]), (0, 1, 0)),
        ("a SET a that never reached a node", mix(&[set("a", Fail, 0, 1)], Some("a"), 100_000, &[]), (0, 1, 0)),
        (
            "concurrent SETs, the one that started first wins",
            mix(&[set("a", Acked, 0, 10), set("b", Acked, 2, 3)], Some("a"), 100_000, &[]),
            (0, 0, 0),
        ),
        (
            "a DEL that answered 1 after a SET, then nil",
            mix(&[set("a", Acked, 0, 1), del(Some("1"), Acked, 2, 3)], None, 100_000, &[]),
            (0, 0, 0),
        ),
        (
            "a value a DEL that answered 1 had deleted",
            mix(&[set("a", Acked, 0, 1), del(Some("1"), Acked, 2, 3)], Some("a"), 100_000, &[]),
            (1, 0, 0),
        ),
        (
            "nil where a DEL answered 0 after an acknowledged SET",
            mix(&[set("a", Acked, 0, 1), del(Some("0"), Acked, 2, 3)], None, 100_000, &[]),
            (1, 0, 0),
        ),
        (
            "a DEL that timed out may have run after a later SET",
            mix(&[set("a", Acked, 0, 1), del(None, Unknown, 2, 9), set("b", Acked, 5, 6)], None, 100_000, &[]),
            (0, 0, 0),
        ),
        (
            "a value a run-out PEXPIRE had removed",
            mix(&[set("a", Acked, 0, 1), pexpire(100, Some("1"), Acked, 2, 3)], Some("a"), 100_000, &[]),
            (1, 0, 0),
        ),
        (
            // TTLs run on cluster time (the median of the nodes' clocks): one skewed node does
            // not stretch them, so the checker judges every EXPIRE.
            "a value a run-out PEXPIRE had removed, during a forward clock offset",
            mix(&[set("a", Acked, 0, 1), pexpire(100, Some("1"), Acked, 2, 3)], Some("a"), 60_000, &skewed),
            (1, 0, 0),
        ),
        (
            "a SET with an error reply before a later acknowledged SET started",
            mix(&[set("a", Error, 0, 6_000), set("b", Acked, 7_000, 7_001)], Some("a"), 100_000, &[]),
            (1, 0, 0),
        ),
        (
            "a SET with an error reply still pending when the later SET started",
            mix(&[set("a", Error, 0, 8_000), set("b", Acked, 7_000, 7_001)], Some("a"), 100_000, &[]),
            (0, 0, 0),
        ),
        (
            "a SET that timed out before a later acknowledged SET started may run late",
            mix(&[set("a", Unknown, 0, 6_000), set("b", Acked, 7_000, 7_001)], Some("a"), 100_000, &[]),
            (0, 0, 0),
        ),
        (
            "nil from a DEL with an error reply before an acknowledged SET",
            mix(&[del(None, Error, 0, 1), set("b", Acked, 2, 3)], None, 100_000, &[]),
            (1, 0, 0),
        ),
        (
            "GETSET returning a replaced value",
            mix(&[two[0], two[1], getset("c", Some("a"), 5, 6)], Some("c"), 100_000, &[]),
            (0, 0, 1),
        ),
        (
            "GETSET returning the current value",
            mix(&[two[0], two[1], getset("c", Some("b"), 5, 6)], Some("c"), 100_000, &[]),
            (0, 0, 0),
        ),
    ];
    let w = [ow("0-0", Acked, 0, 1), ow("0-1", Acked, 2, 3), ow("0-2", Unknown, 4, 9), ow("0-3", Fail, 10, 11)];
    let errored = [ow("0-0", Error, 0, 6_000), ow("0-1", Acked, 6_001, 6_002)];
    let late = [ow("0-0", Unknown, 0, 6_000), ow("0-1", Acked, 6_001, 6_002)];
    let register = vec![
        ("overwrite: an older acknowledged value", overwrite(&w, Some("0-0")), (1, 0, 0, 0)),
        ("overwrite: the last acknowledged value", overwrite(&w, Some("0-1")), (0, 0, 0, 0)),
        ("overwrite: a newer unknown value", overwrite(&w, Some("0-2")), (0, 0, 0, 0)),
        ("overwrite: a value never sent", overwrite(&w, Some("0-3")), (0, 0, 0, 1)),
        ("overwrite: nil", overwrite(&w, None), (0, 0, 1, 0)),
        ("overwrite: an older value that had an error reply", overwrite(&errored, Some("0-0")), (1, 1, 0, 0)),
        ("overwrite: an older value that timed out", overwrite(&late, Some("0-0")), (0, 0, 0, 0)),
    ];
    for (name, got, want) in &cases {
        if got != want {
            return Err(format!("mix judge, {name}: (rollback+lost, unexpected, stale) {got:?}, expected {want:?}"));
        }
    }
    for (name, got, want) in &register {
        if got != want {
            return Err(format!("{name}: (rollback, of errors, lost, unexpected) {got:?}, expected {want:?}"));
        }
    }
    Ok(cases.len() + register.len())
}
