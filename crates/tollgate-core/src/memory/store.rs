//! The memory store itself: its shards, each under a spin lock, and a request's decision taken
//! under the locks of every shard its limits touch.

use std::sync::atomic::{AtomicU64, AtomicUsize};

use smallvec::{SmallVec, smallvec};
use spin::mutex::{SpinMutex, SpinMutexGuard};
use spin::relax::Yield;

use super::journal::DirtyShards;
use super::shard::{Shard, Undo};
use crate::{Decision, Key, Lease, LimitRequest, Nanos, Outcome, Outcomes, Store, StoreError};

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
///
/// [`MemoryStoreBuilder::capacity`]: super::MemoryStoreBuilder::capacity
/// [`WhenFull`]: super::WhenFull
#[derive(Debug)]
pub struct MemoryStore {
    pub(super) shards: Box<[Padded]>,
    pub(super) mask: u64,
    pub(super) sweep_next: AtomicUsize,
    /// Counts the journal's takes; see [`take_journal`](Self::take_journal).
    pub(super) journal_epoch: AtomicU64,
    pub(super) journaled: bool,
    /// The shards with states for the journal's next take.
    pub(super) dirty: std::sync::Arc<DirtyShards>,
}

/// A shard on its own cache lines, so that threads on different shards do not share one.
///
/// The lock is a spin lock that yields to the scheduler while it waits: a decision holds it
/// for tens of nanoseconds, and releasing it is a plain store, where a parking mutex pays a
/// second atomic read-modify-write on every unlock (measured: a fifth of a decision).
#[derive(Debug)]
#[repr(align(128))]
pub(super) struct Padded(pub(super) SpinMutex<Shard, Yield>);

