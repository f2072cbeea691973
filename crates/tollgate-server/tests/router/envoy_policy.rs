//! Envoy's rate-limit service decided by a policy file (no envoyproxy/ratelimit files): the
//! descriptors' entries describe one request — `path`, `method`, `remote_address`, the rest
//! headers — which the pipeline decides as the check API would. In process, on a manual clock.

use std::sync::Arc;
use std::time::Duration;

use envoy_types::pb::envoy::service::ratelimit::v3::RateLimitResponse;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::Code;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::rate_limit::Unit;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_client::RateLimitServiceClient;
use tollgate_core::ManualClock;
use tollgate_server::{App, Gate, grpc_router};

use crate::support::{T0, T0_S, policy, rls_request};

/// Two calls a minute per account and api, three a second per client address; Envoy is sent
/// the `X-RateLimit-*` family.
const POLICY: &str = r#"
    [responses]
    headers = ["x-ratelimit"]

    [identity]
    api_key = { header = "X-Api-Key" }

    [[accounts]]
    id = "acme"
    keys = ["acme-key"]

    [[routes]]
    api = "machines"
    match = "* /machines/{*rest}"

    [[routes]]
    api = "health"
    match = "GET /healthz"
    exempt = true

    [[limits]]
    name = "per-minute"
    window = { max = 2, every = "1m" }
    per = ["account", "api"]

    [[limits]]
    name = "per-ip"
    window = { max = 3, every = "15m" }
    per = ["ip"]
"#;

/// A descriptor's entries and its own hits.
type Asked<'a> = (Vec<(&'a str, &'a str)>, Option<u64>);

/// A descriptor of `entries`, without hits of its own.
fn d<'a>(entries: &[(&'a str, &'a str)]) -> Asked<'a> {
    (entries.to_vec(), None)
}

struct Rls {
    client: RateLimitServiceClient<axum::Router>,
    clock: ManualClock,
}

impl Rls {
    async fn start(text: &str) -> Self {
        let clock = ManualClock::new(T0);
        let gate = Gate::new(policy(text), clock.clone());
        let app = Arc::new(App::new(gate, None, Duration::from_secs(30)));
        Self {
            client: RateLimitServiceClient::new(grpc_router(app).await),
            clock,
        }
    }

