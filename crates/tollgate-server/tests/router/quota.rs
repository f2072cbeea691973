//! The customer's own quotas, `/_tollgate/quota`: every api, seen with its own key, for free.

use std::time::Duration;

use serde_json::json;

use crate::support::{Reply, T0_S, Tollgate};
use crate::{ACME, POLICY, guarded};

fn api<'a>(quota: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    quota["apis"]
        .as_array()
        .expect("a list of apis")
        .iter()
        .find(|api| api["api"] == name)
        .unwrap_or_else(|| panic!("no api {name} in {quota}"))
}

#[tokio::test]
async fn the_quota_page_shows_each_apis_limits_as_json() {
    let tollgate = Tollgate::start(POLICY);
    tollgate.auth("GET", "/machines/1", &[ACME]).await;
    let reply = tollgate.quota(&[ACME]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let quota = reply.json();
    assert_eq!(
        (&quota["account"], &quota["plan"], &quota["pack"]),
        (&json!("acme"), &json!(null), &json!(null))
    );
    assert_eq!(
        api(&quota, "machines"),
        &json!({
            "api": "machines",
            "limits": [{
                "name": "hourly",
                "kind": "rate",
                "per_period": 1,
                "period": "hour",
                "limit": 2,
                "used": 1,
                "remaining": 1,
                "reset": T0_S + 3600,
                "reset_local": "2026-01-01T01:00:00+00:00",
            }],
            "per_request": [],
        })
    );
}

#[tokio::test]
async fn looking_at_the_quota_page_costs_nothing() {
    let tollgate = Tollgate::start(POLICY);
    tollgate.auth("GET", "/machines/1", &[ACME]).await;
    let first = tollgate.quota(&[ACME]).await;
    for _ in 0..3 {
        let again = tollgate.quota(&[ACME]).await;
        assert_eq!((again.status, &again.body), (200, &first.body));
        assert_eq!(
            again.limit_headers(),
            [],
            "the page is not a limited request"
        );
    }
    let reply = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(
        (reply.status, reply.header("x-rate-limit-remaining")),
        (200, Some("0")),
        "the one request before the looks, and this one"
    );
}

#[tokio::test]
async fn the_quota_page_follows_the_clock() {
    let tollgate = Tollgate::start(POLICY);
    for _ in 0..2 {
        tollgate.auth("GET", "/machines/1", &[ACME]).await;
    }
    let spent = tollgate.quota(&[ACME]).await.json();
    assert_eq!(
        (
            &api(&spent, "machines")["limits"][0]["remaining"],
            &api(&spent, "machines")["limits"][0]["reset"]
        ),
        (&json!(0), &json!(T0_S + 7200))
    );
    tollgate.advance(Duration::from_secs(3600));
    let refilled = tollgate.quota(&[ACME]).await.json();
    assert_eq!(
        (
            &api(&refilled, "machines")["limits"][0]["remaining"],
            &api(&refilled, "machines")["limits"][0]["used"]
        ),
        (&json!(1), &json!(1)),
        "one token back after an hour"
    );
}

#[tokio::test]
async fn the_quota_page_needs_a_known_key() {
    let tollgate = Tollgate::start(POLICY);
    let none = tollgate.quota(&[]).await;
    assert_eq!(
        (none.status, none.json()),
        (
            401,
            json!({ "error": "unauthenticated", "message": "send your API key to see your quotas" })
        )
    );
    let unknown = tollgate.quota(&[("X-Api-Key", "guess")]).await;
    assert_eq!(
        (unknown.status, unknown.json()),
        (
            401,
            json!({ "error": "unauthenticated", "message": "unknown API key" })
        )
    );
    let twice = tollgate.quota(&[ACME, ("X-Api-Key", "globex-key")]).await;
    assert_eq!(
        (twice.status, &twice.json()["error"]),
        (400, &json!("bad_request"))
    );
}

#[tokio::test]
async fn a_browser_gets_the_quota_page_as_html() {
    let tollgate = Tollgate::start(POLICY);
    let page = tollgate
        .quota(&[ACME, ("Accept", "text/html,application/xhtml+xml")])
        .await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(page.body.starts_with("<!doctype html>"), "{}", page.body);
    assert!(
        page.body.contains("Account <strong>acme</strong>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("0 of 2 used"), "{}", page.body);
    assert!(
        page.body.contains("1 per hour, bursts of 2 · nothing used"),
        "{}",
        page.body
    );
}

/// Status, the retry header and body: what a guesser reads.
fn seen(reply: &Reply) -> (u16, Option<&str>, &str) {
    (
        reply.status,
        reply.header("retry-after"),
        reply.body.as_str(),
    )
}

#[tokio::test]
async fn guesses_on_the_quota_page_cost_what_they_cost_through_the_api() {
    let tollgate = Tollgate::start(&guarded());
    assert_eq!(
        tollgate.quota(&[("X-Api-Key", "guess-1")]).await.status,
        401
    );
    assert_eq!(
        tollgate
            .auth("GET", "/machines/1", &[("X-Api-Key", "guess-2")])
            .await
            .status,
        401
    );
    let throttled = tollgate.quota(&[("X-Api-Key", "guess-3")]).await;
    assert_eq!(
        seen(&throttled),
        (
            429,
            Some("3600"),
            r#"{"error":"rate_limited","message":"too many unknown API keys: try again later"}"#
        )
    );
    assert_eq!(
        tollgate
            .auth("GET", "/machines/1", &[("X-Api-Key", "guess-4")])
            .await
            .status,
        429,
        "the same partition through the API"
    );
    let right = tollgate.quota(&[ACME]).await;
    let wrong = tollgate.quota(&[("X-Api-Key", "guess-5")]).await;
    assert_eq!(seen(&right), seen(&wrong), "a right key tells nothing");

    tollgate.advance(Duration::from_secs(3600) - Duration::from_nanos(1));
    assert_eq!(
        seen(&tollgate.quota(&[ACME]).await),
        (
            429,
            Some("1"),
            r#"{"error":"rate_limited","message":"too many unknown API keys: try again later"}"#
        )
    );
    tollgate.advance_nanos(1);
    assert_eq!(tollgate.quota(&[ACME]).await.status, 200);
}

#[tokio::test]
async fn an_exempt_api_shows_no_limit_on_the_quota_page() {
    let tollgate = Tollgate::start(POLICY);
    let quota = tollgate.quota(&[ACME]).await.json();
    let health: Vec<&serde_json::Value> = quota["apis"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|api| api["api"] == "health")
        .collect();
    assert!(
        health.iter().all(|api| api["limits"] == json!([])),
        "{health:?}"
    );
}
