//! A request admitted to wait for its turn (a token bucket's `delay`), as a value: the instant
//! it may start, and what it took, given back by itself when it is dropped before then — the
//! client left while waiting, or the answer could not wait (forward-auth, the check API).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tollgate_core::{Algorithm, Decision, Key, LimitRequest, LimitStore, Nanos};

use crate::metrics::Turns;

/// A turn to wait for, given back if dropped before it comes.
pub(crate) struct Turn {
    /// When it comes, by the store's clock.
    at: Nanos,
    /// When it comes, by the runtime's timer.
    deadline: tokio::time::Instant,
    /// When the decision was taken, by the store's clock.
    decided_at: Nanos,
    /// What each limit took, with the state its admission stored.
    taken: Vec<Taken>,
    /// The store that took it.
    store: Arc<dyn LimitStore>,
    /// Whether it came: nothing is given back then.
    reached: bool,
    /// Where it counts itself.
    figures: Arc<Turns>,
}

/// One limit's part of a turn, kept past the policy's lifetime.
#[derive(Debug)]
struct Taken {
    key: Key,
    root: Key,
    algorithm: Algorithm,
    cost: u32,
    reserved: Nanos,
}

impl std::fmt::Debug for Turn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Turn")
            .field("at", &self.at)
            .field("decided_at", &self.decided_at)
            .field("limits", &self.taken.len())
            .finish_non_exhaustive()
    }
}

impl Turn {
    /// The turn `decision` gave `requests` (its limits, in the same order), taken from `store`,
    /// `now` being the store clock's reading, counted in `figures`; `None` when the request may
    /// start at once.
    pub(crate) fn of(
        decision: &Decision,
        requests: &[LimitRequest<'_>],
        store: Arc<dyn LimitStore>,
        now: Nanos,
        figures: &Arc<Turns>,
    ) -> Option<Self> {
        let at = decision.turn()?;
        let taken = requests
            .iter()
            .zip(decision.outcomes())
            .map(|(request, outcome)| Taken {
                key: request.key,
                root: request.root,
                algorithm: request.algorithm.clone(),
                cost: request.cost,
                reserved: outcome.reset_at(),
            })
            .collect();
        Some(Self {
            at,
            deadline: tokio::time::Instant::now() + Duration::from_nanos(at.saturating_sub(now)),
            decided_at: decision.at(),
            taken,
            store,
            reached: false,
            figures: Arc::clone(figures),
        })
    }

    /// When it comes, by the store's clock.
    pub(crate) fn at(&self) -> Nanos {
        self.at
    }

    /// Waits for it, counted as waiting meanwhile; from then on, dropping it gives nothing back.
    pub(crate) async fn wait(&mut self) {
        let waiting = Waiting::counted(&self.figures);
        tokio::time::sleep_until(self.deadline).await;
        drop(waiting);
        self.assume();
    }

    /// Takes it as come (a simulation's clock has passed it): dropping it gives nothing back.
    pub(crate) fn assume(&mut self) {
        self.reached = true;
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if self.reached {
            return;
        }
        let requests: Vec<LimitRequest<'_>> = self
            .taken
            .iter()
            .map(|taken| {
                LimitRequest::new(taken.key, &taken.algorithm, taken.cost).with_root(taken.root)
            })
            .collect();
        let reserved: Vec<Nanos> = self.taken.iter().map(|taken| taken.reserved).collect();
        if let Err(error) = self.store.withdraw(self.decided_at, &requests, &reserved) {
            tracing::warn!(%error, "a turn left unused was not given back");
        }
        self.figures.given_back.fetch_add(1, Ordering::Relaxed);
    }
}

/// One request counted as waiting for its turn while this lives (a future dropped mid-wait
/// included).
struct Waiting<'a>(&'a Turns);

impl<'a> Waiting<'a> {
    fn counted(figures: &'a Turns) -> Self {
        figures.waiting.fetch_add(1, Ordering::Relaxed);
        Self(figures)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}
