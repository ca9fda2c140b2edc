//! Known-answer and edge-case tests of the ring: positions, pinned token hashes, empty and
//! one-member rings, limits, zero-weight members, out-of-range slots, ranges, size and speed.

use std::time::{Duration, Instant};

use super::*;

fn id(byte: u8) -> NodeId {
    NodeId([byte; 20])
}

fn members(count: u8) -> Vec<Placement> {
    (1..=count).map(|b| Placement::new(id(b))).collect()
}

#[test]
fn slot_positions_divide_the_ring_evenly() {
    assert_eq!(slot_position(0), 0);
    assert_eq!(slot_position(1), 1 << 50);
    assert_eq!(slot_position(16383), 16383 << 50);
    assert_eq!(slot_position(16383).wrapping_add(1 << 50), 0, "the last slot is one step before the wrap");
}

#[test]
fn token_hash_is_pinned() {
    // Computed once with keys ("cartwhee", "l-ring-1") and cross-checked against an independent
    // SipHash-2-4 implementation; a change here reshuffles the slots of every running cluster.
    assert_eq!(token(&id(0), 0), 0x8641_0542_0e43_4428);
    assert_eq!(token(&id(0xab), 7), 0x3f57_0faf_a1e3_01be);
    assert_ne!(token(&id(1), 0), token(&id(1), 1));
    assert_ne!(token(&id(1), 0), token(&id(2), 0));
}

#[test]
fn empty_ring_has_no_owners() {
    let ring = Ring::new(Vec::new(), 3).unwrap();
    assert_eq!(ring.replicas(), 0);
    assert!(ring.members().is_empty());
    assert_eq!(ring.primary(0), None);
    assert_eq!(ring.preference_list(100).count(), 0);
    assert!(!ring.is_replica(5, &id(1)));
    assert_eq!(ring.ranges(), vec![(0, 16383)]);
    assert_eq!(ring.share(&id(1)), Share::default());
    let empty = Ring::empty();
    assert_eq!((empty.replicas(), empty.primary(0), empty.ranges()), (0, None, vec![(0, 16383)]));
}

#[test]
fn one_member_owns_everything() {
    let ring = Ring::new(members(1), 3).unwrap();
    assert_eq!(ring.replicas(), 1, "N is clamped to the member count");
    for slot in [0, 1, 8000, 16383] {
        assert_eq!(ring.preference_list(slot).collect::<Vec<_>>(), vec![&id(1)]);
        assert_eq!(ring.fallbacks(slot).count(), 0);
        assert!(ring.is_replica(slot, &id(1)));
    }
    assert_eq!(ring.share(&id(1)), Share { primary_slots: SLOTS, replica_slots: SLOTS });
    assert_eq!(ring.ranges(), vec![(0, 16383)]);
}

#[test]
fn replicas_are_clamped_to_at_least_one_and_at_most_the_owners() {
    assert_eq!(Ring::new(members(5), 0).unwrap().replicas(), 1);
    assert_eq!(Ring::new(members(5), 9).unwrap().replicas(), 5);
    assert_eq!(Ring::new(members(20), 100).unwrap().replicas(), MAX_REPLICAS);
}

#[test]
fn three_nodes_at_n3_replicate_every_slot_everywhere() {
    let ring = Ring::new(members(3), 3).unwrap();
    for slot in 0..SLOTS as u16 {
        let mut primaries: Vec<&NodeId> = ring.primaries(slot).collect();
        primaries.sort();
        assert_eq!(primaries, vec![&id(1), &id(2), &id(3)]);
    }
    assert_eq!(ring.share(&id(2)).replica_slots, SLOTS);
}

#[test]
fn bad_member_lists_are_errors() {
    let mut twice = members(3);
    twice.push(Placement::new(id(2)));
    assert_eq!(Ring::new(twice, 3).unwrap_err(), RingError::DuplicateMember(id(2)));

    let greedy = vec![Placement { weight: u32::MAX, ..Placement::new(id(1)) }];
    assert!(matches!(Ring::new(greedy, 3), Err(RingError::TooManyTokens { .. })));

    let crowd: Vec<Placement> = (0..=MAX_MEMBERS as u32)
        .map(|i| {
            let mut bytes = [0u8; 20];
            bytes[..4].copy_from_slice(&i.to_be_bytes());
            Placement { vnodes: 1, ..Placement::new(NodeId(bytes)) }
        })
        .collect();
    assert!(matches!(Ring::new(crowd, 3), Err(RingError::TooManyMembers { .. })));
}

