//! The small languages inside policy strings: durations ("15m", "2 hours", "day") and rates
//! ("1/2s", "2/sec"), whose unit words are read by one function, [`Unit::parse`].

use std::time::Duration;

/// A unit of time as a policy names it: the word after the number in `15m`, `2 hours` or
/// `1/sec`, or alone (`every = "hour"`, one of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// `ms`, `msec`, `msecs`, `millisecond`, `milliseconds`.
    Millisecond,
    /// `s`, `sec`, `secs`, `second`, `seconds`.
    Second,
    /// `m`, `min`, `mins`, `minute`, `minutes`.
    Minute,
    /// `h`, `hr`, `hrs`, `hour`, `hours`.
    Hour,
    /// `d`, `day`, `days`.
    Day,
    /// `w`, `wk`, `wks`, `week`, `weeks`.
    Week,
    /// `month`, `months`: no fixed length, so only a calendar window counts in it.
    Month,
}

impl Unit {
    /// Every unit, shortest first, with every spelling of it: all lower case, abbreviations
    /// first.
    pub const SPELLINGS: [(Self, &'static [&'static str]); 7] = [
        (
            Self::Millisecond,
            &["ms", "msec", "msecs", "millisecond", "milliseconds"],
        ),
        (Self::Second, &["s", "sec", "secs", "second", "seconds"]),
        (Self::Minute, &["m", "min", "mins", "minute", "minutes"]),
        (Self::Hour, &["h", "hr", "hrs", "hour", "hours"]),
        (Self::Day, &["d", "day", "days"]),
        (Self::Week, &["w", "wk", "wks", "week", "weeks"]),
        (Self::Month, &["month", "months"]),
    ];

    /// The unit `word` names, in any of its [spellings](Self::SPELLINGS) — the one place a
    /// policy's unit words are read. Upper case is no spelling: `M` could be read as a month.
    #[must_use]
    pub fn parse(word: &str) -> Option<Self> {
        Self::SPELLINGS
            .into_iter()
            .find(|(_, spellings)| spellings.contains(&word))
            .map(|(unit, _)| unit)
    }

    /// How long one of it is; `None` for a month, whose length depends on which.
    #[must_use]
    pub const fn length(self) -> Option<Duration> {
        let seconds = match self {
            Self::Millisecond => return Some(Duration::from_millis(1)),
            Self::Second => 1,
            Self::Minute => 60,
            Self::Hour => 3_600,
            Self::Day => 86_400,
            Self::Week => 7 * 86_400,
            Self::Month => return None,
        };
        Some(Duration::from_secs(seconds))
    }
}

/// Parses a period such as `15m`, `2 hours`, `1d` or `day` into a count and a unit: a whole
/// number (1 when left out), spaces if wished, and a unit in any of its
/// [spellings](Unit::SPELLINGS).
///
/// # Errors
/// A message saying what was expected.
pub fn parse_period(text: &str) -> Result<(u64, Unit), String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, word) = text.split_at(split);
    let word = word.trim_start();
    if word.is_empty() {
        return Err(if number.is_empty() {
            "an empty duration: write e.g. `15m`, `2 hours` or `day`".to_owned()
        } else {
            format!("`{text}` has no unit: write e.g. `{text}s`, `{text}m` or `{text}d`")
        });
    }
    let count = if number.is_empty() {
        1
    } else {
        number
            .parse()
            .map_err(|_| format!("`{text}` is too long"))?
    };
    let unit = Unit::parse(word).ok_or_else(|| {
        format!(
            "unknown unit `{word}` in `{text}`: use ms, s, m, h, d or w, or a word such as sec, minutes, hr, day or weeks"
        )
    })?;
    Ok((count, unit))
}

/// Parses a duration such as `500ms`, `2s`, `15 minutes`, `1h`, `day` or `1w` (see
/// [`parse_period`]).
///
/// # Errors
/// A message saying what was expected; a month, whose length varies, is refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (count, unit) = parse_period(text)?;
    let Some(length) = unit.length() else {
        return Err(format!(
            "`{}` has no fixed length: only a calendar window (`align = \"calendar\"`) counts in months",
            text.trim()
        ));
    };
    let nanos = length.as_nanos() * u128::from(count);
    u64::try_from(nanos / 1_000_000_000)
        .map(|seconds| Duration::new(seconds, (nanos % 1_000_000_000) as u32))
        .map_err(|_| format!("`{}` is too long", text.trim()))
}

