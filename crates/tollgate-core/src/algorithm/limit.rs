//! A limit: one of the algorithms, with its numbers, behind one type that a store decides with.

use super::concurrency::Concurrency;
use super::error::LimitError;
use super::gcra::{Rate, TokenBucket};
use super::sliding::SlidingWindow;
use super::transition::Transition;
use super::window::Window;
use crate::Nanos;

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
    /// whose state is the set of its leases.
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
    pub(crate) fn is_long_lived(&self) -> bool {
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
    pub(crate) fn refund(&self, state: u64, charged_at: Nanos, cost: u32) -> Option<u64> {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::algorithm::Schedule;

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
