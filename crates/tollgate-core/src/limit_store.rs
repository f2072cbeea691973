//! Where a server takes its limits from, awaited: the one interface the embedded store (a
//! [`Limiter`] over a [`Store`] and a clock) and a store shared by many instances (Redis, or one
//! written outside this project) both implement. Object-safe, so that a server holds any of
//! them as `Arc<dyn LimitStore>`.

use std::future::Future;
use std::pin::Pin;

use crate::{Clock, Decision, Lease, LimitRequest, Limiter, Nanos, Store, StoreError};

/// What a [`LimitStore`] answers, later.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store that decides the limits of a request at once, on its own clock, and takes back what
/// it gave.
///
/// Implementations keep the contract of [`Store`]: all or nothing, and never more admitted than
/// a limit allows however many callers ask at once. A store that cannot keep an algorithm's
/// numbers exactly says so before it serves (see [`Unsupported`](crate::Unsupported)).
pub trait LimitStore: Send + Sync + std::fmt::Debug {
    /// Decides `requests` now, charging every limit or none.
    ///
    /// # Errors
    /// Only for faults of the store; a refusal is a [`Decision`].
    fn acquire<'a>(&'a self, requests: &'a [LimitRequest<'a>]) -> StoreFuture<'a, Decision>;

    /// Gives back what a decision admitted at `decided_at` took for `requests` (see
    /// [`Store::refund`]).
    ///
    /// # Errors
    /// Only for faults of the store.
    fn refund<'a>(
        &'a self,
        decided_at: Nanos,
        requests: &'a [LimitRequest<'a>],
    ) -> StoreFuture<'a, ()>;

    /// Takes back `leases`: at once, or soon by a task of its own, since this is called where a
    /// request ends (a drop) and nothing can wait.
    ///
    /// # Errors
    /// A fault known at once; a store that gives back later reports its own.
    fn release(&self, leases: Vec<Lease>) -> Result<(), StoreError>;

    /// Gives back what a decision admitted at `decided_at` took for `requests` when the request
    /// leaves before its turn (see [`Store::withdraw`]): at once, or soon by a task of its own,
    /// since this is called where a waiting request is dropped. A store that keeps no
    /// [`Delay`](crate::Delay) never admits a request to wait, has nothing to take back, and
    /// keeps this default.
    ///
    /// # Errors
    /// A fault known at once.
    fn withdraw(
        &self,
        decided_at: Nanos,
        requests: &[LimitRequest<'_>],
        reserved: &[Nanos],
    ) -> Result<(), StoreError> {
        let _ = (decided_at, requests, reserved);
        Ok(())
    }

    /// The key seed every instance sharing this store must hash partitions with: `proposed`,
    /// unless the store already holds one (another instance came first). A store no other
    /// instance reaches keeps no seed and answers `proposed`.
    ///
    /// # Errors
    /// When the store cannot be reached or holds a damaged seed.
    fn shared_seed(&self, proposed: [u8; 16]) -> StoreFuture<'_, [u8; 16]> {
        Box::pin(std::future::ready(Ok(proposed)))
    }

    /// Answers of a cluster that the store followed since it connected, by kind (Redis
    /// Cluster's `MOVED`, `ASK` and retries), for `/metrics`; none for a single server.
    fn redirections(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

/// The embedded store: decided at once, on the limiter's clock.
impl<S, C> LimitStore for Limiter<S, C>
where
    S: Store + std::fmt::Debug,
    C: Clock,
{
    fn acquire<'a>(&'a self, requests: &'a [LimitRequest<'a>]) -> StoreFuture<'a, Decision> {
        Box::pin(std::future::ready(Self::acquire(self, requests)))
    }

    fn refund<'a>(
        &'a self,
        decided_at: Nanos,
        requests: &'a [LimitRequest<'a>],
    ) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(Self::refund(self, decided_at, requests)))
    }

    fn withdraw(
        &self,
        decided_at: Nanos,
        requests: &[LimitRequest<'_>],
        reserved: &[Nanos],
    ) -> Result<(), StoreError> {
        self.store().withdraw(decided_at, requests, reserved)
    }

    /// Every lease is given back, whichever fails; the first failure is returned.
    fn release(&self, leases: Vec<Lease>) -> Result<(), StoreError> {
        let now = self.clock().now();
        leases
            .iter()
            .map(|lease| self.store().release(now, lease))
            .fold(Ok(()), Result::and)
    }
}
