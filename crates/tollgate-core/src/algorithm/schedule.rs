//! Where fixed windows begin and end: on the clock, or on the calendar of a time zone.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};

use super::divisor::Divisor;
use super::error::{LimitError, MAX_SPAN};
use crate::{NANOS_PER_SEC, Nanos, duration_nanos};

/// A calendar period, in the local time of a time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarUnit {
    /// From local midnight to the next (23, 24 or 25 hours around DST changes).
    Day,
    /// From Monday's local midnight to the next Monday's.
    Week,
    /// From the first of the month at local midnight to the first of the next.
    Month,
}

/// The boundaries of consecutive fixed windows.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Windows of one length, aligned to the Unix epoch: 15 minutes start at XX:00, XX:15,
    /// XX:30 and XX:45 UTC; a day starts at midnight UTC.
    Clock(ClockAligned),
    /// Calendar windows in a time zone, with its daylight-saving changes.
    Calendar(Calendar),
}

impl Schedule {
    /// Windows of `period`, aligned to the epoch.
    ///
    /// # Errors
    /// A zero period.
    pub fn clock(period: Duration) -> Result<Self, LimitError> {
        match duration_nanos(period) {
            0 => Err(LimitError::Zero("window period")),
            period if period > MAX_SPAN => Err(LimitError::TooLong),
            period => Ok(Self::Clock(ClockAligned {
                period: Divisor::new(period),
            })),
        }
    }

    /// Calendar windows of `unit` in the time zone `tz`.
    #[must_use]
    pub fn calendar(unit: CalendarUnit, tz: TimeZone) -> Self {
        Self::Calendar(Calendar {
            unit,
            tz,
            current: AtomicU64::new(0),
        })
    }

    /// The window containing `now`: `(start, end)`, start inclusive, end exclusive.
    #[inline]
    #[must_use]
    pub fn bounds(&self, now: Nanos) -> (Nanos, Nanos) {
        match self {
            Self::Clock(aligned) => {
                let start = now - now % aligned.period;
                (start, start + aligned.period.get())
            }
            Self::Calendar(calendar) => calendar.bounds(now),
        }
    }

    /// The shortest window this schedule produces, in nanoseconds.
    #[must_use]
    pub(crate) fn shortest(&self) -> Nanos {
        match self {
            Self::Clock(aligned) => aligned.period(),
            // A DST change can shorten a day by an hour (a few zones have moved by a whole day,
            // skipping a date: those days do not exist, and the check stays on the safe side).
            Self::Calendar(calendar) => match calendar.unit {
                CalendarUnit::Day => 22 * 3600 * NANOS_PER_SEC,
                CalendarUnit::Week => (6 * 24 + 22) * 3600 * NANOS_PER_SEC,
                CalendarUnit::Month => (28 * 24 - 2) * 3600 * NANOS_PER_SEC,
            },
        }
    }
}

/// Windows of one length aligned to the epoch; see [`Schedule::Clock`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockAligned {
    period: Divisor,
}

impl ClockAligned {
    /// The window length in nanoseconds.
    #[must_use]
    pub(crate) fn period(&self) -> Nanos {
        self.period.get()
    }
}

/// Calendar windows in a time zone; the window last computed is remembered.
pub struct Calendar {
    unit: CalendarUnit,
    tz: TimeZone,
    /// The last window computed, packed as `start_secs << 22 | length_secs` (0: none yet), so
    /// that one atomic load answers almost every decision without a time-zone lookup.
    current: AtomicU64,
}

const LENGTH_BITS: u32 = 22;
const LENGTH_MASK: u64 = (1 << LENGTH_BITS) - 1;

impl Calendar {
    /// The calendar period of its windows.
    #[must_use]
    pub const fn unit(&self) -> CalendarUnit {
        self.unit
    }

    /// The time zone its windows follow.
    #[must_use]
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    fn bounds(&self, now: Nanos) -> (Nanos, Nanos) {
        let packed = self.current.load(Ordering::Relaxed);
        let start = (packed >> LENGTH_BITS) * NANOS_PER_SEC;
        let end = start + (packed & LENGTH_MASK) * NANOS_PER_SEC;
        if start <= now && now < end {
            return (start, end);
        }
        let (start, end) = self.compute(now);
        // Boundaries in every zone of the tz database fall on whole seconds; the packing holds
        // windows up to 48 days starting before the year 141,000.
        let (start_secs, length_secs) = (start / NANOS_PER_SEC, (end - start) / NANOS_PER_SEC);
        if start % NANOS_PER_SEC == 0 && length_secs <= LENGTH_MASK && start_secs < 1 << 42 {
            self.current
                .store(start_secs << LENGTH_BITS | length_secs, Ordering::Relaxed);
        }
        (start, end)
    }

    fn compute(&self, now: Nanos) -> (Nanos, Nanos) {
        let instant = Timestamp::from_nanosecond(i128::from(now)).expect("u64 nanoseconds fit");
        let date = instant.to_zoned(self.tz.clone()).date();
        let first = match self.unit {
            CalendarUnit::Day => date,
            CalendarUnit::Week => date
                .checked_sub(i64::from(date.weekday().to_monday_zero_offset()).days())
                .expect("dates near the epoch"),
            CalendarUnit::Month => date.first_of_month(),
        };
        let next = match self.unit {
            CalendarUnit::Day => first.checked_add(1.day()),
            CalendarUnit::Week => first.checked_add(1.week()),
            CalendarUnit::Month => first.checked_add(1.month()),
        }
        .expect("dates near the epoch");
        (self.midnight(first), self.midnight(next))
    }

