//! The sliding window, approximated from two fixed windows (the weighted two-window counter).
//!
//! The count over the last `period` is estimated as
//! `previous × (period − elapsed) / period + current`, where `previous` and `current` are the
//! units admitted in the previous and the current clock-aligned window and `elapsed` is the time
//! since the current one began. A request of cost `c` is admitted while `estimate + c ≤ max`.
//!
//! **Error bound.** The estimate assumes the previous window's units were spread evenly. It is
//! never below the current window's count, so no clock-aligned window ever admits more than
//! `max`. Over an arbitrary span of `period` it can admit up to `2 × max − 1` in the worst case —
//! the previous window's units all at its very end and the current window's units as late as the
//! estimate allows — and it can refuse early when the previous window's units came at its start.
//! With traffic spread over the window the difference is small; where a hard bound over every
//! span matters, use a token bucket.

use std::time::Duration;

use super::divisor::Divisor;
use super::error::{LimitError, MAX_SPAN};
use super::transition::Transition;
use crate::{Nanos, Outcome, duration_nanos};

/// At most about `max` units per rolling `period`; see the module docs for the error bound.
///
/// The state packs both counts into one `u64`: `end + period + previous × (max + 1) + current`,
/// where `end` is the end of the window it was written in. That requires `(max + 1)² ≤ period`
/// in nanoseconds (for a minute: a max up to 244,947; for a day: 9,295,159).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingWindow {
    max: u64,
    period: Nanos,
    per_period: Divisor,
    per_radix: Divisor,
}

impl SlidingWindow {
    /// About `max` units per rolling `period`.
    ///
    /// # Errors
    /// A zero max or period, or `(max + 1)²` above the period in nanoseconds.
    pub fn new(max: u64, period: Duration) -> Result<Self, LimitError> {
        let period_nanos = duration_nanos(period);
        if max == 0 {
            return Err(LimitError::Zero("sliding window max"));
        }
        if period_nanos == 0 {
            return Err(LimitError::Zero("sliding window period"));
        }
        if period_nanos > MAX_SPAN / 2 {
            return Err(LimitError::TooLong);
        }
        let limit = period_nanos.isqrt() - 1;
        if max > limit {
            return Err(LimitError::SlidingMaxTooLarge {
                max,
                period_nanos,
                limit,
            });
        }
        Ok(Self {
            max,
            period: period_nanos,
            per_period: Divisor::new(period_nanos),
            per_radix: Divisor::new(max + 1),
        })
    }

    /// The most units per period.
    #[must_use]
    pub const fn max(&self) -> u64 {
        self.max
    }

    /// The period in nanoseconds.
    #[must_use]
    pub const fn period(&self) -> Nanos {
        self.period
    }

    /// Decides a request of `cost` units at `now` against `state`.
    #[inline]
    #[must_use]
    pub fn decide(&self, state: u64, now: Nanos, cost: u32) -> Transition {
        let (period, radix) = (self.period, self.max + 1);
        let start = now - now % self.per_period;
        let end = start + period;
        let (previous, current) = if state >= end + period {
            match state - end - period {
                // Written in a later window (the clock went back): read as full.
                packed if packed >= period => (0, self.max),
                packed => (packed / self.per_radix, packed % self.per_radix),
            }
        } else if state >= end {
            // Written during the previous window: its current count is now the previous one.
            ((state - end) % self.per_radix, 0)
        } else {
            (0, 0)
        };
        let elapsed = now - start;
        let wanted = u64::from(cost.max(1));
        let fits = |current: u64| self.scaled(previous, elapsed, current) <= self.scaled_max();
        let allowed = fits(current + wanted);
        let charged = if allowed { u64::from(cost) } else { 0 };
        let used = self.scaled(previous, elapsed, current + charged);
        let remaining = ((self.scaled_max().saturating_sub(used)) / u128::from(period)) as u64;
        let outcome = if allowed {
            Outcome::admitted(self.max, remaining, end, now)
        } else {
            let retry_at = self.retry_at(start, previous, current, wanted);
            Outcome::refused(self.max, remaining, end, retry_at)
        };
        let state = if charged > 0 {
            end + period + previous * radix + current + charged
        } else {
            state
        };
        Transition { outcome, state }
    }

    /// Gives back `cost` units taken at `charged_at`, from the window that counted them (while
    /// no later window has counted anything).
    #[must_use]
    pub(crate) fn refund(&self, state: u64, charged_at: Nanos, cost: u32) -> u64 {
        let end = charged_at - charged_at % self.per_period + self.period;
        // The counts of the window the state was written in sit in its low digits, with the
        // writer's current count lowest.
        let base = if state >= end + self.period && state - end - self.period < self.period {
            end + self.period
        } else if state >= end && state < end + self.period {
            end
        } else {
            return state;
        };
        let written = (state - base) % self.per_radix;
        state - written.min(u64::from(cost))
    }