    async fn ask(&mut self, descriptors: &[Asked<'_>], hits: u32) -> RateLimitResponse {
        self.try_ask(descriptors, hits).await.unwrap()
    }

    async fn try_ask(
        &mut self,
        descriptors: &[Asked<'_>],
        hits: u32,
    ) -> Result<RateLimitResponse, tonic::Status> {
        let descriptors = descriptors
            .iter()
            .map(|(entries, own)| (entries.as_slice(), *own));
        let request = rls_request("anything", descriptors, hits);
        self.client
            .should_rate_limit(request)
            .await
            .map(tonic::Response::into_inner)
    }
}

/// What Envoy's route actions usually send: the address, then the path, method and key.
fn acme(path: &str) -> [Asked<'_>; 2] {
    [
        d(&[("remote_address", "192.0.2.7")]),
        d(&[("path", path), ("method", "GET"), ("x-api-key", "acme-key")]),
    ]
}

/// Every status as `(code, requests_per_unit, unit, name, remaining, seconds to reset)`.
fn statuses(response: &RateLimitResponse) -> Vec<(Code, u32, Unit, String, u32, i64)> {
    response
        .statuses
        .iter()
        .map(|status| {
            let limit = status.current_limit.clone().unwrap_or_default();
            (
                status.code(),
                limit.requests_per_unit,
                limit.unit(),
                limit.name,
                status.limit_remaining,
                status
                    .duration_until_reset
                    .map_or(-1, |reset| reset.seconds),
            )
        })
        .collect()
}

fn headers(response: &RateLimitResponse) -> Vec<(String, String)> {
    response
        .response_headers_to_add
        .iter()
        .map(|header| (header.key.clone(), header.value.clone()))
        .collect()
}

#[tokio::test]
async fn the_policy_decides_the_request_the_descriptors_describe() {
    let mut rls = Rls::start(POLICY).await;
    let minute = |remaining| {
        (
            Code::Ok,
            2,
            Unit::Minute,
            "per-minute".to_owned(),
            remaining,
            60,
        )
    };
    let first = rls.ask(&acme("/machines/1"), 0).await;
    assert_eq!(first.overall_code(), Code::Ok);
    // Every descriptor carries the limit the headers show: the one with fewest units left.
    assert_eq!(statuses(&first), vec![minute(1), minute(1)]);
    assert_eq!(
        headers(&first),
        [
            ("x-ratelimit-limit", "2"),
            ("x-ratelimit-remaining", "1"),
            ("x-ratelimit-reset", &(T0_S + 60).to_string()),
            ("x-ratelimit-used", "1"),
            ("x-ratelimit-resource", "per-minute"),
        ]
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
    );
    assert!(first.raw_body.is_empty());
    // Another path of the same api is the same partition: the second call is the last.
    let second = rls.ask(&acme("/machines/2"), 0).await;
    assert_eq!(statuses(&second)[0], minute(0));
    let third = rls.ask(&acme("/machines/3"), 0).await;
    assert_eq!(third.overall_code(), Code::OverLimit);
    assert_eq!(
        statuses(&third)[1],
        (
            Code::OverLimit,
            2,
            Unit::Minute,
            "per-minute".to_owned(),
            0,
            60
        )
    );
    // The refusal's body and its headers, Retry-After included, for Envoy's 429.
    let body: serde_json::Value = serde_json::from_slice(&third.raw_body).unwrap();
    assert_eq!(body["error"], "rate_limited");
    let third_headers = headers(&third);
    assert!(third_headers.contains(&("retry-after".to_owned(), "60".to_owned())));
    assert!(third_headers.contains(&("content-type".to_owned(), "application/json".to_owned())));
    // The refusal took nothing: the per-ip window still has one call left, and in the next
    // minute the account may call again.
    rls.clock.advance(Duration::from_secs(60));
    let next = rls.ask(&acme("/machines/1"), 0).await;
    assert_eq!(next.overall_code(), Code::Ok);
    // The 15-minute per-ip limit is now the tightest; Envoy has no such unit.
    assert_eq!(
        statuses(&next)[0],
        (Code::Ok, 3, Unit::Unknown, "per-ip".to_owned(), 0, 840)
    );
}

#[tokio::test]
async fn hits_addend_is_the_cost_and_zero_only_looks() {
    let mut rls = Rls::start(POLICY).await;
    let [address, request] = acme("/machines/1");
    let looking = [(address.0.clone(), Some(0)), (request.0.clone(), Some(0))];
    for _ in 0..3 {
        let looked = rls.ask(&looking, 0).await;
        assert_eq!(statuses(&looked)[0].4, 2, "looking takes nothing");
    }
    let both = rls.ask(&[address.clone(), request.clone()], 2).await;
    assert_eq!(both.overall_code(), Code::Ok);
    assert_eq!(statuses(&both)[0].4, 0);
    // Descriptors whose own hits differ describe no one request: refused, never let through.
    let differ = [(address.0.clone(), Some(1)), (request.0.clone(), Some(2))];
    assert_eq!(rls.ask(&differ, 0).await.overall_code(), Code::OverLimit);
}

#[tokio::test]
async fn what_cannot_be_read_is_over_limit_not_an_error() {
    let mut rls = Rls::start(POLICY).await;
    let refused = |response: RateLimitResponse| {
        assert_eq!(response.overall_code(), Code::OverLimit);
        let body: serde_json::Value = serde_json::from_slice(&response.raw_body).unwrap();
        body["error"].as_str().unwrap().to_owned()
    };
    // A path the path rules refuse: Envoy's failure mode must not let it through.
    let dotted = [d(&[
        ("path", "/machines/../healthz"),
        ("x-api-key", "acme-key"),
    ])];
    assert_eq!(refused(rls.ask(&dotted, 0).await), "bad_path");
    // Two paths in one request.
    let two = [d(&[("path", "/machines/1")]), d(&[("path", "/healthz")])];
    assert_eq!(refused(rls.ask(&two, 0).await), "bad_descriptors");
    // The key read two ways.
    let keys = [
        d(&[("path", "/machines/1"), ("x-api-key", "acme-key")]),
        d(&[("x-api-key", "other")]),
    ];
    assert_eq!(refused(rls.ask(&keys, 0).await), "bad_request");
    let address = [d(&[
        ("path", "/machines/1"),
        ("remote_address", "not-an-ip"),
    ])];
    assert_eq!(refused(rls.ask(&address, 0).await), "bad_descriptors");
    // Nothing of it was counted.
    let counted = rls.ask(&acme("/machines/1"), 0).await;
    assert_eq!(statuses(&counted)[0].4, 1);
}

#[tokio::test]
async fn exempt_and_unmatched_routes_follow_the_policy() {
    let mut rls = Rls::start(POLICY).await;
    let health = [d(&[("path", "/healthz"), ("method", "GET")])];
    for _ in 0..5 {
        let answer = rls.ask(&health, 0).await;
        assert_eq!(answer.overall_code(), Code::Ok);
        assert_eq!(answer.statuses[0].current_limit, None);
        assert!(answer.response_headers_to_add.is_empty());
    }
    let nowhere = [d(&[("path", "/nowhere")])];
    assert_eq!(rls.ask(&nowhere, 0).await.overall_code(), Code::OverLimit);
    let passing = POLICY.replace("[responses]", "[server]\nunmatched = \"pass\"\n[responses]");
    let mut rls = Rls::start(&passing).await;
    assert_eq!(rls.ask(&nowhere, 0).await.overall_code(), Code::Ok);
}

#[tokio::test]
async fn a_store_that_cannot_decide_is_unavailable_and_bounds_hold() {
    let full = POLICY.replace("[responses]", "[server]\nmax_partitions = 1\n[responses]");
    let mut rls = Rls::start(&full).await;
    let mut unavailable = false;
    for n in 0..1_000 {
        let ip = format!("10.0.{}.{}", n / 250, n % 250);
        let asked = [d(&[
            ("path", "/machines/1"),
            ("remote_address", ip.as_str()),
        ])];
        match rls.try_ask(&asked, 0).await {
            Ok(_) => {}
            Err(status) => {
                assert_eq!(status.code(), tonic::Code::Unavailable);
                unavailable = true;
                break;
            }
        }
    }
    assert!(unavailable, "a full store never answered UNAVAILABLE");
    // The bounds are the same as with envoyproxy/ratelimit's files.
    let many: Vec<Asked<'_>> = vec![d(&[("path", "/machines/1")]); 65];
    let status = rls.try_ask(&many, 0).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn a_limit_that_refuses_with_503_is_over_limit_not_a_store_fault() {
    // A load-shedding limit may answer 503; to Envoy that is a refusal, never UNAVAILABLE
    // (which its default failure mode would let through).
    let shedding = POLICY.replace(
        "name = \"per-minute\"",
        "name = \"per-minute\"\n    status = 503",
    );
    let mut rls = Rls::start(&shedding).await;
    for _ in 0..2 {
        assert_eq!(
            rls.ask(&acme("/machines/1"), 0).await.overall_code(),
            Code::Ok
        );
    }
    let refused = rls.ask(&acme("/machines/1"), 0).await;
    assert_eq!(refused.overall_code(), Code::OverLimit);
    let body: serde_json::Value = serde_json::from_slice(&refused.raw_body).unwrap();
    assert_eq!(body["error"], "rate_limited");
}
