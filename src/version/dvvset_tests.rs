//! Unit and property tests for [`super::DvvSet`]: the examples of the DVVSet paper and the laws
//! replicas rely on (sync is a join-semilattice merge; updates supersede exactly what they saw;
//! expiry is the same on every replica and commutes with sync).

use bytes::Bytes;
use proptest::prelude::*;

use super::*;

fn node(n: u8) -> NodeId {
    NodeId([n; 20])
}

fn val(s: &str, ts: u64) -> Sibling {
    Sibling::value(Bytes::copy_from_slice(s.as_bytes()), ts, None)
}

fn values(d: &DvvSet) -> Vec<String> {
    let mut v: Vec<String> =
        d.siblings().map(|(_, s)| String::from_utf8(s.value.clone().unwrap_or_default().to_vec()).unwrap()).collect();
    v.sort();
    v
}

#[test]
fn sequential_writes_never_create_siblings() {
    let a = node(1);
    let mut stored = DvvSet::default();
    for i in 0..5 {
        let ctx = stored.join();
        stored = DvvSet::update(DvvSet::with_context(&ctx, val(&format!("v{i}"), i)), &stored, a);
        assert_eq!(stored.len(), 1);
    }
    assert_eq!(values(&stored), vec!["v4"]);
    assert_eq!(stored.join(), VersionVector(vec![(a, 5)]));
}

#[test]
fn blind_write_keeps_unseen_values_as_siblings() {
    let a = node(1);
    let s1 = DvvSet::update(DvvSet::new(val("v1", 1)), &DvvSet::default(), a);
    // A write with an empty context has not seen v1: both survive.
    let s2 = DvvSet::update(DvvSet::new(val("v2", 2)), &s1, a);
    assert_eq!(values(&s2), vec!["v1", "v2"]);
    // A write with the full context resolves them.
    let s3 = DvvSet::update(DvvSet::with_context(&s2.join(), val("v3", 3)), &s2, a);
    assert_eq!(values(&s3), vec!["v3"]);
}

#[test]
fn concurrent_writes_on_two_nodes_become_siblings_then_resolve() {
    let (a, b) = (node(1), node(2));
    let base = DvvSet::update(DvvSet::new(val("cart", 1)), &DvvSet::default(), a);
    let ctx = base.join();
    // Partition: each side updates from the same context.
    let left = DvvSet::update(DvvSet::with_context(&ctx, val("carm", 2)), &base, a);
    let right = DvvSet::update(DvvSet::with_context(&ctx, val("carr", 3)), &base, b);
    let merged = left.sync(&right);
    assert_eq!(values(&merged), vec!["carm", "carr"]);
    assert_eq!(merged.winner().unwrap().value.as_deref(), Some(&b"carr"[..]));
    let resolved = DvvSet::update(DvvSet::with_context(&merged.join(), val("both", 4)), &merged, b);
    assert_eq!(values(&resolved), vec!["both"]);
    // Syncing the stale sides into the resolved state changes nothing.
    assert_eq!(resolved.sync(&left), resolved);
    assert_eq!(right.sync(&resolved), resolved);
}

#[test]
fn collapse_keeps_newest_and_history() {
    let a = node(1);
    let mut s = DvvSet::default();
    for i in 0..10 {
        s = DvvSet::update(DvvSet::new(val(&format!("v{i}"), i)), &s, a);
    }
    assert_eq!(s.len(), 10);
    assert_eq!(s.collapse_to(3), 7);
    assert_eq!(values(&s), vec!["v7", "v8", "v9"]);
    assert_eq!(s.join(), VersionVector(vec![(a, 10)]));
}

#[test]
fn context_coverage() {
    let vv = VersionVector::from_entries(vec![(node(2), 3), (node(1), 0), (node(2), 5)]);
    assert_eq!(vv.0, vec![(node(2), 5)]);
    assert!(vv.covers(&Dot { node: node(2), counter: 5 }));
    assert!(!vv.covers(&Dot { node: node(2), counter: 6 }));
    assert!(!vv.covers(&Dot { node: node(1), counter: 1 }));
}

