//! `POST /v1/check`: the decision as JSON, HTTP 200 whether allowed or not.

use std::time::Duration;

use serde_json::json;

use crate::POLICY;
use crate::support::{T0, T0_S, Tollgate, secs};

fn ask(path: &str) -> serde_json::Value {
    json!({ "method": "GET", "path": path, "headers": { "x-api-key": "acme-key" } })
}

/// A window of ten units a minute per account, with a costly route.
const UNITS: &str = r#"
    [identity]
    api_key = { header = "X-Api-Key" }

    [[accounts]]
    id = "acme"
    keys = ["acme-key"]

    [[routes]]
    api = "reports"
    match = "POST /reports"
    cost = 4

    [[routes]]
    api = "machines"
    match = "GET /machines/{id}"

    [[limits]]
    name = "units"
    window = { max = 10, every = "1m" }
    per = ["account"]
"#;

#[tokio::test]
async fn an_admission_reports_each_limit_and_the_headers_the_gateway_would_add() {
    let tollgate = Tollgate::start(POLICY);
    let answer = tollgate.check(ask("/machines/1")).await;
    assert_eq!(
        answer,
        json!({
            "allowed": true,
            "status": 200,
            "retry_after": null,
            "api": "machines",
            "account": "acme",
            "app": null,
            "plan": null,
            "limits": [{
                "name": "hourly",
                "allowed": true,
                "limit": 2,
                "remaining": 1,
                "reset_at": T0 + secs(3600),
                // One more would be admitted now.
                "retry_at": T0,
                "shadow": false,
            }],
            "headers": {
                "ratelimit-policy": "\"hourly\";q=2",
                "ratelimit": "\"hourly\";r=1;t=3600",
                "x-rate-limit-remaining": "1",
                "x-rate-limit-reset": (T0_S + 3600).to_string(),
                "x-ratelimit-limit": "2",
                "x-ratelimit-remaining": "1",
                "x-ratelimit-reset": (T0_S + 3600).to_string(),
                "x-ratelimit-used": "1",
                "x-ratelimit-resource": "hourly",
            },
        })
    );
}

#[tokio::test]
async fn a_refusal_is_http_200_with_its_status_and_retry_after() {
    let tollgate = Tollgate::start(POLICY);
    for remaining in [1, 0] {
        let answer = tollgate.check(ask("/machines/1")).await;
        assert_eq!(
            (&answer["allowed"], &answer["limits"][0]["remaining"]),
            (&json!(true), &json!(remaining))
        );
    }
    let refused = tollgate.check(ask("/machines/1")).await;
    assert_eq!(
        (
            &refused["allowed"],
            &refused["status"],
            &refused["retry_after"]
        ),
        (&json!(false), &json!(429), &json!(3600))
    );
    assert_eq!(
        refused["limits"][0],
        json!({
            "name": "hourly",
            "allowed": false,
            "limit": 2,
            "remaining": 0,
            "reset_at": T0 + secs(7200),
            "retry_at": T0 + secs(3600),
            "shadow": false,
        })
    );
    assert_eq!(refused["headers"]["retry-after"], "3600");
    assert_eq!(refused["headers"]["x-ratelimit-used"], "2");

    tollgate.advance(Duration::from_secs(3600) - Duration::from_nanos(1));
    assert_eq!(tollgate.check(ask("/machines/1")).await["retry_after"], 1);
    tollgate.advance_nanos(1);
    assert_eq!(tollgate.check(ask("/machines/1")).await["allowed"], true);
}

#[tokio::test]
async fn the_check_api_and_forward_auth_count_in_the_same_buckets() {
    let tollgate = Tollgate::start(POLICY);
    assert_eq!(tollgate.check(ask("/machines/1")).await["allowed"], true);
    let auth = tollgate
        .auth("GET", "/machines/2", &[("X-Api-Key", "acme-key")])
        .await;
    assert_eq!(
        (auth.status, auth.header("x-rate-limit-remaining")),
        (200, Some("0"))
    );
    assert_eq!(tollgate.check(ask("/machines/3")).await["status"], 429);
}

#[tokio::test]
async fn cost_takes_that_many_units_and_a_refusal_takes_none() {
    let tollgate = Tollgate::start(UNITS);
    let with_cost = |cost: u32| {
        json!({
            "method": "GET",
            "path": "/machines/1",
            "headers": { "x-api-key": "acme-key" },
            "cost": cost,
        })
    };
    let three = tollgate.check(with_cost(3)).await;
    assert_eq!(
        (&three["allowed"], &three["limits"][0]["remaining"]),
        (&json!(true), &json!(7))
    );
    assert_eq!(three["headers"]["ratelimit"], "\"units\";r=7;t=60");
    let eight = tollgate.check(with_cost(8)).await;
    assert_eq!(
        (&eight["allowed"], &eight["status"], &eight["retry_after"]),
        (&json!(false), &json!(429), &json!(60))
    );
    assert_eq!(
        eight["limits"][0]["remaining"], 7,
        "a refusal takes nothing"
    );
    let seven = tollgate.check(with_cost(7)).await;
    assert_eq!(
        (&seven["allowed"], &seven["limits"][0]["remaining"]),
        (&json!(true), &json!(0))
    );
}

