//! The real `tollgate` binary on loopback, in front of a real upstream.

mod access_log;
mod admin;
mod alerts;
mod bypass;
mod check_config;
#[path = "../support/chromium.rs"]
mod chromium;
mod cli;
mod distinct;
mod drop_in;
mod durable;
mod envoy;
mod envoy_policy;
mod envoy_proxy;
mod examples;
mod ext_authz;
mod faults;
mod fuzz;
mod hostile;
mod install;
mod logs;
mod nginx;
mod openapi;
mod portal;
#[path = "../../../tollgate-catalog/tests/support/postgres_server.rs"]
#[allow(dead_code, unreachable_pub)]
mod postgres_server;
mod process;
mod recipes;
#[path = "../../../tollgate-redis/tests/support/redis_server.rs"]
#[allow(dead_code, unreachable_pub)]
mod redis_server;
mod secrets;
mod shaping;
mod shared;
mod slots;
mod state;
mod support;
mod typed_ids;

use std::process::Command;

use support::{Tollgate, Upstream, send, send_h2};

/// Two requests per hour per account and api (a bucket that refills once an hour), XML or
/// JSON refusals by `Accept`, all three header families.
const POLICY: &str = r#"
    [responses]
    headers = ["ietf", "x-rate-limit", "x-ratelimit"]
    format = "accept"

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
    name = "hourly"
    token_bucket = { rate = "1/1h", burst = 2 }
    per = ["account", "api"]
"#;

const KEY: (&str, &str) = ("X-Api-Key", "acme-key");

#[tokio::test]
async fn gateway_forwards_admitted_requests_with_headers_and_refuses_the_rest() {
    let upstream = Upstream::start().await;
    let tollgate = Tollgate::start(POLICY, Some(upstream.address));
    let first = send(
        tollgate.address,
        "POST",
        "/machines/7?x=1",
        &[KEY],
        "cut 3 plates",
    )
    .await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("x-upstream"), Some("yes"));
    assert_eq!(
        first.body,
        "POST /machines/7?x=1 xff=127.0.0.1 body=cut 3 plates"
    );
    assert_eq!(first.header("ratelimit-policy"), Some("\"hourly\";q=2"));
    assert_eq!(first.header("ratelimit"), Some("\"hourly\";r=1;t=3600"));
    assert_eq!(first.header("x-rate-limit-remaining"), Some("1"));
    assert_eq!(first.header("x-ratelimit-used"), Some("1"));
    assert_eq!(first.header("x-ratelimit-resource"), Some("hourly"));

    assert_eq!(
        send(tollgate.address, "GET", "/machines/8", &[KEY], "")
            .await
            .status,
        200
    );
    let refused = send(
        tollgate.address,
        "GET",
        "/machines/9",
        &[KEY, ("Accept", "application/xml")],
        "",
    )
    .await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("retry-after"), Some("3600"));
    assert_eq!(refused.header("content-type"), Some("application/xml"));
    assert_eq!(
        refused.body,
        r#"<?xml version="1.0" encoding="UTF-8"?><errors><error>Maximum number of requests (1 per hour) reached. Try again in 3600 seconds.</error></errors>"#
    );
    assert_eq!(upstream.hits(), 2, "a refusal never reaches the upstream");
}

#[tokio::test]
async fn upstream_5xx_gives_the_units_back_where_the_limit_says_so() {
    let upstream = Upstream::start().await;
    let refunding = POLICY.replace(
        "per = [\"account\", \"api\"]",
        "per = [\"account\", \"api\"]\n    refund = [\"5xx\"]",
    );
    let tollgate = Tollgate::start(&refunding, Some(upstream.address));
    for _ in 0..5 {
        let failed = send(tollgate.address, "GET", "/machines/fail", &[KEY], "").await;
        assert_eq!(failed.status, 503);
    }
    let ok = send(tollgate.address, "GET", "/machines/1", &[KEY], "").await;
    assert_eq!(
        (ok.status, ok.header("x-rate-limit-remaining")),
        (200, Some("1")),
        "the 503s cost nothing"
    );
    assert_eq!(
        send(tollgate.address, "GET", "/machines/2", &[KEY], "")
            .await
            .status,
        200
    );
    assert_eq!(
        send(tollgate.address, "GET", "/machines/3", &[KEY], "")
            .await
            .status,
        429
    );
    assert_eq!(upstream.hits(), 7);
}

