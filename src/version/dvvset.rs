//! Dotted version vector sets (DVVSet), after Almeida et al. 2014 and the reference `dvvset`
//! Erlang module that Riak uses.
//!
//! A [`DvvSet`] is the causal state of one key on one replica: for each node that coordinated a
//! write, its counter `n` and the values of its most recent, still-concurrent events (newest
//! first; value `i` of the list has dot `(node, n - i)`), plus anonymous values (client writes not
//! yet given a dot). A [`VersionVector`] is the causal *context* handed to clients.
//!
//! Expiry is not an event: [`DvvSet::expired_at`] turns each expired value into a tombstone in
//! place (same dot, timestamp and expiry), so replicas that expire the same version hold the
//! same set. Until every replica has done so, two sets may hold one dot in both forms; `sync`
//! keeps the expired one.
//!
//! Laws checked by the property tests: `sync` is commutative, associative and idempotent (with
//! expiry steps in the histories too); `update` with the full local context leaves exactly one
//! value; a value survives an update iff the context had not seen its dot; expiring commutes
//! with `sync`, is idempotent and leaves the causal history alone.

use super::{Dot, NodeId, Sibling};

/// A version vector: per-node counters, sorted by node id, no zero entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionVector(pub Vec<(NodeId, u64)>);

impl VersionVector {
    /// Builds a vector from arbitrary entries: sorts, merges duplicates (max), drops zeros.
    pub fn from_entries(mut entries: Vec<(NodeId, u64)>) -> VersionVector {
        entries.sort();
        let mut out: Vec<(NodeId, u64)> = Vec::with_capacity(entries.len());
        for (node, n) in entries {
            if n == 0 {
                continue;
            }
            match out.last_mut() {
                Some(last) if last.0 == node => last.1 = last.1.max(n),
                _ => out.push((node, n)),
            }
        }
        VersionVector(out)
    }

    /// The counter recorded for `node` (0 when absent).
    pub fn get(&self, node: &NodeId) -> u64 {
        self.0.binary_search_by(|(id, _)| id.cmp(node)).map_or(0, |i| self.0[i].1)
    }

    /// Whether this context has seen `dot`.
    pub fn covers(&self, dot: &Dot) -> bool {
        self.get(&dot.node) >= dot.counter
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    node: NodeId,
    counter: u64,
    /// Values of the newest `values.len()` events of `node`, newest first.
    values: Vec<Sibling>,
}

/// The sibling set of one key with its causal history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DvvSet {
    entries: Vec<Entry>,
    anonymous: Vec<Sibling>,
}

impl DvvSet {
    /// A clock holding one anonymous value and no history (`dvvset:new/1`).
    pub fn new(value: Sibling) -> DvvSet {
        DvvSet { entries: Vec::new(), anonymous: vec![value] }
    }

    /// A client write: one anonymous value on top of the context `vv` (`dvvset:new/2`).
    pub fn with_context(vv: &VersionVector, value: Sibling) -> DvvSet {
        let entries = vv.0.iter().map(|&(node, counter)| Entry { node, counter, values: Vec::new() }).collect();
        DvvSet { entries, anonymous: vec![value] }
    }

    /// Merges two replica states (`dvvset:sync/2`): keeps every value not dominated by the other.
    pub fn sync(&self, other: &DvvSet) -> DvvSet {
        let anonymous = if self.less(other) {
            other.anonymous.clone()
        } else if other.less(self) {
            self.anonymous.clone()
        } else {
            let mut all = self.anonymous.clone();
            for v in &other.anonymous {
                if !all.contains(v) {
                    all.push(v.clone());
                }
            }
            drop_expired_duplicates(&mut all);
            all
        };
        DvvSet { entries: sync_entries(&self.entries, &other.entries), anonymous }
    }

    /// This set once expiry at `now_ms` has run: every value whose `expires_at` is at or before
    /// `now_ms` (anonymous ones too) becomes a tombstone in place, keeping its dot, timestamp
    /// and expiry ([`Sibling::expired`]). Not an event: entries, counters and the order of
    /// values are unchanged (so is [`DvvSet::join`]), and the result depends only on the set
    /// and `now_ms`, so every replica that expires the same version gets the same set. Repeating
    /// it changes nothing.
    pub fn expired_at(&self, now_ms: u64) -> DvvSet {
        let expire = |s: &Sibling| if s.is_expired_at(now_ms) { s.expired() } else { s.clone() };
        let entries = self
            .entries
            .iter()
            .map(|e| Entry { node: e.node, counter: e.counter, values: e.values.iter().map(expire).collect() })
            .collect();
        // Two anonymous values may now be one tombstone: keep it once, as `sync` would.
        let mut anonymous: Vec<Sibling> = Vec::with_capacity(self.anonymous.len());
        for s in self.anonymous.iter().map(expire) {
            if !anonymous.contains(&s) {
                anonymous.push(s);
            }
        }
        DvvSet { entries, anonymous }
    }

