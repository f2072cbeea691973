//! The embedded store: limit state in this process's memory, sharded across threads.

mod shard;
mod table;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use smallvec::{SmallVec, smallvec};
use spin::mutex::{SpinMutex, SpinMutexGuard};
use spin::relax::Yield;

use self::shard::{Shard, Undo};
use crate::{Decision, Key, Lease, LimitRequest, Nanos, Outcomes, Store, StoreError};

/// Limit state in memory: 16 bytes a slot, sharded under short locks, all-or-nothing across
/// shards.
///
/// Each partition's state is one `u64` in an open-addressing table (concurrency limits keep
/// their leases beside it). A request's limits are decided under the locks of every shard they
/// touch, taken in shard order, so a decision is atomic: no limit is charged unless all admit,
/// and no concurrent decision ever sees half of one. There are no false refusals from races.
///
/// State at rest (a full bucket, an ended window) is dropped by sweeps — a full sweep of one
/// shard when it would otherwise grow, and [`sweep`](Self::sweep) steps that a background task
/// can call — and dropping it changes no decision. With [`MemoryStoreBuilder::capacity`] the
/// store holds a bounded number of partitions and does what [`WhenFull`] says beyond that.
///
/// ```
/// use tollgate_core::{Algorithm, KeySpace, LimitRequest, MemoryStore, Store, Window, Schedule};
/// use std::time::Duration;
///
/// let store = MemoryStore::new();
/// let per_minute: Algorithm = Window::new(2, Schedule::clock(Duration::from_secs(60)).unwrap())
///     .unwrap()
///     .into();
/// let key = KeySpace::random().key(&[b"per-minute", b"acme"]);
/// let request = [LimitRequest::new(key, &per_minute, 1)];
/// assert!(store.acquire(0, &request).unwrap().allowed());
/// assert!(store.acquire(0, &request).unwrap().allowed());
/// assert!(!store.acquire(0, &request).unwrap().allowed());
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    shards: Box<[Padded]>,
    mask: u64,
    sweep_next: AtomicUsize,
    capacity: Option<usize>,
    /// Counts the journal's takes; see [`take_journal`](Self::take_journal).
    journal_epoch: AtomicU64,
    journaled: bool,
}

/// A shard on its own cache lines, so that threads on different shards do not share one.
///
/// The lock is a spin lock that yields to the scheduler while it waits: a decision holds it
/// for tens of nanoseconds, and releasing it is a plain store, where a parking mutex pays a
/// second atomic read-modify-write on every unlock (measured: a fifth of a decision).
#[derive(Debug)]
#[repr(align(128))]
struct Padded(SpinMutex<Shard, Yield>);

type Guard<'a> = SpinMutexGuard<'a, Shard, Yield>;

/// What the memory store does with a new partition when it holds its capacity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WhenFull {
    /// Fail the decision with [`StoreError::Full`] (transient): exact for every partition
    /// already held; the caller's failure policy decides the request.
    #[default]
    RefuseNewKeys,
    /// Drop the state closest to rest among those near the new key's slot (the 16 slots from
    /// it, or further when those hold none): never fails, but the dropped partition starts
    /// again as if new (it may admit more than its limit).
    EvictNearestRest,
}

/// Options for a [`MemoryStore`].
#[derive(Debug, Clone)]
pub struct MemoryStoreBuilder {
    shards: usize,
    capacity: Option<usize>,
    when_full: WhenFull,
    journaled: bool,
}