#[tokio::test]
async fn a_routes_cost_applies_unless_the_request_names_its_own() {
    let tollgate = Tollgate::start(UNITS);
    let report = |cost: Option<u32>| {
        let mut ask = json!({
            "method": "POST",
            "path": "/reports",
            "headers": { "x-api-key": "acme-key" },
        });
        if let Some(cost) = cost {
            ask["cost"] = json!(cost);
        }
        ask
    };
    let routed = tollgate.check(report(None)).await;
    assert_eq!(routed["limits"][0]["remaining"], 6, "the route costs 4");
    let named = tollgate.check(report(Some(1))).await;
    assert_eq!(named["limits"][0]["remaining"], 5, "the request names 1");
    let free = tollgate.check(report(Some(0))).await;
    assert_eq!(
        (&free["allowed"], &free["limits"][0]["remaining"]),
        (&json!(true), &json!(5)),
        "cost 0 looks without taking"
    );
}

#[tokio::test]
async fn explain_adds_each_limits_partition() {
    let tollgate = Tollgate::start(POLICY);
    let mut explained = ask("/machines/1");
    explained["explain"] = json!(true);
    let answer = tollgate.check(explained).await;
    assert_eq!(
        answer["partitions"],
        json!({ "hourly": "account=acme api=machines" })
    );
    let plain = tollgate.check(ask("/machines/1")).await;
    assert_eq!(plain.get("partitions"), None, "only when asked");
}

#[tokio::test]
async fn a_body_that_is_not_a_check_request_is_400_and_counts_nothing() {
    let tollgate = Tollgate::start(POLICY);
    let cases = [
        ("not json", "expected ident at line 1 column 2"),
        (r#"{"method":"GET"}"#, "missing field `path`"),
        (
            r#"{"method":"GET","path":"/machines/1","bogus":1}"#,
            "unknown field `bogus`",
        ),
        (
            r#"{"method":"GET","path":"/machines/1","headers":{"x-api-key":1}}"#,
            "invalid type: integer `1`, expected a string",
        ),
        (
            r#"{"method":"GET","path":"/machines/1","client_ip":"not-an-address"}"#,
            "invalid IP address syntax",
        ),
        (
            r#"{"method":"GET","path":"/machines/1","cost":-1}"#,
            "invalid value: integer `-1`, expected u32",
        ),
    ];
    for (body, reason) in cases {
        let reply = tollgate.check_raw(body).await;
        assert_eq!(reply.status, 400, "{body}");
        let error = reply.json();
        assert_eq!(error["error"], "bad_request", "{body}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.starts_with("invalid check request: ") && message.contains(reason),
            "{body}: {message}"
        );
    }
    let remaining = tollgate.check(ask("/machines/1")).await["limits"][0]["remaining"].clone();
    assert_eq!(remaining, 1);
}

#[tokio::test]
async fn a_body_over_64_kib_is_400() {
    let tollgate = Tollgate::start(POLICY);
    let padding = " ".repeat(64 * 1024);
    let body = format!(r#"{{"method":"GET","path":"/machines/1"}}{padding}"#);
    let reply = tollgate.check_raw(body).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({
            "error": "bad_request",
            "message": "the check request's body is not read: larger than 65536 bytes, or cut short",
        })
    );
    let request = r#"{"method":"GET","path":"/machines/1"}"#;
    let exactly = format!("{request}{}", " ".repeat(64 * 1024 - request.len()));
    assert_eq!(tollgate.check_raw(exactly).await.status, 200);
}

#[tokio::test]
async fn a_path_the_rules_refuse_is_answered_as_the_gateways_400() {
    let tollgate = Tollgate::start(POLICY);
    for refused in [
        "/machines/a%2Fb",
        "/machines/a\\b",
        "/machines/a;b",
        "/machines/%C0%AF",
        "/machines/x/../1",
        "/machines/x/%2e%2e/1",
    ] {
        let answer = tollgate.check(ask(refused)).await;
        assert_eq!(
            answer,
            json!({
                "allowed": false,
                "status": 400,
                "retry_after": null,
                "api": null,
                "account": null,
                "app": null,
                "plan": null,
                "limits": [],
                "headers": {},
            }),
            "{refused}"
        );
    }
    assert_eq!(
        tollgate.check(ask("/machines/1")).await["limits"][0]["remaining"],
        1
    );
}

#[tokio::test]
async fn an_identity_read_two_ways_is_a_400() {
    let tollgate = Tollgate::start(POLICY);
    let twice = r#"{"method":"GET","path":"/machines/1","headers":{"x-api-key":"acme-key","x-api-key":"globex-key"}}"#;
    let answer = tollgate.check_raw(twice).await.json();
    assert_eq!(
        (&answer["allowed"], &answer["status"], &answer["limits"]),
        (&json!(false), &json!(400), &json!([]))
    );
    let underscored = r#"{"method":"GET","path":"/machines/1","headers":{"x-api-key":"acme-key","X_Api_Key":"globex-key"}}"#;
    assert_eq!(tollgate.check_raw(underscored).await.json()["status"], 400);
}
