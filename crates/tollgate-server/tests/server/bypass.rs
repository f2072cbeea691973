//! Spellings of one resource, sent as raw bytes through the gateway, forward-auth and the check
//! API once its bucket ran dry: each shares the canonical partition or is refused with a 4xx;
//! none is exempt, none gets a fresh bucket, none reaches the upstream.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Tollgate, Upstream, send};

/// One request every hour per account and concrete path; paths are case-insensitive; two
/// exempt prefixes to climb out of.
const POLICY: &str = r#"
    [paths]
    case_insensitive = true

    [identity]
    api_key = { header = "X-Api-Key" }

    [[accounts]]
    id = "acme"
    keys = ["acme-key"]

    [[routes]]
    api = "circuits"
    match = "GET /hvacs/{gatewayId}/circuits/{circuitId}"

    [[routes]]
    api = "health"
    match = "GET /healthz"
    exempt = true

    [[routes]]
    api = "hooks"
    match = "* /webhooks/{*rest}"
    exempt = true

    [[limits]]
    name = "per-path"
    token_bucket = { rate = "1/1h", burst = 1 }
    per = ["account", "path"]
"#;

/// The resource, in its canonical spelling.
const RESOURCE: &str = "/hvacs/g1/circuits/c1";

/// Other spellings of [`RESOURCE`], as a client may send them on the request line.
const SPELLINGS: [&str; 48] = [
    // Slashes and dot-segments.
    "/hvacs/g1/circuits/c1/",
    "//hvacs/g1/circuits/c1",
    "/hvacs//g1/circuits/c1",
    "/./hvacs/g1/circuits/c1",
    "/hvacs/./g1/circuits/c1",
    "/hvacs/x/../g1/circuits/c1",
    "/x/../hvacs/g1/circuits/c1",
    "/../hvacs/g1/circuits/c1",
    "/hvacs/g1/circuits/c1/.",
    "/hvacs/g1/circuits/c1/./",
    "/hvacs/g1/circuits/c1/x/..",
    // Percent-encoding of each kind of character, upper- and lower-case hex.
    "/%68vacs/g1/circuits/c1",
    "/hvacs/%67%31/circuits/c1",
    "/hvacs/g%31/circuits/c1",
    "/hvacs/g1/%63ircuits/c1",
    "/hvacs/g1/circuits/%63%31",
    "/%68%76%61%63%73/%67%31/%63%69%72%63%75%69%74%73/%63%31",
    "/%2Fhvacs/g1/circuits/c1",
    // Encoded dots.
    "/hvacs/%2e/g1/circuits/c1",
    "/hvacs/x/%2e%2e/g1/circuits/c1",
    "/hvacs/x/%2E%2E/g1/circuits/c1",
    "/hvacs/x/.%2e/g1/circuits/c1",
    "/hvacs/g1/circuits/c1/%2e",
    // Case, raw and encoded (paths are case-insensitive here).
    "/HVACS/G1/CIRCUITS/C1",
    "/hvacs/G1/circuits/c1",
    "/hvacs/%47%31/circuits/c1",
    // Query and fragment.
    "/hvacs/g1/circuits/c1?x=1",
    "/hvacs/g1/circuits/c1?",
    // Path parameters, backslashes, encoded slashes.
    "/hvacs/g1/circuits/c1;jsessionid=1",
    "/hvacs/g1;x=y/circuits/c1",
    "/hvacs/g1/circuits/c1%3B",
    "/hvacs\\g1/circuits/c1",
    "/hvacs/g1%5Ccircuits/c1",
    "/hvacs/g1/circuits/c1%5C",
    "/hvacs%2Fg1/circuits/c1",
    "/hvacs/g1/circuits%2fc1",
    "/hvacs/g1/circuits/c1%2F",
    // NUL, controls, overlong and invalid UTF-8.
    "/hvacs/g1/circuits/c1%00",
    "/hvacs/g1/circuits/c1%09",
    "/hvacs/g1/circuits/c%C0%B1",
    "/%C0%AEhvacs/g1/circuits/c1",
    "/hvacs/g1/circuits/c1%FF",
    // Through an exempt prefix.
    "/healthz/../hvacs/g1/circuits/c1",
    "/webhooks/../hvacs/g1/circuits/c1",
    "/webhooks/%2e%2e/hvacs/g1/circuits/c1",
    "/webhooks/..%2Fhvacs/g1/circuits/c1",
    "/webhooks/..;/hvacs/g1/circuits/c1",
    // A mixture.
    "/./HVACS//%67%31/./circuits/x/../C%31/",
];