    /// `period × estimate`, exact in integers.
    fn scaled(&self, previous: u64, elapsed: Nanos, current: u64) -> u128 {
        let period = u128::from(self.period);
        u128::from(previous) * (period - u128::from(elapsed)) + u128::from(current) * period
    }

    fn scaled_max(&self) -> u128 {
        u128::from(self.max) * u128::from(self.period)
    }

    /// The earliest instant from which `wanted` more units fit, given the counts of the window
    /// starting at `start`.
    fn retry_at(&self, start: Nanos, previous: u64, current: u64, wanted: u64) -> Option<Nanos> {
        if wanted > self.max {
            return None;
        }
        // Within this window, once `previous × (period − elapsed) ≤ (max − current − wanted) × period`.
        if current + wanted <= self.max {
            let elapsed = self.earliest_elapsed(previous, self.max - current - wanted);
            return Some(start + elapsed);
        }
        // Next window: `current` becomes the previous count.
        let next = start + self.period;
        Some(next + self.earliest_elapsed(current, self.max - wanted))
    }

    /// The least `elapsed` with `weight × (period − elapsed) ≤ room × period`.
    fn earliest_elapsed(&self, weight: u64, room: u64) -> Nanos {
        if weight == 0 {
            return 0;
        }
        let period = u128::from(self.period);
        let slack = u128::from(room) * period / u128::from(weight);
        period.saturating_sub(slack) as Nanos
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NANOS_PER_SEC as SEC;

    fn per_minute(max: u64) -> SlidingWindow {
        SlidingWindow::new(max, Duration::from_secs(60)).unwrap()
    }

    fn fill(window: &SlidingWindow, mut state: u64, now: Nanos, count: u32) -> u64 {
        for _ in 0..count {
            let step = window.decide(state, now, 1);
            assert!(step.outcome.allowed());
            state = step.state;
        }
        state
    }

    #[test]
    fn previous_window_weighs_by_what_is_left_of_it() {
        let window = per_minute(10);
        let state = fill(&window, 0, 1_000 * 60 * SEC, 10);
        // 15 s into the next window, 10 × 45/60 = 7.5 of the previous count still weigh.
        let now = 1_001 * 60 * SEC + 15 * SEC;
        let peek = window.decide(state, now, 0);
        assert_eq!(peek.outcome.remaining(), 2);
        let state = fill(&window, state, now, 2);
        let refused = window.decide(state, now, 1);
        assert!(!refused.outcome.allowed());
        // 10 × (60 − e)/60 + 3 ≤ 10  ⇔  e ≥ 18 s.
        let retry = refused.outcome.retry_at().unwrap();
        assert_eq!(retry, 1_001 * 60 * SEC + 18 * SEC);
        assert!(window.decide(state, retry, 1).outcome.allowed());
        assert!(!window.decide(state, retry - 1, 1).outcome.allowed());
    }

    #[test]
    fn a_full_current_window_waits_for_the_next() {
        let window = per_minute(4);
        let t = 500 * 60 * SEC;
        let state = fill(&window, 0, t, 4);
        let refused = window.decide(state, t + 1, 1);
        // Next window: 4 × (60 − e)/60 + 1 ≤ 4  ⇔  e ≥ 15 s.
        assert_eq!(refused.outcome.retry_at(), Some(t + 60 * SEC + 15 * SEC));
    }

    #[test]
    fn state_two_windows_old_is_at_rest() {
        let window = per_minute(4);
        let t = 500 * 60 * SEC;
        let state = fill(&window, 0, t, 3);
        let later = t + 121 * SEC;
        assert!(state <= later);
        assert_eq!(window.decide(state, later, 1), window.decide(0, later, 1));
    }

    #[test]
    fn refund_lowers_the_count_of_the_window_it_was_taken_in() {
        let window = per_minute(4);
        let t = 500 * 60 * SEC;
        let state = fill(&window, 0, t, 4);
        let refunded = window.refund(state, t + 1, 2);
        assert_eq!(window.decide(refunded, t + 1, 0).outcome.remaining(), 2);
        // In the next window the same units weigh as the previous count.
        let later = t + 60 * SEC + 30 * SEC;
        let before = window.decide(state, later, 0).outcome.remaining();
        let after = window
            .decide(window.refund(state, later, 2), later, 0)
            .outcome
            .remaining();
        assert_eq!((before, after), (2, 3));
    }

    #[test]
    fn refuses_counts_that_do_not_pack() {
        let err = SlidingWindow::new(244_948, Duration::from_secs(60)).unwrap_err();
        assert!(matches!(
            err,
            LimitError::SlidingMaxTooLarge { limit: 244_947, .. }
        ));
        assert!(SlidingWindow::new(244_947, Duration::from_secs(60)).is_ok());
    }
}
