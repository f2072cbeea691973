//! Concurrency slots a request holds, as one value that gives them back to the store that gave
//! them when it is dropped: at the end of a response body, when a client goes away mid-request
//! (its handler's future is dropped), or at once where nothing tells when a request ends (the
//! check API, forward-auth). No adapter hands slots back by hand.

use std::sync::Arc;

use tollgate_core::Lease;

use super::Taker;

/// Slots held, given back on drop.
#[derive(Default)]
pub struct Held {
    leases: Vec<Lease>,
    giver: Option<Arc<dyn Taker>>,
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
    pub(crate) fn new(leases: &[Lease], giver: &Arc<dyn Taker>) -> Self {
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
            giver.release(std::mem::take(&mut self.leases));
        }
    }
}