#[tokio::test]
async fn tollgates_own_504_is_not_refunded() {
    let upstream = Upstream::start().await;
    let refunding = POLICY.replace(
        "per = [\"account\", \"api\"]",
        "per = [\"account\", \"api\"]\n    refund = [\"5xx\"]",
    );
    let refunding = format!("[server]\nupstream_timeout = \"200ms\"\n{refunding}");
    let tollgate = Tollgate::start(&refunding, Some(upstream.address));
    // The upstream got the request and may have done the work: a timeout is not free.
    let slow = send(tollgate.address, "GET", "/machines/hang", &[KEY], "").await;
    assert_eq!(slow.status, 504);
    let ok = send(tollgate.address, "GET", "/machines/1", &[KEY], "").await;
    assert_eq!(
        (ok.status, ok.header("x-rate-limit-remaining")),
        (200, Some("0")),
        "the 504 was charged"
    );
}

#[tokio::test]
async fn an_upstream_block_hint_protects_that_function_on_that_resource() {
    let upstream = Upstream::start().await;
    let tollgate = Tollgate::start(POLICY, Some(upstream.address));
    let first = send(tollgate.address, "PUT", "/machines/7/protect", &[KEY], "").await;
    assert_eq!(first.status, 200);
    let blocked = send(tollgate.address, "PUT", "/machines/7/protect", &[KEY], "").await;
    assert_eq!(blocked.status, 423);
    assert_eq!(blocked.header("retry-after"), Some("60"));
    assert!(
        blocked.body.contains("blocked by the appliance until"),
        "{}",
        blocked.body
    );
    assert_eq!(
        upstream.hits(),
        1,
        "the blocked request never reached the upstream"
    );
}

#[tokio::test]
async fn customers_see_their_own_quota_for_free() {
    let tollgate = Tollgate::start(POLICY, None);
    assert_eq!(
        send(
            tollgate.address,
            "GET",
            "/v1/auth",
            &[
                KEY,
                ("X-Forwarded-Method", "GET"),
                ("X-Forwarded-Uri", "/machines/1")
            ],
            ""
        )
        .await
        .status,
        200
    );
    for _ in 0..3 {
        let reply = send(tollgate.address, "GET", "/_tollgate/quota", &[KEY], "").await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let quota: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(quota["account"], "acme");
        let hourly = &quota["apis"][0]["limits"][0];
        assert_eq!(
            (&hourly["name"], &hourly["remaining"], &hourly["used"]),
            (&"hourly".into(), &1.into(), &1.into()),
            "looking costs nothing"
        );
    }
    let page = send(
        tollgate.address,
        "GET",
        "/_tollgate/quota",
        &[KEY, ("Accept", "text/html")],
        "",
    )
    .await;
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        page.body.contains("Account <strong>acme</strong>")
            && page.body.contains("1 of 2 used")
            && page.body.contains("1 admitted and 0 refused in all"),
        "{}",
        page.body
    );
    assert_eq!(
        send(tollgate.address, "GET", "/_tollgate/quota", &[], "")
            .await
            .status,
        401
    );
    assert_eq!(
        send(
            tollgate.address,
            "GET",
            "/_tollgate/quota",
            &[("X-Api-Key", "guess")],
            ""
        )
        .await
        .status,
        401
    );
}

#[tokio::test]
async fn no_route_unknown_key_and_exempt_routes() {
    let upstream = Upstream::start().await;
    let tollgate = Tollgate::start(POLICY, Some(upstream.address));
    assert_eq!(
        send(tollgate.address, "GET", "/elsewhere", &[KEY], "")
            .await
            .status,
        404
    );
    let stolen = send(
        tollgate.address,
        "GET",
        "/machines/1",
        &[("X-Api-Key", "stolen")],
        "",
    )
    .await;
    assert_eq!(stolen.status, 401);
    assert!(stolen.body.contains("unknown API key"), "{}", stolen.body);
    for _ in 0..5 {
        let health = send(tollgate.address, "GET", "/healthz", &[], "").await;
        assert_eq!(health.status, 200);
        assert_eq!(health.header("ratelimit"), None);
    }
    assert_eq!(upstream.hits(), 5);
}

