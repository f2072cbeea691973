//! Shaping instead of refusing: a token bucket's `delay`. Through the gateway a request whose
//! turn comes within the delay waits for it (the router has no upstream: an admitted request
//! is answered 502 `no_upstream` once its turn has come), exactly as many are admitted as
//! without the delay, at most `queue` wait, and one whose client leaves gives its turn back.
//! Forward-auth and the check API answer the wait instead of holding the request.
//!
//! Time: the gate decides on the manual clock, which stays at [`T0`] unless a test moves it;
//! the gateway waits on tokio's timer, paused here, so that `Instant::elapsed` reads exactly
//! how long a request waited.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::json;
use tokio::time::Instant;

use crate::support::{Reply, T0, Tollgate};

/// `bucket` (a `token_bucket = { … }` table) and `delay` (a `delay = { … }` table, or nothing)
/// on one limit per account, for every path.
fn policy(bucket: &str, delay: &str) -> String {
    format!(
        r#"
    [identity]
    api_key = {{ header = "X-Api-Key" }}

    [[accounts]]
    id = "acme"
    keys = ["acme-key"]

    [[routes]]
    api = "heating"
    match = "* /hvacs/{{gatewayId}}"

    [[limits]]
    name = "partner"
    token_bucket = {bucket}
    {delay}
    per = ["account"]
"#
    )
}

/// The heating partner's "1 request every 2 seconds, up to 3 at once", a request up to 500 ms
/// early waiting for its turn.
fn heating() -> String {
    policy(
        r#"{ rate = "1/2s", burst = 3 }"#,
        r#"delay = { max = "500ms", queue = 1 }"#,
    )
}

const ACME: (&str, &str) = ("X-Api-Key", "acme-key");

/// Whether the gateway admitted it: 502 `no_upstream` is what an admitted request gets from a
/// router without an upstream.
fn admitted(reply: &Reply) -> bool {
    match reply.status {
        502 => true,
        429 => false,
        other => panic!("neither admitted nor refused: {other} {}", reply.body),
    }
}

/// Sends `count` requests through the gateway at once; each one's answer and how long it took,
/// in the order they were sent.
async fn at_once(tollgate: &Tollgate, count: usize) -> Vec<(bool, Duration)> {
    let started = Instant::now();
    let sent = (0..count).map(|i| async move {
        let reply = tollgate.get(&format!("/hvacs/{i}"), &[ACME]).await;
        (admitted(&reply), started.elapsed())
    });
    join_all(sent).await
}

/// The gate's figures as `/metrics` writes them (the admin router's catalog needs real time).
fn figures(tollgate: &Tollgate) -> String {
    let mut page = tollgate_gate::Exposition::default();
    tollgate.gate().metrics().write(&mut page);
    page.into_text()
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

#[tokio::test(start_paused = true)]
async fn a_request_200_ms_early_waits_200_ms_instead_of_a_429() {
    let tollgate = Tollgate::start(&heating());
    for _ in 0..3 {
        assert!(admitted(&tollgate.get("/hvacs/g1", &[ACME]).await));
    }
    tollgate.advance(ms(1_800));
    let started = Instant::now();
    let early = tollgate.get("/hvacs/g1", &[ACME]).await;
    assert!(admitted(&early), "{}", early.body);
    assert_eq!(
        started.elapsed(),
        ms(200),
        "held until its turn, not a moment less"
    );
    // The next turn is 2.2 s away, beyond the delay: refused as without one.
    let started = Instant::now();
    let refused = tollgate.get("/hvacs/g1", &[ACME]).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "a refusal is answered at once"
    );
    assert_eq!(refused.header("retry-after"), Some("3"));
    assert_eq!(
        refused.header("retry-after-ms"),
        None,
        "the gateway waits what can be waited for: its refusals are the usual ones"
    );
}

