//! The token bucket, as the generic cell rate algorithm (GCRA).
//!
//! The state is one instant, the *theoretical arrival time* (TAT): the moment the bucket would be
//! full again if nothing else arrived. A request of cost `c` is admitted when, after pushing the
//! TAT forward by `c` emission intervals, it lies no further than `burst` intervals ahead of now.

use std::time::Duration;

use super::divisor::Divisor;
use super::error::{LimitError, MAX_SPAN};
use super::transition::Transition;
use crate::{Nanos, Outcome, duration_nanos};

/// A steady rate: `count` units per `period`.
///
/// "1 request every 2 s" is `Rate::new(1, 2 s)`; "2 per second" is `Rate::new(2, 1 s)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    count: u64,
    period: Duration,
}

impl Rate {
    /// `count` units every `period`.
    #[must_use]
    pub const fn new(count: u64, period: Duration) -> Self {
        Self { count, period }
    }

    /// `count` units per second.
    #[must_use]
    pub const fn per_second(count: u64) -> Self {
        Self::new(count, Duration::from_secs(1))
    }

    /// Units per [`period`](Self::period).
    #[must_use]
    pub const fn count(&self) -> u64 {
        self.count
    }

    /// The period `count` units come in.
    #[must_use]
    pub const fn period(&self) -> Duration {
        self.period
    }
}

/// A token bucket: refilled at a [`Rate`], holding at most `burst` tokens, one `u64` of state.
///
/// The emission interval is `period / count` rounded *up* to a whole nanosecond, so the bucket
/// never admits more than `burst + rate × t` over any span `t` (it may admit one token less per
/// `period / count` nanoseconds than an exact rational bucket: under a nanosecond per token).
///
/// ```
/// use std::time::Duration;
/// use tollgate_core::{Rate, TokenBucket};
///
/// // "1 request every 2 s, up to 3 at once"
/// let bucket = TokenBucket::new(Rate::new(1, Duration::from_secs(2)), 3).unwrap();
/// let mut state = 0;
/// for _ in 0..3 {
///     let step = bucket.decide(state, 0, 1);
///     assert!(step.outcome.allowed());
///     state = step.state;
/// }
/// let refused = bucket.decide(state, 0, 1);
/// assert!(!refused.outcome.allowed());
/// assert_eq!(refused.outcome.retry_at(), Some(2_000_000_000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBucket {
    /// The rate as it was given, which is what people are shown.
    rate: Rate,
    interval: Nanos,
    per_interval: Divisor,
    burst: u64,
    tolerance: Nanos,
}

impl TokenBucket {
    /// A bucket refilled at `rate` holding up to `burst` tokens.
    ///
    /// # Errors
    /// A zero count, period or burst, or a burst so large that the bucket would take more than a
    /// century to refill.
    pub fn new(rate: Rate, burst: u64) -> Result<Self, LimitError> {
        if rate.count == 0 {
            return Err(LimitError::Zero("rate count"));
        }
        if rate.period.is_zero() {
            return Err(LimitError::Zero("rate period"));
        }
        if burst == 0 {
            return Err(LimitError::Zero("burst"));
        }
        let interval = duration_nanos(rate.period).div_ceil(rate.count);
        let tolerance = interval
            .checked_mul(burst)
            .filter(|&span| span <= MAX_SPAN)
            .ok_or(LimitError::TooLong)?;
        Ok(Self {
            rate,
            interval,
            per_interval: Divisor::new(interval),
            burst,
            tolerance,
        })
    }

    /// The rate as it was given (`5/s` is 5 per second, not 1 per 200 ms).
    #[must_use]
    pub const fn rate(&self) -> Rate {
        self.rate
    }

    /// Nanoseconds between two tokens.
    #[must_use]
    pub const fn interval(&self) -> Nanos {
        self.interval
    }

    /// The most tokens the bucket holds.
    #[must_use]
    pub const fn burst(&self) -> u64 {
        self.burst
    }

    /// Decides a request of `cost` tokens at `now` against the stored TAT `state`.
    #[inline]
    #[must_use]
    pub fn decide(&self, state: u64, now: Nanos, cost: u32) -> Transition {
        let tat = state.max(now);
        // A bucket whose TAT lies beyond `now + tolerance` (the clock went back) holds nothing.
        let horizon = now + self.tolerance;
        let available = horizon.saturating_sub(tat) / self.per_interval;
        let wanted = u64::from(cost.max(1));
        let outcome = if wanted <= available {
            let charged = if cost == 0 { 0 } else { wanted };
            Outcome::admitted(
                self.burst,
                available - charged,
                tat + charged * self.interval,
                now,
            )
        } else {
            // Admitted once `tat + wanted × interval <= t + tolerance`.
            let retry_at = (wanted <= self.burst)
                .then(|| (tat + wanted * self.interval).saturating_sub(self.tolerance));
            Outcome::refused(self.burst, available, tat, retry_at)
        };
        let state = if outcome.allowed() && cost > 0 {
            outcome.reset_at()
        } else {
            state
        };
        Transition { outcome, state }
    }
}

