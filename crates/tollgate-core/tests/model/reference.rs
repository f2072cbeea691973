//! Naive reference models of each algorithm, written plainly: no packed states, no formulas
//! shared with the engine, window boundaries found by searching time.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tollgate_core::{CalendarUnit, Nanos};

/// What a model says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub(crate) allowed: bool,
    pub(crate) remaining: u64,
    pub(crate) reset_at: Nanos,
}

/// A reference model of one partition of one limit.
pub(crate) trait Model: Clone {
    /// Whether `cost` units (at least one) fit at `now`, without taking them.
    fn fits(&mut self, now: Nanos, cost: u64) -> bool;
    /// Takes `cost` units at `now`; only called after `fits` said yes.
    fn take(&mut self, now: Nanos, cost: u64);
    /// What a request of `cost` would be told, without taking it (remaining before the charge).
    fn verdict(&mut self, now: Nanos, cost: u64) -> Verdict;
}

/// A token bucket as a level of credit in nanoseconds, refilled one nanosecond per nanosecond.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    pub(crate) interval: u64,
    pub(crate) burst: u64,
    credit: u64,
    last: Nanos,
}

impl Bucket {
    pub(crate) fn new(interval: u64, burst: u64) -> Self {
        Self {
            interval,
            burst,
            credit: interval * burst,
            last: 0,
        }
    }

    fn refill(&mut self, now: Nanos) {
        if now > self.last {
            self.credit = (self.credit + (now - self.last)).min(self.interval * self.burst);
            self.last = now;
        }
    }
}

impl Model for Bucket {
    fn fits(&mut self, now: Nanos, cost: u64) -> bool {
        self.refill(now);
        cost * self.interval <= self.credit
    }

    fn take(&mut self, now: Nanos, cost: u64) {
        self.refill(now);
        self.credit -= cost * self.interval;
    }

    fn verdict(&mut self, now: Nanos, cost: u64) -> Verdict {
        let allowed = self.fits(now, cost);
        Verdict {
            allowed,
            remaining: self.credit / self.interval,
            reset_at: now + (self.interval * self.burst - self.credit),
        }
    }
}

/// How a window model names the window an instant falls in.
#[derive(Debug, Clone)]
pub(crate) enum Windows {
    Every(u64),
    Calendar(CalendarUnit, TimeZone),
}

impl Windows {
    /// The name of the window containing `now`: its number, or its local calendar date fields.
    fn id(&self, now: Nanos) -> (i64, i64) {
        match self {
            Self::Every(period) => ((now / period) as i64, 0),
            Self::Calendar(unit, tz) => {
                let date = Timestamp::from_nanosecond(i128::from(now))
                    .unwrap()
                    .to_zoned(tz.clone())
                    .date();
                match unit {
                    CalendarUnit::Day => (i64::from(date.year()), i64::from(date.day_of_year())),
                    CalendarUnit::Week => {
                        let week = date.iso_week_date();
                        (i64::from(week.year()), i64::from(week.week()))
                    }
                    CalendarUnit::Month => (i64::from(date.year()), i64::from(date.month())),
                }
            }
        }
    }

    /// The first instant after `now` in another window, by bisection over the next 40 days.
    pub(crate) fn end(&self, now: Nanos) -> Nanos {
        let here = self.id(now);
        let (mut inside, mut outside) = (now, now + 40 * 86_400 * 1_000_000_000);
        while outside - inside > 1 {
            let middle = inside + (outside - inside) / 2;
            if self.id(middle) == here {
                inside = middle
            } else {
                outside = middle
            }
        }
        outside
    }
}

/// A fixed window: a count per window name.
#[derive(Debug, Clone)]
pub(crate) struct FixedWindow {
    pub(crate) max: u64,
    pub(crate) windows: Windows,
    counts: HashMap<(i64, i64), u64>,
}

impl FixedWindow {
    pub(crate) fn new(max: u64, windows: Windows) -> Self {
        Self {
            max,
            windows,
            counts: HashMap::new(),
        }
    }

    fn used(&self, now: Nanos) -> u64 {
        self.counts.get(&self.windows.id(now)).copied().unwrap_or(0)
    }
}

impl Model for FixedWindow {
    fn fits(&mut self, now: Nanos, cost: u64) -> bool {
        self.used(now) + cost <= self.max
    }

    fn take(&mut self, now: Nanos, cost: u64) {
        *self.counts.entry(self.windows.id(now)).or_default() += cost;
    }

    fn verdict(&mut self, now: Nanos, cost: u64) -> Verdict {
        Verdict {
            allowed: self.fits(now, cost),
            remaining: self.max - self.used(now),
            reset_at: self.windows.end(now),
        }
    }
}

/// The two-window weighted counter over counts kept per window number.
#[derive(Debug, Clone)]
pub(crate) struct Sliding {
    pub(crate) max: u64,
    pub(crate) period: u64,
    counts: HashMap<u64, u64>,
}

impl Sliding {
    pub(crate) fn new(max: u64, period: u64) -> Self {
        Self {
            max,
            period,
            counts: HashMap::new(),
        }
    }

    /// `period ×` the estimated units in the last period, plus `extra` in the current window.
    fn scaled_estimate(&self, now: Nanos, extra: u64) -> u128 {
        let window = now / self.period;
        let elapsed = now % self.period;
        let previous = window
            .checked_sub(1)
            .and_then(|w| self.counts.get(&w))
            .copied()
            .unwrap_or(0);
        let current = self.counts.get(&window).copied().unwrap_or(0) + extra;
        let p = u128::from(self.period);
        u128::from(previous) * (p - u128::from(elapsed)) + u128::from(current) * p
    }
}

impl Model for Sliding {
    fn fits(&mut self, now: Nanos, cost: u64) -> bool {
        self.scaled_estimate(now, cost) <= u128::from(self.max) * u128::from(self.period)
    }

    fn take(&mut self, now: Nanos, cost: u64) {
        *self.counts.entry(now / self.period).or_default() += cost;
    }

    fn verdict(&mut self, now: Nanos, cost: u64) -> Verdict {
        let room = (u128::from(self.max) * u128::from(self.period))
            .saturating_sub(self.scaled_estimate(now, 0));
        Verdict {
            allowed: self.fits(now, cost),
            remaining: (room / u128::from(self.period)) as u64,
            reset_at: (now / self.period + 1) * self.period,
        }
    }
}

/// Leases as a list of `(expiry, units)`.
#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    pub(crate) max: u64,
    pub(crate) ttl: u64,
    pub(crate) held: Vec<(Nanos, u64)>,
}

impl InFlight {
    pub(crate) fn new(max: u64, ttl: u64) -> Self {
        Self {
            max,
            ttl,
            held: Vec::new(),
        }
    }

    fn units(&mut self, now: Nanos) -> u64 {
        self.held.retain(|&(expiry, _)| expiry > now);
        self.held.iter().map(|&(_, units)| units).sum()
    }
}

impl Model for InFlight {
    fn fits(&mut self, now: Nanos, cost: u64) -> bool {
        self.units(now) + cost <= self.max
    }

    fn take(&mut self, now: Nanos, cost: u64) {
        self.held.push((now + self.ttl, cost));
    }

    fn verdict(&mut self, now: Nanos, cost: u64) -> Verdict {
        let allowed = self.fits(now, cost);
        let units = self.units(now);
        Verdict {
            allowed,
            remaining: self.max - units,
            reset_at: self
                .held
                .iter()
                .map(|&(expiry, _)| expiry)
                .max()
                .unwrap_or(now),
        }
    }
}
