//! Where limits live, behind one async interface: the embedded memory store
//! ([`Local`]), Redis shared by many instances ([`Remote`]), and the failure policy as a wrapper
//! around a shared one ([`Failover`]). The pipeline asks [`Stores::acquire`] and gets back what
//! was taken and by whom; it never asks which store that was.

mod failover;
mod held;
mod local;
mod remote;

use std::future::Future;
use std::sync::Arc;

pub(crate) use failover::Failover;
pub use failover::{Shared, SharedHealth};
pub use held::Held;
pub(crate) use local::Local;
pub(crate) use remote::Remote;
use tollgate_core::{Clock, Decision, Lease, LimitRequest, Nanos, StoreError};

/// A store that decides requests, gives back refunds, and takes back concurrency slots.
pub(crate) trait LimitStore: Send + Sync + std::fmt::Debug + 'static {
    /// Decides `requests` at once, all or nothing.
    fn acquire(
        &self,
        requests: &[LimitRequest<'_>],
    ) -> impl Future<Output = Result<Decision, StoreError>> + Send;

    /// Gives back what `requests` took at `at`.
    fn refund(
        &self,
        at: Nanos,
        requests: &[LimitRequest<'_>],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Takes back `leases`, now or soon: called from a drop, so it cannot wait.
    fn release(&self, leases: Vec<Lease>);
}

/// A store that took something, as what a request keeps to give it back: object-safe, so that
/// an admission holds it without knowing which store it is.
pub(crate) trait Taker: Send + Sync + std::fmt::Debug {
    /// See [`LimitStore::release`].
    fn release(&self, leases: Vec<Lease>);

    /// See [`LimitStore::refund`] (a refund is rare: its future is boxed).
    fn refund<'a>(
        &'a self,
        at: Nanos,
        requests: &'a [LimitRequest<'a>],
    ) -> futures_util::future::BoxFuture<'a, Result<(), StoreError>>;
}

impl<S: LimitStore> Taker for S {
    fn release(&self, leases: Vec<Lease>) {
        LimitStore::release(self, leases);
    }

    fn refund<'a>(
        &'a self,
        at: Nanos,
        requests: &'a [LimitRequest<'a>],
    ) -> futures_util::future::BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(LimitStore::refund(self, at, requests))
    }
}

/// What a request took from a store.
#[derive(Debug)]
pub(crate) struct Taken {
    /// The decision.
    pub(crate) decision: Decision,
    /// The slots it holds, given back to the store that gave them when dropped.
    pub(crate) held: Held,
    /// Where refunds go: the store that decided, unless it only stood in for an unreachable
    /// shared one (whose charges are not refunded).
    pub(crate) refunds_to: Option<Arc<dyn Taker>>,
}

/// What the store where limits live answered.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "almost every answer is `Decided`; boxing it would allocate on each"
)]
pub(crate) enum Acquired {
    /// A decision.
    Decided(Taken),
    /// The shared store failed and its failure policy admits without counting.
    Unlimited,
    /// The store failed and the request is refused.
    Failed(StoreError),
}

/// The store where limits live: the embedded one, or a shared one with its failure policy.
#[derive(Debug)]
pub(crate) enum Stores<C: Clock> {
    /// Limits in this process (journaled or not).
    Local(Arc<Local<C>>),
    /// Limits in Redis, with the embedded store standing in as the failure policy says.
    Shared(Failover<C>),
}

impl<C: Clock + 'static> Stores<C> {
    /// Decides `requests` where limits live.
    pub(crate) async fn acquire(&self, requests: &[LimitRequest<'_>]) -> Acquired {
        match self {
            Self::Local(local) => match local.acquire(requests).await {
                Ok(decision) => Acquired::Decided(taken_by(decision, local, true)),
                Err(error) => {
                    // A full store is counted in /metrics (refused partitions), not logged per
                    // request; a shared store's outage is logged once by its failure policy.
                    if !matches!(error, StoreError::Full { .. }) {
                        tracing::error!(%error, "limit store fault; refusing");
                    }
                    Acquired::Failed(error)
                }
            },
            Self::Shared(failover) => failover.acquire(requests).await,
        }
    }
}

impl<C: Clock> Stores<C> {
    /// The shared store and its health, if limits live in one.
    pub(crate) fn shared(&self) -> Option<&Shared> {
        match self {
            Self::Local(_) => None,
            Self::Shared(failover) => Some(failover.shared()),
        }
    }
}

/// `decision`, its slots held for `store`, refunded to it when `refunds`.
pub(crate) fn taken_by<S: LimitStore>(decision: Decision, store: &Arc<S>, refunds: bool) -> Taken {
    let taker: Arc<dyn Taker> = Arc::clone(store) as Arc<dyn Taker>;
    Taken {
        held: Held::new(decision.leases(), &taker),
        refunds_to: refunds.then_some(taker),
        decision,
    }
}
