//! One shard of the memory store: a table of one-`u64` states, the leases of concurrency
//! limits, and what it takes to apply a request and to take it back.

use std::collections::HashMap;
use std::sync::Arc;

use super::journal::DirtyShards;
use super::table::Table;
use super::when_full::WhenFull;
use crate::algorithm::LeaseSet;
use crate::{Algorithm, Concurrency, Distinct, Lease, LimitRequest, Nanos, Outcome, StoreError};

/// How far behind the caller's `now` a state must lie before a sweep drops it, so that threads
/// whose clocks read a little behind never see a dropped state they would still have counted.
const SWEEP_GRACE: Nanos = crate::NANOS_PER_SEC;

/// How many slots past a new key's home an eviction looks at first for the state nearest rest
/// (twice as many, again and again, while those hold no state: see [`Shard::victim`]).
const EVICTION_WINDOW: usize = 16;

/// What to do to take back an applied request.
#[derive(Debug)]
pub(super) enum Undo {
    Nothing,
    State {
        key: u64,
        old: u64,
    },
    /// A distinct-value limit's count, with its old state, and the entry of its new value, to
    /// forget: an entry it replaced was of an ended period, at rest, as good as none.
    Distinct {
        count: u64,
        old: u64,
        entry: u64,
    },
    Lease(Lease),
}

impl Undo {
    /// Whether the step wrote states (that a journal may have to keep).
    pub(super) fn wrote(&self) -> bool {
        matches!(self, Self::State { .. } | Self::Distinct { .. })
    }
}

#[derive(Debug)]
pub(super) struct Shard {
    table: Table,
    leases: HashMap<u64, LeaseSet>,
    /// No state in the table is smaller: when this lies ahead of a sweep's horizon, nothing is
    /// at rest and a full sweep is skipped.
    rest_floor: u64,
    cursor: usize,
    max_len: usize,
    /// New partitions of anonymous requests are refused once the table holds this many.
    pub(super) anonymous_max: usize,
    when_full: WhenFull,
    pub(super) stats: ShardStats,
    /// Long-lived states written since the journal last took them (`None`: not journaled).
    pub(super) journal: Option<Vec<(u64, u64)>>,
    /// Whether this shard's mark is set for the next take (see `DirtyShards`).
    pub(super) journal_marked: bool,
    /// This shard's place, and the marks it sets when it first notes a state after a take.
    marks: Option<(usize, Arc<DirtyShards>)>,
}

/// Counters of one shard, summed into [`MemoryStoreStats`](super::MemoryStoreStats).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ShardStats {
    pub(super) swept: u64,
    pub(super) evicted: u64,
    pub(super) refused: u64,
}

impl Shard {
    pub(super) fn new(
        max_len: usize,
        when_full: WhenFull,
        marks: Option<(usize, Arc<DirtyShards>)>,
    ) -> Self {
        Self {
            table: Table::new(),
            leases: HashMap::new(),
            rest_floor: u64::MAX,
            cursor: 0,
            max_len,
            anonymous_max: max_len,
            when_full,
            stats: ShardStats::default(),
            journal: marks.is_some().then(Vec::new),
            journal_marked: false,
            marks,
        }
    }

    /// Notes `(key, state)` for the journal, marking this shard for the next take.
    fn note(&mut self, key: u64, state: u64) {
        if let Some(pending) = &mut self.journal {
            pending.push((key, state));
            if !self.journal_marked {
                self.journal_marked = true;
                if let Some((index, marks)) = &self.marks {
                    marks.mark(*index);
                }
            }
        }
    }

    pub(super) fn len(&self) -> usize {
        self.table.len() + self.leases.len()
    }

    pub(super) fn bytes(&self) -> usize {
        self.table.bytes() + self.leases.capacity() * std::mem::size_of::<(u64, LeaseSet)>()
    }

