//! Numbers and times as the customer's page says them: "in 3 h 7 min", "1 per second, bursts
//! of 3", "26 December 2026 (30 days left)".

use tollgate_gate::LimitKind;

/// A wait in words, to the minute, rounded up (never early): `in 3 h 7 min`, `in 2 days 4 h`,
/// `in 45 s` under a minute, `now` when due.
pub(super) fn wait(seconds: u64) -> String {
    if seconds == 0 {
        return "now".to_owned();
    }
    if seconds < 60 {
        return format!("in {seconds} s");
    }
    let minutes = seconds.div_ceil(60);
    let (days, hours, minutes) = (minutes / 1_440, minutes / 60 % 24, minutes % 60);
    match (days, hours, minutes) {
        (0, 0, minutes) => format!("in {minutes} min"),
        (0, hours, 0) => format!("in {hours} h"),
        (0, hours, minutes) => format!("in {hours} h {minutes} min"),
        (1, 0, _) => "in 1 day".to_owned(),
        (1, hours, _) => format!("in 1 day {hours} h"),
        (days, 0, _) => format!("in {days} days"),
        (days, hours, _) => format!("in {days} days {hours} h"),
    }
}

/// What a limit allows in words: `1 per second, bursts of 3` (a bucket), `300 per 15 minutes`
/// (a window), `10 at once` (concurrency), `10 values` (distinct values for good; see
/// [`distinct`] for their noun).
pub(super) fn allowance(kind: LimitKind, per_period: u64, period: &str, limit: u64) -> String {
    let (per_period, capacity) = (count(per_period), count(limit));
    match kind {
        LimitKind::Concurrency => format!("{capacity} at once"),
        LimitKind::Rate if capacity != per_period => {
            format!("{per_period} per {period}, bursts of {capacity}")
        }
        LimitKind::Rate | LimitKind::Quota => format!("{per_period} per {period}"),
        LimitKind::Distinct => distinct("values", limit, period),
    }
}

/// What a distinct-value limit allows in words: `10 machines` (for good), `5 devices per day`.
pub(super) fn distinct(noun: &str, most: u64, period: &str) -> String {
    if period.is_empty() {
        format!("{} {noun}", count(most))
    } else {
        format!("{} {noun} per {period}", count(most))
    }
}

/// Time left unused in words, to the hour, rounded down (never more than was left): `334
/// days`, `1 day 11 h`, `5 h`, `under an hour`.
pub(super) fn unused(seconds: u64) -> String {
    let hours = seconds / 3_600;
    match (hours / 24, hours % 24) {
        (0, 0) => "under an hour".to_owned(),
        (0, hours) => format!("{hours} h"),
        (1, 0) => "1 day".to_owned(),
        (1, hours) => format!("1 day {hours} h"),
        (days, 0) => format!("{} days", count(days)),
        (days, hours) => format!("{} days {hours} h", count(days)),
    }
}

/// A day in words: `26 December 2026`.
pub(super) fn day(date: jiff::civil::Date) -> String {
    date.strftime("%-d %B %Y").to_string()
}

/// Whole days from `today` to `until` (a pack's last day): `30 days left`, `1 day left`, `last
/// day`.
pub(super) fn days_left(today: jiff::civil::Date, until: jiff::civil::Date) -> String {
    let days = today
        .until((jiff::Unit::Day, until))
        .map_or(0, |span| span.get_days());
    match days {
        ..=0 => "last day".to_owned(),
        1 => "1 day left".to_owned(),
        days => format!("{days} days left"),
    }
}

/// A count with thousands separated: `12,345`.
pub(super) fn count(number: u64) -> String {
    let digits = number.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_to_the_minute_never_early() {
        assert_eq!(wait(0), "now");
        assert_eq!(wait(45), "in 45 s");
        assert_eq!(wait(60), "in 1 min");
        assert_eq!(wait(61), "in 2 min");
        assert_eq!(wait(3 * 3_600 + 7 * 60), "in 3 h 7 min");
        assert_eq!(wait(3 * 3_600 + 6 * 60 + 1), "in 3 h 7 min");
        assert_eq!(wait(2 * 3_600), "in 2 h");
        assert_eq!(wait(86_400), "in 1 day");
        assert_eq!(wait(86_400 + 5 * 3_600), "in 1 day 5 h");
        assert_eq!(wait(3 * 86_400 + 4 * 3_600 + 59), "in 3 days 4 h");
    }

    #[test]
    fn unused_time_to_the_hour_never_more() {
        assert_eq!(unused(3_599), "under an hour");
        assert_eq!(unused(5 * 3_600 + 3_599), "5 h");
        assert_eq!(unused(86_400), "1 day");
        assert_eq!(unused(86_400 + 11 * 3_600), "1 day 11 h");
        assert_eq!(unused(334 * 86_400), "334 days");
        assert_eq!(unused(1_000 * 86_400 + 13 * 3_600 + 1), "1,000 days 13 h");
    }

    #[test]
    fn allowances_in_words() {
        assert_eq!(allowance(LimitKind::Rate, 1, "second", 1), "1 per second");
        assert_eq!(
            allowance(LimitKind::Rate, 1, "2 seconds", 3),
            "1 per 2 seconds, bursts of 3"
        );
        assert_eq!(
            allowance(LimitKind::Quota, 300, "15 minutes", 300),
            "300 per 15 minutes"
        );
        assert_eq!(allowance(LimitKind::Concurrency, 10, "", 10), "10 at once");
        assert_eq!(
            allowance(LimitKind::Quota, 100_000, "month", 100_000),
            "100,000 per month"
        );
        assert_eq!(distinct("machines", 10, ""), "10 machines");
        assert_eq!(distinct("devices", 1_000, "day"), "1,000 devices per day");
        assert_eq!(allowance(LimitKind::Distinct, 3, "", 3), "3 values");
    }

    #[test]
    fn days_and_counts_in_words() {
        let date = |text: &str| text.parse::<jiff::civil::Date>().unwrap();
        assert_eq!(day(date("2026-12-26")), "26 December 2026");
        assert_eq!(
            days_left(date("2026-11-26"), date("2026-12-26")),
            "30 days left"
        );
        assert_eq!(
            days_left(date("2026-11-26"), date("2026-11-27")),
            "1 day left"
        );
        assert_eq!(
            days_left(date("2026-11-26"), date("2026-11-26")),
            "last day"
        );
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(12_345_678), "12,345,678");
    }
}
