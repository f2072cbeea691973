//! Envoy's external authorization in process: the tonic client of envoy-types asking
//! `envoy.service.auth.v3.Authorization/Check` of the gRPC router with no socket, over a policy
//! file on a manual clock. Every answer is read whole: OK with the headers the upstream gets
//! and those the client gets, or Envoy's own answer with Tollgate's status, headers and body.

use std::sync::Arc;
use std::time::Duration;

use envoy_types::pb::envoy::config::core::v3::address::Address;
use envoy_types::pb::envoy::config::core::v3::header_value_option::HeaderAppendAction;
use envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier;
use envoy_types::pb::envoy::config::core::v3::{
    Address as ProtoAddress, HeaderMap, HeaderValue, HeaderValueOption, SocketAddress,
};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Peer, Request};
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, CheckRequest};
use envoy_types::pb::google::protobuf::BoolValue;
use tollgate_core::ManualClock;
use tollgate_server::{App, Gate, grpc_router};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::{T0, block, policy, secs};

/// Two calls a minute per account and api; apps verified by their secret; `RateLimit-Policy`
/// and `RateLimit` on every answer.
const POLICY: &str = r#"
    [responses]
    headers = ["ietf"]

    [identity]
    api_key = { header = "X-Api-Key" }
    app = { id_header = "X-AppId", secret_header = "X-AppSecret" }

    [[accounts]]
    id = "acme"
    keys = ["acme-key"]

    [[apps]]
    id = "invoicer"
    secret = "invoicer-secret"

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
"#;

const ACME: (&str, &str) = ("x-api-key", "acme-key");

/// What Envoy is told to do.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    /// Go on: headers set on the request (each to overwrite the client's), headers removed
    /// from it, headers added to the upstream's answer.
    Ok {
        upstream: Vec<(String, String)>,
        removed: Vec<String>,
        answer: Vec<(String, String)>,
    },
    /// Answer the client with this status, these headers and this body.
    Denied {
        status: i32,
        headers: Vec<(String, String)>,
        body: String,
    },
}

impl Answer {
    /// The status the client sees (200 for one let through).
    fn status(&self) -> i32 {
        match self {
            Self::Ok { .. } => 200,
            Self::Denied { status, .. } => *status,
        }
    }

    /// A denial's body as JSON.
    fn body(&self) -> serde_json::Value {
        match self {
            Self::Denied { body, .. } => serde_json::from_str(body).unwrap(),
            Self::Ok { .. } => panic!("let through: {self:?}"),
        }
    }

    /// The headers the client sees, from Tollgate.
    fn answer_headers(&self) -> &[(String, String)] {
        match self {
            Self::Ok { answer, .. } => answer,
            Self::Denied { headers, .. } => headers,
        }
    }
}

/// Header pairs, owned.
fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

/// Every option's header, each checked to overwrite what is there, said both ways (the
/// deprecated `append`, which Envoy reads first, and `append_action`).
#[allow(deprecated)]
fn overwriting(options: Vec<HeaderValueOption>) -> Vec<(String, String)> {
    options
        .into_iter()
        .map(|option| {
            assert_eq!(
                (option.append, option.append_action()),
                (
                    Some(BoolValue { value: false }),
                    HeaderAppendAction::OverwriteIfExistsOrAdd
                ),
                "{option:?}"
            );
            let header = option.header.unwrap();
            (header.key, header.value)
        })
        .collect()
}

/// The gRPC router over a gate on a manual clock.
struct Authz {
    client: AuthorizationClient<axum::Router>,
    app: Arc<App<ManualClock>>,
    clock: ManualClock,
}

impl Authz {
    async fn start(text: &str) -> Self {
        let clock = ManualClock::new(T0);
        let gate = Gate::new(policy(text), clock.clone());
        let app = Arc::new(App::new(gate, None, Duration::from_secs(30)));
        Self {
            client: AuthorizationClient::new(grpc_router(Arc::clone(&app)).await),
            app,
            clock,
        }
    }

