//! Envoy's question decided by the policy file, when no envoyproxy/ratelimit configuration is
//! served: the entries of a request's descriptors describe one HTTP request, which the pipeline
//! admits or refuses as it would the same request through the check API.
//!
//! | entry key | becomes |
//! | --- | --- |
//! | `path` | the request target, read by the policy's path rules |
//! | `method` | the method (`GET` without one) |
//! | `remote_address` | the client's address |
//! | any other | a request header of that name |

use envoy_types::pb::envoy::config::core::v3::HeaderValue;
use envoy_types::pb::envoy::service::ratelimit::v3::RateLimitResponse;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::rate_limit::Unit;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::{
    DescriptorStatus, RateLimit,
};
use tollgate_core::{CalendarUnit, Clock, Per, Shown};
use tollgate_policy::{RequestFacts, Unmatched};

use super::code;
use crate::app::App;
use crate::respond;
use tollgate_gate::{Descriptor, NotDecided, Refusal, Report, Why, seconds_until};

/// The facts Envoy's descriptors give, borrowed from them.
#[derive(Debug, Default)]
struct Described<'a> {
    path: Option<&'a str>,
    method: Option<&'a str>,
    remote_address: Option<&'a str>,
    /// Every other entry, once each: a key sent twice with one value is one header, with two
    /// values it is two (which the policy refuses if it reads that header).
    headers: Vec<(&'a str, &'a str)>,
    cost: Option<u32>,
}

/// Why descriptors describe no request.
type Unreadable = &'static str;