    /// Applies one request: decides it and, when it is admitted with a cost, stores the new
    /// state. Returns the outcome and how to take it back.
    pub(super) fn apply(
        &mut self,
        request: &LimitRequest<'_>,
        now: Nanos,
    ) -> Result<(Outcome, Undo), StoreError> {
        let key = request.key.get();
        let slot = self.table.probe(key);
        let old = slot.map_or(0, |index| self.table.state_at(index));
        let Some(transition) = request.algorithm.decide(old, now, request.cost) else {
            return self.apply_other(request, now);
        };
        if transition.state == old {
            return Ok((transition.outcome, Undo::Nothing));
        }
        match slot {
            Ok(index) => self.table.set_state_at(index, transition.state),
            Err(index) if request.anonymous => {
                self.insert_anonymous(key, transition.state, now, index)?;
            }
            Err(index) => self.insert(key, transition.state, now, index)?,
        }
        self.record(request, key, transition.state);
        Ok((transition.outcome, Undo::State { key, old }))
    }

    /// Stores `state` for `key` (a distinct-value limit's count or value entry) and notes it
    /// for the journal; out of the hot path of the one-`u64` algorithms.
    fn write(
        &mut self,
        request: &LimitRequest<'_>,
        key: u64,
        state: u64,
        now: Nanos,
    ) -> Result<(), StoreError> {
        match self.table.probe(key) {
            Ok(index) => self.table.set_state_at(index, state),
            Err(index) if request.anonymous => self.insert_anonymous(key, state, now, index)?,
            Err(index) => self.insert(key, state, now, index)?,
        }
        self.record(request, key, state);
        Ok(())
    }

    /// Applies a request to a distinct-value limit: its count and its value's entry, both in
    /// this shard (see [`Distinct::value_key`]), written together or not at all.
    #[inline(never)]
    fn count_value(
        &mut self,
        limit: &Distinct,
        request: &LimitRequest<'_>,
        now: Nanos,
    ) -> Result<(Outcome, Undo), StoreError> {
        let key = request.key.get();
        let state_of =
            |table: &Table, key: u64| table.probe(key).map_or(0, |at| table.state_at(at));
        let count = state_of(&self.table, key);
        let entry = request
            .value
            .map(|value| Distinct::value_key(request.key, value).get());
        let seen = entry.map(|entry| state_of(&self.table, entry));
        let step = limit.decide(count, seen, now, request.cost);
        let (Some(entry), Some(seen), Some(state)) = (entry, seen, step.value) else {
            return Ok((step.outcome, Undo::Nothing));
        };
        if step.count == count && state == seen {
            return Ok((step.outcome, Undo::Nothing));
        }
        self.write(request, entry, state, now)?;
        if let Err(full) = self.write(request, key, step.count, now) {
            self.put_back(entry, 0);
            return Err(full);
        }
        Ok((
            step.outcome,
            Undo::Distinct {
                count: key,
                old: count,
                entry,
            },
        ))
    }

    /// Applies a request to a limit whose state is not one `u64`: one exit out of line from
    /// [`apply`](Self::apply), whose result then stays in registers (measured: an early exit
    /// per such algorithm made every decision a third slower).
    #[inline(never)]
    fn apply_other(
        &mut self,
        request: &LimitRequest<'_>,
        now: Nanos,
    ) -> Result<(Outcome, Undo), StoreError> {
        match request.algorithm {
            Algorithm::Concurrency(limit) => Ok(self.take_lease(limit, request, now)),
            Algorithm::Distinct(limit) => self.count_value(limit, request, now),
            Algorithm::TokenBucket(_) | Algorithm::Window(_) | Algorithm::Sliding(_) => {
                unreachable!("their state is one u64, decided by `apply`")
            }
        }
    }

    /// Applies a request to a concurrency limit; kept out of the one-`u64` path.
    #[inline(never)]
    fn take_lease(
        &mut self,
        limit: &Concurrency,
        request: &LimitRequest<'_>,
        now: Nanos,
    ) -> (Outcome, Undo) {
        let key = request.key.get();
        let leases = self.leases.entry(key).or_default();
        let (outcome, lease) = limit.decide(leases, request.key, now, request.cost);
        if leases.is_empty() {
            self.leases.remove(&key);
        }
        (outcome, lease.map_or(Undo::Nothing, Undo::Lease))
    }

    /// Notes a long-lived state for the journal; whether anything was noted.
    pub(super) fn record(&mut self, request: &LimitRequest<'_>, key: u64, state: u64) -> bool {
        if self.journal.is_some() && request.algorithm.is_long_lived() {
            self.note(key, state);
            true
        } else {
            false
        }
    }

