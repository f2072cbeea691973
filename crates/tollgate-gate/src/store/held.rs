//! Concurrency slots a request holds, as one value that gives them back to the store that gave
//! them when it is dropped: at the end of a response body, when a client goes away mid-request
//! (its handler's future is dropped), or at once where nothing tells when a request ends (the
//! check API, forward-auth). No adapter hands slots back by hand.

use std::sync::Arc;

use tollgate_core::{Lease, LimitStore};

/// Slots held, given back on drop.
#[derive(Default)]
pub struct Held {
    leases: Vec<Lease>,
    giver: Option<Arc<dyn LimitStore>>,
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
    pub(crate) fn new(leases: &[Lease], giver: &Arc<dyn LimitStore>) -> Self {
        Self {
            leases: leases.to_vec(),
            giver: (!leases.is_empty()).then(|| Arc::clone(giver)),
        }
    }

    /// Whether no slot is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.leases.is_empty()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(giver) = self.giver.take() {
            if let Err(error) = giver.release(std::mem::take(&mut self.leases)) {
                tracing::warn!(%error, "lease release failed");
            }
        }
    }
}