#[test]
fn a_zero_weight_member_is_listed_but_owns_nothing() {
    let mut list = members(3);
    list[1].weight = 0;
    let ring = Ring::new(list, 3).unwrap();
    assert_eq!(ring.members().len(), 3);
    assert_eq!(ring.replicas(), 2);
    assert_eq!(ring.share(&id(2)), Share::default());
    assert!((0..SLOTS as u16).all(|slot| ring.preference_list(slot).all(|n| *n != id(2))));
}

#[test]
fn slots_out_of_range_have_no_owners() {
    let ring = Ring::new(members(4), 3).unwrap();
    assert_eq!(ring.primary(16384), None);
    assert_eq!(ring.preference_list(u16::MAX).count(), 0);
    assert_eq!(ring.fallbacks(20000).count(), 0);
    assert!(!ring.is_replica(16384, &id(1)));
}

#[test]
fn ranges_are_maximal_runs_covering_every_slot() {
    let ring = Ring::new(members(7), 3).unwrap();
    let ranges = ring.ranges();
    assert_eq!(ranges.first().map(|r| r.0), Some(0));
    assert_eq!(ranges.last().map(|r| r.1), Some(16383));
    let primaries = |slot: u16| ring.primaries(slot).collect::<Vec<_>>();
    for pair in ranges.windows(2) {
        assert_eq!(pair[0].1 + 1, pair[1].0, "ranges are contiguous");
        assert_ne!(primaries(pair[0].1), primaries(pair[1].0), "ranges are maximal");
    }
    for &(first, last) in &ranges {
        assert!(first <= last);
        assert!((first..=last).all(|slot| primaries(slot) == primaries(first)));
    }
}

#[test]
fn depth_keeps_all_small_clusters_and_3n_or_32_of_large_ones() {
    let small = Ring::new(members(12), 3).unwrap();
    assert_eq!(small.preference_list(42).count(), 12);
    assert_eq!(small.fallbacks(42).count(), 9);
    let large = Ring::new((1..=40).map(|b| Placement { vnodes: 64, ..Placement::new(id(b)) }).collect(), 3).unwrap();
    assert_eq!(large.preference_list(42).count(), 32);
    let wide = Ring::new((1..=60).map(|b| Placement { vnodes: 64, ..Placement::new(id(b)) }).collect(), 16).unwrap();
    assert_eq!(wide.preference_list(42).count(), 48);
}

#[test]
fn build_time_32_nodes() {
    let members: Vec<Placement> = (1..=32u8).map(|b| Placement::new(NodeId([b.wrapping_mul(37); 20]))).collect();
    let started = Instant::now();
    let ring = Ring::new(members, 3).unwrap();
    let elapsed = started.elapsed();
    println!("32 nodes × {DEFAULT_VNODES} vnodes: built in {elapsed:?}, table {} bytes", ring.table.len() * 2);
    assert_eq!(ring.table.len() * 2, 1 << 20, "32 × 16384 u16 = 1 MiB");
    assert!(elapsed < Duration::from_secs(2), "construction took {elapsed:?}");
}

#[test]
fn a_rare_zone_does_not_make_construction_slow() {
    // 31 nodes in one zone and a single one-token node in another: every slot's walk must reach
    // that one token to give its primaries two zones.
    let mut members: Vec<Placement> =
        (1..=31u8).map(|b| Placement { zone: "a".into(), ..Placement::new(id(b)) }).collect();
    members.push(Placement { zone: "b".into(), vnodes: 1, ..Placement::new(id(99)) });
    let started = Instant::now();
    let ring = Ring::new(members, 3).unwrap();
    let elapsed = started.elapsed();
    println!("31 + 1 rare-zone nodes: built in {elapsed:?}");
    assert!((0..SLOTS as u16).all(|slot| ring.is_replica(slot, &id(99))), "the rare zone holds every slot");
    assert!(elapsed < Duration::from_secs(2), "construction took {elapsed:?}");
}