/// One step of a random replica history: replica `at` coordinates a write having read replica
/// `from` (possibly stale), the write of step `i` at time `i`, expiring at `i + ttl` if it has a
/// TTL; or replica `at` syncs with replica `from`; or replica `at` expires what has expired at
/// `now` (replicas expire independently, at different times).
#[derive(Debug, Clone)]
enum Step {
    Write { at: usize, from: usize, blind: bool, ttl: Option<u64> },
    Sync { at: usize, from: usize },
    Expire { at: usize, now: u64 },
}

/// Histories of writes without TTLs and syncs.
fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..3usize, 0..3usize, any::<bool>()).prop_map(|(at, from, blind)| Step::Write { at, from, blind, ttl: None }),
        (0..3usize, 0..3usize).prop_map(|(at, from)| Step::Sync { at, from }),
    ]
}

/// Histories with TTLs and expiry too.
fn step_expiring() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..3usize, 0..3usize, any::<bool>(), proptest::option::of(0..20u64))
            .prop_map(|(at, from, blind, ttl)| Step::Write { at, from, blind, ttl }),
        (0..3usize, 0..3usize).prop_map(|(at, from)| Step::Sync { at, from }),
        (0..3usize, 0..60u64).prop_map(|(at, now)| Step::Expire { at, now }),
    ]
}

fn run(steps: &[Step]) -> Vec<DvvSet> {
    let mut replicas = vec![DvvSet::default(); 3];
    for (i, s) in steps.iter().enumerate() {
        match *s {
            Step::Write { at, from, blind, ttl } => {
                let ctx = if blind { VersionVector::default() } else { replicas[from].join() };
                let i = i as u64;
                let value = Sibling::value(Bytes::from(format!("w{i}")), i, ttl.map(|t| i + t));
                let new = DvvSet::with_context(&ctx, value);
                replicas[at] = DvvSet::update(new, &replicas[at], node(at as u8));
            }
            Step::Sync { at, from } => replicas[at] = replicas[at].sync(&replicas[from]),
            Step::Expire { at, now } => replicas[at] = replicas[at].expired_at(now),
        }
    }
    replicas
}

/// Every sibling with its dot, in the set's order, for exact comparisons.
fn dotted(d: &DvvSet) -> Vec<(Option<Dot>, Sibling)> {
    d.siblings().map(|(dot, s)| (dot, s.clone())).collect()
}

fn ttl_val(s: &str, ts: u64, expires_at: u64) -> Sibling {
    Sibling::value(Bytes::copy_from_slice(s.as_bytes()), ts, Some(expires_at))
}

#[test]
fn expiring_turns_expired_values_into_tombstones_in_place() {
    let (a, b) = (node(1), node(2));
    let base = DvvSet::update(DvvSet::new(val("keeps", 1)), &DvvSet::default(), a);
    let left = DvvSet::update(DvvSet::with_context(&base.join(), ttl_val("soon", 2, 100)), &base, a);
    let left = DvvSet::update(DvvSet::new(ttl_val("later", 3, 200)), &left, a);
    let right = DvvSet::update(DvvSet::with_context(&base.join(), Sibling::tombstone(4)), &base, b);
    let set = left.sync(&right);
    assert_eq!(values(&set), vec!["", "later", "soon"]);

    assert_eq!(set.expired_at(99), set, "nothing has expired yet");
    let expired = set.expired_at(100);
    let before = dotted(&set);
    let after = dotted(&expired);
    assert_eq!(after.len(), before.len());
    for ((dot, s), (dot2, e)) in before.iter().zip(&after) {
        assert_eq!((dot, s.timestamp, s.expires_at), (dot2, e.timestamp, e.expires_at), "same dot, time, expiry");
        let soon = s.value.as_deref() == Some(&b"soon"[..]);
        assert_eq!(e.value, if soon { None } else { s.value.clone() }, "only the expired value goes");
    }
    assert_eq!(expired.join(), set.join(), "not an event");
    assert_eq!(expired.winner().map(|w| w.timestamp), set.winner().map(|w| w.timestamp));
    assert_eq!(values(&set.expired_at(1_000)), vec!["", "", ""]);
}

