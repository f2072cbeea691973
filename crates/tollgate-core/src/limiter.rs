//! The limiter: a store and a clock, deciding requests now.

use crate::{Clock, Decision, LimitRequest, MemoryStore, Nanos, Store, StoreError, SystemClock};

/// Decides requests against a [`Store`], reading the time from a [`Clock`].
///
/// Generic over both so that tests run on a [`ManualClock`](crate::ManualClock) and servers on
/// the system clock; the defaults are the embedded store and the system clock.
#[derive(Debug, Default)]
pub struct Limiter<S = MemoryStore, C = SystemClock> {
    store: S,
    clock: C,
}

impl<S: Store, C: Clock> Limiter<S, C> {
    /// A limiter over `store` reading `clock`.
    pub const fn new(store: S, clock: C) -> Self {
        Self { store, clock }
    }

    /// Decides all the limits of one request at once: every limit is charged, or none is.
    ///
    /// # Errors
    /// Only for faults of the store; a refusal is a [`Decision`].
    pub fn acquire(&self, requests: &[LimitRequest<'_>]) -> Result<Decision, StoreError> {
        self.store.acquire(self.clock.now(), requests)
    }

    /// Gives back the units that a request admitted at `decided_at` (its
    /// [`Decision::at`]) took: counts of the windows that held the charge are lowered, those of
    /// later windows are not (see [`Store::refund`]).
    ///
    /// # Errors
    /// Only for faults of the store.
    pub fn refund(
        &self,
        decided_at: Nanos,
        requests: &[LimitRequest<'_>],
    ) -> Result<(), StoreError> {
        self.store.refund(decided_at, requests)
    }

    /// Gives back the concurrency leases a decision holds (when the response is done).
    ///
    /// # Errors
    /// Only for faults of the store.
    pub fn release(&self, decision: &Decision) -> Result<(), StoreError> {
        let now = self.clock.now();
        decision
            .leases()
            .iter()
            .try_for_each(|lease| self.store.release(now, lease))
    }

    /// The store.
    pub const fn store(&self) -> &S {
        &self.store
    }

    /// The clock.
    pub const fn clock(&self) -> &C {
        &self.clock
    }
}