const KEY: (&str, &str) = ("X-Api-Key", "acme-key");

/// Sends `target` on a raw request line, so that no client library respells it; the status.
pub(crate) async fn raw_status(address: SocketAddr, target: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: tollgate\r\nX-Api-Key: acme-key\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.unwrap();
    let reply = String::from_utf8_lossy(&reply);
    reply
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("no status for {target}: {reply}"))
}

/// The statuses a spelling got through the gateway, forward-auth and the check API, and
/// whether the check API allowed it.
pub(crate) async fn statuses(tollgate: &Tollgate, path: &str) -> (u16, u16, u16, bool) {
    let gateway = raw_status(tollgate.address, path).await;
    let forward_auth = send(
        tollgate.address,
        "GET",
        "/v1/auth",
        &[KEY, ("X-Original-Method", "GET"), ("X-Original-URI", path)],
        "",
    )
    .await
    .status;
    let ask = serde_json::json!({ "method": "GET", "path": path, "headers": { "x-api-key": "acme-key" } });
    let check = send(tollgate.address, "POST", "/v1/check", &[], &ask.to_string()).await;
    let answer: serde_json::Value = serde_json::from_str(&check.body).unwrap();
    let status = u16::try_from(answer["status"].as_u64().unwrap_or(0)).unwrap_or(0);
    (gateway, forward_auth, status, answer["allowed"] == true)
}

/// Whether a status says the spelling shared the spent bucket, or was refused outright.
fn refused(status: u16) -> bool {
    status == 429 || status == 400
}