pub(super) type Guard<'a> = SpinMutexGuard<'a, Shard, Yield>;

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An unbounded store with default options.
    #[must_use]
    pub fn new() -> Self {
        Self::builder().build()
    }

    pub(super) fn shard_index(&self, key: Key) -> usize {
        // The table places keys by their high bits; the shard takes the low ones.
        (key.get() & self.mask) as usize
    }

    pub(super) fn lock(&self, key: Key) -> Guard<'_> {
        self.shards[self.shard_index(key)].0.lock()
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
        let (mut outcomes, mut undo, mut fault) =
            apply_all(&mut shards, &guard_of, requests, |_| now);
        if let (None, Some(turn)) = (&fault, turn_of(now, &outcomes)) {
            // A request waiting for its turn starts then: every bucket counts it at that
            // instant (a window, in the window of the decision), so that no bucket sees it
            // start later than the turn it was given.
            for (guard, step) in undo.drain(..).rev() {
                shards[guard].undo(step);
            }
            let at_turn = |request: &LimitRequest<'_>| match request.algorithm {
                crate::Algorithm::TokenBucket(_) => turn,
                _ => now,
            };
            (outcomes, undo, fault) = apply_all(&mut shards, &guard_of, requests, at_turn);
            if fault.is_some() || !outcomes.iter().all(Outcome::allowed) {
                // Only a partition named twice in one request can refuse at the turn: then as
                // decided at first.
                for (guard, step) in undo.drain(..).rev() {
                    shards[guard].undo(step);
                }
                (outcomes, undo, fault) = apply_all(&mut shards, &guard_of, requests, |_| now);
            }
        }
        if fault.is_none() && outcomes.iter().all(|outcome| outcome.allowed()) {
            let journaled = self.journaled
                && undo
                    .iter()
                    .zip(requests)
                    .any(|((_, step), request)| step.wrote() && request.algorithm.is_long_lived());
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

/// How to take back each request applied, with the index of the shard guard it was applied
/// under.
type Undos = SmallVec<[(usize, Undo); 4]>;

/// Applies each request under its shard's lock (`guard_of` its key), at the instant `at` says,
/// until one faults: the outcomes, how to take back each one applied, and the fault.
fn apply_all(
    shards: &mut [Guard<'_>],
    guard_of: &impl Fn(Key) -> usize,
    requests: &[LimitRequest<'_>],
    at: impl Fn(&LimitRequest<'_>) -> Nanos,
) -> (Outcomes, Undos, Option<StoreError>) {
    let mut outcomes = Outcomes::with_capacity(requests.len());
    let mut undo: Undos = SmallVec::with_capacity(requests.len());
    for request in requests {
        let guard = guard_of(request.key);
        match shards[guard].apply(request, at(request)) {
            Ok((outcome, step)) => {
                outcomes.push(outcome);
                undo.push((guard, step));
            }
            Err(error) => return (outcomes, undo, Some(error)),
        }
    }
    (outcomes, undo, None)
}

/// The turn of a request its limits all admit, when one of them admits it to wait for a turn
/// after `now` and another counted it before that turn.
fn turn_of(now: Nanos, outcomes: &[Outcome]) -> Option<Nanos> {
    if !outcomes.iter().all(Outcome::allowed) {
        return None;
    }
    let turn = outcomes
        .iter()
        .filter_map(Outcome::retry_at)
        .max()
        .filter(|&turn| turn > now)?;
    outcomes
        .iter()
        .any(|outcome| outcome.retry_at().is_some_and(|at| at < turn))
        .then_some(turn)
}

impl Store for MemoryStore {
    fn acquire(&self, now: Nanos, requests: &[LimitRequest<'_>]) -> Result<Decision, StoreError> {
        match requests {
            [] => Ok(Decision::new(now, SmallVec::new(), Vec::new())),
            [request] => {
                let (outcome, step) = self.lock(request.key).apply(request, now)?;
                let journaled = self.journaled && step.wrote() && request.algorithm.is_long_lived();
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

    fn withdraw(
        &self,
        decided_at: Nanos,
        requests: &[LimitRequest<'_>],
        reserved: &[Nanos],
    ) -> Result<(), StoreError> {
        for (request, &reserved) in requests.iter().zip(reserved) {
            self.lock(request.key)
                .withdraw(request, decided_at, reserved);
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
    use crate::memory::fixtures::{key, window};
    use crate::{Algorithm, Concurrency, Distinct, Key, Rate, TokenBucket};

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

    /// 1 per second, burst 1, a wait of up to 3 s.
    fn waiting_bucket() -> Algorithm {
        let delay = crate::Delay {
            max: Duration::from_secs(3),
            queue: 3,
        };
        TokenBucket::new(Rate::per_second(1), 1)
            .and_then(|bucket| bucket.with_delay(delay))
            .unwrap()
            .into()
    }

    #[test]
    fn a_request_waiting_for_its_turn_counts_in_every_bucket_at_that_turn() {
        let sec = crate::NANOS_PER_SEC;
        let store = MemoryStore::new();
        let (waits, plain, daily) = (
            waiting_bucket(),
            TokenBucket::new(Rate::per_second(1), 5).unwrap().into(),
            window(10, 86_400),
        );
        let request = [
            LimitRequest::new(key(1), &plain, 1),
            LimitRequest::new(key(2), &waits, 1),
            LimitRequest::new(key(3), &daily, 1),
        ];
        assert_eq!(store.acquire(0, &request[1..2]).unwrap().turn(), None);
        let second = store.acquire(0, &request).unwrap();
        assert_eq!(second.turn(), Some(sec));
        let turns: Vec<_> = second.outcomes().iter().map(|o| o.retry_at()).collect();
        assert_eq!(turns, [Some(sec), Some(sec), Some(0)]);
        // The plain bucket, untouched before, counted it at its turn, not at 0: its state ends
        // one interval after the turn.
        assert_eq!(second.outcomes()[0].reset_at(), 2 * sec);
        assert_eq!(second.outcomes()[2].remaining(), 9);
        // Leaving before its turn gives everything back: the turn, and the daily unit.
        let reserved: Vec<_> = second.outcomes().iter().map(|o| o.reset_at()).collect();
        store.withdraw(second.at(), &request, &reserved).unwrap();
        let again = store.acquire(0, &request).unwrap();
        assert_eq!(again.turn(), Some(sec));
        assert_eq!(again.outcomes()[2].remaining(), 9);
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
    fn a_distinct_limit_remembers_only_the_values_of_admitted_requests() {
        let store = MemoryStore::builder().shards(16).build();
        let machines: Algorithm = Distinct::new(2, None).unwrap().into();
        let tight = window(2, 60);
        let using = |machine: u64, cost| {
            [
                LimitRequest::new(key(1), &machines, cost)
                    .with_value(Some(Key::from_hash(machine))),
                LimitRequest::new(key(2), &tight, cost),
            ]
        };
        assert_eq!(
            store.acquire(0, &using(10, 1)).unwrap().outcomes()[0].remaining(),
            1
        );
        assert!(
            store.acquire(0, &using(10, 1)).unwrap().allowed(),
            "seen: counts nothing"
        );
        // The window refuses: machine 11 is not remembered, the count is untouched.
        let refused = store.acquire(0, &using(11, 1)).unwrap();
        assert!(!refused.allowed());
        assert_eq!(refused.outcomes()[0].remaining(), 1);
        assert_eq!(
            store.stats().partitions,
            3,
            "a count, machine 10 and a window"
        );
        // In the next minute, machine 11 then 12: the bound refuses 12, 10 and 11 go on.
        assert!(
            store
                .acquire(60 * 1_000_000_000, &using(11, 1))
                .unwrap()
                .allowed()
        );
        let full = store.acquire(60 * 1_000_000_000, &using(12, 1)).unwrap();
        assert!(!full.outcomes()[0].allowed());
        assert_eq!(full.outcomes()[0].retry_at(), None, "kept for good");
        assert!(
            store
                .acquire(61 * 1_000_000_000, &using(10, 1))
                .unwrap()
                .allowed()
        );
        // Without a value: admitted, nothing counted.
        let none = [LimitRequest::new(key(1), &machines, 1)];
        assert_eq!(
            store.acquire(62 * 1_000_000_000, &none).unwrap().outcomes()[0].remaining(),
            0
        );
        assert_eq!(store.stats().partitions, 4);
    }
}
