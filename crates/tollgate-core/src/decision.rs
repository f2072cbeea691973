//! What a limit says about a request, and what all the limits of a request say together.

use smallvec::SmallVec;

use crate::{Key, Nanos};

/// The verdict of one limit on one request.
///
/// A refusal is an outcome, not an error: it carries what a client needs to come back at the
/// right time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Whether this limit admits the request.
    pub allowed: bool,
    /// The limit's capacity: a window's maximum, a bucket's burst, a concurrency maximum.
    pub limit: u64,
    /// Units left after this decision (after the charge when admitted; untouched when refused).
    pub remaining: u64,
    /// When the limit is whole again: the end of the window, the instant a bucket is full, the
    /// expiry of the oldest lease.
    pub reset_at: Nanos,
    /// The earliest instant at which the same request would be admitted if nothing else happened
    /// in between: the decision's own time when admitted, `None` when it never can be (its cost
    /// exceeds the limit).
    pub retry_at: Option<Nanos>,
}

/// An in-flight slot on a concurrency limit, held until released or expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The partition the slot belongs to.
    pub key: Key,
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
    outcomes: SmallVec<[Outcome; 3]>,
    leases: Vec<Lease>,
}

/// The outcomes of a decision, one per limit.
pub type Outcomes = SmallVec<[Outcome; 3]>;

impl Decision {
    /// A decision made of the outcomes of each limit, in request order, and the concurrency
    /// leases it holds (none unless admitted).
    #[must_use]
    pub fn new(outcomes: Outcomes, leases: Vec<Lease>) -> Self {
        Self { outcomes, leases }
    }

    /// Whether every limit admitted the request (a request with no limits is admitted).
    #[must_use]
    pub fn allowed(&self) -> bool {
        self.outcomes.iter().all(|outcome| outcome.allowed)
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
            Some(latest.max(outcome.retry_at?))
        })
    }

    /// The outcome to show a client: the refusing limit that frees up last, or when admitted
    /// the limit with the fewest units left (ties: the one that resets last).
    #[must_use]
    pub fn most_restrictive(&self) -> Option<&Outcome> {
        let refusals = self.outcomes.iter().filter(|outcome| !outcome.allowed);
        if let Some(refusal) = refusals.max_by_key(|o| o.retry_at.unwrap_or(Nanos::MAX)) {
            return Some(refusal);
        }
        self.outcomes
            .iter()
            .min_by_key(|o| (o.remaining, std::cmp::Reverse(o.reset_at)))
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
        Outcome {
            allowed,
            limit: 10,
            remaining,
            reset_at: 100,
            retry_at,
        }
    }

    #[test]
    fn refused_when_any_limit_refuses() {
        let decision = Decision::new(
            smallvec![
                outcome(true, 3, Some(5)),
                outcome(false, 0, Some(50)),
                outcome(false, 0, Some(20)),
            ],
            Vec::new(),
        );
        assert!(!decision.allowed());
        assert_eq!(decision.retry_at(), Some(50));
        assert_eq!(decision.most_restrictive().unwrap().retry_at, Some(50));
    }

    #[test]
    fn never_wins_over_any_time() {
        let decision = Decision::new(
            smallvec![outcome(false, 0, None), outcome(false, 0, Some(9))],
            Vec::new(),
        );
        assert_eq!(decision.retry_at(), None);
        assert_eq!(decision.most_restrictive().unwrap().retry_at, None);
    }

    #[test]
    fn admitted_reports_fewest_remaining() {
        let decision = Decision::new(
            smallvec![outcome(true, 7, Some(1)), outcome(true, 2, Some(1))],
            Vec::new(),
        );
        assert!(decision.allowed());
        assert_eq!(decision.most_restrictive().unwrap().remaining, 2);
    }

    #[test]
    fn empty_decision_admits() {
        assert!(Decision::new(SmallVec::new(), Vec::new()).allowed());
    }
}
