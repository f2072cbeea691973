//! A limit: one of the algorithms, with its numbers, behind one type that a store decides with.

use super::concurrency::Concurrency;
use super::distinct::Distinct;
use super::error::LimitError;
use super::gcra::{Rate, TokenBucket};
use super::schedule::{CalendarUnit, Schedule};
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
    /// A maximum of distinct values (machines, devices) per period or for good.
    Distinct(Distinct),
}

impl Algorithm {
    /// Decides a request for algorithms whose state is one `u64`; `None` for [`Concurrency`],
    /// whose state is the set of its leases, and for [`Distinct`], whose state is a count and
    /// the entries of the values it remembers.
    #[inline]
    #[must_use]
    pub fn decide(&self, state: u64, now: Nanos, cost: u32) -> Option<Transition> {
        match self {
            Self::TokenBucket(bucket) => Some(bucket.decide(state, now, cost)),
            Self::Window(window) => Some(window.decide(state, now, cost)),
            Self::Sliding(sliding) => Some(sliding.decide(state, now, cost)),
            Self::Concurrency(_) | Self::Distinct(_) => None,
        }
    }
}

impl Algorithm {
    /// Whether its state matters for a minute or more (a window or period of a minute and
    /// longer, a bucket that takes a minute or more to refill, its delay's wait included): state
    /// worth keeping across a restart.
    #[must_use]
    pub(crate) fn is_long_lived(&self) -> bool {
        const MINUTE: Nanos = 60 * crate::NANOS_PER_SEC;
        match self {
            // Turns given out reach a delay's wait past a full bucket's span.
            Self::TokenBucket(bucket) => {
                bucket
                    .interval()
                    .saturating_mul(bucket.burst())
                    .saturating_add(bucket.wait())
                    >= MINUTE
            }
            Self::Window(window) => window.schedule().shortest() >= MINUTE,
            Self::Sliding(sliding) => sliding.period() >= MINUTE,
            Self::Concurrency(_) => false,
            Self::Distinct(distinct) => distinct.is_long_lived(MINUTE),
        }
    }

    /// Gives back `cost` units that a request admitted at `charged_at` took, for algorithms
    /// whose state is one `u64` (`None` for [`Concurrency`], whose leases are released instead,
    /// and for [`Distinct`]: a value admitted stays remembered, whatever the upstream said).
    #[must_use]
    pub(crate) fn refund(&self, state: u64, charged_at: Nanos, cost: u32) -> Option<u64> {
        match self {
            Self::TokenBucket(bucket) => Some(bucket.refund(state, charged_at, cost)),
            Self::Window(window) => Some(window.refund(state, charged_at, cost)),
            Self::Sliding(sliding) => Some(sliding.refund(state, charged_at, cost)),
            Self::Concurrency(_) | Self::Distinct(_) => None,
        }
    }
}

impl Algorithm {
    /// Gives back what a request admitted at `decided_at` to wait for its turn took, when it
    /// leaves before its turn: a bucket's turn if it is still the last one given out
    /// (`reserved`: the state its admission stored, its outcome's `reset_at`), a window's units
    /// as a refund does (`None` for [`Concurrency`], whose leases are released instead).
    #[must_use]
    pub(crate) fn withdraw(
        &self,
        state: u64,
        decided_at: Nanos,
        reserved: Nanos,
        cost: u32,
    ) -> Option<u64> {
        match self {
            Self::TokenBucket(bucket) => Some(bucket.withdraw(state, reserved, cost)),
            Self::Window(_) | Self::Sliding(_) => self.refund(state, decided_at, cost),
            Self::Concurrency(_) | Self::Distinct(_) => None,
        }
    }
}

/// What a limit allows, as people are told it: `count` per period (`5 per second`, `1,000 per
/// day`), or `count` at once. The one reading of an algorithm's numbers that every answer,
/// header, page and log shows, whichever source (policy, plan, pack, override) they came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    /// How many.
    pub count: u64,
    /// Per what.
    pub per: Per,
}

/// The period of a [`Shown`] allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    /// A span of time: a rate's period, a clock-aligned or sliding window's length.
    Span(std::time::Duration),
    /// A calendar period.
    Calendar(CalendarUnit),
    /// At once (requests in flight).
    AtOnce,
    /// For good: a count that never starts again (distinct values kept for good).
    Ever,
}

impl std::fmt::Display for Per {
    /// In words, singular for one: `second`, `2 seconds`, `15 minutes`, `day`, `month`; an
    /// allowance at once or for good has none.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let span = match self {
            Self::AtOnce | Self::Ever => return Ok(()),
            Self::Calendar(CalendarUnit::Day) => return f.write_str("day"),
            Self::Calendar(CalendarUnit::Week) => return f.write_str("week"),
            Self::Calendar(CalendarUnit::Month) => return f.write_str("month"),
            Self::Span(span) => *span,
        };
        let seconds = span.as_secs();
        if span.subsec_nanos() != 0 || seconds == 0 {
            return write!(f, "{} ms", span.as_millis());
        }
        let units = [
            (7 * 86_400, "week"),
            (86_400, "day"),
            (3_600, "hour"),
            (60, "minute"),
            (1, "second"),
        ];
        let (size, unit) = units
            .into_iter()
            .find(|&(size, _)| seconds % size == 0)
            .unwrap_or((1, "second"));
        match seconds / size {
            1 => f.write_str(unit),
            count => write!(f, "{count} {unit}s"),
        }
    }
}