#[tokio::test]
async fn key_guessing_on_the_quota_page_costs_what_it_costs_through_the_api() {
    let guarded = format!(
        "{POLICY}\n    [[limits]]\n    name = \"guessing\"\n    window = {{ max = 3, every = \"1h\" }}\n    per = [\"ip\"]\n    when = {{ key = \"unknown\" }}\n"
    );
    let tollgate = Tollgate::start(&guarded, None);
    let address = tollgate.address;
    let quota = |key: &'static str| async move {
        send(
            address,
            "GET",
            "/_tollgate/quota",
            &[("X-Api-Key", key)],
            "",
        )
        .await
    };
    assert_eq!(quota("guess-1").await.status, 401);
    assert_eq!(quota("guess-2").await.status, 401);
    let api = send(
        tollgate.address,
        "GET",
        "/machines/1",
        &[("X-Api-Key", "guess-3")],
        "",
    )
    .await;
    assert_eq!(
        api.status, 401,
        "the third guess of the hour, through the API"
    );
    let throttled = quota("guess-4").await;
    assert_eq!(throttled.status, 429, "{}", throttled.body);
    let retry_after: u64 = throttled.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (1..=3600).contains(&retry_after),
        "until the clock hour ends"
    );
    let api = send(
        tollgate.address,
        "GET",
        "/machines/1",
        &[("X-Api-Key", "guess-5")],
        "",
    )
    .await;
    assert_eq!(api.status, 429, "the same partition through the API");
    // While guesses from here are throttled, a right key is answered like a wrong one: the
    // throttle tells nothing. Two keys are a 400.
    let (right_page, wrong_page) = (quota("acme-key").await, quota("guess-6").await);
    assert_eq!(
        (right_page.status, &right_page.body),
        (429, &wrong_page.body)
    );
    let right = send(tollgate.address, "GET", "/machines/1", &[KEY], "").await;
    let wrong = send(
        tollgate.address,
        "GET",
        "/machines/1",
        &[("X-Api-Key", "guess-7")],
        "",
    )
    .await;
    assert_eq!(right.status, wrong.status, "{}", right.body);
    let names = |reply: &support::Reply| {
        let mut names: Vec<String> = reply.headers.keys().map(|name| name.to_string()).collect();
        names.retain(|name| name != "date");
        names.sort();
        names
    };
    assert_eq!(names(&right), names(&wrong), "the same headers");
    assert_eq!(
        right.header("ratelimit-policy"),
        wrong.header("ratelimit-policy")
    );
    let fields = |reply: &support::Reply| {
        let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        (
            body["error"].clone(),
            body["limit"].clone(),
            body["api"].clone(),
        )
    };
    assert_eq!(
        fields(&right),
        fields(&wrong),
        "the same body: {}",
        right.body
    );
    // The check API, asked for both from the same address, answers alike too.
    let ask = |key: &str| {
        format!(
            r#"{{"method":"GET","path":"/machines/1","headers":{{"x-api-key":"{key}"}},"client_ip":"127.0.0.1"}}"#
        )
    };
    let answer = |body: String| async move {
        let reply = send(address, "POST", "/v1/check", &[], &body).await;
        let mut answer: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        answer.as_object_mut().unwrap().remove("retry_after");
        answer.as_object_mut().unwrap().remove("headers");
        for limit in answer["limits"].as_array_mut().unwrap() {
            limit.as_object_mut().unwrap().remove("retry_at");
        }
        answer
    };
    let (right, wrong) = (answer(ask("acme-key")).await, answer(ask("guess-8")).await);
    assert_eq!(right, wrong);
    assert_eq!(right["status"], 429);
    // A blocked account's right key too: its block shows only once guessing has room again.
    let bearer = format!("Bearer {}", tollgate.admin_token().trim());
    let block = send(
        tollgate.admin,
        "POST",
        "/admin/blocks",
        &[("authorization", &bearer)],
        r#"{"account":"acme","seconds":600}"#,
    )
    .await;
    assert_eq!(block.status, 201, "{}", block.body);
    let blocked_right = answer(ask("acme-key")).await;
    assert_eq!(blocked_right, answer(ask("guess-9")).await);
    let two = send(
        tollgate.address,
        "GET",
        "/_tollgate/quota",
        &[("X-Api-Key", "acme-key"), ("X-Api-Key", "guess")],
        "",
    )
    .await;
    assert_eq!(two.status, 400, "{}", two.body);
}

