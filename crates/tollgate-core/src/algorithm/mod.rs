//! The rate-limit algorithms, as pure state transitions.
//!
//! Every algorithm except [`Concurrency`] keeps one `u64` of state per partition and decides with
//! a pure function `(state, now, cost) -> Transition`: integer arithmetic, no clock, no I/O. A
//! cost of zero is a *peek*: the outcome of a cost-1 request, with the state left as it was.
//!
//! The states share one rule that lets a store forget them without asking the algorithm: **a
//! state at or before `now` is at rest**, equivalent to a partition never seen (a full bucket, a
//! window that has ended), and so is the state `0` of an absent partition.

mod concurrency;
mod gcra;
mod schedule;
mod sliding;
mod window;

pub use concurrency::{Concurrency, LeaseSet};
pub use gcra::{Rate, TokenBucket};
pub use schedule::{Calendar, CalendarUnit, ClockAligned, Schedule};
pub use sliding::SlidingWindow;
pub use window::Window;

use crate::{Nanos, Outcome};

/// A limit's algorithm with its numbers.
#[derive(Debug, Clone)]
pub enum Algorithm {
    /// Generic cell rate algorithm: a bucket refilled at a steady rate, up to a burst.
    TokenBucket(TokenBucket),
    /// A maximum per window whose boundaries follow the clock or the calendar.
    Window(Window),
    /// A maximum per rolling period, approximated from two fixed windows.
    Sliding(SlidingWindow),
    /// A maximum of requests in flight at once.
    Concurrency(Concurrency),
}

impl Algorithm {
    /// Decides a request for algorithms whose state is one `u64`; `None` for [`Concurrency`],
    /// whose state is a [`LeaseSet`].
    #[inline]
    #[must_use]
    pub fn decide(&self, state: u64, now: Nanos, cost: u32) -> Option<Transition> {
        match self {
            Self::TokenBucket(bucket) => Some(bucket.decide(state, now, cost)),
            Self::Window(window) => Some(window.decide(state, now, cost)),
            Self::Sliding(sliding) => Some(sliding.decide(state, now, cost)),
            Self::Concurrency(_) => None,
        }
    }
}

impl Algorithm {
    /// Whether its state matters for a minute or more (a window or period of a minute and
    /// longer, a bucket that takes a minute or more to refill): state worth keeping across a
    /// restart.
    #[must_use]
    pub fn is_long_lived(&self) -> bool {
        const MINUTE: Nanos = 60 * crate::NANOS_PER_SEC;
        match self {
            Self::TokenBucket(bucket) => bucket.interval().saturating_mul(bucket.burst()) >= MINUTE,
            Self::Window(window) => window.schedule().shortest() >= MINUTE,
            Self::Sliding(sliding) => sliding.period() >= MINUTE,
            Self::Concurrency(_) => false,
        }
    }

    /// Gives back `cost` units that a request admitted at `charged_at` took, for algorithms
    /// whose state is one `u64` (`None` for [`Concurrency`], whose leases are released instead).
    #[must_use]
    pub fn refund(&self, state: u64, charged_at: Nanos, cost: u32) -> Option<u64> {
        match self {
            Self::TokenBucket(bucket) => Some(bucket.refund(state, charged_at, cost)),
            Self::Window(window) => Some(window.refund(state, charged_at, cost)),
            Self::Sliding(sliding) => Some(sliding.refund(state, charged_at, cost)),
            Self::Concurrency(_) => None,
        }
    }
}

impl Algorithm {
    /// The numbers of one of `parts` instances that enforce this limit each alone (while a
    /// shared store is out of reach): maxima, bursts and rates divided by `parts`, rounded
    /// down but at least 1; periods unchanged.
    #[must_use]
    pub fn share(&self, parts: u64) -> Self {
        let parts = parts.max(1);
        let part = |whole: u64| (whole / parts).max(1);
        let shared: Result<Self, LimitError> = match self {
            Self::TokenBucket(bucket) => {
                let interval = bucket.interval().saturating_mul(parts);
                TokenBucket::new(
                    Rate::new(1, std::time::Duration::from_nanos(interval)),
                    part(bucket.burst()),
                )
                .map(Self::from)
            }
            Self::Window(window) => {
                Window::new(part(window.max()), window.schedule().clone()).map(Self::from)
            }
            Self::Sliding(sliding) => SlidingWindow::new(
                part(sliding.max()),
                std::time::Duration::from_nanos(sliding.period()),
            )
            .map(Self::from),
            Self::Concurrency(concurrency) => Concurrency::new(
                part(concurrency.max()),
                std::time::Duration::from_nanos(concurrency.lease_ttl()),
            )
            .map(Self::from),
        };
        // Smaller numbers of a valid limit are valid, but for a bucket whose longer interval
        // no longer fits the time range: that one keeps its numbers.
        shared.unwrap_or_else(|_| self.clone())
    }
}

