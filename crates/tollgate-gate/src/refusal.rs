//! A request refused, as a value: its status, what the limits said, and its body. The
//! adapters shape it for their transport (the `tollgate-http` crate writes it as a response).

use jiff::tz::TimeZone;
use tollgate_core::{Block, Decision, NANOS_PER_SEC, Nanos, Per, Shown, epoch_seconds};
use tollgate_policy::{
    BodyFormat, DEFAULT_JSON, DEFAULT_XML, Field, Responses, Template, Unmatched,
};

use super::report::{LimitReport, Report};

/// What refused a request: what the adapters choose their answers by and the metrics count,
/// rather than its status (a limit may refuse with 503, and forward-auth answers an unrouted
/// path 403).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// A limit: 429, or the limit's own status.
    Limited,
    /// A block: 423.
    Blocked,
    /// An API key no account has, or a wrong app secret: 401, or the policy's status.
    Unauthenticated,
    /// No route matches the method and path: 404 (forward-auth and the check API answer as
    /// `server.unmatched` says).
    NoRoute,
    /// The request cannot be read one way only, or its target is refused: 400.
    BadRequest,
    /// The limit store (or the journal) could not decide: no doing of the client's.
    StoreFault,
    /// The gateway's upstream could not be reached or did not answer: 502, 504.
    Upstream,
}

/// Why a request was refused, and everything its answer shows.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// What refused it.
    pub why: Why,
    /// The status: 429 for a limit (or the limit's own), 400, 401, 403, 404, 423, 503…
    pub status: u16,
    /// Seconds until the same request would be admitted, when that is known.
    pub retry_after: Option<u64>,
    /// Milliseconds until the request's turn, rounded up, when it was refused only because its
    /// turn was still to come and its caller answers at once (a token bucket's delay, asked
    /// through forward-auth, the check API or Envoy): the precise wait behind `retry_after`.
    pub retry_after_ms: Option<u64>,
    /// What the limits said, when they were consulted.
    pub report: Report,
    /// The body's content type and text.
    pub body: (&'static str, String),
}

impl Refusal {
    /// A refusal before any limit, as JSON `{"error": code, "message": message}`.
    fn before_limits(why: Why, status: u16, code: &str, message: &str) -> Self {
        let body = serde_json::json!({ "error": code, "message": message }).to_string();
        Self {
            why,
            status,
            retry_after: None,
            retry_after_ms: None,
            report: Report::default(),
            body: ("application/json", body),
        }
    }

    /// 400 with `code`: a request that cannot be read one way only.
    #[must_use]
    pub fn bad_request(code: &str, message: &str) -> Self {
        Self::before_limits(Why::BadRequest, 400, code, message)
    }

    /// A target the path rules refuse.
    #[must_use]
    pub fn bad_path(refused: &tollgate_policy::PathError) -> Self {
        Self::bad_request("bad_path", &refused.to_string())
    }

    /// `status` (401 unless the policy says otherwise) `unauthenticated`.
    #[must_use]
    pub fn unauthenticated(status: u16, message: &str) -> Self {
        Self::before_limits(Why::Unauthenticated, status, "unauthenticated", message)
    }

    /// No route matches this method and path.
    #[must_use]
    pub fn no_route() -> Self {
        Self::before_limits(
            Why::NoRoute,
            404,
            "no_route",
            "no route matches this method and path",
        )
    }

    /// The answer while the limit store cannot decide.
    #[must_use]
    pub fn unavailable() -> Self {
        Self::store_fault("the limit store cannot decide now")
    }

    /// 503 `store_unavailable` with `message`: the store (or the journal) could not decide.
    #[must_use]
    pub fn store_fault(message: &str) -> Self {
        Self::before_limits(Why::StoreFault, 503, "store_unavailable", message)
    }

    /// The gateway's answer when its upstream fails: `status` (502, 504) with `code`.
    #[must_use]
    pub fn upstream(status: u16, code: &str, message: &str) -> Self {
        Self::before_limits(Why::Upstream, status, code, message)
    }

    /// A refusal by limits no api owns (guessing keys on the quota page): 429 with
    /// `Retry-After` for `retry_at`, seen at `now`.
    #[must_use]
    pub fn throttled(message: &str, retry_at: Nanos, now: Nanos) -> Self {
        Self {
            retry_after: Some(seconds_until(retry_at, now).max(1)),
            ..Self::before_limits(Why::Limited, 429, "rate_limited", message)
        }
    }

