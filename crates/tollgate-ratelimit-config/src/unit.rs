//! The `unit` of a `rate_limit`, and the windows Tollgate counts it in.

use std::fmt;
use std::time::Duration;

use jiff::tz::TimeZone;
use tollgate_core::{CalendarUnit, LimitError, Schedule, Window};

/// The period of a `rate_limit`: the units envoyproxy/ratelimit accepts.
///
/// Every window is fixed and aligned in UTC: a second, minute, hour or day starts on the
/// clock's boundary, as in envoyproxy/ratelimit; a week starts on Monday at 00:00 UTC and a month
/// on the first of the calendar month (envoyproxy/ratelimit counts 7 and 30 days from the Unix
/// epoch); a year is 365 days counted from the epoch, as in envoyproxy/ratelimit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// `second`.
    Second,
    /// `minute`.
    Minute,
    /// `hour`.
    Hour,
    /// `day`: from 00:00 UTC.
    Day,
    /// `week`: from Monday 00:00 UTC.
    Week,
    /// `month`: the calendar month in UTC.
    Month,
    /// `year`: 365 days from the Unix epoch.
    Year,
}

impl Unit {
    /// Every unit, shortest first.
    pub const ALL: [Self; 7] = [
        Self::Second,
        Self::Minute,
        Self::Hour,
        Self::Day,
        Self::Week,
        Self::Month,
        Self::Year,
    ];

    /// The unit a file names, in any case (`minute`, `MINUTE`, `Minute`), as envoyproxy/ratelimit
    /// reads it; `None` for any other word, `unknown` included.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        // Go's strings.ToUpper, which the original applies, maps full Unicode case.
        let upper = text.to_uppercase();
        Self::ALL
            .into_iter()
            .find(|unit| unit.as_str().eq_ignore_ascii_case(&upper))
    }

    /// The unit's name in lower case, as written in the files.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Second => "second",
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Year => "year",
        }
    }

    /// The unit's number in `envoy.service.ratelimit.v3.RateLimitResponse.RateLimit.Unit`.
    #[must_use]
    pub const fn proto_number(self) -> i32 {
        match self {
            Self::Second => 1,
            Self::Minute => 2,
            Self::Hour => 3,
            Self::Day => 4,
            Self::Month => 5,
            Self::Year => 6,
            Self::Week => 7,
        }
    }

    /// Where this unit's windows begin and end.
    #[must_use]
    pub fn schedule(self) -> Schedule {
        let clock = |seconds: u64| {
            Schedule::clock(Duration::from_secs(seconds)).expect("a period of one second or more")
        };
        match self {
            Self::Second => clock(1),
            Self::Minute => clock(60),
            Self::Hour => clock(3_600),
            Self::Day => clock(86_400),
            Self::Week => Schedule::calendar(CalendarUnit::Week, TimeZone::UTC),
            Self::Month => Schedule::calendar(CalendarUnit::Month, TimeZone::UTC),
            Self::Year => clock(365 * 86_400),
        }
    }

    /// At most `requests_per_unit` requests in each window of this unit.
    ///
    /// # Errors
    /// `requests_per_unit` is zero, or a billion or more per second (more than one per
    /// nanosecond).
    pub fn window(self, requests_per_unit: u32) -> Result<Window, LimitError> {
        Window::new(u64::from(requests_per_unit), self.schedule())
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use tollgate_core::NANOS_PER_SEC as SEC;

    use super::*;

    fn at(text: &str) -> u64 {
        let instant: jiff::Timestamp = text.parse().unwrap();
        u64::try_from(instant.as_nanosecond()).unwrap()
    }

    #[test]
    fn units_parse_in_any_case_and_unknown_is_not_one() {
        assert_eq!(Unit::parse("minute"), Some(Unit::Minute));
        assert_eq!(Unit::parse("MINUTE"), Some(Unit::Minute));
        assert_eq!(Unit::parse("Week"), Some(Unit::Week));
        assert_eq!(Unit::parse("unknown"), None);
        assert_eq!(Unit::parse("minutes"), None);
        assert_eq!(Unit::parse(""), None);
    }

    #[test]
    fn clock_units_align_to_utc_boundaries() {
        let now = at("2026-03-10T10:17:42.5Z");
        assert_eq!(
            Unit::Minute.schedule().bounds(now),
            (at("2026-03-10T10:17:00Z"), at("2026-03-10T10:18:00Z"))
        );
        assert_eq!(
            Unit::Day.schedule().bounds(now),
            (at("2026-03-10T00:00:00Z"), at("2026-03-11T00:00:00Z"))
        );
    }

    #[test]
    fn calendar_units_are_weeks_from_monday_and_calendar_months() {
        // Tuesday 10 March 2026.
        let now = at("2026-03-10T10:00:00Z");
        assert_eq!(
            Unit::Week.schedule().bounds(now),
            (at("2026-03-09T00:00:00Z"), at("2026-03-16T00:00:00Z"))
        );
        assert_eq!(
            Unit::Month.schedule().bounds(now),
            (at("2026-03-01T00:00:00Z"), at("2026-04-01T00:00:00Z"))
        );
    }

    #[test]
    fn a_year_is_365_days_from_the_epoch() {
        let (start, end) = Unit::Year.schedule().bounds(at("2026-03-10T10:00:00Z"));
        assert_eq!(end - start, 365 * 86_400 * SEC);
        assert_eq!(start % (365 * 86_400 * SEC), 0);
        assert_eq!(start, at("2025-12-18T00:00:00Z"));
    }

    #[test]
    fn a_billion_per_second_does_not_fit_a_window() {
        assert!(Unit::Second.window(999_999_999).is_ok());
        assert!(Unit::Second.window(1_000_000_000).is_err());
        assert!(Unit::Minute.window(u32::MAX).is_ok());
        assert!(Unit::Second.window(0).is_err());
    }
}
