//! Where limits live, behind [`LimitStore`](tollgate_core::LimitStore): the embedded memory
//! store (a limiter on the gate's clock), or a store shared by many instances (Redis, or any
//! other `LimitStore`) wrapped in its failure policy ([`Failover`]). The pipeline asks
//! [`Stores::acquire`] and gets back what was taken and by whom; it never asks which store
//! that was.

mod failover;
mod held;

use std::sync::Arc;

pub(crate) use failover::Failover;
pub use failover::{Shared, SharedHealth};
pub use held::Held;
use tollgate_core::{Clock, Decision, LimitRequest, LimitStore, Limiter, MemoryStore, StoreError};

/// The embedded store and the clock it decides on.
pub(crate) type Local<C> = Limiter<MemoryStore, C>;

/// What a request took from a store.
#[derive(Debug)]
pub(crate) struct Taken {
    /// The decision.
    pub(crate) decision: Decision,
    /// The slots it holds, given back to the store that gave them when dropped.
    pub(crate) held: Held,
    /// Where refunds go: the store that decided, unless it only stood in for an unreachable
    /// shared one (whose charges are not refunded).
    pub(crate) refunds_to: Option<Arc<dyn LimitStore>>,
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
    /// Limits in this process (journaled or not), decided at once: no future, no allocation.
    Local(Arc<Local<C>>),
    /// Limits in a shared store, with the embedded one standing in as the failure policy says.
    Shared(Box<Failover<C>>),
}

impl<C: Clock + 'static> Stores<C> {
    /// Decides `requests` where limits live.
    pub(crate) async fn acquire(&self, requests: &[LimitRequest<'_>]) -> Acquired {
        match self {
            Self::Local(local) => match local.acquire(requests) {
                Ok(decision) => Acquired::Decided(taken_by(decision, Arc::clone(local) as _, true)),
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
pub(crate) fn taken_by(decision: Decision, store: Arc<dyn LimitStore>, refunds: bool) -> Taken {
    Taken {
        held: Held::new(decision.leases(), &store),
        refunds_to: refunds.then_some(store),
        decision,
    }
}