#[tokio::test]
async fn no_spelling_of_a_resource_gets_past_its_spent_bucket() {
    let upstream = Upstream::start().await;
    let tollgate = Tollgate::start(POLICY, Some(upstream.address));
    assert_eq!(raw_status(tollgate.address, RESOURCE).await, 200);
    assert_eq!(raw_status(tollgate.address, RESOURCE).await, 429);
    assert_eq!(upstream.hits(), 1);

    let mut failures = Vec::new();
    for spelling in SPELLINGS {
        let (gateway, forward_auth, check, allowed) = statuses(&tollgate, spelling).await;
        if !(refused(gateway) && refused(forward_auth) && refused(check) && !allowed) {
            failures.push(format!(
                "{spelling}: gateway {gateway}, forward-auth {forward_auth}, check {check}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "got past the limit:\n{}",
        failures.join("\n")
    );
    assert_eq!(upstream.hits(), 1, "no spelling reached the upstream");
}

#[tokio::test]
async fn a_double_encoding_is_another_resource_to_the_upstream_too() {
    let upstream = Upstream::start().await;
    let tollgate = Tollgate::start(POLICY, Some(upstream.address));
    assert_eq!(raw_status(tollgate.address, RESOURCE).await, 200);
    // `%2567%2531` decodes once to `%67%31`: a resource of its own, counted as such and
    // forwarded so that the upstream, decoding once, reads `%67%31` and never `g1`.
    let reply = send(
        tollgate.address,
        "GET",
        "/hvacs/%2567%2531/circuits/c1",
        &[KEY],
        "",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let received = reply.body.split(' ').nth(1).unwrap();
    assert_eq!(received, "/hvacs/%2567%2531/circuits/c1");
    let decoded = percent_encoding::percent_decode_str(received).decode_utf8_lossy();
    assert_eq!(decoded, "/hvacs/%67%31/circuits/c1");
    // And a `%` that reaches the path forwarded is always escaped: the upstream sees what was
    // counted, in the case the client sent (it was counted folded).
    let reply = send(
        tollgate.address,
        "GET",
        "/HVACS/%25/circuits/C1",
        &[KEY],
        "",
    )
    .await;
    assert_eq!(reply.body.split(' ').nth(1), Some("/HVACS/%25/circuits/C1"));
}

#[tokio::test]
async fn a_spoofed_forward_auth_pair_changes_nothing() {
    let tollgate = Tollgate::start(POLICY, None);
    let spoofed = [
        KEY,
        ("X-Original-Method", "GET"),
        ("X-Original-URI", RESOURCE),
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Uri", "/healthz"),
    ];
    assert_eq!(
        send(tollgate.address, "GET", "/v1/auth", &spoofed[..3], "")
            .await
            .status,
        200
    );
    for _ in 0..3 {
        let reply = send(tollgate.address, "GET", "/v1/auth", &spoofed, "").await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert!(reply.body.contains("disagree"), "{}", reply.body);
        assert_eq!(reply.header("tollgate-refusal"), Some(reply.body.as_str()));
    }
    assert_eq!(
        send(tollgate.address, "GET", "/v1/auth", &spoofed[..3], "")
            .await
            .status,
        429
    );
}

#[tokio::test]
async fn where_nothing_is_forwarded_dot_segments_are_refused_not_resolved() {
    let tollgate = Tollgate::start(POLICY, None);
    // Counted as the exempt /healthz, a framework that does not resolve `..` would serve the
    // resource: forward-auth and the check API refuse the spelling instead.
    for spelling in [
        "/hvacs/g1/circuits/c1/../../../../healthz",
        "/hvacs/g1/circuits/c1/%2e%2e/%2e%2e/%2e%2e/%2e%2e/healthz",
        "/hvacs/g1/circuits/./c1",
    ] {
        let reply = send(
            tollgate.address,
            "GET",
            "/v1/auth",
            &[
                KEY,
                ("X-Original-Method", "GET"),
                ("X-Original-URI", spelling),
            ],
            "",
        )
        .await;
        assert_eq!(reply.status, 400, "{spelling}: {}", reply.body);
        let body = serde_json::json!({ "method": "GET", "path": spelling, "headers": { "x-api-key": "acme-key" } });
        let check = send(
            tollgate.address,
            "POST",
            "/v1/check",
            &[],
            &body.to_string(),
        )
        .await;
        let answer: serde_json::Value = serde_json::from_str(&check.body).unwrap();
        assert_eq!(
            (answer["allowed"].clone(), answer["status"].clone()),
            (false.into(), 400.into()),
            "{spelling}"
        );
    }
}

#[tokio::test]
async fn an_identity_or_a_method_spelled_for_another_server_is_refused() {
    let upstream = Upstream::start().await;
    let tollgate = Tollgate::start(POLICY, Some(upstream.address));
    let refused = |headers: &'static [(&'static str, &'static str)]| {
        let address = tollgate.address;
        async move { send(address, "GET", RESOURCE, headers, "").await.status }
    };
    // CGI and WSGI servers read `X_Api_Key` as `X-Api-Key`.
    assert_eq!(refused(&[("X_Api_Key", "acme-key")]).await, 400);
    assert_eq!(refused(&[KEY, ("X_API_KEY", "other-key")]).await, 400);
    // Frameworks honour method overrides: a GET that claims to be a PUT is not counted as a GET.
    assert_eq!(
        refused(&[KEY, ("X-HTTP-Method-Override", "PUT")]).await,
        400
    );
    assert_eq!(refused(&[KEY, ("X-Method-Override", "DELETE")]).await, 400);
    // Also on an exempt route: a free GET that claims to be a PUT is no free PUT.
    let exempt = send(
        tollgate.address,
        "GET",
        "/healthz",
        &[("X-HTTP-Method-Override", "PUT")],
        "",
    );
    assert_eq!(exempt.await.status, 400);
    assert_eq!(upstream.hits(), 0);
    assert_eq!(
        refused(&[KEY, ("X-HTTP-Method-Override", "get")]).await,
        200
    );
}

#[tokio::test]
async fn a_query_key_read_another_way_by_some_parser_is_refused() {
    let policy = POLICY.replace(
        "api_key = { header = \"X-Api-Key\" }",
        "api_key = { query = \"api_key\" }",
    );
    let tollgate = Tollgate::start(&policy, None);
    for query in [
        "x=1;api_key=acme-key",
        "api.key=acme-key",
        "API_KEY=acme-key",
        "api%20key=acme-key",
        "api_key[]=acme-key",
        "api_key=acme-key&api_key%5B%5D=x",
    ] {
        let reply = send(
            tollgate.address,
            "GET",
            &format!("{RESOURCE}?{query}"),
            &[],
            "",
        )
        .await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.body);
    }
    let reply = send(
        tollgate.address,
        "GET",
        &format!("{RESOURCE}?api_key=acme-key"),
        &[],
        "",
    )
    .await;
    assert_eq!(
        reply.status, 502,
        "admitted, no upstream configured: {}",
        reply.body
    );
}