    /// The counter of `node`'s entry (0 when absent): `join().get(node)` without building the
    /// whole context.
    pub fn counter(&self, node: &NodeId) -> u64 {
        self.entries.binary_search_by(|e| e.node.cmp(node)).map_or(0, |i| self.entries[i].counter)
    }

    /// The causal context of this state (`dvvset:join/1`).
    pub fn join(&self) -> VersionVector {
        VersionVector(self.entries.iter().map(|e| (e.node, e.counter)).collect())
    }

    /// A coordinator event (`dvvset:update/3`): `new` is a client write made with
    /// [`DvvSet::with_context`] (or [`DvvSet::new`]), `old` the coordinator's stored state, `node`
    /// the coordinator. The new value gets the next dot of `node`; values of `old` the context had
    /// not seen remain as siblings.
    pub fn update(new: DvvSet, old: &DvvSet, node: NodeId) -> DvvSet {
        DvvSet::update_above(new, old, node, 0)
    }

    /// [`DvvSet::update`] where `node`'s entry, when it holds no value of `node` (a key `node`
    /// never wrote, or whose history was reaped), continues above `floor` rather than at its
    /// counter + 1: a node's dots are then never issued twice (see `coordinator::dots`).
    pub fn update_above(new: DvvSet, old: &DvvSet, node: NodeId, floor: u64) -> DvvSet {
        let DvvSet { entries, mut anonymous } = new;
        let value = anonymous.pop();
        let context = DvvSet { entries, anonymous };
        let synced = context.sync(old);
        match value {
            Some(v) => DvvSet { entries: event(synced.entries, node, v, floor), anonymous: synced.anonymous },
            None => synced,
        }
    }

    /// Whether `self` causally precedes `other` strictly (`dvvset:less/2`).
    pub fn less(&self, other: &DvvSet) -> bool {
        greater(&other.entries, &self.entries)
    }

    /// Number of values (siblings), anonymous included.
    pub fn len(&self) -> usize {
        self.entries.iter().map(|e| e.values.len()).sum::<usize>() + self.anonymous.len()
    }

    /// Whether the set holds no value at all (only history).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every value with its dot (`None` for anonymous values).
    pub fn siblings(&self) -> impl Iterator<Item = (Option<Dot>, &Sibling)> {
        let anon = self.anonymous.iter().map(|v| (None, v));
        let dotted = self.entries.iter().flat_map(|e| {
            e.values
                .iter()
                .enumerate()
                .map(move |(i, v)| (Some(Dot { node: e.node, counter: e.counter - i as u64 }), v))
        });
        anon.chain(dotted)
    }

    /// The deterministic winner that plain Redis commands see: greatest (timestamp, dot).
    pub fn winner(&self) -> Option<&Sibling> {
        self.siblings().max_by(|(da, a), (db, b)| (a.timestamp, da).cmp(&(b.timestamp, db))).map(|x| x.1)
    }

    /// Drops the oldest values (by timestamp, then dot) until at most `cap` remain, keeping the
    /// causal history (dropped dots stay "seen"). Returns how many were collapsed.
    pub fn collapse_to(&mut self, cap: usize) -> usize {
        let cap = cap.max(1);
        let mut dropped = 0;
        while self.len() > cap {
            // Only the oldest value of each entry (its list tail) or an anonymous value may go:
            // an entry's list must stay a contiguous run of its newest events.
            let mut victim: Option<(u64, Option<Dot>, Option<usize>, usize)> = None;
            for (ei, e) in self.entries.iter().enumerate() {
                if let Some(v) = e.values.last() {
                    // The tail's dot; `1 <= values.len() <= counter`, so this cannot overflow even at
                    // counter u64::MAX (which `counter + 1 - len` did).
                    let dot = Some(Dot { node: e.node, counter: e.counter - (e.values.len() as u64 - 1) });
                    if victim.as_ref().is_none_or(|w| (v.timestamp, dot) < (w.0, w.1)) {
                        victim = Some((v.timestamp, dot, Some(ei), 0));
                    }
                }
            }
            for (ai, v) in self.anonymous.iter().enumerate() {
                if victim.as_ref().is_none_or(|w| (v.timestamp, None) < (w.0, w.1)) {
                    victim = Some((v.timestamp, None, None, ai));
                }
            }
            match victim {
                Some((_, _, Some(ei), _)) => {
                    self.entries[ei].values.pop();
                }
                Some((_, _, None, ai)) => {
                    self.anonymous.remove(ai);
                }
                None => break,
            }
            dropped += 1;
        }
        dropped
    }

    /// Raw parts for encoding: `(node, counter, values newest-first)` per entry, then anonymous.
    pub(crate) fn parts(&self) -> (impl Iterator<Item = (NodeId, u64, &[Sibling])>, &[Sibling]) {
        (self.entries.iter().map(|e| (e.node, e.counter, e.values.as_slice())), &self.anonymous)
    }

