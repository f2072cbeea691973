//! The Redis store as a [`LimitStore`]: what a server holds as the store shared by its instances.

use tollgate_core::{Decision, Lease, LimitRequest, LimitStore, Nanos, StoreError, StoreFuture};

use crate::RedisStore;

impl LimitStore for RedisStore {
    fn acquire<'a>(&'a self, requests: &'a [LimitRequest<'a>]) -> StoreFuture<'a, Decision> {
        Box::pin(Self::acquire(self, requests))
    }

    fn refund<'a>(
        &'a self,
        decided_at: Nanos,
        requests: &'a [LimitRequest<'a>],
    ) -> StoreFuture<'a, ()> {
        Box::pin(Self::refund(self, decided_at, requests))
    }

    /// Given back by a task (a drop cannot wait), which logs its own failure; without a runtime
    /// the slots free themselves when their leases expire.
    fn release(&self, leases: Vec<Lease>) -> Result<(), StoreError> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Ok(());
        };
        let store = self.clone();
        runtime.spawn(async move {
            if let Err(error) = Self::release(&store, &leases).await {
                tracing::warn!(%error, "lease release failed; the slots free themselves when they expire");
            }
        });
        Ok(())
    }

    fn shared_seed(&self, proposed: [u8; 16]) -> StoreFuture<'_, [u8; 16]> {
        Box::pin(Self::shared_seed(self, proposed))
    }

    fn redirections(&self) -> Vec<(&'static str, u64)> {
        let followed = Self::redirections(self);
        vec![
            ("moved", followed.moved),
            ("asked", followed.asked),
            ("retried", followed.retried),
        ]
    }
}
