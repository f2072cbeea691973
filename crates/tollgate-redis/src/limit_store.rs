//! The Redis store as a [`LimitStore`]: what a server holds as the store shared by its instances.

use tollgate_core::{
    Algorithm, Decision, Key, Lease, LimitRequest, LimitStore, Nanos, StoreError, StoreFuture,
};

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

    /// Given back by a task (a drop cannot wait), which logs its own failure; without a runtime
    /// the turn lapses unused.
    fn withdraw(
        &self,
        decided_at: Nanos,
        requests: &[LimitRequest<'_>],
        reserved: &[Nanos],
    ) -> Result<(), StoreError> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Ok(());
        };
        let store = self.clone();
        let owned: Vec<(Key, Key, Algorithm, u32)> = requests
            .iter()
            .map(|request| {
                let algorithm = request.algorithm.clone();
                (request.key, request.root, algorithm, request.cost)
            })
            .collect();
        let reserved = reserved.to_vec();
        runtime.spawn(async move {
            let requests: Vec<LimitRequest<'_>> = owned
                .iter()
                .map(|(key, root, algorithm, cost)| {
                    LimitRequest::new(*key, algorithm, *cost).with_root(*root)
                })
                .collect();
            if let Err(error) = Self::withdraw(&store, decided_at, &requests, &reserved).await {
                tracing::warn!(%error, "a turn left unused was not given back");
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
