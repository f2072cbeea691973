//! JSON lines: `{"time", "method", "path", "headers": {…}, "client_ip"?, "status"?}`, the check
//! API's request with the time it was received and, when known, the upstream's status. `time`
//! is RFC 3339 text or epoch seconds (a number, fractions allowed). Tollgate's own access log
//! (`tollgate serve --access-log`) is such a file: it names the `account` (and `why` a key was
//! refused) instead of the key, which the replay presents by a stand-in key. Other fields are
//! ignored.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use tollgate_core::Nanos;

use crate::record::Record;
use crate::time;

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(deserialize_with = "instant")]
    time: Nanos,
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(borrow)]
    path: Cow<'a, str>,
    #[serde(default, borrow)]
    headers: Pairs<'a>,
    #[serde(default, borrow)]
    client_ip: Option<Cow<'a, str>>,
    #[serde(default)]
    status: Option<u16>,
    /// Tollgate's access log: the account, in place of a key it never writes.
    #[serde(default, borrow)]
    account: Option<Cow<'a, str>>,
    /// Tollgate's access log: why it refused (`unauthenticated`: a key no account has).
    #[serde(default, borrow)]
    why: Option<Cow<'a, str>>,
}

/// Reads one JSON line into `record`.
///
/// # Errors
/// What is wrong with the line, in words.
pub fn parse(line: &str, record: &mut Record) -> Result<(), String> {
    let parsed: Line<'_> = serde_json::from_str(line).map_err(|error| error.to_string())?;
    record.at = parsed.time;
    record.method.push_str(&parsed.method);
    record.path.push_str(&parsed.path);
    for (name, value) in &parsed.headers.0 {
        record.headers.push(name, value);
    }
    record.client_ip = match parsed.client_ip {
        Some(ip) => Some(
            ip.parse()
                .map_err(|_| format!("client_ip `{ip}` is not an IP address"))?,
        ),
        None => None,
    };
    record.status = parsed.status;
    record.account = parsed.account.map(Cow::into_owned);
    record.unknown_key = parsed.why.as_deref() == Some("unauthenticated");
    Ok(())
}

/// A time as RFC 3339 text or epoch seconds.
fn instant<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Nanos, D::Error> {
    struct Instant;
    impl Visitor<'_> for Instant {
        type Value = Nanos;
        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("RFC 3339 text or epoch seconds")
        }
        fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<Nanos, E> {
            seconds
                .checked_mul(tollgate_core::NANOS_PER_SEC)
                .ok_or_else(|| E::custom("a time past 2554"))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Nanos, E> {
            Err(E::custom("a time before 1970"))
        }
        fn visit_f64<E: de::Error>(self, seconds: f64) -> Result<Nanos, E> {
            time::from_seconds(seconds).ok_or_else(|| E::custom("a time out of range"))
        }
        fn visit_str<E: de::Error>(self, text: &str) -> Result<Nanos, E> {
            time::parse_text(text).ok_or_else(|| E::custom(format!("`{text}` is not a time")))
        }
    }
    deserializer.deserialize_any(Instant)
}

/// Header names and values, in the order written.
#[derive(Default)]
struct Pairs<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'de: 'a, 'a> Deserialize<'de> for Pairs<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = Pairs<'de>;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("an object of header names and text values")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Pairs<'de>, M::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some((name, value)) = map.next_entry::<Borrowed<'de>, Borrowed<'de>>()? {
                    pairs.push((name.0, value.0));
                }
                Ok(Pairs(pairs))
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

/// Text borrowed from the line where it has no escapes.
struct Borrowed<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Borrowed<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> Visitor<'de> for Text {
            type Value = Borrowed<'de>;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("text")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Borrowed<'de>, E> {
                Ok(Borrowed(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Borrowed<'de>, E> {
                Ok(Borrowed(Cow::Owned(text.to_owned())))
            }
        }
        deserializer.deserialize_str(Text)
    }
}

#[cfg(test)]
mod tests {
    use tollgate_policy::{HeaderLookup, Headers};

    use super::*;

    #[test]
    fn a_line_reads_into_a_record() {
        let mut record = Record::default();
        let line = r#"{"time":"2026-01-01T00:00:00Z","method":"GET","path":"/a?x=1","headers":{"X-Api-Key":"k\"1"},"client_ip":"10.0.0.1","status":503,"extra":[1]}"#;
        parse(line, &mut record).unwrap();
        assert_eq!(record.at, 1_767_225_600_000_000_000);
        assert_eq!((&*record.method, &*record.path), ("GET", "/a?x=1"));
        assert_eq!(
            record.headers.lookup("x-api-key"),
            HeaderLookup::One("k\"1")
        );
        assert_eq!(record.client_ip, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(record.status, Some(503));
    }

    #[test]
    fn epoch_seconds_and_missing_fields() {
        let mut record = Record::default();
        parse(
            r#"{"time":1767225600.5,"method":"POST","path":"/"}"#,
            &mut record,
        )
        .unwrap();
        assert_eq!(record.at, 1_767_225_600_500_000_000);
        assert_eq!(record.status, None);
        let mut record = Record::default();
        assert!(parse(r#"{"method":"GET","path":"/"}"#, &mut record).is_err());
        assert!(parse(r#"{"time":"soon","method":"GET","path":"/"}"#, &mut record).is_err());
        assert!(
            parse(
                r#"{"time":1,"method":"GET","path":"/","client_ip":"x"}"#,
                &mut record
            )
            .is_err()
        );
    }
}