impl Algorithm {
    /// What this limit allows, as people are told it (see [`Shown`]): a bucket's rate as it was
    /// given, a window's maximum per its length or calendar period, requests at once.
    #[must_use]
    pub fn shown(&self) -> Shown {
        let nanos = std::time::Duration::from_nanos;
        match self {
            Self::TokenBucket(bucket) => Shown {
                count: bucket.rate().count(),
                per: Per::Span(bucket.rate().period()),
            },
            Self::Window(window) => Shown {
                count: window.max(),
                per: match window.schedule() {
                    Schedule::Clock(clock) => Per::Span(nanos(clock.period())),
                    Schedule::Calendar(calendar) => Per::Calendar(calendar.unit()),
                },
            },
            Self::Sliding(sliding) => Shown {
                count: sliding.max(),
                per: Per::Span(nanos(sliding.period())),
            },
            Self::Concurrency(concurrency) => Shown {
                count: concurrency.max(),
                per: Per::AtOnce,
            },
            Self::Distinct(distinct) => Shown {
                count: distinct.max(),
                per: match distinct.period() {
                    None => Per::Ever,
                    Some(Schedule::Clock(clock)) => Per::Span(nanos(clock.period())),
                    Some(Schedule::Calendar(calendar)) => Per::Calendar(calendar.unit()),
                },
            },
        }
    }

    /// The numbers of one of `parts` instances that enforce this limit each alone (while a
    /// shared store is out of reach): maxima, bursts and rates divided by `parts`, rounded
    /// down but at least 1; periods unchanged.
    #[must_use]
    pub fn share(&self, parts: u64) -> Self {
        let parts = parts.max(1);
        let part = |whole: u64| (whole / parts).max(1);
        let shared: Result<Self, LimitError> = match self {
            Self::TokenBucket(bucket) => {
                // The same count over a period `parts` times as long.
                let rate = bucket.rate();
                let period = rate
                    .period()
                    .saturating_mul(u32::try_from(parts).unwrap_or(u32::MAX));
                TokenBucket::new(Rate::new(rate.count(), period), part(bucket.burst()))
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
            Self::Distinct(distinct) => {
                Distinct::new(part(distinct.max()), distinct.period().cloned()).map(Self::from)
            }
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

impl From<Distinct> for Algorithm {
    fn from(distinct: Distinct) -> Self {
        Self::Distinct(distinct)
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

    #[test]
    fn turns_a_minute_ahead_make_a_bucket_long_lived() {
        let half_a_minute = TokenBucket::new(Rate::per_second(1), 30).unwrap();
        assert!(!Algorithm::from(half_a_minute).is_long_lived());
        let delay = crate::Delay {
            max: Duration::from_secs(30),
            queue: 30,
        };
        let waiting = half_a_minute.with_delay(delay).unwrap();
        assert!(Algorithm::from(waiting).is_long_lived());
    }

    #[test]
    fn what_people_are_shown_is_the_numbers_as_given() {
        let bucket = |count, period| {
            Algorithm::from(TokenBucket::new(Rate::new(count, period), 5).unwrap()).shown()
        };
        let words = |shown: Shown| format!("{} per {}", shown.count, shown.per);
        assert_eq!(words(bucket(5, Duration::from_secs(1))), "5 per second");
        assert_eq!(words(bucket(1, Duration::from_secs(2))), "1 per 2 seconds");
        assert_eq!(
            words(bucket(300, Duration::from_secs(900))),
            "300 per 15 minutes"
        );
        let window = Window::new(1_000, Schedule::clock(Duration::from_secs(86_400)).unwrap());
        assert_eq!(
            words(Algorithm::from(window.unwrap()).shown()),
            "1000 per day"
        );
        let calendar = Schedule::calendar(CalendarUnit::Month, jiff::tz::TimeZone::UTC);
        let monthly = Algorithm::from(Window::new(9, calendar).unwrap()).shown();
        assert_eq!(words(monthly), "9 per month");
        let sliding = SlidingWindow::new(60, Duration::from_secs(3_600)).unwrap();
        assert_eq!(words(Algorithm::from(sliding).shown()), "60 per hour");
        let at_once = Algorithm::from(Concurrency::new(4, Duration::from_secs(30)).unwrap());
        let shown = at_once.shown();
        assert_eq!((shown.count, shown.per), (4, Per::AtOnce));
        assert_eq!(shown.per.to_string(), "");
        assert_eq!(
            Per::Span(Duration::from_millis(1_500)).to_string(),
            "1500 ms"
        );
        // An instance's share keeps the rate's count over a longer period.
        let shared = bucket(5, Duration::from_secs(1));
        assert_eq!(words(shared), "5 per second");
        let five = Algorithm::from(TokenBucket::new(Rate::per_second(5), 4).unwrap());
        assert_eq!(words(five.share(2).shown()), "5 per 2 seconds");
    }
}