    /// Asks about `method path` with `headers` (as Envoy's raw list: a name given twice is sent
    /// twice), from the client at `source`.
    async fn ask(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        source: &str,
    ) -> Answer {
        let mut sent = vec![
            (":method", method),
            (":path", path),
            (":authority", "api.example"),
        ];
        sent.extend_from_slice(headers);
        let http = HttpRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            host: "api.example".to_owned(),
            header_map: Some(HeaderMap {
                headers: sent
                    .iter()
                    .map(|(key, value)| HeaderValue {
                        key: (*key).to_owned(),
                        raw_value: value.as_bytes().to_vec(),
                        ..HeaderValue::default()
                    })
                    .collect(),
            }),
            ..HttpRequest::default()
        };
        let request = CheckRequest {
            attributes: Some(AttributeContext {
                source: Some(peer(source)),
                request: Some(Request {
                    http: Some(http),
                    ..Request::default()
                }),
                ..AttributeContext::default()
            }),
        };
        self.send(request).await
    }

    async fn send(&mut self, request: CheckRequest) -> Answer {
        let response = self.client.check(request).await.unwrap().into_inner();
        let code = response.status.unwrap_or_default().code;
        match response.http_response {
            Some(HttpResponse::OkResponse(ok)) => {
                assert_eq!(code, 0, "OK with an OK status");
                Answer::Ok {
                    upstream: overwriting(ok.headers),
                    removed: ok.headers_to_remove,
                    answer: overwriting(ok.response_headers_to_add),
                }
            }
            Some(HttpResponse::DeniedResponse(denied)) => {
                assert_ne!(code, 0, "a denial with a status that denies");
                Answer::Denied {
                    status: denied.status.unwrap().code,
                    headers: overwriting(denied.headers),
                    body: denied.body,
                }
            }
            other => panic!("neither OK nor denied: {other:?}"),
        }
    }
}

/// Envoy's `source`: the client at `ip`.
fn peer(ip: &str) -> Peer {
    Peer {
        address: Some(ProtoAddress {
            address: Some(Address::SocketAddress(SocketAddress {
                address: ip.to_owned(),
                port_specifier: Some(PortSpecifier::PortValue(50_000)),
                ..SocketAddress::default()
            })),
        }),
        ..Peer::default()
    }
}

#[tokio::test]
async fn admitted_requests_go_on_with_who_sent_them_and_the_ratelimit_headers() {
    let mut authz = Authz::start(POLICY).await;
    let app = [
        ACME,
        ("x-appid", "invoicer"),
        ("x-appsecret", "invoicer-secret"),
    ];
    let first = authz.ask("GET", "/machines/1?x=1", &app, "192.0.2.7").await;
    assert_eq!(
        first,
        Answer::Ok {
            upstream: owned(&[
                ("x-tollgate-account", "acme"),
                ("x-tollgate-app", "invoicer")
            ]),
            removed: vec![],
            answer: owned(&[
                ("ratelimit-policy", "\"per-minute\";q=2"),
                ("ratelimit", "\"per-minute\";r=1;t=60"),
            ]),
        }
    );
    // No app: its header is removed, so a client cannot name one.
    let second = authz.ask("POST", "/machines/2", &[ACME], "192.0.2.7").await;
    assert_eq!(
        second,
        Answer::Ok {
            upstream: owned(&[("x-tollgate-account", "acme")]),
            removed: vec!["x-tollgate-app".to_owned()],
            answer: owned(&[
                ("ratelimit-policy", "\"per-minute\";q=2"),
                ("ratelimit", "\"per-minute\";r=0;t=60"),
            ]),
        }
    );
    // The third call of the minute: Envoy answers 429 with the policy's body and headers.
    let third = authz.ask("GET", "/machines/3", &[ACME], "192.0.2.7").await;
    assert_eq!(third.status(), 429);
    assert_eq!(
        third.answer_headers(),
        owned(&[
            ("content-type", "application/json"),
            ("ratelimit-policy", "\"per-minute\";q=2"),
            ("ratelimit", "\"per-minute\";r=0;t=60"),
            ("retry-after", "60"),
        ])
    );
    let body = third.body();
    assert_eq!(
        (
            &body["error"],
            &body["limit"],
            &body["api"],
            &body["retry_after"]
        ),
        (
            &"rate_limited".into(),
            &"per-minute".into(),
            &"machines".into(),
            &60.into()
        )
    );
    // A minute later the account may call again: the refusal took nothing.
    authz.clock.advance(Duration::from_secs(60));
    let next = authz.ask("GET", "/machines/1", &[ACME], "192.0.2.7").await;
    assert_eq!(
        next.answer_headers(),
        owned(&[
            ("ratelimit-policy", "\"per-minute\";q=2"),
            ("ratelimit", "\"per-minute\";r=1;t=60"),
        ])
    );
}