#[test]
fn the_expired_form_of_a_dot_wins_a_sync_either_way() {
    let (a, b) = (node(1), node(2));
    let base = DvvSet::update(DvvSet::new(ttl_val("x", 1, 100)), &DvvSet::default(), a);
    let set = DvvSet::update(DvvSet::new(ttl_val("y", 2, 500)), &base, b);
    let expired = set.expired_at(100);
    assert_ne!(expired, set);
    assert_eq!(expired.sync(&set), expired);
    assert_eq!(set.sync(&expired), expired);
    // A replica that also wrote since still takes the expired form of the old dot.
    let newer = DvvSet::update(DvvSet::new(val("z", 3)), &set, a);
    let merged = newer.sync(&expired);
    assert_eq!(merged, expired.sync(&newer));
    assert_eq!(merged, newer.expired_at(100));
    // Anonymous values have no dot; their two forms do not both survive either.
    let anon = DvvSet::new(ttl_val("x", 1, 100));
    let anon_expired = anon.expired_at(100);
    assert_eq!(anon.sync(&anon_expired), anon_expired);
    assert_eq!(anon_expired.sync(&anon), anon_expired);
    let other = DvvSet::new(ttl_val("w", 1, 100));
    assert_eq!(anon.sync(&other).expired_at(100), anon_expired, "one write's tombstone, once");
}

/// Found by the `version_codec` fuzz target (`fuzz/regressions/version_codec/`): a stored set
/// whose entry counter is u64::MAX overflowed in `collapse_to` (the dot of a list tail) and in
/// `update` (the next event).
#[test]
fn collapse_and_update_at_the_counter_limit_do_not_overflow() {
    let n = NodeId([1; 20]);
    let tomb = Sibling::tombstone;
    let set = DvvSet::from_parts(vec![(n, u64::MAX, vec![tomb(3), tomb(2)])], vec![tomb(1)]).unwrap();
    let mut collapsed = set.clone();
    assert_eq!(collapsed.collapse_to(1), 2);
    let kept: Vec<_> = collapsed.siblings().map(|(dot, s)| (dot.map(|d| d.counter), s.timestamp)).collect();
    assert_eq!(kept, vec![(Some(u64::MAX), 3)], "the newest value and its dot survive");
    let updated = DvvSet::update(DvvSet::with_context(&set.join(), tomb(4)), &set, n);
    // The new value, and the anonymous one the context could not have seen.
    assert_eq!((updated.counter(&n), updated.len()), (u64::MAX, 2), "the counter saturates");
    let blind = DvvSet::update(DvvSet::new(tomb(5)), &set, n);
    assert_eq!((blind.counter(&n), blind.len()), (u64::MAX, 4));
    assert_eq!(crate::version::codec::decode(&crate::version::codec::to_bytes(&blind)), Ok(blind));
    let fresh = DvvSet::update_above(DvvSet::new(tomb(6)), &DvvSet::default(), n, u64::MAX);
    assert_eq!(fresh.counter(&n), u64::MAX);
}