    /// The first instant of local `date` (later than 00:00 where midnight falls in a DST gap).
    fn midnight(&self, date: jiff::civil::Date) -> Nanos {
        let zoned: Zoned = date
            .to_zoned(self.tz.clone())
            .and_then(|day| day.start_of_day())
            .expect("dates near the epoch");
        u64::try_from(zoned.timestamp().as_nanosecond()).unwrap_or(0)
    }
}

impl Clone for Calendar {
    fn clone(&self) -> Self {
        Self {
            unit: self.unit,
            tz: self.tz.clone(),
            current: AtomicU64::new(self.current.load(Ordering::Relaxed)),
        }
    }
}

impl std::fmt::Debug for Calendar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Calendar")
            .field("unit", &self.unit)
            .field("tz", &self.tz.iana_name().unwrap_or("(fixed offset)"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Nanos = 3600 * NANOS_PER_SEC;

    fn at(text: &str) -> Nanos {
        let instant: Timestamp = text.parse().unwrap();
        u64::try_from(instant.as_nanosecond()).unwrap()
    }

    fn zone(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap()
    }

    #[test]
    fn fifteen_minutes_align_to_the_quarter_hour() {
        let schedule = Schedule::clock(Duration::from_secs(15 * 60)).unwrap();
        let quarter = at("2026-03-10T10:15:00Z");
        assert_eq!(
            schedule.bounds(quarter - 1),
            (at("2026-03-10T10:00:00Z"), quarter)
        );
        assert_eq!(
            schedule.bounds(quarter),
            (quarter, at("2026-03-10T10:30:00Z"))
        );
    }

    #[test]
    fn berlin_days_around_both_dst_changes_of_2026() {
        let days = Schedule::calendar(CalendarUnit::Day, zone("Europe/Berlin"));
        // 29 March 2026: clocks jump from 02:00 to 03:00, a 23-hour day.
        let (start, end) = days.bounds(at("2026-03-29T12:00:00+02:00"));
        assert_eq!(start, at("2026-03-29T00:00:00+01:00"));
        assert_eq!(end, at("2026-03-30T00:00:00+02:00"));
        assert_eq!(end - start, 23 * HOUR);
        // 25 October 2026: clocks fall back from 03:00 to 02:00, a 25-hour day.
        let (start, end) = days.bounds(at("2026-10-25T12:00:00+01:00"));
        assert_eq!(start, at("2026-10-25T00:00:00+02:00"));
        assert_eq!(end, at("2026-10-26T00:00:00+01:00"));
        assert_eq!(end - start, 25 * HOUR);
        // The last nanosecond of the short day still belongs to it.
        assert_eq!(days.bounds(end - 1).1, end);
        assert_eq!(days.bounds(end).0, end);
    }

    #[test]
    fn shanghai_days_start_at_16_utc() {
        let days = Schedule::calendar(CalendarUnit::Day, zone("Asia/Shanghai"));
        let midnight = at("2026-06-01T16:00:00Z");
        assert_eq!(days.bounds(midnight - 1), (midnight - 24 * HOUR, midnight));
        assert_eq!(days.bounds(midnight), (midnight, midnight + 24 * HOUR));
    }

    #[test]
    fn weeks_start_on_monday() {
        let weeks = Schedule::calendar(CalendarUnit::Week, zone("UTC"));
        // Sunday 22 November 2026.
        let (start, end) = weeks.bounds(at("2026-11-22T23:59:59Z"));
        assert_eq!(start, at("2026-11-16T00:00:00Z"));
        assert_eq!(end, at("2026-11-23T00:00:00Z"));
    }

    #[test]
    fn month_from_january_31_to_march_1() {
        let months = Schedule::calendar(CalendarUnit::Month, zone("Europe/Berlin"));
        let jan31 = at("2026-01-31T23:59:59.999999999+01:00");
        assert_eq!(
            months.bounds(jan31),
            (
                at("2026-01-01T00:00:00+01:00"),
                at("2026-02-01T00:00:00+01:00")
            )
        );
        let february = months.bounds(at("2026-02-01T00:00:00+01:00"));
        assert_eq!(
            february,
            (
                at("2026-02-01T00:00:00+01:00"),
                at("2026-03-01T00:00:00+01:00")
            )
        );
        assert_eq!(february.1 - february.0, 28 * 24 * HOUR);
        assert_eq!(months.bounds(at("2026-03-01T00:00:00+01:00")).0, february.1);
    }

    #[test]
    fn cache_never_answers_for_another_window() {
        let days = Schedule::calendar(CalendarUnit::Day, zone("Europe/Berlin"));
        let noon = at("2026-10-25T12:00:00+01:00");
        let today = days.bounds(noon);
        // Going back in time (a manual clock set back) must not reuse the later window.
        let yesterday = days.bounds(noon - 24 * HOUR);
        assert_eq!(yesterday.1, today.0);
        assert_eq!(days.bounds(noon), today);
    }
}