#[tokio::test]
async fn a_request_of_nobody_goes_on_with_both_headers_removed() {
    let mut authz = Authz::start(POLICY).await;
    // What a client sends in Tollgate's headers never reaches the upstream as sent.
    let forged = [
        ("x-tollgate-account", "acme"),
        ("x-tollgate-app", "invoicer"),
    ];
    let anonymous = authz.ask("GET", "/machines/1", &forged, "192.0.2.7").await;
    let Answer::Ok {
        upstream, removed, ..
    } = anonymous
    else {
        panic!("{anonymous:?}");
    };
    assert_eq!(upstream, []);
    assert_eq!(removed, ["x-tollgate-account", "x-tollgate-app"]);
    // With a key, the account's header is set, replacing the client's.
    let known = authz
        .ask("GET", "/machines/1", &[ACME, forged[1]], "192.0.2.7")
        .await;
    let Answer::Ok {
        upstream, removed, ..
    } = known
    else {
        panic!("{known:?}");
    };
    assert_eq!(upstream, owned(&[("x-tollgate-account", "acme")]));
    assert_eq!(removed, ["x-tollgate-app"]);
}

#[tokio::test]
async fn an_unknown_key_is_401_not_429() {
    let mut authz = Authz::start(POLICY).await;
    for _ in 0..3 {
        let guess = authz
            .ask("GET", "/machines/1", &[("x-api-key", "guess")], "192.0.2.7")
            .await;
        assert_eq!(guess.status(), 401);
        assert_eq!(
            guess.answer_headers(),
            owned(&[("content-type", "application/json")]),
            "no Retry-After: retrying the same key will not help"
        );
        assert_eq!(guess.body()["error"], "unauthenticated");
    }
    // A wrong app secret is no app here (`wrong_secret = "ignore"`).
    let app = [ACME, ("x-appid", "invoicer"), ("x-appsecret", "wrong")];
    let Answer::Ok { removed, .. } = authz.ask("GET", "/machines/1", &app, "192.0.2.7").await
    else {
        panic!("a wrong secret refused");
    };
    assert_eq!(removed, ["x-tollgate-app"]);
}

#[tokio::test]
async fn unrouted_paths_follow_server_unmatched_and_exempt_routes_go_on() {
    let mut authz = Authz::start(POLICY).await;
    let nowhere = authz.ask("GET", "/nowhere", &[ACME], "192.0.2.7").await;
    assert_eq!(nowhere.status(), 403);
    assert_eq!(nowhere.body()["error"], "no_route");
    // Exempt: let through, counting nothing, no rate-limit header.
    for _ in 0..3 {
        let health = authz.ask("GET", "/healthz", &[ACME], "192.0.2.7").await;
        assert_eq!(
            health,
            Answer::Ok {
                upstream: vec![],
                removed: vec!["x-tollgate-account".to_owned(), "x-tollgate-app".to_owned()],
                answer: vec![],
            },
            "an exempt route is not identified"
        );
    }
    let passing = POLICY.replace("[responses]", "[server]\nunmatched = \"pass\"\n[responses]");
    let mut authz = Authz::start(&passing).await;
    let passed = authz.ask("GET", "/nowhere", &[ACME], "192.0.2.7").await;
    assert_eq!(
        passed,
        Answer::Ok {
            upstream: vec![],
            removed: vec!["x-tollgate-account".to_owned(), "x-tollgate-app".to_owned()],
            answer: vec![],
        }
    );
}

#[tokio::test]
async fn what_cannot_be_read_one_way_is_400_and_counts_nothing() {
    let mut authz = Authz::start(POLICY).await;
    let error = |answer: Answer| {
        assert_eq!(answer.status(), 400, "{answer:?}");
        answer.body()["error"].as_str().unwrap().to_owned()
    };
    // The key sent twice (Envoy's raw list keeps both), or under a spelling with `_`.
    let twice = [ACME, ("x-api-key", "other")];
    assert_eq!(
        error(authz.ask("GET", "/machines/1", &twice, "192.0.2.7").await),
        "bad_request"
    );
    let underscored = [ACME, ("x_api_key", "other")];
    assert_eq!(
        error(
            authz
                .ask("GET", "/machines/1", &underscored, "192.0.2.7")
                .await
        ),
        "bad_request"
    );
    // A path the path rules refuse: the upstream would be served another than counted.
    assert_eq!(
        error(
            authz
                .ask("GET", "/machines/../healthz", &[ACME], "192.0.2.7")
                .await
        ),
        "bad_path"
    );
    // A method override naming another method.
    let overridden = [ACME, ("x-http-method-override", "DELETE")];
    assert_eq!(
        error(
            authz
                .ask("GET", "/machines/1", &overridden, "192.0.2.7")
                .await
        ),
        "bad_request"
    );
    // No HTTP attributes at all (Envoy's network filter): refused, never let through.
    assert_eq!(
        error(authz.send(CheckRequest::default()).await),
        "bad_request"
    );
    // Nothing of it was counted.
    let counted = authz.ask("GET", "/machines/1", &[ACME], "192.0.2.7").await;
    assert_eq!(
        counted.answer_headers()[1],
        ("ratelimit".to_owned(), "\"per-minute\";r=1;t=60".to_owned())
    );
}