impl<'a> Described<'a> {
    /// Reads the entries of every descriptor, and the hits: the descriptors' own
    /// `hits_addend` where given (all alike: 0 only looks), else the request's (0 meaning the
    /// route's cost).
    fn read(descriptors: &[Descriptor<'a>], hits: u32) -> Result<Self, Unreadable> {
        let mut described = Self::default();
        for &(key, value) in descriptors.iter().flat_map(|d| &d.entries) {
            let one = match key {
                "path" => &mut described.path,
                "method" => &mut described.method,
                "remote_address" => &mut described.remote_address,
                _ => {
                    described.headers.push((key, value));
                    continue;
                }
            };
            match one {
                Some(earlier) if *earlier != value => {
                    return Err("an entry of `path`, `method` or `remote_address` has two values");
                }
                _ => *one = Some(value),
            }
        }
        // Once each, in O(n log n): up to 64 × 32 entries must not cost a quadratic search.
        described.headers.sort_unstable();
        described.headers.dedup();
        let mut own = descriptors.iter().filter_map(|d| d.hits);
        described.cost = match own.next() {
            Some(first) if own.all(|other| other == first) => {
                Some(u32::try_from(first).unwrap_or(u32::MAX))
            }
            Some(_) => return Err("the descriptors' own `hits_addend` differ"),
            None => (hits > 0).then_some(hits),
        };
        Ok(described)
    }
}

/// Decides `descriptors` by the policy: `Err` only for what Envoy's `failure_mode_deny` should
/// decide (a store that cannot). Every other refusal — a bad path, an identity read two ways,
/// descriptors that describe no request — is `OVER_LIMIT`: a request Tollgate cannot read is
/// never let through by an error.
pub(super) async fn decide<C: Clock + 'static>(
    app: &App<C>,
    peer: Option<std::net::IpAddr>,
    descriptors: &[Descriptor<'_>],
    hits: u32,
) -> Result<RateLimitResponse, NotDecided> {
    let refused = |refusal: Refusal| {
        Ok(answer(
            false,
            &refusal.report,
            Some(&refusal),
            descriptors.len(),
        ))
    };
    let described = match Described::read(descriptors, hits) {
        Ok(described) => described,
        Err(reason) => return refused(Refusal::bad_request("bad_descriptors", reason)),
    };
    let policy = app.gate.policy();
    let method = described.method.unwrap_or("GET");
    let target = match policy.target_exact(method, described.path.unwrap_or("/")) {
        Ok(target) => target,
        Err(error) => return refused(Refusal::bad_path(&error)),
    };
    let client_ip = match described.remote_address.map(str::parse) {
        None => None,
        Some(Ok(ip)) => Some(ip),
        Some(Err(_)) => {
            let reason = "`remote_address` is not an IP address";
            return refused(Refusal::bad_request("bad_descriptors", reason));
        }
    };
    let facts = RequestFacts {
        method,
        target: &target,
        headers: described.headers.as_slice(),
        client_ip,
        cost: described.cost,
        // Envoy is the peer: its descriptors' headers are the client's, believed for the
        // company only where Envoy is a trusted proxy.
        from_trusted_proxy: peer.is_some_and(|peer| policy.trusts(peer)),
    };
    // Envoy tells nothing of the response: a concurrency slot is returned once answered.
    match app.gate.admit(&facts).await {
        Ok(admission) => Ok(answer(true, admission.report(), None, descriptors.len())),
        Err(refusal)
            if refusal.why == Why::NoRoute && policy.server().unmatched == Unmatched::Pass =>
        {
            Ok(answer(true, &Report::default(), None, descriptors.len()))
        }
        Err(refusal) if refusal.why == Why::StoreFault => Err(NotDecided::Unavailable),
        Err(refusal) => refused(refusal),
    }
}

/// The answer: the limit the report shows, as every descriptor's status (the policy's limits
/// are chosen by the request the descriptors describe together, not one descriptor each);
/// the policy's header families as `response_headers_to_add`; a refusal's body as `raw_body`.
fn answer(
    admitted: bool,
    report: &Report,
    refusal: Option<&Refusal>,
    descriptors: usize,
) -> RateLimitResponse {
    let status = DescriptorStatus {
        code: code(!admitted),
        current_limit: report.shown().map(|shown| {
            let (requests_per_unit, unit) = per_unit(shown.allowance);
            RateLimit {
                name: shown.name.to_string(),
                requests_per_unit,
                unit: unit as i32,
            }
        }),
        limit_remaining: report.shown().map_or(0, |shown| {
            u32::try_from(shown.remaining).unwrap_or(u32::MAX)
        }),
        duration_until_reset: report.shown().map(|shown| {
            envoy_types::pb::google::protobuf::Duration {
                seconds: i64::try_from(seconds_until(shown.reset_at, report.at))
                    .unwrap_or(i64::MAX),
                nanos: 0,
            }
        }),
        quota: None,
    };
    let mut headers = Vec::new();
    respond::header_fields(
        report,
        refusal.and_then(|r| r.retry_after),
        refusal.and_then(|r| r.retry_after_ms),
        |name, value| {
            if let Ok(value) = value.to_str() {
                headers.push(HeaderValue {
                    key: name.as_str().to_owned(),
                    value: value.to_owned(),
                    ..HeaderValue::default()
                });
            }
        },
    );
    let mut raw_body = Vec::new();
    if let Some(refusal) = refusal {
        headers.push(HeaderValue {
            key: "content-type".to_owned(),
            value: refusal.body.0.to_owned(),
            ..HeaderValue::default()
        });
        raw_body = refusal.body.1.clone().into_bytes();
    }
    RateLimitResponse {
        overall_code: code(!admitted),
        statuses: vec![status; descriptors],
        response_headers_to_add: headers,
        raw_body,
        ..RateLimitResponse::default()
    }
}

/// What a limit allows as Envoy's `requests_per_unit` and unit; `UNKNOWN` with the count where
/// the period is not one unit (`15 minutes`, `2 seconds`: 3 per 15 minutes is not 12 per hour),
/// or for requests at once or distinct values kept for good: `duration_until_reset` still says
/// when it frees up.
fn per_unit(allowance: Shown) -> (u32, Unit) {
    let count = |count: u64| u32::try_from(count).unwrap_or(u32::MAX);
    match allowance.per {
        Per::Calendar(CalendarUnit::Day) => (count(allowance.count), Unit::Day),
        Per::Calendar(CalendarUnit::Week) => (count(allowance.count), Unit::Week),
        Per::Calendar(CalendarUnit::Month) => (count(allowance.count), Unit::Month),
        Per::AtOnce | Per::Ever => (count(allowance.count), Unit::Unknown),
        Per::Span(span) => {
            let unit = match span.as_secs() {
                _ if span.subsec_nanos() != 0 => Unit::Unknown,
                1 => Unit::Second,
                60 => Unit::Minute,
                3_600 => Unit::Hour,
                86_400 => Unit::Day,
                _ => Unit::Unknown,
            };
            (count(allowance.count), unit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor<'a>(entries: &[(&'a str, &'a str)], hits: Option<u64>) -> Descriptor<'a> {
        Descriptor {
            entries: entries.to_vec(),
            hits,
            limit: None,
        }
    }

    #[test]
    fn entries_become_one_request() {
        let descriptors = [
            descriptor(&[("remote_address", "10.0.0.1")], None),
            descriptor(
                &[
                    ("remote_address", "10.0.0.1"),
                    ("path", "/v1/a"),
                    ("method", "POST"),
                    ("x-api-key", "k"),
                ],
                None,
            ),
            descriptor(&[("x-api-key", "k")], None),
        ];
        let described = Described::read(&descriptors, 0).unwrap();
        assert_eq!(described.path, Some("/v1/a"));
        assert_eq!(described.method, Some("POST"));
        assert_eq!(described.remote_address, Some("10.0.0.1"));
        assert_eq!(described.headers, [("x-api-key", "k")]);
        assert_eq!(described.cost, None);
    }

    #[test]
    fn a_fact_with_two_values_is_unreadable() {
        let descriptors = [
            descriptor(&[("path", "/a")], None),
            descriptor(&[("path", "/b")], None),
        ];
        assert!(Described::read(&descriptors, 0).is_err());
        // A header with two values is kept twice, for the policy to refuse if it reads it.
        let descriptors = [
            descriptor(&[("x-api-key", "a")], None),
            descriptor(&[("x-api-key", "b")], None),
        ];
        let described = Described::read(&descriptors, 0).unwrap();
        assert_eq!(described.headers, [("x-api-key", "a"), ("x-api-key", "b")]);
    }

    #[test]
    fn hits_come_from_descriptors_then_the_request() {
        let look = [descriptor(&[], Some(0)), descriptor(&[], Some(0))];
        assert_eq!(Described::read(&look, 5).unwrap().cost, Some(0));
        let request = [descriptor(&[], None)];
        assert_eq!(Described::read(&request, 5).unwrap().cost, Some(5));
        let differ = [descriptor(&[], Some(1)), descriptor(&[], Some(2))];
        assert!(Described::read(&differ, 0).is_err());
    }

    #[test]
    fn allowances_in_envoy_units() {
        let shown = |count, per| per_unit(Shown { count, per });
        let span = |seconds| Per::Span(std::time::Duration::from_secs(seconds));
        assert_eq!(shown(5, span(1)), (5, Unit::Second));
        assert_eq!(
            shown(1_000, Per::Calendar(CalendarUnit::Day)),
            (1_000, Unit::Day)
        );
        assert_eq!(
            shown(9, Per::Calendar(CalendarUnit::Month)),
            (9, Unit::Month)
        );
        assert_eq!(shown(3, span(900)), (3, Unit::Unknown));
        assert_eq!(shown(4, Per::AtOnce), (4, Unit::Unknown));
    }
}