proptest! {
    #[test]
    fn sync_is_a_semilattice_merge(steps in proptest::collection::vec(step(), 0..40)) {
        let r = run(&steps);
        let (a, b, c) = (&r[0], &r[1], &r[2]);
        prop_assert_eq!(values(&a.sync(b)), values(&b.sync(a)));
        prop_assert_eq!(a.sync(b).join(), b.sync(a).join());
        prop_assert_eq!(values(&a.sync(a)), values(a));
        prop_assert_eq!(values(&a.sync(b).sync(c)), values(&a.sync(&b.sync(c))));
        prop_assert_eq!(a.sync(b).sync(c).join(), a.sync(&b.sync(c)).join());
        // The winner does not depend on merge order.
        let (x, y) = (a.sync(b).sync(c), c.sync(a).sync(b));
        prop_assert_eq!(x.winner(), y.winner());
    }

    #[test]
    fn an_update_supersedes_exactly_what_its_context_saw(steps in proptest::collection::vec(step(), 0..40), at in 0..3usize, from in 0..3usize) {
        let r = run(&steps);
        let ctx = r[from].join();
        let updated = DvvSet::update(DvvSet::with_context(&ctx, val("new", 1000)), &r[at], node(9));
        let survivors = r[at].siblings().filter(|(d, _)| d.is_none_or(|d| !ctx.covers(&d))).count();
        // The new value plus every old value whose dot the context had not seen.
        prop_assert_eq!(updated.len(), survivors + 1);
        prop_assert!(r[at].less(&updated));
    }

    #[test]
    fn sync_stays_a_semilattice_merge_with_expiry(steps in proptest::collection::vec(step_expiring(), 0..40)) {
        let r = run(&steps);
        let (a, b, c) = (&r[0], &r[1], &r[2]);
        // Exact equality: the histories hold no anonymous values, whose order is not canonical.
        prop_assert_eq!(a.sync(b), b.sync(a));
        prop_assert_eq!(&a.sync(a), a);
        prop_assert_eq!(a.sync(b).sync(c), a.sync(&b.sync(c)));
        let all = a.sync(b).sync(c);
        for replica in &r {
            prop_assert_eq!(replica.sync(&all), all.clone());
        }
    }

    /// Replicas that expire at the same instant and then sync hold what syncing first and
    /// expiring then gives. This holds because a dot is issued once: two sets that both list a
    /// dot hold the same write, at most one side expired. (For arbitrary sets, with two
    /// unrelated siblings under one dot, it does not.)
    #[test]
    fn expiring_commutes_with_sync(steps in proptest::collection::vec(step_expiring(), 0..40), now in 0..60u64) {
        let r = run(&steps);
        let (a, b) = (&r[0], &r[1]);
        prop_assert_eq!(a.expired_at(now).sync(&b.expired_at(now)), a.sync(b).expired_at(now));
        // Expiring one side only: the sync keeps its expired forms, whichever side it is.
        let (x, y) = (a.expired_at(now).sync(b), b.sync(&a.expired_at(now)));
        prop_assert_eq!(&x, &y);
        prop_assert_eq!(x.expired_at(now), a.sync(b).expired_at(now));
    }

    #[test]
    fn expiring_is_idempotent_and_no_event(steps in proptest::collection::vec(step_expiring(), 0..40), at in 0..3usize, t1 in 0..60u64, t2 in 0..60u64) {
        let set = &run(&steps)[at];
        let once = set.expired_at(t1);
        prop_assert_eq!(&once.expired_at(t1), &once);
        prop_assert_eq!(once.join(), set.join());
        prop_assert_eq!(once.len(), set.len());
        prop_assert!(!set.less(&once) && !once.less(set));
        prop_assert!(once.siblings().all(|(_, s)| !s.is_expired_at(t1)));
        for ((d1, s1), (d2, s2)) in set.siblings().zip(once.siblings()) {
            prop_assert_eq!((d1, s1.timestamp, s1.expires_at), (d2, s2.timestamp, s2.expires_at));
            prop_assert!(s2 == s1 || *s2 == s1.expired());
        }
        prop_assert_eq!(once.expired_at(t2), set.expired_at(t1.max(t2)));
    }

    #[test]
    fn merged_replicas_agree(steps in proptest::collection::vec(step(), 0..40)) {
        let r = run(&steps);
        let all = r[0].sync(&r[1]).sync(&r[2]);
        for replica in &r {
            prop_assert_eq!(values(&replica.sync(&all)), values(&all));
        }
    }
}
