//! A request admitted, as a value that owns everything it took: the slots it holds, the
//! charges some limits give back for some upstream statuses, the turn it may wait for, and the
//! store that decided. It gives them back by itself: slots when it (or what
//! [`Admission::settle`] returns) is dropped, refunds when it is settled, its turn when it is
//! dropped before the turn comes. No adapter hands anything back by hand.

use std::sync::Arc;

use tollgate_core::{LimitStore, Nanos};
use tollgate_policy::RefundTicket;

use super::report::Report;
use crate::store::Held;
use crate::turn::Turn;

/// An admitted request: what its answer shows, and what it took.
#[derive(Debug)]
pub struct Admission {
    report: Report,
    held: Held,
    refund: Option<Settlement>,
    turn: Option<Turn>,
}

/// The charges to give back if the upstream answers with a status a limit refunds.
#[derive(Debug)]
struct Settlement {
    ticket: RefundTicket,
    /// When they were taken, by the store's clock.
    at: Nanos,
    /// The store that took them.
    to: Arc<dyn LimitStore>,
}

impl Admission {
    /// Admitted, holding `held`, refunding `ticket` (taken at `at`) to `to` as the limits say,
    /// to start at `turn` when it has one.
    pub(crate) fn new(
        report: Report,
        held: Held,
        refund: Option<(RefundTicket, Nanos, Arc<dyn LimitStore>)>,
        turn: Option<Turn>,
    ) -> Self {
        Self {
            report,
            held,
            refund: refund.map(|(ticket, at, to)| Settlement { ticket, at, to }),
            turn,
        }
    }

    /// Admitted without counting anything (an exempt route, or a store whose failure policy
    /// admits), for `report`.
    pub fn uncounted(report: Report) -> Self {
        Self::new(report, Held::default(), None, None)
    }

    /// When the request's turn comes, by the gate's clock, if it must wait for one (only
    /// [`Gate::admit_waiting`](crate::Gate::admit_waiting) admits such a request).
    #[must_use]
    pub fn turn(&self) -> Option<Nanos> {
        self.turn.as_ref().map(Turn::at)
    }

    /// Takes the request's turn as come without waiting for it: for a simulation whose clock is
    /// not the runtime's (`tollgate replay`), where the request starts at its turn on that
    /// clock. Nothing is given back when it is dropped after.
    pub fn assume_turn(&mut self) {
        if let Some(turn) = &mut self.turn {
            turn.assume();
        }
    }

    /// Waits for the request's turn, if it has one (at once otherwise). Dropped while waiting
    /// — the client left — the admission gives its turn back (see
    /// [`Delay`](tollgate_core::Delay)); once waited, it holds what it took as any other.
    pub async fn wait_for_turn(&mut self) {
        if let Some(turn) = &mut self.turn {
            turn.wait().await;
        }
    }

    /// Whether it holds concurrency slots, which go back when it (or what
    /// [`settle`](Self::settle) returns) is dropped.
    #[must_use]
    pub fn holds_slots(&self) -> bool {
        !self.held.is_empty()
    }

    /// What the answer shows.
    #[must_use]
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// The request's work is done upstream with `status`: gives back what the limits refund for
    /// it, and returns the slots, to be held until the response's body is done.
    pub async fn settle(mut self, status: u16) -> Held {
        if let Some(refund) = self.refund.take() {
            let requests = refund.ticket.refunds(status);
            if !requests.is_empty() {
                if let Err(error) = refund.to.refund(refund.at, &requests).await {
                    tracing::warn!(%error, "give-back failed; the units come back with the window");
                }
            }
        }
        std::mem::take(&mut self.held)
    }
}