    /// A request refused by a block: 423 with `Retry-After` and the block's reason, its end in
    /// `zone` (the account's, where the block is the account's).
    #[must_use]
    pub fn blocked(block: &Block, now: Nanos, zone: &TimeZone) -> Self {
        let body = serde_json::json!({
            "error": "blocked",
            "message": format!("{} until {}", block.reason, local_time(block.until, zone)),
            "until": epoch_seconds(block.until),
        })
        .to_string();
        Self {
            why: Why::Blocked,
            status: 423,
            retry_after: Some(seconds_until(block.until, now).max(1)),
            retry_after_ms: None,
            report: Report::default(),
            body: ("application/json", body),
        }
    }

    /// A refusal by the limits of `report` (`decision` refused), with the policy's body in
    /// the format `accept` asks for.
    /// A refusal by a limit, with the body the policy's template makes of `report`; `partition`
    /// (the refusing limit's, in words) goes into `{explanation}` where it is known.
    pub(crate) fn limited(
        responses: &Responses,
        accept: Option<&str>,
        report: Report,
        decision: &Decision,
        partition: Option<&str>,
        zone: &TimeZone,
    ) -> Self {
        let shown = report
            .shown()
            .cloned()
            .unwrap_or_else(|| unreachable_report(&report));
        // Never: the request's cost exceeds the limit; point at the reset all the same. A count
        // kept for good never resets: no time to come back at.
        let retry_after = match (decision.retry_at(), shown.allowance.per) {
            (None, Per::Ever) => None,
            (retry_at, _) => {
                Some(seconds_until(retry_at.unwrap_or(shown.reset_at), report.at).max(1))
            }
        };
        let xml = match responses.format {
            BodyFormat::Json => false,
            BodyFormat::Xml => true,
            BodyFormat::Accept => accept.is_some_and(|accept| accept.contains("xml")),
        };
        let (content_type, template) = if xml {
            ("application/xml", &responses.xml)
        } else {
            ("application/json", &responses.json)
        };
        let template = match shown.noun {
            Some(_) => distinct_body(template),
            None => template,
        };
        let api = report.api.as_deref().unwrap_or_default();
        let mut body = String::with_capacity(template.text().len() + 64);
        template.render(&mut body, |field, out| {
            use std::fmt::Write;
            let _ = match field {
                Field::Quota => out.write_str(&allowance_of(&shown)),
                Field::Limit => write!(out, "{}", shown.allowance.count),
                Field::Period => write!(out, "{}", shown.allowance.per),
                Field::Api => out.write_str(api),
                Field::Reset => write!(out, "{}", epoch_seconds(shown.reset_at)),
                Field::ResetAt => out.write_str(&local_time(shown.reset_at, zone)),
                Field::RetryAfter => match retry_after {
                    Some(seconds) => write!(out, "{seconds}"),
                    None => out.write_str("null"),
                },
                Field::RetryIn => match retry_after {
                    Some(seconds) => out.write_str(&in_seconds(seconds)),
                    None => out.write_str("never"),
                },
                Field::Name => out.write_str(&shown.name),
                Field::Code => out.write_str(&shown.code),
                Field::Explanation => {
                    let text = explanation(&shown, partition, zone);
                    escape_into(out, &text, xml);
                    Ok(())
                }
                _ => Ok(()),
            };
        });
        Self {
            why: Why::Limited,
            status: shown.status,
            retry_after,
            retry_after_ms: None,
            report,
            body: (content_type, body),
        }
    }
}

/// The default body of a distinct-value limit's refusal in JSON: it counts no requests.
const DISTINCT_JSON: &str = r#"{"error":"{code}","message":"At most {quota} ({name}): a new one is refused, those already used go on.","limit":"{name}","api":"{api}","retry_after":{retry_after}}"#;

/// The same in XML.
const DISTINCT_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><errors><error>At most {quota} ({name}): a new one is refused, those already used go on.</error></errors>"#;

/// The body template of a distinct-value limit's refusal: the policy's own, or, where it keeps
/// the default (which speaks of requests), one that says what is counted.
fn distinct_body(template: &Template) -> &Template {
    static BODIES: std::sync::LazyLock<[Template; 2]> = std::sync::LazyLock::new(|| {
        [
            Template::compile(DISTINCT_JSON),
            Template::compile(DISTINCT_XML),
        ]
    });
    match template.text() {
        DEFAULT_JSON => &BODIES[0],
        DEFAULT_XML => &BODIES[1],
        _ => template,
    }
}

/// The refusal in words: `per-minute (account=acme api=machines): 2 of 2 used, 2 per minute;
/// whole again at 2026-01-01T08:01:00+08:00` (in the account's zone).
fn explanation(shown: &LimitReport, partition: Option<&str>, zone: &TimeZone) -> String {
    let mut text = shown.name.to_string();
    if let Some(partition) = partition.filter(|partition| !partition.is_empty()) {
        text = format!("{text} ({partition})");
    }
    let used = shown.limit.saturating_sub(shown.remaining);
    if shown.allowance.per == Per::Ever {
        return format!(
            "{text}: {used} of {} used, kept for good",
            allowance_of(shown)
        );
    }
    format!(
        "{text}: {used} of {} used, {}; whole again at {}",
        shown.limit,
        allowance_of(shown),
        local_time(shown.reset_at, zone)
    )
}

