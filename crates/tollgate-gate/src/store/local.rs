//! The embedded store: limits in this process's memory (written down by the journal when the
//! server has a data directory). Its futures are ready at once.

use std::sync::Arc;

use tollgate_core::{
    Clock, Decision, Lease, LimitRequest, Limiter, MemoryStore, Nanos, Store, StoreError,
};

use super::LimitStore;

/// The memory store and the clock it decides on.
pub(crate) struct Local<C: Clock> {
    limiter: Arc<Limiter<MemoryStore, C>>,
}

impl<C: Clock> std::fmt::Debug for Local<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Local")
    }
}

impl<C: Clock> Local<C> {
    /// Decides on `limiter`.
    pub(crate) fn new(limiter: Arc<Limiter<MemoryStore, C>>) -> Self {
        Self { limiter }
    }

    /// The limiter, for sweeps, the journal and figures.
    pub(crate) fn limiter(&self) -> &Limiter<MemoryStore, C> {
        &self.limiter
    }

    /// Decides `requests` now.
    pub(crate) fn acquire_now(
        &self,
        requests: &[LimitRequest<'_>],
    ) -> Result<Decision, StoreError> {
        self.limiter.acquire(requests)
    }
}

impl<C: Clock + 'static> LimitStore for Local<C> {
    async fn acquire(&self, requests: &[LimitRequest<'_>]) -> Result<Decision, StoreError> {
        self.acquire_now(requests)
    }

    async fn refund(&self, at: Nanos, requests: &[LimitRequest<'_>]) -> Result<(), StoreError> {
        self.limiter.refund(at, requests)
    }

    fn release(&self, leases: Vec<Lease>) {
        let now = self.limiter.clock().now();
        for lease in &leases {
            if let Err(error) = self.limiter.store().release(now, lease) {
                tracing::warn!(%error, "lease release failed");
            }
        }
    }
}
