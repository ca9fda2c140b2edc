//! Ring construction: tokens of every member, then one clockwise walk per slot that fills the
//! precomputed preference table. Called only by [`super::Ring::new`]; pure and deterministic.
//!
//! The walk for a slot starts at the first token whose position is ≥ the slot's position
//! (wrapping past the top of the ring) and collects distinct physical nodes. The first N of them
//! are chosen zone-aware: a node whose zone is already used is set aside until every zone that
//! owns tokens has been used, then the set-aside nodes come back in walk order. Everything after
//! the first N is plain walk order (the sloppy-quorum fallbacks). Consecutive slots that start at
//! the same token share their row, so sparse rings cost one walk per token rather than per slot.
//!
//! A walk stops as soon as it has N primaries and `depth` distinct nodes. It steps token by token
//! for at most [`STEP_BUDGET`]` × depth` tokens; a walk that still needs nodes then (a rare node:
//! say one single-token member in its own zone) switches to jumping — the remaining distinct
//! nodes in walk order are the unmet members sorted by their next token (binary search in
//! per-member token lists) — so construction stays ≈ O(slots × (depth + members·log tokens))
//! whatever the vnode and zone layout. The 31 + 1 rare-zone case took 2.2 s stepping alone and
//! ≈ 65 ms with jumps (test `a_rare_zone_does_not_make_construction_slow`). The jump yields the
//! same rows as stepping: the property tests pass with a step budget of 0 (all jumps) too.

use std::collections::VecDeque;

use super::{token, Placement, SLOTS};

/// The sorted token list: `(position, member index)`, ordered by position then member index so
/// that even a (2^-64-unlikely) position collision is broken the same way on every node.
pub(super) fn tokens(members: &[Placement]) -> Vec<(u64, u16)> {
    let total: usize = members.iter().map(|m| m.tokens() as usize).sum();
    let mut tokens = Vec::with_capacity(total);
    for (index, member) in members.iter().enumerate() {
        // `Ring::new` caps the member count far below u16::MAX.
        let index = index as u16;
        tokens.extend((0..member.tokens()).map(|i| (token(&member.id, i), index)));
    }
    tokens.sort_unstable();
    tokens
}

/// Zone index of every member (members without tokens get index 0; they never appear in a
/// walk) and the number of distinct zones among members that own tokens.
pub(super) fn zones(members: &[Placement]) -> (Vec<u16>, usize) {
    let mut names: Vec<&str> = members.iter().filter(|m| m.tokens() > 0).map(|m| m.zone.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let zone_of = members.iter().map(|m| names.binary_search(&m.zone.as_str()).unwrap_or(0) as u16).collect();
    (zone_of, names.len())
}

/// Fills the `SLOTS × depth` preference table (member indices, primaries first).
pub(super) fn table(tokens: &[(u64, u16)], zone_of: &[u16], zones: usize, replicas: usize, depth: usize) -> Vec<u16> {
    if tokens.is_empty() || depth == 0 {
        return Vec::new();
    }
    let mut walker = Walker::new(tokens, zone_of, zones, replicas, depth);
    let mut table = Vec::with_capacity(SLOTS * depth);
    let mut previous_start = usize::MAX;
    for slot in 0..SLOTS {
        let position = super::slot_position(slot as u16);
        let start = tokens.partition_point(|&(p, _)| p < position) % tokens.len();
        if start == previous_start {
            let row = table.len() - depth;
            table.extend_from_within(row..);
        } else {
            walker.walk(start, &mut table);
            previous_start = start;
        }
    }
    table
}

/// Tokens a walk steps through per preference-list entry before it switches to jumping.
const STEP_BUDGET: usize = 16;

/// Scratch state for one slot's walk, reused across slots so the build allocates once.
struct Walker<'a> {
    tokens: &'a [(u64, u16)],
    zone_of: &'a [u16],
    zones: usize,
    replicas: usize,
    depth: usize,
    /// Per member: indices into `tokens` of its tokens, ascending.
    member_tokens: Vec<Vec<u32>>,
    /// Jump mode: `(step, member)` of the members not met yet.
    unmet: Vec<(usize, u16)>,
    /// Per member: already met on this walk.
    seen: Vec<bool>,
    /// Per member: chosen among the first N on this walk.
    primary: Vec<bool>,
    /// Per zone: used by a chosen primary on this walk.
    zone_used: Vec<bool>,
    /// Distinct members in walk order.
    order: Vec<u16>,
    /// Chosen primaries, in choice order.
    chosen: Vec<u16>,
    /// Members passed over because their zone was taken, in walk order.
    set_aside: VecDeque<u16>,
    zones_used: usize,
}