    /// Puts back a state read from a journal (a state already at rest is left out).
    pub(super) fn restore(&mut self, key: u64, state: u64, now: Nanos) -> Result<(), StoreError> {
        if state <= now {
            return Ok(());
        }
        match self.table.probe(key) {
            Ok(index) => self.table.set_state_at(index, state),
            Err(index) => self.insert(key, state, now, index)?,
        }
        Ok(())
    }

    /// Gives back the units of a request admitted at `decided_at`.
    pub(super) fn refund(&mut self, request: &LimitRequest<'_>, decided_at: Nanos) {
        self.give_back(request, |state| {
            request.algorithm.refund(state, decided_at, request.cost)
        });
    }

    /// Gives back what a request admitted at `decided_at` to wait for its turn took, its
    /// admission having stored `reserved` (see `Algorithm::withdraw`).
    pub(super) fn withdraw(
        &mut self,
        request: &LimitRequest<'_>,
        decided_at: Nanos,
        reserved: Nanos,
    ) {
        self.give_back(request, |state| {
            request
                .algorithm
                .withdraw(state, decided_at, reserved, request.cost)
        });
    }

    /// Replaces the state of `request`'s partition, if it has one, with what `given_back`
    /// makes of it.
    fn give_back(
        &mut self,
        request: &LimitRequest<'_>,
        given_back: impl FnOnce(u64) -> Option<u64>,
    ) {
        if let Ok(index) = self.table.probe(request.key.get()) {
            if let Some(state) = given_back(self.table.state_at(index)) {
                self.table.set_state_at(index, state);
                self.rest_floor = self.rest_floor.min(state);
                self.record(request, request.key.get(), state);
            }
        }
    }

    /// Takes back a request applied under the same lock.
    pub(super) fn undo(&mut self, undo: Undo) {
        match undo {
            Undo::Nothing => {}
            Undo::State { key, old } => self.put_back(key, old),
            Undo::Distinct { count, old, entry } => {
                self.put_back(entry, 0);
                self.put_back(count, old);
            }
            Undo::Lease(lease) => self.release(&lease),
        }
    }

    /// Puts `key`'s state back to `old` (removed when 0).
    fn put_back(&mut self, key: u64, old: u64) {
        if let Ok(index) = self.table.probe(key) {
            if old == 0 {
                self.table.remove_at(index);
            } else {
                self.table.set_state_at(index, old);
            }
        }
        // A journal replays in order: the state taken back follows the one written.
        self.note(key, old);
    }

    pub(super) fn release(&mut self, lease: &Lease) {
        let key = lease.key.get();
        if let Some(leases) = self.leases.get_mut(&key) {
            leases.release(lease);
            if leases.is_empty() {
                self.leases.remove(&key);
            }
        }
    }

    /// Inserts a key of an anonymous request: as [`insert`](Self::insert), within the
    /// anonymous share only (states at rest swept first), never evicting for it. A share of
    /// the whole table is no share: then as any other key.
    #[inline(never)]
    fn insert_anonymous(
        &mut self,
        key: u64,
        state: u64,
        now: Nanos,
        empty: usize,
    ) -> Result<(), StoreError> {
        if self.table.len() >= self.anonymous_max && self.anonymous_max < self.max_len {
            self.sweep_all(now);
            if self.table.len() >= self.anonymous_max {
                self.stats.refused += 1;
                return Err(StoreError::Full {
                    capacity: self.anonymous_max,
                });
            }
            let empty = self.table.probe(key).expect_err("the key is new");
            return self.insert(key, state, now, empty);
        }
        self.insert(key, state, now, empty)
    }

    /// Inserts a key the table lacks, `empty` being the slot a probe found for it. Out of line:
    /// a partition is inserted once and decided many times.
    #[inline(never)]
    fn insert(&mut self, key: u64, state: u64, now: Nanos, empty: usize) -> Result<(), StoreError> {
        let mut empty = empty;
        if self.table.len() >= self.max_len || self.table.is_crowded() {
            self.sweep_all(now);
            if self.table.len() >= self.max_len {
                // A full table holds at least one state (`max_len` is at least one), so an
                // eviction finds one; refusing stays the answer should it ever find none.
                let victim = match self.when_full {
                    WhenFull::RefuseNewKeys => None,
                    WhenFull::EvictNearestRest => self.victim(key),
                };
                let Some(victim) = victim else {
                    self.stats.refused += 1;
                    return Err(StoreError::Full {
                        capacity: self.max_len,
                    });
                };
                self.table.remove_at(victim);
                self.stats.evicted += 1;
            }
            // Grow unless the sweep made real room, so that sweeps stay amortised.
            if self.table.len() * 4 > self.table.capacity() * 3 {
                self.table.grow();
            }
            empty = self.table.probe(key).expect_err("the key is new");
        }
        self.table.insert_at(empty, key, state);
        self.rest_floor = self.rest_floor.min(state);
        Ok(())
    }