impl TokenBucket {
    /// Gives back `cost` tokens taken at `charged_at`: the state with the TAT moved back, never
    /// before `charged_at` (a bucket already full stays full).
    #[must_use]
    pub(crate) fn refund(&self, state: u64, charged_at: Nanos, cost: u32) -> u64 {
        if state <= charged_at {
            return state;
        }
        state
            .saturating_sub(u64::from(cost).saturating_mul(self.interval))
            .max(charged_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NANOS_PER_SEC as SEC;

    fn bucket(count: u64, period_secs: u64, burst: u64) -> TokenBucket {
        TokenBucket::new(Rate::new(count, Duration::from_secs(period_secs)), burst).unwrap()
    }

    /// Runs `cost` at each time, threading the state; returns which were admitted.
    fn run(bucket: &TokenBucket, requests: &[(Nanos, u32)]) -> Vec<bool> {
        let mut state = 0;
        requests
            .iter()
            .map(|&(now, cost)| {
                let step = bucket.decide(state, now, cost);
                state = step.state;
                step.outcome.allowed()
            })
            .collect()
    }

    #[test]
    fn one_every_two_seconds_burst_three() {
        let b = bucket(1, 2, 3);
        let t0 = 1_000 * SEC;
        let admitted = run(
            &b,
            &[
                (t0, 1),
                (t0, 1),
                (t0, 1),
                (t0, 1),
                (t0 + 2 * SEC - 1, 1),
                (t0 + 2 * SEC, 1),
            ],
        );
        assert_eq!(admitted, [true, true, true, false, false, true]);
    }

    #[test]
    fn two_per_second_burst_five() {
        let b = bucket(2, 1, 5);
        assert_eq!(b.interval(), SEC / 2);
        let mut state = 0;
        for expected_remaining in (0..5).rev() {
            let step = b.decide(state, 0, 1);
            assert_eq!(step.outcome.remaining(), expected_remaining);
            state = step.state;
        }
        let refused = b.decide(state, 0, 1);
        assert_eq!(refused.outcome.retry_at(), Some(SEC / 2));
        assert_eq!(refused.outcome.reset_at(), 5 * SEC / 2);
        assert!(b.decide(state, SEC / 2, 1).outcome.allowed());
        assert!(!b.decide(state, SEC / 2 - 1, 1).outcome.allowed());
    }

    #[test]
    fn cost_above_burst_never_fits() {
        let refused = bucket(1, 1, 3).decide(0, 0, 4);
        assert!(!refused.outcome.allowed());
        assert_eq!(refused.outcome.retry_at(), None);
        assert_eq!(refused.outcome.remaining(), 3);
    }

    #[test]
    fn peek_reports_without_charging() {
        let b = bucket(1, 1, 2);
        let first = b.decide(0, 10, 1);
        let peek = b.decide(first.state, 10, 0);
        assert!(peek.outcome.allowed());
        assert_eq!(peek.outcome.remaining(), 1);
        assert_eq!(peek.state, first.state);
        let empty = b.decide(first.state, 10, 1).state;
        let peek = b.decide(empty, 10, 0);
        assert!(!peek.outcome.allowed());
        assert_eq!(peek.outcome.retry_at(), Some(10 + SEC));
        assert_eq!(peek.state, empty);
    }

    #[test]
    fn interval_rounds_up() {
        let b = TokenBucket::new(Rate::per_second(3), 1).unwrap();
        assert_eq!(b.interval(), 333_333_334);
    }

    #[test]
    fn full_bucket_state_is_at_rest() {
        let b = bucket(1, 1, 5);
        let step = b.decide(0, 100, 1);
        assert!(step.state > 100);
        // Once the TAT has passed, the state decides like an absent one.
        let later = step.state + 7;
        assert_eq!(b.decide(step.state, later, 1), b.decide(0, later, 1));
    }

    #[test]
    fn refund_gives_tokens_back_but_never_beyond_full() {
        let b = bucket(1, 1, 3);
        let mut state = 0;
        for _ in 0..3 {
            state = b.decide(state, 0, 1).state;
        }
        assert!(!b.decide(state, 0, 1).outcome.allowed());
        let refunded = b.refund(state, 0, 1);
        assert_eq!(b.decide(refunded, 0, 0).outcome.remaining(), 1);
        assert_eq!(b.refund(refunded, 0, 10), 0, "full, not fuller");
        assert_eq!(b.refund(5, 10, 1), 5, "a state at rest is left alone");
    }

    #[test]
    fn rejects_bad_numbers() {
        let zero = TokenBucket::new(Rate::per_second(0), 1);
        assert_eq!(zero, Err(LimitError::Zero("rate count")));
        assert_eq!(
            TokenBucket::new(Rate::per_second(1), 0),
            Err(LimitError::Zero("burst"))
        );
        let centuries = TokenBucket::new(Rate::new(1, Duration::from_secs(86_400 * 365)), 1_000);
        assert_eq!(centuries, Err(LimitError::TooLong));
    }
}
