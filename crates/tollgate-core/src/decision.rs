//! What a limit says about a request, and what all the limits of a request say together.

use smallvec::SmallVec;

use crate::{Key, Nanos};

/// The verdict of one limit on one request.
///
/// A refusal is an outcome, not an error: it carries what a client needs to come back at the
/// right time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    limit: u64,
    remaining: u64,
    reset_at: Nanos,
    /// [`NEVER`] when the request can never be admitted.
    retry_at: Nanos,
    /// 1 when admitted, 0 when refused. A whole word rather than a `bool`: a one-byte field,
    /// copied with the rest of the struct as words, stalls store forwarding on the hot path
    /// of every decision (measured, a fifth of its time).
    allowed: u64,
}

/// The `retry_at` of a request that can never be admitted.
const NEVER: Nanos = Nanos::MAX;

impl Outcome {
    /// An admitted request: `remaining` units left after its charge, decided at `now`.
    #[must_use]
    pub const fn admitted(limit: u64, remaining: u64, reset_at: Nanos, now: Nanos) -> Self {
        Self {
            limit,
            remaining,
            reset_at,
            retry_at: now,
            allowed: 1,
        }
    }

    /// A refused request: nothing charged, `remaining` units left, admissible from
    /// `retry_at` (`None`: never, its cost exceeds the limit).
    #[must_use]
    pub const fn refused(
        limit: u64,
        remaining: u64,
        reset_at: Nanos,
        retry_at: Option<Nanos>,
    ) -> Self {
        Self {
            limit,
            remaining,
            reset_at,
            retry_at: match retry_at {
                Some(at) => at,
                None => NEVER,
            },
            allowed: 0,
        }
    }

    /// Whether this limit admits the request.
    #[must_use]
    pub const fn allowed(&self) -> bool {
        self.allowed != 0
    }

    /// The limit's capacity: a window's maximum, a bucket's burst, a concurrency maximum.
    #[must_use]
    pub const fn limit(&self) -> u64 {
        self.limit
    }

    /// Units left after this decision (after the charge when admitted; untouched when refused).
    #[must_use]
    pub const fn remaining(&self) -> u64 {
        self.remaining
    }

    /// When the limit is whole again: the end of the window, the instant a bucket is full, the
    /// expiry of the last lease.
    #[must_use]
    pub const fn reset_at(&self) -> Nanos {
        self.reset_at
    }

    /// The earliest instant at which the same request would be admitted if nothing else happened
    /// in between, `None` when it never can be (its cost exceeds the limit). When admitted, its
    /// turn: the decision's own time, or a later instant for a request admitted to wait for it
    /// (a token bucket with a [`Delay`](crate::Delay)).
    #[must_use]
    pub const fn retry_at(&self) -> Option<Nanos> {
        if self.retry_at == NEVER {
            None
        } else {
            Some(self.retry_at)
        }
    }

    /// The same outcome with the holdings of the limit replaced (a store reporting a limit that
    /// would have admitted a refused request as it stands, uncharged).
    #[must_use]
    pub(crate) const fn holding(self, remaining: u64, reset_at: Nanos) -> Self {
        Self {
            remaining,
            reset_at,
            ..self
        }
    }
}

/// An in-flight slot on a concurrency limit, held until released or expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The partition the slot belongs to.
    pub key: Key,
    /// The partition's root (see [`LimitRequest::root`](crate::LimitRequest::root)).
    pub root: Key,
    /// When the slot frees itself if never released.
    pub expires_at: Nanos,
    /// How many units the slot holds.
    pub cost: u32,
}

/// The verdict of all the limits of one request, taken at once.
///
/// Admitted only if every limit admits it; when one refuses, none is charged. Up to three
/// limits are held without a heap allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    outcomes: SmallVec<[Outcome; 4]>,
    leases: Vec<Lease>,
    at: Nanos,
    journaled: bool,
}

/// The outcomes of a decision, one per limit.
pub type Outcomes = SmallVec<[Outcome; 4]>;