    /// Rebuilds a set from raw parts; `None` when they violate the invariants (unsorted or
    /// duplicate nodes, more values than events).
    pub(crate) fn from_parts(entries: Vec<(NodeId, u64, Vec<Sibling>)>, anonymous: Vec<Sibling>) -> Option<DvvSet> {
        let sorted = entries.windows(2).all(|w| w[0].0 < w[1].0);
        let valid = entries.iter().all(|(_, n, vs)| vs.len() as u64 <= *n);
        if !sorted || !valid {
            return None;
        }
        let entries = entries.into_iter().map(|(node, counter, values)| Entry { node, counter, values }).collect();
        Some(DvvSet { entries, anonymous })
    }
}

fn sync_entries(a: &[Entry], b: &[Entry]) -> Vec<Entry> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (&a[i], &b[j]);
        match x.node.cmp(&y.node) {
            std::cmp::Ordering::Less => {
                out.push(x.clone());
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(y.clone());
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(merge(x, y));
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// `dvvset:merge/5`: same node, keep the values neither side has seen superseded. A dot both
/// sides still list gets [`same_dot`] of its two forms.
fn merge(x: &Entry, y: &Entry) -> Entry {
    let (hi, lo) = if x.counter >= y.counter { (x, y) } else { (y, x) };
    let (lh, ll) = (hi.values.len() as u64, lo.values.len() as u64);
    let keep =
        if hi.counter - lh >= lo.counter - ll { hi.values.len() } else { (hi.counter - lo.counter + ll) as usize };
    // Value `i` of `hi` has dot `hi.counter - i`: value `i - shift` of `lo`, if `lo` lists it.
    let shift = hi.counter - lo.counter;
    let values = hi.values[..keep]
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let in_lo =
                (i as u64).checked_sub(shift).and_then(|j| usize::try_from(j).ok()).and_then(|j| lo.values.get(j));
            in_lo.map_or(v, |w| same_dot(v, w)).clone()
        })
        .collect();
    Entry { node: hi.node, counter: hi.counter, values }
}

/// The form of a dot two sets both list. A dot is issued once, so the two are one write, the
/// same or one side's expired ([`DvvSet::expired_at`]): the expired form, which has no value,
/// wins. Any other difference (only corrupt data has one) is settled by the same total order
/// (value — absent first —, timestamp, expiry), so `sync` stays commutative, associative and
/// idempotent whatever the sets hold.
fn same_dot<'a>(a: &'a Sibling, b: &'a Sibling) -> &'a Sibling {
    let key = |s: &'a Sibling| (&s.value, s.timestamp, s.expires_at);
    if key(b) < key(a) {
        b
    } else {
        a
    }
}

/// Anonymous values have no dot to tell that two of them are one write; an unexpired value
/// with an expiry is dropped when its expired form ([`Sibling::expired`]) is among them, so
/// that the two forms do not both survive a `sync`. (The coordinator gives every write a dot,
/// so stored sets hold no anonymous values; this keeps `DvvSet`'s own laws whole.)
fn drop_expired_duplicates(all: &mut Vec<Sibling>) {
    let expired: Vec<Sibling> = all.iter().filter(|s| s.value.is_none() && s.expires_at.is_some()).cloned().collect();
    if !expired.is_empty() {
        all.retain(|s| s.value.is_none() || s.expires_at.is_none() || !expired.contains(&s.expired()));
    }
}

/// `dvvset:event/3`: a new event of `node` carrying `value`.
/// An entry without values may jump to `floor + 1`: values are listed for the newest counters
/// of an entry, so only an entry with none can jump without renaming any.
fn event(mut entries: Vec<Entry>, node: NodeId, value: Sibling, floor: u64) -> Vec<Entry> {
    match entries.binary_search_by(|e| e.node.cmp(&node)) {
        Ok(i) => {
            let e = &mut entries[i];
            // Saturating: a counter at u64::MAX (only corrupt or hostile data gets there) must not
            // panic or wrap to 0, which would leave more values than events (undecodable).
            e.counter = if e.values.is_empty() { e.counter.max(floor) } else { e.counter }.saturating_add(1);
            e.values.insert(0, value);
        }
        Err(i) => entries.insert(i, Entry { node, counter: floor.saturating_add(1), values: vec![value] }),
    }
    entries
}

/// `dvvset:greater/3`: whether history `a` strictly dominates history `b`.
fn greater(a: &[Entry], b: &[Entry]) -> bool {
    let (mut i, mut j, mut strict) = (0, 0, false);
    loop {
        match (a.get(i), b.get(j)) {
            (None, None) => return strict,
            (Some(_), None) => return true,
            (None, Some(_)) => return false,
            (Some(x), Some(y)) => match x.node.cmp(&y.node) {
                std::cmp::Ordering::Equal => {
                    if x.counter < y.counter {
                        return false;
                    }
                    strict |= x.counter > y.counter;
                    i += 1;
                    j += 1;
                }
                std::cmp::Ordering::Less => {
                    strict = true;
                    i += 1;
                }
                std::cmp::Ordering::Greater => return false,
            },
        }
    }
}

#[cfg(test)]
#[path = "dvvset_tests.rs"]
mod tests;
