//! Concurrency slots a request holds, as one value that gives them back to the store that gave
//! them when it is dropped: at the end of a response body, when a client goes away mid-request
//! (its handler's future is dropped), or at once where nothing tells when a request ends (the
//! check API, forward-auth). No adapter hands slots back by hand.

use std::sync::Arc;

use tollgate_core::{Clock, Lease, Limiter, MemoryStore, Store};

use crate::Shared;

/// Slots held, given back on drop.
#[derive(Default)]
pub struct Held {
    leases: Vec<Lease>,
    giver: Option<Arc<dyn GiveBack>>,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held")
            .field("leases", &self.leases.len())
            .finish()
    }
}

impl Held {
    /// `leases`, to be given back to `giver`.
    pub(crate) fn new(leases: &[Lease], giver: &Arc<dyn GiveBack>) -> Self {
        Self {
            leases: leases.to_vec(),
            giver: (!leases.is_empty()).then(|| Arc::clone(giver)),
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(giver) = self.giver.take() {
            giver.give_back(std::mem::take(&mut self.leases));
        }
    }
}

/// A store that takes slots back.
pub(crate) trait GiveBack: Send + Sync + std::fmt::Debug {
    /// Gives `leases` back, now or soon.
    fn give_back(&self, leases: Vec<Lease>);
}

/// The embedded store: given back at once.
pub(crate) struct ToMemory<C: Clock>(pub(crate) Arc<Limiter<MemoryStore, C>>);

impl<C: Clock> std::fmt::Debug for ToMemory<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ToMemory")
    }
}

impl<C: Clock> GiveBack for ToMemory<C> {
    fn give_back(&self, leases: Vec<Lease>) {
        let now = self.0.clock().now();
        for lease in &leases {
            if let Err(error) = self.0.store().release(now, lease) {
                tracing::warn!(%error, "lease release failed");
            }
        }
    }
}

/// The shared store: given back by a task (a drop cannot wait); without a runtime the slots
/// free themselves when their leases expire.
#[derive(Debug)]
pub(crate) struct ToShared(pub(crate) Arc<Shared>);

impl GiveBack for ToShared {
    fn give_back(&self, leases: Vec<Lease>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let shared = Arc::clone(&self.0);
        runtime.spawn(async move {
            if let Err(error) = shared.store.release(&leases).await {
                tracing::warn!(%error, "lease release failed; the slots free themselves when they expire");
            }
        });
    }
}
