//! The times access logs write: RFC 3339 (`2026-03-29T01:59:59.5+01:00`), epoch seconds (a
//! number, fractions allowed, or the same digits as a string), and the common log format's
//! `[29/Mar/2026:01:59:59 +0100]`. Every one becomes [`Nanos`] since the epoch, UTC.

use tollgate_core::{NANOS_PER_SEC, Nanos};

/// An RFC 3339 timestamp or epoch seconds, as text.
#[must_use]
pub fn parse_text(text: &str) -> Option<Nanos> {
    let text = text.trim();
    if text
        .bytes()
        .next()
        .is_some_and(|byte| byte.is_ascii_digit())
        && text
            .bytes()
            .all(|byte| byte.is_ascii_digit() || byte == b'.')
    {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        if fraction.contains('.') || fraction.len() > 9 {
            return None;
        }
        let nanos = if fraction.is_empty() {
            0
        } else {
            fraction.parse::<Nanos>().ok()? * 10u64.pow(9 - fraction.len() as u32)
        };
        return whole
            .parse::<Nanos>()
            .ok()?
            .checked_mul(NANOS_PER_SEC)?
            .checked_add(nanos);
    }
    let at: jiff::Timestamp = text.parse().ok()?;
    Nanos::try_from(at.as_nanosecond()).ok()
}

/// Epoch seconds, with a fraction, as nanoseconds; `None` before the epoch or past 2554.
#[must_use]
pub fn from_seconds(seconds: f64) -> Option<Nanos> {
    if !(seconds.is_finite() && (0.0..1.8e10).contains(&seconds)) {
        return None;
    }
    let whole = seconds.trunc();
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "checked to be in range first"
    )]
    let (whole, nanos) = (whole as Nanos, ((seconds - whole) * 1e9).round() as Nanos);
    whole.checked_mul(NANOS_PER_SEC)?.checked_add(nanos)
}

/// The common log format's time, `10/Oct/2000:13:55:36 -0700` (without the brackets).
#[must_use]
pub fn parse_clf(text: &str) -> Option<Nanos> {
    let bytes = text.as_bytes();
    if bytes.len() != 26 || bytes[2] != b'/' || bytes[6] != b'/' || bytes[11] != b':' {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<i64> {
        let digits = text.get(from..to)?;
        digits
            .bytes()
            .all(|byte| byte.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let day = number(0, 2)?;
    let month = match &text[3..6] {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year = number(7, 11)?;
    let (hour, minute, second) = (number(12, 14)?, number(15, 17)?, number(18, 20)?);
    let sign = match bytes[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let offset = sign * (number(22, 24)? * 3600 + number(24, 26)? * 60);
    if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    u64::try_from(seconds).ok()?.checked_mul(NANOS_PER_SEC)
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// An instant as RFC 3339 text, UTC, to the second.
#[must_use]
pub fn rfc3339(at: Nanos) -> String {
    jiff::Timestamp::from_second(i64::try_from(at / NANOS_PER_SEC).unwrap_or(i64::MAX))
        .map(|at| at.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Nanos = 1_774_745_999 * NANOS_PER_SEC; // 2026-03-29T00:59:59Z

    #[test]
    fn every_spelling_reads_the_same_instant() {
        assert_eq!(parse_text("2026-03-29T00:59:59Z"), Some(T));
        assert_eq!(parse_text("2026-03-29T01:59:59+01:00"), Some(T));
        assert_eq!(parse_text("1774745999"), Some(T));
        assert_eq!(parse_text("1774745999.25"), Some(T + 250_000_000));
        assert_eq!(parse_clf("29/Mar/2026:01:59:59 +0100"), Some(T));
        assert_eq!(parse_clf("28/Mar/2026:19:59:59 -0500"), Some(T));
        assert_eq!(rfc3339(T + 1), "2026-03-29T00:59:59Z");
    }

    #[test]
    fn nonsense_is_no_time() {
        assert_eq!(parse_text("yesterday"), None);
        assert_eq!(parse_text(""), None);
        assert_eq!(parse_clf("29/Foo/2026:01:59:59 +0100"), None);
        assert_eq!(parse_clf("29/Mar/2026:25:59:59 +0100"), None);
        assert_eq!(parse_clf("29/Mar/2026 01:59:59"), None);
        assert_eq!(from_seconds(-1.0), None);
    }
}