impl MemoryStoreBuilder {
    /// The number of shards, rounded up to a power of two (default 256).
    #[must_use]
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = shards.max(1).next_power_of_two();
        self
    }

    /// The most partitions held, shared evenly among the shards (default: unbounded).
    #[must_use]
    pub fn capacity(mut self, partitions: usize) -> Self {
        self.capacity = Some(partitions);
        self
    }

    /// What to do with a new partition at capacity.
    #[must_use]
    pub fn when_full(mut self, when_full: WhenFull) -> Self {
        self.when_full = when_full;
        self
    }

    /// Keep the long-lived states written (windows and periods of a minute and more) for a
    /// journal to take and write down: see [`MemoryStore::take_journal`].
    #[must_use]
    pub fn journaled(mut self, journaled: bool) -> Self {
        self.journaled = journaled;
        self
    }

    /// The store.
    #[must_use]
    pub fn build(self) -> MemoryStore {
        let per_shard = self
            .capacity
            .map_or(usize::MAX, |capacity| capacity.div_ceil(self.shards).max(1));
        MemoryStore {
            shards: (0..self.shards)
                .map(|_| {
                    Padded(SpinMutex::new(Shard::new(
                        per_shard,
                        self.when_full,
                        self.journaled,
                    )))
                })
                .collect(),
            mask: self.shards as u64 - 1,
            sweep_next: AtomicUsize::new(0),
            capacity: self.capacity,
            journal_epoch: AtomicU64::new(0),
            journaled: self.journaled,
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

/// What a [`MemoryStore`] holds and has done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryStoreStats {
    /// Partitions held.
    pub partitions: usize,
    /// Bytes allocated for their state.
    pub bytes: usize,
    /// States dropped at rest by sweeps.
    pub swept: u64,
    /// States dropped by [`WhenFull::EvictNearestRest`].
    pub evicted: u64,
    /// New partitions refused by [`WhenFull::RefuseNewKeys`].
    pub refused: u64,
}

impl MemoryStore {
    /// An unbounded store with default options.
    #[must_use]
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Options for a store.
    #[must_use]
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder {
            shards: 256,
            capacity: None,
            when_full: WhenFull::default(),
            journaled: false,
        }
    }

    /// The configured bound on partitions, if any.
    #[must_use]
    pub fn capacity(&self) -> Option<usize> {
        self.capacity
    }

    fn shard_index(&self, key: Key) -> usize {
        // The table places keys by their high bits; the shard takes the low ones.
        (key.get() & self.mask) as usize
    }

    fn lock(&self, key: Key) -> Guard<'_> {
        self.shards[self.shard_index(key)].0.lock()
    }

    /// One step of the background sweep: up to `budget` slots of the next shard in turn.
    /// Returns the states dropped. Call it often enough to visit every shard now and then;
    /// each step holds one shard's lock for `budget` slots at most.
    pub fn sweep(&self, now: Nanos, budget: usize) -> usize {
        let index = self.sweep_next.fetch_add(1, Ordering::Relaxed) & self.mask as usize;
        self.shards[index].0.lock().sweep_step(now, budget)
    }

    /// Takes every long-lived state written since the last take into `into` (in order within a
    /// shard; the last write of a key in a take is its state). Returns the take's number.
    ///
    /// A decision that [needs the journal](crate::Decision::needs_journal) is on disk once a
    /// take numbered above [`journal_epoch`](Self::journal_epoch) — read after the decision —
    /// has been written down.
    pub fn take_journal(&self, into: &mut Vec<(u64, u64)>) -> u64 {
        let take = self.journal_epoch.fetch_add(1, Ordering::SeqCst) + 1;
        for shard in &*self.shards {
            if let Some(pending) = &mut shard.0.lock().journal {
                into.append(pending);
            }
        }
        take
    }

    /// The number of the last take (see [`take_journal`](Self::take_journal)).
    #[must_use]
    pub fn journal_epoch(&self) -> u64 {
        self.journal_epoch.load(Ordering::SeqCst)
    }

    /// Puts back states read from a journal, in order (later ones win); states already at rest
    /// at `now` are left out.
    ///
    /// # Errors
    /// The store is full and refuses new partitions.
    pub fn restore(
        &self,
        states: impl IntoIterator<Item = (u64, u64)>,
        now: Nanos,
    ) -> Result<usize, StoreError> {
        let mut latest = std::collections::HashMap::new();
        for (key, state) in states {
            latest.insert(key, state);
        }
        let mut restored = 0;
        for (key, state) in latest {
            if state > now {
                self.lock(Key::from_hash(key)).restore(key, state, now)?;
                restored += 1;
            }
        }
        Ok(restored)
    }

    /// Counts of what the store holds and has done, summed over the shards.
    #[must_use]
    pub fn stats(&self) -> MemoryStoreStats {
        self.shards
            .iter()
            .fold(MemoryStoreStats::default(), |mut total, shard| {
                let shard = shard.0.lock();
                total.partitions += shard.len();
                total.bytes += shard.bytes();
                total.swept += shard.stats.swept;
                total.evicted += shard.stats.evicted;
                total.refused += shard.stats.refused;
                total
            })
    }

    /// Decides a request with several limits under the locks of all their shards.
    fn acquire_all(
        &self,
        now: Nanos,
        requests: &[LimitRequest<'_>],
    ) -> Result<Decision, StoreError> {
        let mut order: SmallVec<[usize; 8]> = requests
            .iter()
            .map(|request| self.shard_index(request.key))
            .collect();
        order.sort_unstable();
        order.dedup();
        // Locks in ascending shard order: no two decisions can wait on each other.
        let mut shards: SmallVec<[Guard<'_>; 8]> = order
            .iter()
            .map(|&index| self.shards[index].0.lock())
            .collect();
        let guard_of = |key: Key| {
            order
                .binary_search(&self.shard_index(key))
                .expect("every shard of the request is locked")
        };
        let mut outcomes = Outcomes::with_capacity(requests.len());
        let mut undo: SmallVec<[(usize, Undo); 4]> = SmallVec::with_capacity(requests.len());
        let mut fault = None;
        for request in requests {
            let guard = guard_of(request.key);
            match shards[guard].apply(request, now) {
                Ok((outcome, step)) => {
                    outcomes.push(outcome);
                    undo.push((guard, step));
                }
                Err(error) => {
                    fault = Some(error);
                    break;
                }
            }
        }
        if fault.is_none() && outcomes.iter().all(|outcome| outcome.allowed()) {
            let journaled = self.journaled
                && undo.iter().zip(requests).any(|((_, step), request)| {
                    matches!(step, Undo::State { .. }) && request.algorithm.is_long_lived()
                });
            let leases = undo
                .into_iter()
                .filter_map(|(_, step)| match step {
                    Undo::Lease(lease) => Some(lease),
                    _ => None,
                })
                .collect();
            return Ok(Decision::new(now, outcomes, leases).journaled(journaled));
        }
        for (guard, step) in undo.into_iter().rev() {
            shards[guard].undo(step);
        }
        if let Some(error) = fault {
            return Err(error);
        }
        // The limits that would have admitted report what they hold now that nothing was taken.
        for (request, outcome) in requests.iter().zip(outcomes.iter_mut()) {
            if outcome.allowed() {
                let peek = LimitRequest {
                    cost: 0,
                    ..*request
                };
                let (now_held, _) = shards[guard_of(request.key)].apply(&peek, now)?;
                *outcome = outcome.holding(now_held.remaining(), now_held.reset_at());
            }
        }
        Ok(Decision::new(now, outcomes, Vec::new()))
    }
}

impl Store for MemoryStore {
    fn acquire(&self, now: Nanos, requests: &[LimitRequest<'_>]) -> Result<Decision, StoreError> {
        match requests {
            [] => Ok(Decision::new(now, SmallVec::new(), Vec::new())),
            [request] => {
                let (outcome, step) = self.lock(request.key).apply(request, now)?;
                let journaled = self.journaled
                    && matches!(step, Undo::State { .. })
                    && request.algorithm.is_long_lived();
                let leases = match step {
                    Undo::Lease(lease) => vec![lease],
                    _ => Vec::new(),
                };
                Ok(Decision::new(now, smallvec![outcome], leases).journaled(journaled))
            }
            requests => self.acquire_all(now, requests),
        }
    }

    fn refund(&self, decided_at: Nanos, requests: &[LimitRequest<'_>]) -> Result<(), StoreError> {
        for request in requests {
            self.lock(request.key).refund(request, decided_at);
        }
        Ok(())
    }

    fn release(&self, _now: Nanos, lease: &Lease) -> Result<(), StoreError> {
        self.lock(lease.key).release(lease);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{
        Algorithm, Concurrency, NANOS_PER_SEC as SEC, Rate, Schedule, TokenBucket, Window,
    };

    fn window(max: u64, secs: u64) -> Algorithm {
        Window::new(max, Schedule::clock(Duration::from_secs(secs)).unwrap())
            .unwrap()
            .into()
    }

    fn key(n: u64) -> Key {
        // Spread over shards and homes like real hashes.
        Key::from_hash(n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    #[test]
    fn a_refusal_charges_no_other_limit() {
        let store = MemoryStore::new();
        let (roomy, tight) = (window(10, 60), window(1, 60));
        let both = [
            LimitRequest::new(key(1), &roomy, 1),
            LimitRequest::new(key(2), &tight, 1),
        ];
        assert!(store.acquire(0, &both).unwrap().allowed());
        let refused = store.acquire(0, &both).unwrap();
        assert!(!refused.allowed());
        assert_eq!(
            refused.outcomes()[0].remaining(),
            9,
            "reported as uncharged"
        );
        assert!(refused.outcomes()[0].allowed());
        let alone = store.acquire(0, &both[..1]).unwrap();
        assert_eq!(alone.outcomes()[0].remaining(), 8);
    }

    #[test]
    fn the_same_partition_twice_in_one_request_counts_twice() {
        let store = MemoryStore::new();
        let limit = window(3, 60);
        let twice = [
            LimitRequest::new(key(1), &limit, 2),
            LimitRequest::new(key(1), &limit, 2),
        ];
        let refused = store.acquire(0, &twice).unwrap();
        assert!(!refused.allowed());
        let once = store.acquire(0, &twice[..1]).unwrap();
        assert_eq!(once.outcomes()[0].remaining(), 1);
    }

    #[test]
    fn refunds_give_units_back() {
        let store = MemoryStore::new();
        let (daily, bucket): (Algorithm, Algorithm) = (
            window(3, 86_400),
            TokenBucket::new(Rate::per_second(1), 2).unwrap().into(),
        );
        let request = [
            LimitRequest::new(key(1), &daily, 1),
            LimitRequest::new(key(2), &bucket, 1),
        ];
        assert!(store.acquire(0, &request).unwrap().allowed());
        store.refund(0, &request).unwrap();
        let peek = [
            LimitRequest::new(key(1), &daily, 0),
            LimitRequest::new(key(2), &bucket, 0),
        ];
        let whole = store.acquire(0, &peek).unwrap();
        assert_eq!(
            (
                whole.outcomes()[0].remaining(),
                whole.outcomes()[1].remaining()
            ),
            (3, 2)
        );
        // Refunding a partition never charged changes nothing and creates nothing.
        store
            .refund(0, &[LimitRequest::new(key(9), &daily, 1)])
            .unwrap();
        assert_eq!(store.stats().partitions, 2);
    }

    #[test]
    fn a_journal_takes_long_lived_states_that_restore_the_same_decisions() {
        let store = MemoryStore::builder().journaled(true).build();
        let (daily, second): (Algorithm, Algorithm) = (
            window(5, 86_400),
            TokenBucket::new(Rate::per_second(1), 2).unwrap().into(),
        );
        let both = [
            LimitRequest::new(key(1), &daily, 2),
            LimitRequest::new(key(2), &second, 1),
        ];
        let decision = store.acquire(10, &both).unwrap();
        assert!(decision.needs_journal());
        assert!(
            !store.acquire(10, &both[1..]).unwrap().needs_journal(),
            "a per-second bucket is not kept"
        );
        let before = store.journal_epoch();
        let mut taken = Vec::new();
        let take = store.take_journal(&mut taken);
        assert!(take > before);
        assert_eq!(taken.len(), 1, "only the daily window: {taken:?}");

        let restarted = MemoryStore::new();
        assert_eq!(restarted.restore(taken.iter().copied(), 20).unwrap(), 1);
        let peek = [LimitRequest::new(key(1), &daily, 0)];
        assert_eq!(
            restarted.acquire(20, &peek).unwrap().outcomes()[0].remaining(),
            3
        );
        assert_eq!(
            restarted.restore([(9, 5)], 20).unwrap(),
            0,
            "a state at rest is left out"
        );
    }

    #[test]
    fn a_refused_concurrency_request_gives_its_lease_back() {
        let store = MemoryStore::new();
        let in_flight: Algorithm = Concurrency::new(1, Duration::from_secs(5)).unwrap().into();
        let tight = window(1, 60);
        let request = [
            LimitRequest::new(key(1), &in_flight, 1),
            LimitRequest::new(key(2), &tight, 1),
        ];
        let first = store.acquire(0, &request).unwrap();
        assert_eq!(first.leases().len(), 1);
        for lease in first.leases() {
            store.release(1, lease).unwrap();
        }
        let refused = store.acquire(2, &request).unwrap();
        assert!(!refused.allowed());
        assert_eq!(refused.leases().len(), 0);
        assert!(
            store.acquire(3, &request[..1]).unwrap().allowed(),
            "no slot left taken"
        );
    }

    #[test]
    fn refuses_new_partitions_at_capacity_until_state_rests() {
        let store = MemoryStore::builder().shards(1).capacity(4).build();
        let limit = window(5, 1);
        for n in 0..4 {
            assert!(
                store
                    .acquire(0, &[LimitRequest::new(key(n), &limit, 1)])
                    .is_ok()
            );
        }
        let full = store
            .acquire(0, &[LimitRequest::new(key(9), &limit, 1)])
            .unwrap_err();
        assert_eq!(full, StoreError::Full { capacity: 4 });
        assert!(full.is_transient());
        // Held partitions keep deciding exactly.
        assert!(
            store
                .acquire(0, &[LimitRequest::new(key(0), &limit, 4)])
                .unwrap()
                .allowed()
        );
        // Once their windows have ended (plus the sweep grace), there is room again.
        let later = 3 * SEC;
        assert!(
            store
                .acquire(later, &[LimitRequest::new(key(9), &limit, 1)])
                .is_ok()
        );
        let stats = store.stats();
        assert_eq!((stats.refused, stats.swept, stats.partitions), (1, 4, 1));
    }

    #[test]
    fn evicts_the_state_nearest_rest_at_capacity() {
        let store = MemoryStore::builder()
            .shards(1)
            .capacity(2)
            .when_full(WhenFull::EvictNearestRest)
            .build();
        let bucket: Algorithm = TokenBucket::new(Rate::per_second(1), 10).unwrap().into();
        let take = |n: u64, cost: u32| {
            store
                .acquire(0, &[LimitRequest::new(key(n), &bucket, cost)])
                .unwrap()
        };
        take(1, 1);
        take(2, 5);
        // Key 1 is nearer rest (1 s from full, against 5 s) and goes.
        assert!(take(3, 1).allowed());
        let stats = store.stats();
        assert_eq!((stats.evicted, stats.partitions), (1, 2));
        assert_eq!(take(2, 0).outcomes()[0].remaining(), 5, "key 2 kept");
        assert_eq!(
            take(1, 0).outcomes()[0].remaining(),
            10,
            "key 1 starts anew"
        );
    }

    #[test]
    fn evicts_even_when_the_slots_after_the_new_home_are_empty() {
        // 64 partitions whose hashes all put them at slot 0: they fill slots 0..64 of a table
        // that grows past them, leaving the slots at the far end empty.
        let store = MemoryStore::builder()
            .shards(1)
            .capacity(64)
            .when_full(WhenFull::EvictNearestRest)
            .build();
        let limit = window(5, 60);
        let take = |hash: u64, cost: u32| {
            store
                .acquire(0, &[LimitRequest::new(Key::from_hash(hash), &limit, cost)])
                .unwrap()
        };
        for hash in 1..=64 {
            assert!(take(hash, 1 + u32::from(hash == 7)).allowed());
        }
        // New partitions homed ever further from the crowd: once the table has grown, their
        // windows of slots hold nothing to evict.
        for (n, eighth) in (1..8u64).enumerate() {
            assert!(take(eighth << 61 | 1, 1).allowed(), "homed at {eighth}/8");
            let stats = store.stats();
            assert_eq!((stats.evicted, stats.partitions), (n as u64 + 1, 64));
            assert_eq!(stats.refused, 0);
        }
        // The crowd nearest rest went first (key 7 had used two units, the others one): the
        // ones kept still decide exactly.
        assert_eq!(take(7, 0).outcomes()[0].remaining(), 3, "key 7 kept");
        assert_eq!(take(64, 0).outcomes()[0].remaining(), 4, "key 64 kept");
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_distinct_keys() {
        let store = MemoryStore::builder().shards(4).build();
        let limit = window(10, 1);
        let mut peak = 0;
        // Each second brings 10,000 new partitions, whose one-second windows then end.
        for second in 0..20u64 {
            for n in 0..10_000 {
                let request = [LimitRequest::new(key(second * 10_000 + n), &limit, 1)];
                assert!(store.acquire(second * SEC, &request).unwrap().allowed());
            }
            peak = peak.max(store.stats().partitions);
        }
        assert!(peak <= 30_000, "held {peak} partitions at once");
        assert!(store.stats().bytes <= 30_000 * 24);
    }

    #[test]
    fn background_sweeps_empty_a_quiet_store() {
        let store = MemoryStore::builder().shards(2).build();
        let limit = window(10, 1);
        for n in 0..1_000 {
            store
                .acquire(0, &[LimitRequest::new(key(n), &limit, 1)])
                .unwrap();
        }
        assert_eq!(store.stats().partitions, 1_000);
        assert_eq!(store.sweep(0, usize::MAX), 0, "nothing at rest yet");
        let swept: usize = (0..2).map(|_| store.sweep(5 * SEC, usize::MAX)).sum();
        assert_eq!(swept, 1_000);
        let stats = store.stats();
        assert_eq!((stats.partitions, stats.swept), (0, 1_000));
        assert!(
            stats.bytes <= 2 * 8 * 16,
            "shrunk back to {} bytes",
            stats.bytes
        );
    }
}
