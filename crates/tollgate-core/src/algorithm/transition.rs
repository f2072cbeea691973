//! The result of one decision of an algorithm: its outcome and the state to store.

use crate::Outcome;

/// The result of deciding one request against one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// What the limit says.
    pub outcome: Outcome,
    /// The state to store: changed only when a request of cost ≥ 1 is admitted.
    pub state: u64,
}