impl From<TokenBucket> for Algorithm {
    fn from(bucket: TokenBucket) -> Self {
        Self::TokenBucket(bucket)
    }
}

impl From<Window> for Algorithm {
    fn from(window: Window) -> Self {
        Self::Window(window)
    }
}

impl From<SlidingWindow> for Algorithm {
    fn from(sliding: SlidingWindow) -> Self {
        Self::Sliding(sliding)
    }
}

impl From<Concurrency> for Algorithm {
    fn from(concurrency: Concurrency) -> Self {
        Self::Concurrency(concurrency)
    }
}

/// The result of deciding one request against one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// What the limit says.
    pub outcome: Outcome,
    /// The state to store: changed only when a request of cost ≥ 1 is admitted.
    pub state: u64,
}

/// Why a limit's numbers cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// A maximum, burst, rate count or period of zero.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    /// A window admitting more than one request per nanosecond of its shortest length.
    #[error("a window of {period_nanos} ns cannot count up to {max}: at most {} fits", period_nanos - 1)]
    MaxExceedsPeriod {
        /// The configured maximum.
        max: u64,
        /// The shortest length of the window, in nanoseconds.
        period_nanos: u64,
    },
    /// A sliding window whose two counters do not fit its state.
    #[error(
        "a sliding window of {period_nanos} ns can count at most {limit}, not {max}: (max + 1)² must not exceed the period in ns"
    )]
    SlidingMaxTooLarge {
        /// The configured maximum.
        max: u64,
        /// The period, in nanoseconds.
        period_nanos: u64,
        /// The largest maximum that fits.
        limit: u64,
    },
    /// A period, lease or burst × interval beyond the time range (centuries).
    #[error("the span exceeds {} years", MAX_SPAN / (365 * 86_400 * crate::NANOS_PER_SEC))]
    TooLong,
}

/// A divisor fixed when a limit is built, divided by with a multiplication and a shift: a
/// 64-bit `div` costs tens of cycles on the hot path of every decision.
#[derive(Clone, Copy)]
pub(crate) struct Divisor(strength_reduce::StrengthReducedU64);

impl Divisor {
    /// `value` must not be zero.
    pub(crate) fn new(value: u64) -> Self {
        Self(strength_reduce::StrengthReducedU64::new(value))
    }

    pub(crate) fn get(self) -> u64 {
        self.0.get()
    }
}

impl std::ops::Div<Divisor> for u64 {
    type Output = u64;

    #[inline]
    fn div(self, divisor: Divisor) -> u64 {
        self / divisor.0
    }
}

impl std::ops::Rem<Divisor> for u64 {
    type Output = u64;

    #[inline]
    fn rem(self, divisor: Divisor) -> u64 {
        self % divisor.0
    }
}

impl PartialEq for Divisor {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Eq for Divisor {}

impl std::fmt::Debug for Divisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// The longest span an algorithm may look ahead, so that `now + span` never overflows: ~146 years.
pub(crate) const MAX_SPAN: Nanos = 1 << 62;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_share_divides_maxima_and_rates_but_never_below_one() {
        let bucket = Algorithm::from(TokenBucket::new(Rate::per_second(8), 6).unwrap());
        let Algorithm::TokenBucket(quarter) = bucket.share(4) else {
            panic!("still a bucket");
        };
        assert_eq!((quarter.interval(), quarter.burst()), (500_000_000, 1));
        let window = Window::new(1_000, Schedule::clock(Duration::from_secs(900)).unwrap());
        let Algorithm::Window(third) = Algorithm::from(window.unwrap()).share(3) else {
            panic!("still a window");
        };
        assert_eq!(third.max(), 333);
        let slots = Algorithm::from(Concurrency::new(2, Duration::from_secs(1)).unwrap());
        let Algorithm::Concurrency(one) = slots.share(5) else {
            panic!("still slots");
        };
        assert_eq!(one.max(), 1);
    }
}