#[tokio::test]
async fn key_guessing_is_throttled_before_the_401() {
    let guarded = format!(
        "{POLICY}\n    [[limits]]\n    name = \"guessing\"\n    window = {{ max = 2, every = \"1h\" }}\n    per = [\"ip\"]\n    when = {{ key = \"unknown\" }}\n"
    );
    let tollgate = Tollgate::start(&guarded, None);
    for _ in 0..2 {
        let reply = send(
            tollgate.address,
            "GET",
            "/machines/1",
            &[("X-Api-Key", "guess")],
            "",
        )
        .await;
        assert_eq!(reply.status, 401);
    }
    let throttled = send(
        tollgate.address,
        "GET",
        "/machines/1",
        &[("X-Api-Key", "guess-3")],
        "",
    )
    .await;
    assert_eq!(throttled.status, 429);
    assert!(throttled.header("retry-after").is_some());
    let ok = send(
        tollgate.address,
        "POST",
        "/v1/check",
        &[],
        r#"{"method":"GET","path":"/machines/1","headers":{"x-api-key":"acme-key"}}"#,
    )
    .await;
    assert!(
        ok.body.contains(r#""allowed":true"#),
        "the right key is not throttled: {}",
        ok.body
    );
}

#[tokio::test]
async fn upstream_down_is_a_502() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let tollgate = Tollgate::start(POLICY, Some(closed));
    let reply = send(tollgate.address, "GET", "/machines/1", &[KEY], "").await;
    assert_eq!(reply.status, 502);
    assert!(reply.body.contains("bad_gateway"));
}

#[tokio::test]
async fn an_upstream_that_never_answers_is_a_504_after_the_timeout() {
    let upstream = Upstream::start().await;
    let policy = format!("[server]\nupstream_timeout = \"200ms\"\n{POLICY}");
    let tollgate = Tollgate::start(&policy, Some(upstream.address));
    let reply = send(tollgate.address, "GET", "/machines/hang", &[KEY], "").await;
    assert_eq!(reply.status, 504);
    assert!(reply.body.contains("gateway_timeout"), "{}", reply.body);
}

