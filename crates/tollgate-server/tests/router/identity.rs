//! Unknown API keys: 401 (or the configured status), the throttle on guessing, and the guard
//! that answers a right key like a wrong one while guessing from its partition is throttled.

use std::time::Duration;

use serde_json::json;

use crate::support::{Reply, T0_S, Tollgate, pairs};
use crate::{ACME, POLICY, guarded};

const GUESS: (&str, &str) = ("X-Api-Key", "guess");

/// The answer to an unknown key.
fn unknown_key() -> serde_json::Value {
    json!({ "error": "unauthenticated", "message": "unknown API key" })
}

#[tokio::test]
async fn an_unknown_key_is_401_without_limit_headers() {
    let tollgate = Tollgate::start(POLICY);
    for _ in 0..3 {
        let reply = tollgate.auth("GET", "/machines/1", &[GUESS]).await;
        assert_eq!(reply.status, 401);
        assert_eq!(reply.json(), unknown_key());
        assert_eq!(reply.limit_headers(), []);
    }
    let answer = tollgate
        .check(
            json!({ "method": "GET", "path": "/machines/1", "headers": { "x-api-key": "guess" } }),
        )
        .await;
    assert_eq!(
        (&answer["allowed"], &answer["status"], &answer["limits"]),
        (&json!(false), &json!(401), &json!([]))
    );
}

#[tokio::test]
async fn the_unknown_key_status_is_the_policys() {
    let policy = POLICY.replace(
        r#"api_key = { header = "X-Api-Key" }"#,
        "api_key = { header = \"X-Api-Key\" }\n    unknown_key_status = 403",
    );
    let tollgate = Tollgate::start(&policy);
    let reply = tollgate.auth("GET", "/machines/1", &[GUESS]).await;
    assert_eq!((reply.status, reply.json()), (403, unknown_key()));
}

#[tokio::test]
async fn no_key_is_anonymous_and_a_key_sent_twice_is_400() {
    let tollgate = Tollgate::start(POLICY);
    let anonymous = tollgate.auth("GET", "/machines/1", &[]).await;
    assert_eq!(
        (anonymous.status, anonymous.header("x-rate-limit-remaining")),
        (200, Some("1"))
    );
    let twice = tollgate
        .auth("GET", "/machines/1", &[ACME, ("X-Api-Key", "globex-key")])
        .await;
    assert_eq!(twice.status, 400);
    assert_eq!(twice.json()["error"], "bad_request");
    let empty_beside = tollgate
        .auth("GET", "/machines/1", &[ACME, ("X-Api-Key", "")])
        .await;
    assert_eq!(empty_beside.status, 400);
}

#[tokio::test]
async fn guessing_is_throttled_after_the_401s_until_the_window_ends() {
    let tollgate = Tollgate::start(&guarded());
    for guess in ["guess-1", "guess-2"] {
        let reply = tollgate
            .auth("GET", "/machines/1", &[("X-Api-Key", guess)])
            .await;
        assert_eq!((reply.status, reply.json()), (401, unknown_key()));
    }
    let throttled = tollgate
        .auth("GET", "/machines/1", &[("X-Api-Key", "guess-3")])
        .await;
    assert_eq!(throttled.status, 429);
    let reset = (T0_S + 3600).to_string();
    assert_eq!(
        throttled.limit_headers(),
        pairs([
            ("ratelimit-policy", "\"guessing\";q=2"),
            ("ratelimit", "\"guessing\";r=0;t=3600"),
            ("x-rate-limit-remaining", "0"),
            ("x-rate-limit-reset", reset.as_str()),
            ("x-ratelimit-limit", "2"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", reset.as_str()),
            ("x-ratelimit-used", "2"),
            ("x-ratelimit-resource", "guessing"),
            ("retry-after", "3600"),
        ])
    );
    assert_eq!(
        throttled.json(),
        json!({
            "error": "rate_limited",
            "message": "Maximum number of requests (2 per hour) reached. Try again in 3600 seconds.",
            "limit": "guessing",
            "api": "machines",
            "retry_after": 3600,
        })
    );

    tollgate.advance(Duration::from_secs(3600) - Duration::from_nanos(1));
    assert_eq!(
        tollgate.auth("GET", "/machines/1", &[GUESS]).await.status,
        429
    );
    tollgate.advance_nanos(1);
    assert_eq!(
        tollgate.auth("GET", "/machines/1", &[GUESS]).await.status,
        401,
        "a new hour, two guesses again"
    );
}

#[tokio::test]
async fn guesses_are_throttled_per_client_address() {
    let policy = guarded();
    let tollgate = Tollgate::start(&policy);
    for _ in 0..3 {
        tollgate.auth("GET", "/machines/1", &[GUESS]).await;
    }
    assert_eq!(
        tollgate.auth("GET", "/machines/1", &[GUESS]).await.status,
        429
    );
    let elsewhere = Tollgate::start(&policy).with_peer("127.0.0.2:40000");
    assert_eq!(
        elsewhere.auth("GET", "/machines/1", &[GUESS]).await.status,
        401
    );
}

/// What tells one answer from another: status, every header, body.
fn whole(reply: &Reply) -> (u16, Vec<(String, String)>, String) {
    let mut headers: Vec<(String, String)> = reply
        .headers
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    (reply.status, headers, reply.body.clone())
}

#[tokio::test]
async fn a_right_key_is_answered_exactly_like_a_wrong_one_while_guessing_is_throttled() {
    let tollgate = Tollgate::start(&guarded());
    for _ in 0..2 {
        tollgate.auth("GET", "/machines/1", &[GUESS]).await;
    }
    let right = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    let wrong = tollgate.auth("GET", "/machines/1", &[GUESS]).await;
    assert_eq!(right.status, 429);
    assert_eq!(whole(&right), whole(&wrong));

    let ask = |key: &str| {
        json!({
            "method": "GET",
            "path": "/machines/1",
            "headers": { "x-api-key": key },
            "client_ip": "127.0.0.1",
        })
    };
    let (right, wrong) = (
        tollgate.check(ask("acme-key")).await,
        tollgate.check(ask("guess")).await,
    );
    assert_eq!(right, wrong);
    assert_eq!(
        (&right["status"], &right["account"], &right["retry_after"]),
        (&json!(429), &json!(null), &json!(3600))
    );

    tollgate.advance(Duration::from_secs(3600));
    let admitted = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(
        (admitted.status, admitted.header("x-rate-limit-remaining")),
        (200, Some("1")),
        "the right key's own bucket was never charged"
    );
}

#[tokio::test]
async fn a_right_keys_look_at_the_guard_takes_nothing() {
    let tollgate = Tollgate::start(&guarded());
    assert_eq!(
        tollgate.auth("GET", "/machines/1", &[GUESS]).await.status,
        401
    );
    for _ in 0..2 {
        assert_eq!(
            tollgate.auth("GET", "/machines/1", &[ACME]).await.status,
            200
        );
    }
    assert_eq!(
        tollgate.auth("GET", "/machines/1", &[GUESS]).await.status,
        401,
        "the second guess of the hour: the right keys took none"
    );
    assert_eq!(
        tollgate.auth("GET", "/machines/1", &[GUESS]).await.status,
        429
    );
}
