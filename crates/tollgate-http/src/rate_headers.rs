//! The rate-limit headers of an answer, in the families the policy names: the limit a report
//! shows, and `Retry-After` for a refusal (with `Retry-After-Ms` for one whose turn was still
//! to come: see [`Refusal::retry_after_ms`](tollgate_gate::Refusal::retry_after_ms)).

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use tollgate_policy::HeaderFamily;

use crate::values::header_value as value;
use tollgate_gate::{Report, seconds_until};

const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
const X_RATE_LIMIT_REMAINING: HeaderName = HeaderName::from_static("x-rate-limit-remaining");
const X_RATE_LIMIT_RESET: HeaderName = HeaderName::from_static("x-rate-limit-reset");
const X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
const X_RATELIMIT_USED: HeaderName = HeaderName::from_static("x-ratelimit-used");
const X_RATELIMIT_RESOURCE: HeaderName = HeaderName::from_static("x-ratelimit-resource");
const RETRY_AFTER: HeaderName = HeaderName::from_static("retry-after");
const RETRY_AFTER_MS: HeaderName = HeaderName::from_static("retry-after-ms");

/// Calls `add` with each header of an answer showing `report`, refused for `retry_after`
/// seconds when set, and `retry_after_ms` milliseconds (the same wait, precisely) when set.
pub fn header_fields(
    report: &Report,
    retry_after: Option<u64>,
    retry_after_ms: Option<u64>,
    mut add: impl FnMut(HeaderName, HeaderValue),
) {
    let mut put = |name: HeaderName, text: std::fmt::Arguments<'_>| {
        if let Some(text) = value(text) {
            add(name, text);
        }
    };
    if let Some(shown) = report.shown() {
        let reset_epoch = shown.reset_at.div_ceil(tollgate_core::NANOS_PER_SEC);
        let name = &*shown.name;
        for family in &report.families {
            match family {
                HeaderFamily::Ietf => {
                    put(
                        RATELIMIT_POLICY,
                        format_args!("\"{name}\";q={}", shown.limit),
                    );
                    let reset = seconds_until(shown.reset_at, report.at);
                    put(
                        RATELIMIT,
                        format_args!("\"{name}\";r={};t={reset}", shown.remaining),
                    );
                }
                HeaderFamily::XRateLimitDashed => {
                    put(X_RATE_LIMIT_REMAINING, format_args!("{}", shown.remaining));
                    put(X_RATE_LIMIT_RESET, format_args!("{reset_epoch}"));
                }
                HeaderFamily::XRateLimit => {
                    put(X_RATELIMIT_LIMIT, format_args!("{}", shown.limit));
                    put(X_RATELIMIT_REMAINING, format_args!("{}", shown.remaining));
                    put(X_RATELIMIT_RESET, format_args!("{reset_epoch}"));
                    let used = shown.limit.saturating_sub(shown.remaining);
                    put(X_RATELIMIT_USED, format_args!("{used}"));
                    put(X_RATELIMIT_RESOURCE, format_args!("{name}"));
                }
            }
        }
    }
    if let Some(seconds) = retry_after {
        put(RETRY_AFTER, format_args!("{seconds}"));
    }
    if let Some(millis) = retry_after_ms {
        put(RETRY_AFTER_MS, format_args!("{millis}"));
    }
}

/// Adds the headers of an answer showing `report` to `headers` (see [`header_fields`]).
pub fn add_headers(
    headers: &mut HeaderMap,
    report: &Report,
    retry_after: Option<u64>,
    retry_after_ms: Option<u64>,
) {
    header_fields(report, retry_after, retry_after_ms, |name, value| {
        headers.insert(name, value);
    });
}