impl<'a> Walker<'a> {
    fn new(tokens: &'a [(u64, u16)], zone_of: &'a [u16], zones: usize, replicas: usize, depth: usize) -> Self {
        let mut member_tokens = vec![Vec::new(); zone_of.len()];
        for (index, &(_, member)) in tokens.iter().enumerate() {
            if let Some(list) = member_tokens.get_mut(usize::from(member)) {
                // `Ring::new` caps the token count far below u32::MAX.
                list.push(index as u32);
            }
        }
        Walker {
            tokens,
            member_tokens,
            unmet: Vec::new(),
            zone_of,
            zones,
            replicas,
            depth,
            seen: vec![false; zone_of.len()],
            primary: vec![false; zone_of.len()],
            zone_used: vec![false; zones],
            order: Vec::with_capacity(depth),
            chosen: Vec::with_capacity(replicas),
            set_aside: VecDeque::new(),
            zones_used: 0,
        }
    }

    /// Walks clockwise from token index `start` and appends one `depth`-long row to `out`.
    fn walk(&mut self, start: usize, out: &mut Vec<u16>) {
        self.reset();
        let n = self.tokens.len();
        let budget = n.min(STEP_BUDGET * self.depth);
        let mut done = false;
        for step in 0..budget {
            if self.meet(self.tokens[(start + step) % n].1) {
                done = true;
                break;
            }
        }
        if !done && budget < n {
            // Every unmet member's tokens lie at steps ≥ budget: its first token from there on,
            // wrapping, is where the walk would meet it.
            let from = (start + budget) % n;
            self.unmet.clear();
            for (member, list) in self.member_tokens.iter().enumerate() {
                if self.seen[member] {
                    continue;
                }
                if let Some(&at) = list.get(list.partition_point(|&t| (t as usize) < from)).or(list.first()) {
                    self.unmet.push(((at as usize + n - start) % n, member as u16));
                }
            }
            self.unmet.sort_unstable();
            for index in 0..self.unmet.len() {
                if self.meet(self.unmet[index].1) {
                    break;
                }
            }
        }
        let fallbacks = self.order.iter().copied().filter(|&m| !self.primary[usize::from(m)]);
        out.extend(self.chosen.iter().copied().chain(fallbacks).take(self.depth));
    }

    /// Meets `member` on the walk; returns whether the row is complete (N primaries, `depth`
    /// distinct nodes).
    fn meet(&mut self, member: u16) -> bool {
        let m = usize::from(member);
        if self.seen[m] {
            return false;
        }
        self.seen[m] = true;
        self.order.push(member);
        if self.chosen.len() < self.replicas {
            let zone = usize::from(self.zone_of[m]);
            if !self.zone_used[zone] || self.zones_used == self.zones {
                self.choose(member);
            } else {
                self.set_aside.push_back(member);
            }
        }
        self.chosen.len() == self.replicas && self.order.len() >= self.depth
    }

    /// Takes `member` as the next primary; once every zone is used, the set-aside members follow.
    fn choose(&mut self, member: u16) {
        let m = usize::from(member);
        self.primary[m] = true;
        self.chosen.push(member);
        let zone = usize::from(self.zone_of[m]);
        if !self.zone_used[zone] {
            self.zone_used[zone] = true;
            self.zones_used += 1;
        }
        if self.zones_used == self.zones {
            while self.chosen.len() < self.replicas {
                let Some(next) = self.set_aside.pop_front() else { break };
                self.primary[usize::from(next)] = true;
                self.chosen.push(next);
            }
        }
    }

    fn reset(&mut self) {
        for &m in &self.order {
            self.seen[usize::from(m)] = false;
            self.primary[usize::from(m)] = false;
        }
        self.zone_used.iter_mut().for_each(|used| *used = false);
        self.order.clear();
        self.chosen.clear();
        self.set_aside.clear();
        self.zones_used = 0;
    }
}