/// Parses a rate `COUNT/PERIOD` such as `2/s`, `2/sec`, `1/2s` or `100/15 minutes` into a count
/// and a period (a duration, see [`parse_duration`]: a bare unit is one of it).
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
    Ok((count, parse_duration(period)?))
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
        assert_eq!(parse_duration("hour"), Ok(Duration::from_secs(3_600)));
        assert_eq!(parse_duration(" 2 hrs "), Ok(Duration::from_secs(7_200)));
        assert_eq!(
            parse_duration("5000000000ms"),
            Ok(Duration::from_secs(5_000_000))
        );
        assert_eq!(
            parse_duration("15"),
            Err("`15` has no unit: write e.g. `15s`, `15m` or `15d`".to_owned())
        );
        assert_eq!(
            parse_duration("3 fortnights"),
            Err("unknown unit `fortnights` in `3 fortnights`: use ms, s, m, h, d or w, or a word such as sec, minutes, hr, day or weeks".to_owned())
        );
        assert_eq!(
            parse_duration("1M"),
            Err("unknown unit `M` in `1M`: use ms, s, m, h, d or w, or a word such as sec, minutes, hr, day or weeks".to_owned())
        );
        assert_eq!(
            parse_duration("month"),
            Err("`month` has no fixed length: only a calendar window (`align = \"calendar\"`) counts in months".to_owned())
        );
        assert_eq!(
            parse_duration(""),
            Err("an empty duration: write e.g. `15m`, `2 hours` or `day`".to_owned())
        );
        assert_eq!(
            parse_duration("99999999999999999999s"),
            Err("`99999999999999999999s` is too long".to_owned())
        );
        assert_eq!(
            parse_duration("18446744073709551615w"),
            Err("`18446744073709551615w` is too long".to_owned())
        );
    }

    #[test]
    fn one_function_reads_every_spelling() {
        for (unit, spellings) in Unit::SPELLINGS {
            for spelling in spellings {
                assert_eq!(Unit::parse(spelling), Some(unit), "{spelling}");
                assert_eq!(parse_period(spelling), Ok((1, unit)), "{spelling}");
                assert_eq!(parse_period(&format!("7 {spelling}")), Ok((7, unit)));
            }
        }
        for other in ["", "S", "Hour", "mo", "mon", "hour s", "secss", "y", "year"] {
            assert_eq!(Unit::parse(other), None, "{other}");
        }
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("2/s"), Ok((2, Duration::from_secs(1))));
        assert_eq!(parse_rate("1/2s"), Ok((1, Duration::from_secs(2))));
        assert_eq!(parse_rate("300 / 15m"), Ok((300, Duration::from_secs(900))));
        assert_eq!(parse_rate("2/sec"), Ok((2, Duration::from_secs(1))));
        assert_eq!(parse_rate("5/hr"), Ok((5, Duration::from_secs(3_600))));
        assert_eq!(
            parse_rate("1/2 days"),
            Ok((1, Duration::from_secs(172_800)))
        );
        assert!(parse_rate("2 per s").unwrap_err().contains("COUNT/PERIOD"));
        assert!(
            parse_rate("2/month")
                .unwrap_err()
                .contains("no fixed length")
        );
    }

    /// Every spelling of every unit, with the length of one.
    const SPELLINGS: [(u64, &[&str]); 6] = [
        (
            1_000_000,
            &["ms", "msec", "msecs", "millisecond", "milliseconds"],
        ),
        (1_000_000_000, &["s", "sec", "secs", "second", "seconds"]),
        (60_000_000_000, &["m", "min", "mins", "minute", "minutes"]),
        (3_600_000_000_000, &["h", "hr", "hrs", "hour", "hours"]),
        (86_400_000_000_000, &["d", "day", "days"]),
        (604_800_000_000_000, &["w", "wk", "wks", "week", "weeks"]),
    ];

    /// A policy that reads the duration `D` in every place a policy reads one.
    const EVERY_PLACE: &str = r#"
        [server]
        upstream_timeout = "D"
        store_timeout = "D"
        header_read_timeout = "D"
        idle_timeout = "D"
        shutdown_timeout = "D"
        durability = "D"

        [[routes]]
        api = "hello"
        match = "GET /hello"

        [[limits]]
        name = "bucket"
        token_bucket = { rate = "1/D" }

        [[limits]]
        name = "window"
        window = { max = 5, every = "D" }

        [[limits]]
        name = "sliding"
        sliding = { max = 5, every = "D" }

        [[limits]]
        name = "concurrency"
        concurrency = { max = 5, lease = "D" }

        [plans.gold.limits]
        bucket = { rate = "2/D" }

        [plans.gold.apis.hello]
        bucket = { rate = "3/D" }

        [packs.boost]
        period = "D"
        limits = { bucket = { rate = "4/D" } }

        [[accounts]]
        id = "acme"
        overrides = { bucket = { rate = "5/D" } }
    "#;

    /// Each place a duration is read, and what it read there, in nanoseconds.
    fn read_everywhere(policy: &crate::Policy, duration: &str) -> Vec<(&'static str, u64)> {
        use crate::limit::Selector;
        use tollgate_core::{Algorithm, Schedule};
        let nanos = |duration: Duration| u64::try_from(duration.as_nanos()).unwrap();
        let rate = |algorithm: &Algorithm, count: u64| match algorithm {
            Algorithm::TokenBucket(bucket) => {
                assert_eq!(bucket.rate().count(), count);
                nanos(bucket.rate().period())
            }
            other => panic!("not a bucket: {other:?}"),
        };
        let server = policy.server();
        let [bucket, window, sliding, concurrency] = policy.limits() else {
            panic!("four limits");
        };
        let numbers = crate::Numbers {
            rate: Some(format!("6/{duration}")),
            ..crate::Numbers::default()
        };
        vec![
            ("server.upstream_timeout", nanos(server.upstream_timeout)),
            ("server.store_timeout", nanos(server.store_timeout)),
            (
                "server.header_read_timeout",
                nanos(server.header_read_timeout),
            ),
            ("server.idle_timeout", nanos(server.idle_timeout)),
            ("server.shutdown_timeout", nanos(server.shutdown_timeout)),
            (
                "server.durability",
                nanos(server.durability_interval.unwrap()),
            ),
            ("token_bucket.rate", rate(bucket.algorithm(None), 1)),
            ("plans.NAME.limits rate", rate(bucket.algorithm(Some(0)), 2)),
            (
                "plans.NAME.apis.API rate",
                rate(&bucket.special[&Selector::PlanApi(0, 0)], 3),
            ),
            (
                "packs.NAME.limits rate",
                rate(&bucket.special[&Selector::Pack(0)], 4),
            ),
            (
                "accounts overrides rate",
                rate(&bucket.special[&Selector::Account(0)], 5),
            ),
            (
                "an override's rate (admin API)",
                rate(&bucket.with_numbers(&numbers).unwrap(), 6),
            ),
            (
                "window.every",
                match window.algorithm(None) {
                    Algorithm::Window(window) => match window.schedule() {
                        schedule @ Schedule::Clock(_) => {
                            let (start, end) = schedule.bounds(0);
                            end - start
                        }
                        other => panic!("not clock-aligned: {other:?}"),
                    },
                    other => panic!("not a window: {other:?}"),
                },
            ),
            (
                "sliding.every",
                match sliding.algorithm(None) {
                    Algorithm::Sliding(sliding) => sliding.period(),
                    other => panic!("not sliding: {other:?}"),
                },
            ),
            (
                "concurrency.lease",
                match concurrency.algorithm(None) {
                    Algorithm::Concurrency(concurrency) => concurrency.lease_ttl(),
                    other => panic!("not concurrency: {other:?}"),
                },
            ),
            (
                "packs.NAME.period",
                nanos(policy.pack_period("boost").unwrap()),
            ),
        ]
    }

    #[test]
    fn every_place_reads_every_spelling_of_every_unit() {
        let mut failures = Vec::new();
        for (one, words) in SPELLINGS {
            for word in words {
                for (text, count) in [
                    (word.to_string(), 1),
                    (format!("3{word}"), 3),
                    (format!("3 {word}"), 3),
                ] {
                    let source = crate::Source::new("units.toml", EVERY_PLACE.replace('D', &text));
                    match crate::Policy::compile(&source) {
                        Err(errors) => failures.push(format!("`{text}`: {errors}")),
                        Ok(policy) => {
                            for (place, read) in read_everywhere(&policy, &text) {
                                if read != count * one {
                                    failures.push(format!(
                                        "`{text}` in {place}: {read} ns, not {}",
                                        count * one
                                    ));
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn calendar_windows_read_the_same_words() {
        use tollgate_core::{Algorithm, CalendarUnit, Schedule};
        let cases = [
            (CalendarUnit::Day, &["d", "day", "days", "1d", "1 day"][..]),
            (
                CalendarUnit::Week,
                &["w", "wk", "wks", "week", "weeks", "1w", "1 week"][..],
            ),
            (CalendarUnit::Month, &["month", "months", "1 month"][..]),
        ];
        for (unit, words) in cases {
            for word in words {
                let text = format!(
                    "[[limits]]\nname = \"q\"\nwindow = {{ max = 5, every = \"{word}\", align = \"calendar\" }}\n"
                );
                let policy = crate::Policy::compile(&crate::Source::new("c.toml", text))
                    .unwrap_or_else(|errors| panic!("`{word}`: {errors}"));
                match policy.limits()[0].algorithm(None) {
                    Algorithm::Window(window) => match window.schedule() {
                        Schedule::Calendar(calendar) => assert_eq!(calendar.unit(), unit, "{word}"),
                        other => panic!("`{word}`: {other:?}"),
                    },
                    other => panic!("`{word}`: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn a_window_refuses_what_it_cannot_count_in() {
        let error = |every: &str, align: &str| {
            let text = format!(
                "[[limits]]\nname = \"q\"\nwindow = {{ max = 5, every = \"{every}\", align = \"{align}\" }}\n"
            );
            crate::Policy::compile(&crate::Source::new("c.toml", text))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            error("2 days", "calendar"),
            "c.toml:3:29: a calendar window is a `day`, `week` or `month`, not `2 days`"
        );
        assert_eq!(
            error("24h", "calendar"),
            "c.toml:3:29: a calendar window is a `day`, `week` or `month`, not `24h`"
        );
        assert_eq!(
            error("months", "clock"),
            "c.toml:3:29: `months` has no fixed length: only a calendar window (`align = \"calendar\"`) counts in months"
        );
    }
}