#[tokio::test(start_paused = true)]
async fn requests_at_once_are_admitted_exactly_as_the_bucket_would_admit_them_one_by_one() {
    // 10 a second (a turn every 100 ms), burst 2, up to a second and 3 waiting.
    let bucket = r#"{ rate = "10/s", burst = 2 }"#;
    let shaped = Tollgate::start(&policy(bucket, r#"delay = { max = "1s", queue = 3 }"#));
    let answers = at_once(&shaped, 10).await;
    let starts: Vec<Duration> = answers
        .iter()
        .filter(|(admitted, _)| *admitted)
        .map(|&(_, took)| took)
        .collect();
    assert_eq!(starts, [ms(0), ms(0), ms(100), ms(200), ms(300)]);
    let refused = answers.iter().filter(|(admitted, _)| !admitted).count();
    assert_eq!(refused, 5, "the rest refused, at once: {answers:?}");
    // The same bucket without a delay, asked at exactly those instants, admits exactly those.
    let plain = Tollgate::start(&policy(bucket, ""));
    let mut admitted_plain = Vec::new();
    let mut at = Duration::ZERO;
    for start in [ms(0), ms(0), ms(100), ms(200), ms(300), ms(300)] {
        plain.advance(start - at);
        at = start;
        admitted_plain.push(admitted(&plain.get("/hvacs/1", &[ACME]).await));
    }
    assert_eq!(admitted_plain, [true, true, true, true, true, false]);
    // And after the waiting, the shaped bucket is exactly as spent as the plain one: at
    // 300 ms, the plain one admits nothing more until 400 ms, and the shaped one's next turns
    // are 400, 500 and 600 ms.
    shaped.advance(ms(300));
    assert!(!admitted(&plain.get("/hvacs/1", &[ACME]).await));
    let next = at_once(&shaped, 4).await;
    assert_eq!(
        next,
        [
            (true, ms(100)),
            (true, ms(200)),
            (true, ms(300)),
            (false, ms(0))
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn at_most_queue_requests_wait_and_the_others_are_refused_as_today() {
    // Up to 10 s, but at most 2 waiting.
    let bucket = r#"{ rate = "10/s", burst = 1 }"#;
    let tollgate = Tollgate::start(&policy(bucket, r#"delay = { max = "10s", queue = 2 }"#));
    let answers = at_once(&tollgate, 6).await;
    assert_eq!(
        answers,
        [
            (true, ms(0)),
            (true, ms(100)),
            (true, ms(200)),
            (false, ms(0)),
            (false, ms(0)),
            (false, ms(0)),
        ]
    );
    // The queue bounds the waiting, not the bucket: once the turns have come, the next waits.
    tollgate.advance(ms(200));
    let started = Instant::now();
    assert!(admitted(&tollgate.get("/hvacs/1", &[ACME]).await));
    assert_eq!(started.elapsed(), ms(100));
}

#[tokio::test(start_paused = true)]
async fn a_client_that_leaves_while_waiting_gives_its_turn_back() {
    // One a second, burst 1, up to 2 s and 2 waiting.
    let bucket = r#"{ rate = "1/s", burst = 1 }"#;
    let tollgate = Tollgate::start(&policy(bucket, r#"delay = { max = "2s", queue = 2 }"#));
    assert!(admitted(&tollgate.get("/hvacs/1", &[ACME]).await));
    let waits_1s = tollgate.get("/hvacs/2", &[ACME]);
    // The last in line (its turn 2 s away) hangs up after 500 ms: its future is dropped.
    let leaves = tokio::time::timeout(ms(500), tollgate.get("/hvacs/3", &[ACME]));
    let (first, left) = tokio::join!(waits_1s, leaves);
    assert!(admitted(&first));
    assert!(left.is_err(), "it was still waiting when its client left");
    // Its turn is free again: the next comer gets it (2 s after T0) instead of a 429, and
    // /metrics counts one turn given back.
    let metrics = figures(&tollgate);
    assert!(
        metrics.contains("\ntollgate_turns_given_back_total 1\n"),
        "{metrics}"
    );
    let fourth = tollgate.get("/hvacs/4", &[ACME]);
    let watch = async {
        // While the fourth waits, /metrics shows it waiting.
        tokio::time::sleep(ms(1_000)).await;
        figures(&tollgate)
    };
    let started = Instant::now();
    let (fourth, while_waiting) = tokio::join!(fourth, watch);
    assert!(admitted(&fourth));
    assert_eq!(started.elapsed(), ms(2_000));
    assert!(
        while_waiting.contains("\ntollgate_waiting_requests 1\n"),
        "{while_waiting}"
    );
    let after = figures(&tollgate);
    assert!(after.contains("\ntollgate_waiting_requests 0\n"), "{after}");
    assert_eq!(tollgate.get("/hvacs/5", &[ACME]).await.status, 429);
}

#[tokio::test(start_paused = true)]
async fn forward_auth_answers_the_wait_and_holds_nothing() {
    let tollgate = Tollgate::start(&heating());
    for _ in 0..3 {
        assert_eq!(tollgate.auth("GET", "/hvacs/g1", &[ACME]).await.status, 200);
    }
    tollgate.advance(ms(1_800));
    let started = Instant::now();
    let early = tollgate.auth("GET", "/hvacs/g1", &[ACME]).await;
    assert_eq!(started.elapsed(), Duration::ZERO, "no connection held");
    assert_eq!(early.status, 429, "{}", early.body);
    assert_eq!(early.header("retry-after"), Some("1"));
    assert_eq!(early.header("retry-after-ms"), Some("200"));
    assert_eq!(early.header("ratelimit"), Some("\"partner\";r=0;t=5"));
    // Its turn went back: asked again 199 ms later, the answer is 1 ms, not another turn.
    tollgate.advance(ms(199));
    let again = tollgate.auth("GET", "/hvacs/g1", &[ACME]).await;
    assert_eq!(again.header("retry-after-ms"), Some("1"));
    tollgate.advance(ms(1));
    assert_eq!(tollgate.auth("GET", "/hvacs/g1", &[ACME]).await.status, 200);
    // A request whose turn lies beyond the delay is refused as always: no millisecond hint.
    let refused = tollgate.auth("GET", "/hvacs/g1", &[ACME]).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("retry-after"), Some("2"));
    assert_eq!(refused.header("retry-after-ms"), None);
}

#[tokio::test(start_paused = true)]
async fn the_check_api_tells_the_wait_in_milliseconds() {
    let tollgate = Tollgate::start(&heating());
    let ask =
        json!({ "method": "GET", "path": "/hvacs/g1", "headers": { "x-api-key": "acme-key" } });
    for _ in 0..3 {
        assert_eq!(tollgate.check(ask.clone()).await["allowed"], true);
    }
    let now = tollgate.check(ask.clone()).await;
    assert_eq!(now["allowed"], false);
    assert_eq!(
        now.get("retry_after_ms"),
        None,
        "2 s away: beyond the delay"
    );
    tollgate.advance(ms(1_750));
    let answer = tollgate.check(ask.clone()).await;
    assert_eq!(answer["allowed"], false, "{answer}");
    assert_eq!(answer["status"], 429);
    assert_eq!(answer["retry_after"], 1);
    assert_eq!(answer["retry_after_ms"], 250);
    assert_eq!(answer["headers"]["retry-after-ms"], "250");
    assert_eq!(answer["limits"][0]["allowed"], false);
    assert_eq!(answer["limits"][0]["retry_at"], json!(T0 + 2_000_000_000));
}