    /// The slot of the state to evict for `key`: the one nearest rest among the
    /// [`EVICTION_WINDOW`] slots from `key`'s home, or, when those are all empty (the states
    /// crowd elsewhere in the table), among twice as many, and so on up to the whole table.
    /// `None` only for an empty table. Each try costs its window: past the first, the search
    /// visits under four times as many slots as lie between the home and the nearest state,
    /// and under three times the table at worst. It runs only at capacity, off the hot path.
    fn victim(&self, key: u64) -> Option<usize> {
        let mut window = EVICTION_WINDOW;
        loop {
            let found = self.table.nearest_rest(key, window);
            if found.is_some() || window >= self.table.capacity() {
                return found;
            }
            window = window.saturating_mul(2);
        }
    }

    /// Sweeps the whole table if anything in it may be at rest, then shrinks it if sparse.
    fn sweep_all(&mut self, now: Nanos) {
        let horizon = now.saturating_sub(SWEEP_GRACE);
        if self.rest_floor >= horizon {
            return;
        }
        let (_, removed) = self.table.sweep(horizon, 0, self.table.capacity());
        self.stats.swept += removed as u64;
        self.rest_floor = self.table.min_state();
        self.table.shrink_if_sparse();
    }

    /// Sweeps up to `budget` slots from where the last step stopped; returns entries removed.
    pub(super) fn sweep_step(&mut self, now: Nanos, budget: usize) -> usize {
        let horizon = now.saturating_sub(SWEEP_GRACE);
        let (cursor, removed) = self.table.sweep(horizon, self.cursor, budget);
        self.leases.retain(|_, leases| {
            leases.expire(horizon);
            !leases.is_empty()
        });
        self.cursor = cursor;
        self.stats.swept += removed as u64;
        self.table.shrink_if_sparse();
        removed
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{Key, Schedule, Window};

    #[test]
    fn an_eviction_that_finds_nothing_refuses_and_counts() {
        // No store builds a shard that holds nothing; one that did must refuse, not panic.
        let mut shard = Shard::new(0, WhenFull::EvictNearestRest, None);
        let limit: Algorithm = Window::new(5, Schedule::clock(Duration::from_secs(60)).unwrap())
            .unwrap()
            .into();
        let request = LimitRequest::new(Key::from_hash(1 << 63), &limit, 1);
        let refused = shard.apply(&request, 0).unwrap_err();
        assert_eq!(refused, StoreError::Full { capacity: 0 });
        assert_eq!(
            (shard.stats.refused, shard.stats.evicted, shard.len()),
            (1, 0, 0)
        );
    }

    #[test]
    fn the_search_for_a_victim_widens_until_it_finds_one() {
        let mut shard = Shard::new(usize::MAX, WhenFull::EvictNearestRest, None);
        let limit: Algorithm = Window::new(5, Schedule::clock(Duration::from_secs(60)).unwrap())
            .unwrap()
            .into();
        // 200 states homed at slot 0 of a table of about 250 slots.
        for hash in 1..=200 {
            let request = LimitRequest::new(Key::from_hash(hash), &limit, 1);
            shard.apply(&request, 0).unwrap();
        }
        assert!(shard.table.capacity() >= 216, "{}", shard.table.capacity());
        // Homed just past them, and halfway round the empty slots that follow.
        for home in [200, (200 + shard.table.capacity()) / 2] {
            let hash = ((home as u128) << 64).div_ceil(shard.table.capacity() as u128) as u64;
            assert_eq!(shard.table.nearest_rest(hash, EVICTION_WINDOW), None);
            let victim = shard.victim(hash).expect("a state to evict");
            assert!(victim < 200, "slot {victim}");
        }
        assert_eq!(
            Shard::new(1, WhenFull::EvictNearestRest, None).victim(1),
            None
        );
    }
}