/// `seconds` in words, singular for one: `1 second`, `3600 seconds`.
fn in_seconds(seconds: u64) -> String {
    if seconds == 1 {
        "1 second".to_owned()
    } else {
        format!("{seconds} seconds")
    }
}

/// What a limit allows, in words: `5 per second`, `1000 per day`, `4 in flight`; `10` for a
/// count kept for good (a distinct-value limit's refusal also names what it counts).
pub fn allowance(allowance: Shown) -> String {
    match allowance.per {
        Per::AtOnce => format!("{} in flight", allowance.count),
        Per::Ever => allowance.count.to_string(),
        per => format!("{} per {per}", allowance.count),
    }
}

/// What a reported limit allows, in words, with what a distinct-value limit counts: `10
/// machines`, `5 devices per day`; as [`allowance`] for the others.
fn allowance_of(report: &LimitReport) -> String {
    match (&report.noun, report.allowance.per) {
        (None, _) => allowance(report.allowance),
        (Some(noun), Per::Ever) => format!("{} {noun}", report.allowance.count),
        (Some(noun), per) => format!("{} {noun} per {per}", report.allowance.count),
    }
}

/// Writes `text` escaped for a JSON string or for XML text: client-made values (paths,
/// parameters) never break out of the body's syntax.
fn escape_into(out: &mut String, text: &str, xml: bool) {
    use std::fmt::Write;
    for c in text.chars() {
        let _ = match (xml, c) {
            (true, '&') => out.write_str("&amp;"),
            (true, '<') => out.write_str("&lt;"),
            (true, '>') => out.write_str("&gt;"),
            (true, '"') => out.write_str("&quot;"),
            (true, '\'') => out.write_str("&apos;"),
            (false, '"') => out.write_str("\\\""),
            (false, '\\') => out.write_str("\\\\"),
            // XML 1.0 has no way to write most control characters, nor U+FFFE and U+FFFF:
            // they are left out.
            (true, c) if c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}') => Ok(()),
            (false, c) if c.is_control() => write!(out, "\\u{:04x}", u32::from(c)),
            (_, c) => out.write_char(c),
        };
    }
}

/// A refusal always has a refusing limit; should it not, the first one stands for it.
fn unreachable_report(report: &Report) -> LimitReport {
    report.limits.first().cloned().unwrap_or(LimitReport {
        name: "limit".into(),
        allowed: false,
        limit: 0,
        remaining: 0,
        reset_at: report.at,
        retry_at: None,
        shadow: false,
        status: 429,
        code: "rate_limited".into(),
        allowance: Shown {
            count: 0,
            per: Per::AtOnce,
        },
        noun: None,
    })
}

/// `at` in `zone` as RFC 3339 with its offset, rounded up to the second (as the epoch-second
/// fields are): `2026-03-29T00:00:00+01:00`.
pub(crate) fn local_time(at: Nanos, zone: &TimeZone) -> String {
    let seconds = i64::try_from(epoch_seconds(at)).unwrap_or(i64::MAX);
    jiff::Timestamp::from_second(seconds)
        .map(|instant| {
            instant
                .to_zoned(zone.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        })
        .unwrap_or_default()
}

/// A proxy's question (forward-auth, Envoy's external authorization) answered as
/// `server.unmatched` says for a path no route matches: admitted uncounted with `pass`; refused
/// 403 with `refuse`, which a proxy passes through (nginx turns the gateway's 404 into a 500).
///
/// # Errors
/// The refusal, a request no route matches under `refuse` as 403.
#[allow(
    clippy::result_large_err,
    reason = "the answer of `Gate::admit` passed through, as it is: a refusal is built once"
)]
pub fn as_a_proxy_asks(
    decided: Result<crate::Admission, Refusal>,
    unmatched: Unmatched,
) -> Result<crate::Admission, Refusal> {
    match decided {
        Err(refusal) if refusal.why == Why::NoRoute => match unmatched {
            Unmatched::Pass => Ok(crate::Admission::uncounted(Report::default())),
            Unmatched::Refuse => Err(Refusal {
                status: 403,
                ..refusal
            }),
        },
        decided => decided,
    }
}

/// Whole seconds from `now` until `at`, rounded up.
pub fn seconds_until(at: Nanos, now: Nanos) -> u64 {
    at.saturating_sub(now).div_ceil(NANOS_PER_SEC)
}