impl Decision {
    /// A decision taken at `at` (the store's clock), made of the outcomes of each limit in
    /// request order, and the concurrency leases it holds (none unless admitted).
    #[must_use]
    pub fn new(at: Nanos, outcomes: Outcomes, leases: Vec<Lease>) -> Self {
        Self {
            outcomes,
            leases,
            at,
            journaled: false,
        }
    }

    /// Marks the decision as having written state that a journal must make durable.
    #[must_use]
    pub(crate) fn journaled(mut self, journaled: bool) -> Self {
        self.journaled = journaled;
        self
    }

    /// Whether the decision wrote long-lived state into a journaled store: an answer should
    /// wait until the journal has it on disk (see [`MemoryStore::take_journal`]).
    ///
    /// [`MemoryStore::take_journal`]: crate::MemoryStore::take_journal
    #[must_use]
    pub fn needs_journal(&self) -> bool {
        self.journaled
    }

    /// When the decision was taken, by the store's clock: what `retry_at` and `reset_at` are
    /// relative to when turned into seconds.
    #[must_use]
    pub fn at(&self) -> Nanos {
        self.at
    }

    /// Whether every limit admitted the request (a request with no limits is admitted).
    #[must_use]
    pub fn allowed(&self) -> bool {
        self.outcomes.iter().all(Outcome::allowed)
    }

    /// The outcome of each limit, in the order the limits were asked.
    #[must_use]
    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }

    /// The earliest instant at which the same request would be admitted: the latest `retry_at`
    /// of its limits (each limit, once it admits a request, keeps admitting it as time passes
    /// with no other traffic). `None` if some limit never will. Exact when each partition
    /// appears once in the request; a partition named twice is judged limit by limit.
    #[must_use]
    pub fn retry_at(&self) -> Option<Nanos> {
        self.outcomes.iter().try_fold(0, |latest: Nanos, outcome| {
            Some(latest.max(outcome.retry_at()?))
        })
    }

    /// When an admitted request may start: `Some` only when that lies after the decision (a
    /// limit admitted it to wait for its turn; see [`Delay`](crate::Delay)), the latest turn of
    /// its limits.
    #[must_use]
    pub fn turn(&self) -> Option<Nanos> {
        if !self.allowed() {
            return None;
        }
        self.retry_at().filter(|&turn| turn > self.at)
    }

    /// The concurrency leases this decision holds; give them back with
    /// [`Limiter::release`](crate::Limiter::release) when the response is done.
    #[must_use]
    pub fn leases(&self) -> &[Lease] {
        &self.leases
    }
}

#[cfg(test)]
mod tests {
    use smallvec::smallvec;

    use super::*;

    fn outcome(allowed: bool, remaining: u64, retry_at: Option<Nanos>) -> Outcome {
        if allowed {
            Outcome::admitted(10, remaining, 100, retry_at.unwrap())
        } else {
            Outcome::refused(10, remaining, 100, retry_at)
        }
    }

    #[test]
    fn refused_when_any_limit_refuses() {
        let decision = Decision::new(
            100,
            smallvec![
                outcome(true, 3, Some(5)),
                outcome(false, 0, Some(50)),
                outcome(false, 0, Some(20)),
            ],
            Vec::new(),
        );
        assert!(!decision.allowed());
        assert_eq!(decision.retry_at(), Some(50));
    }

    #[test]
    fn never_wins_over_any_time() {
        let decision = Decision::new(
            100,
            smallvec![outcome(false, 0, None), outcome(false, 0, Some(9))],
            Vec::new(),
        );
        assert_eq!(decision.retry_at(), None);
    }

    #[test]
    fn admitted_when_every_limit_admits() {
        let decision = Decision::new(
            100,
            smallvec![outcome(true, 7, Some(1)), outcome(true, 2, Some(1))],
            Vec::new(),
        );
        assert!(decision.allowed());
    }

    #[test]
    fn empty_decision_admits() {
        assert!(Decision::new(0, SmallVec::new(), Vec::new()).allowed());
    }
}
