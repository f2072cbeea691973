//! `GET /v1/auth`: the original request read from the proxy's headers, 200 or the refusal.

use std::time::Duration;

use crate::support::{T0_S, Tollgate, pairs};
use crate::{ACME, GLOBEX, POLICY};

/// The limit headers of `hourly` with `remaining` left, whole again at `reset` (epoch seconds),
/// seen at [`T0_S`] + `now`.
fn hourly(remaining: u64, reset: u64, now: u64) -> Vec<(String, String)> {
    let used = 2 - remaining;
    [
        ("ratelimit-policy", "\"hourly\";q=2".to_owned()),
        (
            "ratelimit",
            format!("\"hourly\";r={remaining};t={}", reset - T0_S - now),
        ),
        ("x-rate-limit-remaining", remaining.to_string()),
        ("x-rate-limit-reset", reset.to_string()),
        ("x-ratelimit-limit", "2".to_owned()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", reset.to_string()),
        ("x-ratelimit-used", used.to_string()),
        ("x-ratelimit-resource", "hourly".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

fn with_retry_after(mut headers: Vec<(String, String)>, seconds: u64) -> Vec<(String, String)> {
    headers.push(("retry-after".to_owned(), seconds.to_string()));
    headers
}

#[tokio::test]
async fn admits_the_burst_then_answers_429() {
    let tollgate = Tollgate::start(POLICY);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(tollgate.auth("GET", "/machines/1", &[ACME]).await.status);
    }
    assert_eq!(statuses, [200, 200, 429]);
    assert_eq!(
        tollgate.auth("GET", "/machines/1", &[GLOBEX]).await.status,
        200,
        "another account, another bucket"
    );
}

#[tokio::test]
async fn every_configured_header_family_reports_the_limit() {
    let tollgate = Tollgate::start(POLICY);
    let first = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(first.limit_headers(), hourly(1, T0_S + 3600, 0));
    let second = tollgate.auth("POST", "/machines/2", &[ACME]).await;
    assert_eq!(second.limit_headers(), hourly(0, T0_S + 7200, 0));
    let refused = tollgate.auth("GET", "/machines/3", &[ACME]).await;
    assert_eq!(refused.status, 429);
    assert_eq!(
        refused.limit_headers(),
        with_retry_after(hourly(0, T0_S + 7200, 0), 3600)
    );
}

#[tokio::test]
async fn only_the_configured_families_are_sent() {
    let ietf_only = POLICY.replace(
        r#"headers = ["ietf", "x-rate-limit", "x-ratelimit"]"#,
        r#"headers = ["ietf"]"#,
    );
    let tollgate = Tollgate::start(&ietf_only);
    let reply = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(
        reply.limit_headers(),
        pairs([
            ("ratelimit-policy", "\"hourly\";q=2"),
            ("ratelimit", "\"hourly\";r=1;t=3600"),
        ])
    );
}

#[tokio::test]
async fn admitted_again_exactly_at_retry_after_and_not_a_nanosecond_before() {
    let tollgate = Tollgate::start(POLICY);
    for _ in 0..2 {
        assert_eq!(
            tollgate.auth("GET", "/machines/1", &[ACME]).await.status,
            200
        );
    }
    let refused = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(
        (refused.status, refused.header("retry-after")),
        (429, Some("3600"))
    );

    tollgate.advance(Duration::from_secs(3600) - Duration::from_nanos(1));
    let early = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(
        (early.status, early.header("retry-after")),
        (429, Some("1")),
        "one nanosecond early is a second early, rounded up"
    );
    tollgate.advance_nanos(1);
    let admitted = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(admitted.status, 200);
    assert_eq!(admitted.limit_headers(), hourly(0, T0_S + 3 * 3600, 3600));
    let refused = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(
        (refused.status, refused.header("retry-after")),
        (429, Some("3600"))
    );
}

#[tokio::test]
async fn retry_after_is_rounded_up_to_the_second() {
    let tollgate = Tollgate::start(POLICY);
    for _ in 0..2 {
        tollgate.auth("GET", "/machines/1", &[ACME]).await;
    }
    tollgate.advance(Duration::from_millis(400));
    let refused = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    // 3599.6 s to wait, 7199.6 s until the bucket is whole.
    assert_eq!(
        refused.limit_headers(),
        pairs([
            ("ratelimit-policy", "\"hourly\";q=2"),
            ("ratelimit", "\"hourly\";r=0;t=7200"),
            ("x-rate-limit-remaining", "0"),
            ("x-rate-limit-reset", "1767232800"),
            ("x-ratelimit-limit", "2"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1767232800"),
            ("x-ratelimit-used", "2"),
            ("x-ratelimit-resource", "hourly"),
            ("retry-after", "3600"),
        ])
    );
}

#[tokio::test]
async fn the_refusal_body_follows_the_template_and_rides_in_tollgate_refusal() {
    let tollgate = Tollgate::start(POLICY);
    for _ in 0..2 {
        tollgate.auth("GET", "/machines/1", &[ACME]).await;
    }
    let json = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(json.status, 429);
    assert_eq!(json.header("content-type"), Some("application/json"));
    assert_eq!(
        json.body,
        r#"{"error":"rate_limited","message":"Maximum number of requests (1 per hour) reached. Try again in 3600 seconds.","limit":"hourly","api":"machines","retry_after":3600}"#
    );
    assert_eq!(json.header("tollgate-refusal"), Some(json.body.as_str()));

    let xml = tollgate
        .auth("GET", "/machines/1", &[ACME, ("Accept", "application/xml")])
        .await;
    assert_eq!(xml.status, 429);
    assert_eq!(xml.header("content-type"), Some("application/xml"));
    assert_eq!(
        xml.body,
        r#"<?xml version="1.0" encoding="UTF-8"?><errors><error>Maximum number of requests (1 per hour) reached. Try again in 3600 seconds.</error></errors>"#
    );
    assert_eq!(xml.header("tollgate-refusal"), Some(xml.body.as_str()));
}

#[tokio::test]
async fn an_admission_has_no_body_and_no_refusal_header() {
    let tollgate = Tollgate::start(POLICY);
    let admitted = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(admitted.status, 200);
    assert_eq!(admitted.body, "");
    assert_eq!(admitted.header("tollgate-refusal"), None);
    assert_eq!(admitted.header("retry-after"), None);
}

#[tokio::test]
async fn the_nginx_pair_names_the_same_request_as_the_traefik_pair() {
    let tollgate = Tollgate::start(POLICY);
    let nginx = [
        ACME,
        ("X-Original-Method", "GET"),
        ("X-Original-URI", "/machines/1"),
    ];
    let first = tollgate.get("/v1/auth", &nginx).await;
    assert_eq!(
        (first.status, first.header("x-rate-limit-remaining")),
        (200, Some("1"))
    );
    let second = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(
        (second.status, second.header("x-rate-limit-remaining")),
        (200, Some("0")),
        "one bucket, whichever pair names the request"
    );
    assert_eq!(tollgate.get("/v1/auth", &nginx).await.status, 429);
}

#[tokio::test]
async fn both_pairs_agreeing_are_one_request() {
    let tollgate = Tollgate::start(POLICY);
    let both = [
        ("X-Original-Method", "GET"),
        ("X-Original-URI", "/machines/1"),
        ACME,
    ];
    let reply = tollgate.auth("GET", "/machines/1", &both).await;
    assert_eq!(
        (reply.status, reply.header("x-rate-limit-remaining")),
        (200, Some("1"))
    );
}

#[tokio::test]
async fn a_pair_that_disagrees_is_missing_or_repeated_is_400_and_counts_nothing() {
    let tollgate = Tollgate::start(POLICY);
    let disagreeing = tollgate
        .auth(
            "GET",
            "/machines/1",
            &[
                ACME,
                ("X-Original-Method", "GET"),
                ("X-Original-URI", "/healthz"),
            ],
        )
        .await;
    assert_eq!(disagreeing.status, 400);
    assert_eq!(
        disagreeing.json(),
        serde_json::json!({
            "error": "bad_request",
            "message": "X-Forwarded-Method/-Uri and X-Original-Method/-URI disagree: have the proxy clear the pair it does not set, and name it in server.forward_auth",
        })
    );
    let missing = tollgate
        .get("/v1/auth", &[ACME, ("X-Forwarded-Method", "GET")])
        .await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json()["error"], "bad_request");
    let repeated = tollgate
        .auth(
            "GET",
            "/machines/1",
            &[ACME, ("X-Forwarded-Uri", "/machines/2")],
        )
        .await;
    assert_eq!(repeated.status, 400);
    assert_eq!(
        repeated.json()["message"],
        "a header naming the original request is sent more than once"
    );
    let admitted = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(admitted.header("x-rate-limit-remaining"), Some("1"));
}

#[tokio::test]
async fn a_path_the_rules_refuse_is_400_and_counts_nothing() {
    let tollgate = Tollgate::start(POLICY);
    for refused in [
        "/machines/a%2Fb",
        "/machines/a%5Cb",
        "/machines/a;jsessionid=1",
        "/machines/a%zz",
        "/machines/a%00",
        "/machines/x/../1",
        "/machines/./1",
    ] {
        let reply = tollgate.auth("GET", refused, &[ACME]).await;
        assert_eq!(reply.status, 400, "{refused}");
        assert_eq!(reply.json()["error"], "bad_path", "{refused}");
        assert_eq!(reply.header("ratelimit"), None, "{refused}");
    }
    let admitted = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(admitted.header("x-rate-limit-remaining"), Some("1"));
}

#[tokio::test]
async fn spellings_of_one_path_share_its_limit() {
    let per_path = POLICY.replace(
        r#"per = ["account", "api"]"#,
        r#"per = ["account", "path"]"#,
    );
    let tollgate = Tollgate::start(&per_path);
    let mut remaining = Vec::new();
    for spelling in ["/machines/7", "/machines/%37", "//machines/7/"] {
        let reply = tollgate.auth("GET", spelling, &[ACME]).await;
        remaining.push((
            reply.status,
            reply.header("x-rate-limit-remaining").map(str::to_owned),
        ));
    }
    assert_eq!(
        remaining,
        [
            (200, Some("1".to_owned())),
            (200, Some("0".to_owned())),
            (429, Some("0".to_owned())),
        ]
    );
    assert_eq!(
        tollgate.auth("GET", "/machines/8", &[ACME]).await.status,
        200,
        "another path, another bucket"
    );
}

#[tokio::test]
async fn a_peer_outside_check_from_is_forbidden() {
    let tollgate = Tollgate::start(POLICY).with_peer("192.0.2.7:5000");
    let forbidden = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(forbidden.json()["error"], "forbidden");
    let check = tollgate
        .check_raw(r#"{"method":"GET","path":"/machines/1"}"#)
        .await;
    assert_eq!(check.status, 403);
    assert_eq!(check.json()["error"], "forbidden");
}