#[tokio::test]
async fn check_api_answers_200_with_the_decision() {
    let tollgate = Tollgate::start(POLICY, None);
    let ask = r#"{"method":"GET","path":"/machines/1","headers":{"x-api-key":"acme-key"}}"#;
    for remaining in [1, 0] {
        let reply = send(
            tollgate.address,
            "POST",
            "/v1/check",
            &[("content-type", "application/json")],
            ask,
        )
        .await;
        assert_eq!(reply.status, 200);
        let answer: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(answer["allowed"], true);
        assert_eq!(answer["limits"][0]["remaining"], remaining);
        assert_eq!(
            answer["headers"]["x-rate-limit-remaining"],
            remaining.to_string()
        );
    }
    let reply = send(
        tollgate.address,
        "POST",
        "/v1/check",
        &[("content-type", "application/json")],
        ask,
    )
    .await;
    let answer: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(
        (reply.status, &answer["allowed"], &answer["status"]),
        (200, &false.into(), &429.into())
    );
    assert_eq!(answer["retry_after"], 3600);

    let explained = r#"{"method":"GET","path":"/machines/1","headers":{"x-api-key":"acme-key"},"explain":true}"#;
    let reply = send(tollgate.address, "POST", "/v1/check", &[], explained).await;
    let answer: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(answer["partitions"]["hourly"], "account=acme api=machines");
    assert_eq!(
        (&answer["account"], &answer["api"]),
        (&"acme".into(), &"machines".into())
    );
    tollgate.wait_for(r#"refused limit=hourly partition="account=acme api=machines""#);

    let malformed = send(
        tollgate.address,
        "POST",
        "/v1/check",
        &[("content-type", "application/json")],
        r#"{"method":"GET"}"#,
    )
    .await;
    assert_eq!(malformed.status, 400);
    assert!(
        malformed.body.contains("path"),
        "names the missing field: {}",
        malformed.body
    );
}

#[tokio::test]
async fn forward_auth_reads_the_original_request() {
    let tollgate = Tollgate::start(POLICY, None);
    let traefik = [
        KEY,
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Uri", "/machines/1"),
    ];
    let nginx = [
        KEY,
        ("X-Original-Method", "GET"),
        ("X-Original-URI", "/machines/2"),
    ];
    assert_eq!(
        send(tollgate.address, "GET", "/v1/auth", &traefik, "")
            .await
            .status,
        200
    );
    let second = send(tollgate.address, "GET", "/v1/auth", &nginx, "").await;
    assert_eq!(
        (second.status, second.header("x-rate-limit-remaining")),
        (200, Some("0"))
    );
    let refused = send(tollgate.address, "GET", "/v1/auth", &traefik, "").await;
    assert_eq!(
        (refused.status, refused.header("retry-after")),
        (429, Some("3600"))
    );
    assert_eq!(
        send(tollgate.address, "GET", "/v1/auth", &[KEY], "")
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn http2_clients_reach_an_http1_upstream() {
    let upstream = Upstream::start().await;
    let tollgate = Tollgate::start(POLICY, Some(upstream.address));
    let reply = send_h2(tollgate.address, "GET", "/machines/4", &[KEY], "").await;
    assert_eq!(
        (reply.status, reply.version),
        (200, axum::http::Version::HTTP_2)
    );
    assert!(reply.body.starts_with("GET /machines/4"), "{}", reply.body);
}

/// One concurrency slot, held by a request the upstream never answers (within
/// `upstream_timeout`): the upstream, the instance, and the hanging request's task.
async fn one_slot_held_by_a_hanging_request(
    upstream_timeout: &str,
) -> (Upstream, Tollgate, tokio::task::JoinHandle<support::Reply>) {
    let upstream = Upstream::start().await;
    let policy = format!(
        r#"
        [server]
        upstream_timeout = "{upstream_timeout}"

        [[routes]]
        api = "machines"
        match = "GET /machines/{{*rest}}"

        [[limits]]
        name = "in-flight"
        concurrency = {{ max = 1, lease = "1h" }}
    "#
    );
    let tollgate = Tollgate::start(&policy, Some(upstream.address));
    let address = tollgate.address;
    let hanging =
        tokio::spawn(async move { send(address, "GET", "/machines/hang", &[], "").await });
    // Once the hanging request has reached the upstream, it holds the only slot.
    for _ in 0..100_000 {
        if upstream.hits() > 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(upstream.hits(), 1);
    let refused = send(address, "GET", "/machines/1", &[], "").await;
    assert_eq!(refused.status, 429, "a second request in flight is refused");
    (upstream, tollgate, hanging)
}

#[tokio::test]
async fn a_concurrency_slot_is_held_until_the_response_is_done() {
    let (_upstream, tollgate, hanging) = one_slot_held_by_a_hanging_request("300ms").await;
    let address = tollgate.address;
    assert_eq!(hanging.await.unwrap().status, 504);
    assert_eq!(
        send(address, "GET", "/machines/1", &[], "").await.status,
        200,
        "the slot came back"
    );
    assert_eq!(
        send(address, "GET", "/machines/2", &[], "").await.status,
        200,
        "and again after a response"
    );
}

#[tokio::test]
async fn h2c_prior_knowledge_is_served() {
    let tollgate = Tollgate::start(POLICY, None);
    let ask = r#"{"method":"GET","path":"/machines/1","headers":{"x-api-key":"acme-key"}}"#;
    let reply = send_h2(tollgate.address, "POST", "/v1/check", &[], ask).await;
    assert_eq!(reply.version, axum::http::Version::HTTP_2);
    assert!(reply.body.contains(r#""allowed":true"#), "{}", reply.body);
}

#[tokio::test]
async fn sigterm_stops_with_status_zero() {
    let tollgate = Tollgate::start(POLICY, None);
    assert_eq!(
        send(tollgate.address, "GET", "/healthz", &[], "")
            .await
            .status,
        502
    );
    assert!(tollgate.terminate().success());
}

#[tokio::test]
async fn sighup_reloads_keeping_unchanged_counters_and_refuses_a_broken_file() {
    let tollgate = Tollgate::start(POLICY, None);
    let check = |path: &'static str| {
        let ask =
            format!(r#"{{"method":"GET","path":"{path}","headers":{{"x-api-key":"acme-key"}}}}"#);
        async move {
            let reply = send(
                tollgate.address,
                "POST",
                "/v1/check",
                &[("content-type", "application/json")],
                &ask,
            )
            .await;
            serde_json::from_str::<serde_json::Value>(&reply.body).unwrap()
        }
    };
    assert_eq!(check("/machines/1").await["limits"][0]["remaining"], 1);
    assert_eq!(check("/tasks").await["status"], 404);

    let with_tasks = POLICY.replace(
        "[[limits]]",
        "[[routes]]\n    api = \"tasks\"\n    match = \"GET /tasks\"\n\n    [[limits]]",
    );
    std::fs::write(&tollgate.config, with_tasks).unwrap();
    tollgate.signal("HUP");
    tollgate.wait_for("policy reloaded");
    assert_eq!(
        check("/machines/1").await["limits"][0]["remaining"],
        0,
        "the counter was kept"
    );
    assert_eq!(
        check("/tasks").await["allowed"],
        true,
        "the new route serves"
    );

    std::fs::write(&tollgate.config, "[[limits]]\nname = 1\n").unwrap();
    tollgate.signal("HUP");
    let logged = tollgate.wait_for("policy not reloaded");
    assert!(logged.contains("policy.toml:2:8"), "{logged}");
    assert_eq!(
        check("/tasks").await["allowed"],
        true,
        "the old policy keeps serving"
    );
}

#[test]
fn check_config_prints_errors_or_a_summary() {
    let dir = support::TempDir::new();
    let good = dir.0.join("good.toml");
    std::fs::write(&good, POLICY).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("check-config")
        .arg(&good)
        .output()
        .unwrap();
    assert!(output.status.success());
    let summary = String::from_utf8(output.stdout).unwrap();
    assert!(
        summary.ends_with(": ok: 2 routes (2 apis), 1 limits, 0 plans, 1 accounts, 0 apps\n"),
        "{summary}"
    );

    let bad = dir.0.join("bad.toml");
    std::fs::write(
        &bad,
        "[[limits]]\nname = \"x\"\nwindow = { max = 0, every = \"1m\" }\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("check-config")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let errors = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        errors.lines().next().unwrap(),
        format!(
            "{}:3:10: limit `x`: window max must be at least 1",
            bad.display()
        )
    );
}

#[tokio::test]
async fn an_exempt_route_cannot_block_the_limited_routes_of_its_path() {
    let upstream = Upstream::start().await;
    let text = r#"
        [[routes]]
        api = "appliance"
        match = "GET /protect/{id}"
        exempt = true

        [[routes]]
        api = "appliance"
        match = "POST /protect/{id}"

        [[limits]]
        name = "hourly"
        window = { max = 10, every = "1h" }
    "#;
    let tollgate = Tollgate::start(text, Some(upstream.address));
    // The upstream asks for a block on every /protect answer; only a counted request's is kept.
    assert_eq!(
        send(tollgate.address, "GET", "/protect/1", &[], "")
            .await
            .status,
        200
    );
    assert_eq!(
        send(tollgate.address, "POST", "/protect/1", &[], "")
            .await
            .status,
        200
    );
    assert_eq!(
        send(tollgate.address, "POST", "/protect/1", &[], "")
            .await
            .status,
        423,
        "the counted POST's hint blocks its function"
    );
}
