//! Redis, shared by many instances, as a [`LimitStore`].

use tollgate_core::{Decision, Lease, LimitRequest, Nanos, StoreError};
use tollgate_redis::RedisStore;

use super::LimitStore;

/// A Redis store.
#[derive(Debug, Clone)]
pub(crate) struct Remote(pub(crate) RedisStore);

impl LimitStore for Remote {
    async fn acquire(&self, requests: &[LimitRequest<'_>]) -> Result<Decision, StoreError> {
        self.0.acquire(requests).await
    }

    async fn refund(&self, at: Nanos, requests: &[LimitRequest<'_>]) -> Result<(), StoreError> {
        self.0.refund(at, requests).await
    }

    /// Given back by a task (a drop cannot wait); without a runtime the slots free themselves
    /// when their leases expire.
    fn release(&self, leases: Vec<Lease>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = self.0.clone();
        runtime.spawn(async move {
            if let Err(error) = store.release(&leases).await {
                tracing::warn!(%error, "lease release failed; the slots free themselves when they expire");
            }
        });
    }
}
