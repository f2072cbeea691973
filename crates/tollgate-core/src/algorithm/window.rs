//! Fixed windows: at most `max` units per window, the count starting again at each boundary.

use super::error::LimitError;
use super::schedule::Schedule;
use super::transition::Transition;
use crate::{Nanos, Outcome};

/// At most `max` units in each window of a [`Schedule`].
///
/// The state is `end + used`: the end of the window it counts plus the units used in it. Since
/// `used ≤ max` is smaller than any window's length, a state from an earlier window is smaller
/// than the current window's end (read as "nothing used"), and a state is at rest once `now` has
/// passed it.
///
/// ```
/// use std::time::Duration;
/// use tollgate_core::{Schedule, Window};
///
/// // 300 per 15 minutes, aligned to XX:00, XX:15, XX:30, XX:45.
/// let window = Window::new(300, Schedule::clock(Duration::from_secs(900)).unwrap()).unwrap();
/// let step = window.decide(0, 0, 1);
/// assert_eq!(step.outcome.remaining(), 299);
/// assert_eq!(step.outcome.reset_at(), 900_000_000_000);
/// ```
#[derive(Debug, Clone)]
pub struct Window {
    max: u64,
    schedule: Schedule,
}

impl Window {
    /// `max` units per window of `schedule`.
    ///
    /// # Errors
    /// A zero maximum, or one of at least one unit per nanosecond of the shortest window.
    pub fn new(max: u64, schedule: Schedule) -> Result<Self, LimitError> {
        if max == 0 {
            return Err(LimitError::Zero("window max"));
        }
        let period_nanos = schedule.shortest();
        if max >= period_nanos {
            return Err(LimitError::MaxExceedsPeriod { max, period_nanos });
        }
        Ok(Self { max, schedule })
    }

    /// The most units per window.
    #[must_use]
    pub const fn max(&self) -> u64 {
        self.max
    }

    /// Where the windows begin and end.
    #[must_use]
    pub const fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Decides a request of `cost` units at `now` against `state`.
    #[inline]
    #[must_use]
    pub fn decide(&self, state: u64, now: Nanos, cost: u32) -> Transition {
        let (_, end) = self.schedule.bounds(now);
        // A state beyond `end + max` belongs to a later window (the clock went back): read it as
        // full, the safe side.
        let used = state.saturating_sub(end).min(self.max);
        let wanted = u64::from(cost.max(1));
        let allowed = used + wanted <= self.max;
        let charged = if allowed { u64::from(cost) } else { 0 };
        let outcome = if allowed {
            Outcome::admitted(self.max, self.max - used - charged, end, now)
        } else {
            Outcome::refused(
                self.max,
                self.max - used,
                end,
                (wanted <= self.max).then_some(end),
            )
        };
        let state = if charged > 0 {
            end + used + charged
        } else {
            state
        };
        Transition { outcome, state }
    }
}

impl Window {
    /// Gives back `cost` units taken at `charged_at`, from the window that held them; once a
    /// later window has counted anything, they are gone with theirs.
    #[must_use]
    pub(crate) fn refund(&self, state: u64, charged_at: Nanos, cost: u32) -> u64 {
        let (_, end) = self.schedule.bounds(charged_at);
        if state < end || state > end + self.max {
            return state;
        }
        end + (state - end).saturating_sub(u64::from(cost))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::NANOS_PER_SEC as SEC;

    fn quarter_hours(max: u64) -> Window {
        Window::new(max, Schedule::clock(Duration::from_secs(900)).unwrap()).unwrap()
    }

    #[test]
    fn last_nanosecond_of_a_quarter_hour_is_still_refused() {
        let window = quarter_hours(2);
        // 2026-03-10T10:00:00Z
        let t0 = 1_773_136_800 * SEC;
        let mut state = 0;
        for _ in 0..2 {
            state = window.decide(state, t0 + 60 * SEC, 1).state;
        }
        let quarter = t0 + 900 * SEC;
        let refused = window.decide(state, quarter - 1, 1);
        assert!(!refused.outcome.allowed());
        assert_eq!(refused.outcome.retry_at(), Some(quarter));
        assert_eq!(refused.outcome.reset_at(), quarter);
        let next = window.decide(state, quarter, 1);
        assert!(next.outcome.allowed());
        assert_eq!(next.outcome.remaining(), 1);
    }

    #[test]
    fn cost_counts_units_and_refusals_charge_nothing() {
        let window = quarter_hours(10);
        let step = window.decide(0, 5, 7);
        assert_eq!(step.outcome.remaining(), 3);
        let refused = window.decide(step.state, 6, 4);
        assert!(!refused.outcome.allowed());
        assert_eq!(refused.outcome.remaining(), 3);
        assert_eq!(refused.state, step.state);
        assert!(window.decide(step.state, 6, 3).outcome.allowed());
    }

    #[test]
    fn cost_above_max_never_fits() {
        let refused = quarter_hours(3).decide(0, 0, 4);
        assert_eq!(refused.outcome.retry_at(), None);
    }

    #[test]
    fn peek_does_not_count() {
        let window = quarter_hours(1);
        let peek = window.decide(0, 0, 0);
        assert!(peek.outcome.allowed());
        assert_eq!((peek.outcome.remaining(), peek.state), (1, 0));
    }

    #[test]
    fn state_from_a_later_window_reads_full() {
        let window = quarter_hours(5);
        let later = window.decide(0, 2_000 * SEC, 1).state;
        let earlier = window.decide(later, 10 * SEC, 1);
        assert!(!earlier.outcome.allowed());
    }

    #[test]
    fn refund_gives_units_back_in_the_same_window_only() {
        let window = quarter_hours(2);
        let state = window.decide(window.decide(0, 10, 1).state, 10, 1).state;
        assert!(!window.decide(state, 10, 1).outcome.allowed());
        let refunded = window.refund(state, 20, 1);
        assert_eq!(window.decide(refunded, 20, 0).outcome.remaining(), 1);
        assert_eq!(
            window.refund(refunded, 20, 5),
            900 * SEC,
            "never below empty"
        );
        assert_eq!(
            window.refund(state, 900 * SEC, 1),
            state,
            "the window has ended"
        );
    }

    #[test]
    fn rejects_more_than_one_per_nanosecond() {
        let tiny = Schedule::clock(Duration::from_nanos(10)).unwrap();
        assert_eq!(
            Window::new(10, tiny).unwrap_err(),
            LimitError::MaxExceedsPeriod {
                max: 10,
                period_nanos: 10
            }
        );
    }
}