#[tokio::test]
async fn a_block_is_423_with_retry_after() {
    let mut authz = Authz::start(POLICY).await;
    authz
        .app
        .gate
        .set_blocks(vec![block(Some("acme"), None, None, T0 + secs(600))]);
    let blocked = authz.ask("GET", "/machines/1", &[ACME], "192.0.2.7").await;
    assert_eq!(blocked.status(), 423);
    assert_eq!(
        blocked.answer_headers(),
        owned(&[("content-type", "application/json"), ("retry-after", "600")])
    );
    assert_eq!(blocked.body()["error"], "blocked");
    assert_eq!(blocked.body()["until"], (T0 + secs(600)) / secs(1));
}

#[tokio::test]
async fn the_client_is_envoys_source_walked_back_only_through_trusted_proxies() {
    let per_ip = r#"
        [identity]
        trusted_proxies = ["10.0.0.0/8"]

        [[routes]]
        api = "machines"
        match = "GET /machines/{*rest}"

        [[limits]]
        name = "per-ip"
        window = { max = 1, every = "1h" }
        per = ["ip"]
    "#;
    let mut authz = Authz::start(per_ip).await;
    let mut status = async |source: &str, forwarded: &[(&str, &str)]| {
        authz
            .ask("GET", "/machines/1", forwarded, source)
            .await
            .status()
    };
    assert_eq!(status("192.0.2.7", &[]).await, 200);
    assert_eq!(status("192.0.2.7", &[]).await, 429);
    // A client's own X-Forwarded-For is not believed ...
    let claimed = [("x-forwarded-for", "192.0.2.8")];
    assert_eq!(status("192.0.2.7", &claimed).await, 429);
    // ... a trusted proxy's is: through it, 192.0.2.8 has its own window.
    let chain = [("x-forwarded-for", "192.0.2.8, 10.0.0.5")];
    assert_eq!(status("10.0.0.5", &chain).await, 200);
    assert_eq!(status("10.0.0.5", &chain).await, 429);
    assert_eq!(status("192.0.2.8", &[]).await, 429);
}

#[tokio::test]
async fn a_concurrency_slot_is_held_only_for_the_decision() {
    let slots = r#"
        [[routes]]
        api = "machines"
        match = "GET /machines/{*rest}"

        [[limits]]
        name = "in-flight"
        concurrency = { max = 1, lease = "1h" }
    "#;
    let mut authz = Authz::start(slots).await;
    for _ in 0..3 {
        let answer = authz.ask("GET", "/machines/1", &[], "192.0.2.7").await;
        assert_eq!(answer.status(), 200, "{answer:?}");
    }
}

#[tokio::test]
async fn a_store_that_cannot_decide_is_503() {
    let full = r#"
        [server]
        max_partitions = 1

        [[routes]]
        api = "machines"
        match = "GET /machines/{*rest}"

        [[limits]]
        name = "per-ip"
        window = { max = 100, every = "1h" }
        per = ["ip"]
    "#;
    let mut authz = Authz::start(full).await;
    let mut refused = None;
    for n in 0..1_000 {
        let ip = format!("10.0.{}.{}", n / 250, n % 250);
        let answer = authz.ask("GET", "/machines/1", &[], &ip).await;
        if answer.status() != 200 {
            refused = Some(answer);
            break;
        }
    }
    let refused = refused.expect("a full store never refused");
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.body()["error"], "store_unavailable");
}

#[tokio::test]
async fn grpc_health_serves_the_authorization_service() {
    let authz = Authz::start(POLICY).await;
    let router = grpc_router(Arc::clone(&authz.app)).await;
    let mut health = HealthClient::new(router);
    let answer = health
        .check(HealthCheckRequest {
            service: "envoy.service.auth.v3.Authorization".to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.status(), ServingStatus::Serving);
}
