//! The small languages inside policy strings: durations ("15m", "1d") and rates ("1/2s").

use std::time::Duration;

/// Parses a duration such as `500ms`, `2s`, `15m`, `1h`, `1d` or `1w` (a number and a unit).
///
/// # Errors
/// A message saying what was expected.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(|| {
        format!("`{text}` has no unit: write e.g. `{text}s`, `{text}m` or `{text}d`")
    })?;
    let (number, unit) = text.split_at(split);
    let count: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` does not start with a whole number"))?;
    let seconds_per = match unit.trim() {
        "ms" => return Ok(Duration::from_millis(count)),
        "s" | "sec" | "second" | "seconds" => 1,
        "m" | "min" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 7 * 86_400,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}`: use ms, s, m, h, d or w"
            ));
        }
    };
    count
        .checked_mul(seconds_per)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long"))
}

/// Parses a rate `COUNT/PERIOD` such as `2/s`, `1/2s` or `100/15m` into a count and a period.
///
/// # Errors
/// A message saying what was expected.
pub fn parse_rate(text: &str) -> Result<(u64, Duration), String> {
    let (count, period) = text.split_once('/').ok_or_else(|| {
        format!("`{text}` is not a rate: write COUNT/PERIOD, e.g. `2/s` or `1/2s`")
    })?;
    let count: u64 = count
        .trim()
        .parse()
        .map_err(|_| format!("`{}` in `{text}` is not a whole number", count.trim()))?;
    let period = period.trim();
    // "1/s" means one per second: a bare unit counts as one of it.
    let period = if period.starts_with(|c: char| c.is_ascii_digit()) {
        parse_duration(period)?
    } else {
        parse_duration(&format!("1{period}"))?
    };
    Ok((count, period))
}

/// A duration in words for messages: `15 minutes`, `second`, `2 hours`, `500 ms`.
#[must_use]
pub fn in_words(duration: Duration) -> String {
    let secs = duration.as_secs();
    if duration.subsec_nanos() != 0 || secs == 0 {
        return format!("{} ms", duration.as_millis());
    }
    let (count, unit) = [
        (7 * 86_400, "week"),
        (86_400, "day"),
        (3_600, "hour"),
        (60, "minute"),
        (1, "second"),
    ]
    .into_iter()
    .find(|&(size, _)| secs % size == 0)
    .map(|(size, unit)| (secs / size, unit))
    .unwrap_or((secs, "second"));
    if count == 1 {
        unit.to_owned()
    } else {
        format!("{count} {unit}s")
    }
}

/// SHA-256 of a secret in hex: the form in which keys are written in policies and catalogs.
#[must_use]
pub fn sha256_hex(secret: &str) -> String {
    crate::secret::digest(secret)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("15").unwrap_err().contains("no unit"));
        assert!(
            parse_duration("3 fortnights")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(parse_duration("m").unwrap_err().contains("whole number"));
    }

    #[test]
    fn words() {
        assert_eq!(in_words(Duration::from_secs(900)), "15 minutes");
        assert_eq!(in_words(Duration::from_secs(1)), "second");
        assert_eq!(in_words(Duration::from_secs(86_400)), "day");
        assert_eq!(in_words(Duration::from_millis(1_500)), "1500 ms");
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("2/s"), Ok((2, Duration::from_secs(1))));
        assert_eq!(parse_rate("1/2s"), Ok((1, Duration::from_secs(2))));
        assert_eq!(parse_rate("300 / 15m"), Ok((300, Duration::from_secs(900))));
        assert!(parse_rate("2 per s").unwrap_err().contains("COUNT/PERIOD"));
    }
}
