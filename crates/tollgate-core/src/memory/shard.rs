//! One shard of the memory store: a table of one-`u64` states, the leases of concurrency
//! limits, and what it takes to apply a request and to take it back.

use std::collections::HashMap;

use super::WhenFull;
use super::table::Table;
use crate::algorithm::LeaseSet;
use crate::{Algorithm, Concurrency, Lease, LimitRequest, Nanos, Outcome, StoreError};

/// How far behind the caller's `now` a state must lie before a sweep drops it, so that threads
/// whose clocks read a little behind never see a dropped state they would still have counted.
const SWEEP_GRACE: Nanos = crate::NANOS_PER_SEC;

/// How many slots past a new key's home an eviction looks at for the state nearest rest.
const EVICTION_WINDOW: usize = 16;

/// What to do to take back an applied request.
#[derive(Debug)]
pub(super) enum Undo {
    Nothing,
    State { key: u64, old: u64 },
    Lease(Lease),
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
    when_full: WhenFull,
    pub(super) stats: ShardStats,
    /// Long-lived states written since the journal last took them (`None`: not journaled).
    pub(super) journal: Option<Vec<(u64, u64)>>,
}

/// Counters of one shard, summed into [`MemoryStoreStats`](super::MemoryStoreStats).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ShardStats {
    pub(super) swept: u64,
    pub(super) evicted: u64,
    pub(super) refused: u64,
}

impl Shard {
    pub(super) fn new(max_len: usize, when_full: WhenFull, journaled: bool) -> Self {
        Self {
            table: Table::new(),
            leases: HashMap::new(),
            rest_floor: u64::MAX,
            cursor: 0,
            max_len,
            when_full,
            stats: ShardStats::default(),
            journal: journaled.then(Vec::new),
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
        if let Algorithm::Concurrency(limit) = request.algorithm {
            return Ok(self.take_lease(limit, request, now));
        }
        let slot = self.table.probe(key);
        let old = slot.map_or(0, |index| self.table.state_at(index));
        let transition = request
            .algorithm
            .decide(old, now, request.cost)
            .expect("every algorithm but concurrency keeps one u64");
        if transition.state == old {
            return Ok((transition.outcome, Undo::Nothing));
        }
        match slot {
            Ok(index) => self.table.set_state_at(index, transition.state),
            Err(index) => self.insert(key, transition.state, now, index)?,
        }
        self.record(request, key, transition.state);
        Ok((transition.outcome, Undo::State { key, old }))
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
        match &mut self.journal {
            Some(pending) if request.algorithm.is_long_lived() => {
                pending.push((key, state));
                true
            }
            _ => false,
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
        if let Ok(index) = self.table.probe(request.key.get()) {
            let state = self.table.state_at(index);
            if let Some(refunded) = request.algorithm.refund(state, decided_at, request.cost) {
                self.table.set_state_at(index, refunded);
                self.rest_floor = self.rest_floor.min(refunded);
                self.record(request, request.key.get(), refunded);
            }
        }
    }

    /// Takes back a request applied under the same lock.
    pub(super) fn undo(&mut self, undo: Undo) {
        match undo {
            Undo::Nothing => {}
            Undo::State { key, old } => {
                if let Ok(index) = self.table.probe(key) {
                    if old == 0 {
                        self.table.remove_at(index);
                    } else {
                        self.table.set_state_at(index, old);
                    }
                }
                // A journal replays in order: the state taken back follows the one written.
                if let Some(pending) = &mut self.journal {
                    pending.push((key, old));
                }
            }
            Undo::Lease(lease) => self.release(&lease),
        }
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

    /// Inserts a key the table lacks, `empty` being the slot a probe found for it. Out of line:
    /// a partition is inserted once and decided many times.
    #[inline(never)]
    fn insert(&mut self, key: u64, state: u64, now: Nanos, empty: usize) -> Result<(), StoreError> {
        let mut empty = empty;
        if self.table.len() >= self.max_len || self.table.is_crowded() {
            self.sweep_all(now);
            if self.table.len() >= self.max_len {
                match self.when_full {
                    WhenFull::RefuseNewKeys => {
                        self.stats.refused += 1;
                        return Err(StoreError::Full {
                            capacity: self.max_len,
                        });
                    }
                    WhenFull::EvictNearestRest => {
                        let victim = self
                            .table
                            .nearest_rest(key, EVICTION_WINDOW)
                            .expect("a full table has entries");
                        self.table.remove_at(victim);
                        self.stats.evicted += 1;
                    }
                }
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
