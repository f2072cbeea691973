//! Arbitrary bodies, paths and headers into the check API, forward-auth and the admin API, in
//! process (`tower::ServiceExt::oneshot`, no socket): every answer is a client error or a
//! decision, never a 5xx and never a panic. Bounded case counts; a failing case is kept in
//! `proptest-regressions/`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request};
use axum::response::Response;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use tollgate_core::ManualClock;
use tollgate_policy::{Policy, Source};
use tollgate_server::{Admin, App, Gate, admin_router, router};
use tower::ServiceExt;

const POLICY: &str = r#"
    [identity]
    api_key = { header = "X-Api-Key" }
    app = { id_header = "X-App", secret_header = "X-Secret" }

    [[accounts]]
    id = "acme"
    keys = ["acme-key"]

    [[routes]]
    api = "machines"
    match = "* /machines/{*rest}"

    [[limits]]
    name = "burst"
    token_bucket = { rate = "10/1s", burst = 10 }
    per = ["account", "path", "header:x-tenant"]

    [packs.plus]
    period = "365d"
    limits.burst = { rate = "20/1s", burst = 20 }
"#;

/// A JSON value with hostile strings and numbers, nested a little.
fn hostile_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        prop::sample::select(vec![
            "",
            "GET",
            "/machines/1",
            "/machines/%2F",
            "/machines/%00",
            "acme",
            "acme-key",
            "x-api-key",
            "X-Api-Key",
            "plus",
            "burst",
            "\u{0}",
            "é",
            "9999999999999999999",
            "127.0.0.1",
            "::1",
            "/../admin",
            "-1",
        ])
        .prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "method",
                    "path",
                    "headers",
                    "client_ip",
                    "cost",
                    "explain",
                    "id",
                    "plan",
                    "company",
                    "timezone",
                    "pack",
                    "seconds",
                    "account",
                    "api",
                    "reason",
                    "owner",
                    "max",
                    "every",
                    "rate",
                    "burst",
                    "x-api-key",
                    "X-Api-Key",
                ])
                .prop_map(str::to_owned),
                inner,
                0..6,
            )
            .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A body: hostile JSON, or arbitrary bytes.
fn hostile_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => hostile_json().prop_map(|value| value.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..256),
    ]
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/server/fuzz.proptest-regressions"
        )))),
        ..Config::default()
    })
}

fn app() -> Arc<App<ManualClock>> {
    let policy = Policy::compile(&Source::new("fuzz.toml", POLICY)).unwrap();
    let gate = Gate::new(policy, ManualClock::new(1_767_225_600_000_000_000));
    Arc::new(App::new(gate, None, std::time::Duration::from_secs(1)))
}

fn request(method: &str, uri: &str, body: Vec<u8>) -> Request<Body> {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::from(body))
        .unwrap();
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}

fn authorized(mut request: Request<Body>) -> Request<Body> {
    let token = HeaderValue::from_str(&format!("Bearer {}", "t".repeat(40))).unwrap();
    request.headers_mut().insert("authorization", token);
    request
}

fn no_fault(response: &Response) -> Result<(), TestCaseError> {
    let status = response.status().as_u16();
    prop_assert!(status < 500, "a 5xx for a client's input: {status}");
    Ok(())
}

#[test]
fn the_check_api_answers_any_body_without_a_fault() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = app();
    runner(20_000)
        .run(&hostile_body(), |body| {
            runtime.block_on(async {
                let response = router(Arc::clone(&app))
                    .oneshot(request("POST", "/v1/check", body))
                    .await
                    .unwrap();
                no_fault(&response)?;
                prop_assert!(matches!(response.status().as_u16(), 200 | 400));
                Ok(())
            })
        })
        .unwrap();
}

#[test]
fn forward_auth_answers_any_headers_without_a_fault() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = app();
    let names = prop::sample::select(vec![
        "x-original-method",
        "x-original-uri",
        "x-forwarded-method",
        "x-forwarded-uri",
        "x-api-key",
        "x-app",
        "x-secret",
        "x-tenant",
        "x-forwarded-for",
        "accept",
    ]);
    let headers = prop::collection::vec((names, prop::collection::vec(any::<u8>(), 0..24)), 0..8);
    runner(20_000)
        .run(&headers, |headers| {
            runtime.block_on(async {
                let mut request = request("GET", "/v1/auth", Vec::new());
                for (name, value) in headers {
                    if let Ok(value) = HeaderValue::from_bytes(&value) {
                        request.headers_mut().append(name, value);
                    }
                }
                let response = router(Arc::clone(&app)).oneshot(request).await.unwrap();
                no_fault(&response)
            })
        })
        .unwrap();
}

#[test]
fn the_admin_api_answers_any_body_without_a_fault() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let admin = runtime.block_on(async {
        let catalog = tollgate_catalog::Catalog::open("sqlite::memory:")
            .await
            .unwrap();
        let admin = Arc::new(Admin::new(
            app(),
            catalog,
            "fuzz.toml".into(),
            "t".repeat(40),
        ));
        admin.refresh_if_changed().await.unwrap();
        // The token is right: a good body reaches its handler.
        let created = admin_router(Arc::clone(&admin))
            .oneshot(authorized(request(
                "POST",
                "/admin/accounts",
                br#"{"id":"fuzzer"}"#.to_vec(),
            )))
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        admin
    });
    let routes = prop::sample::select(vec![
        ("POST", "/admin/accounts"),
        ("PATCH", "/admin/accounts/acme"),
        ("POST", "/admin/accounts/acme/keys"),
        ("POST", "/admin/accounts/acme/packs"),
        ("PUT", "/admin/accounts/acme/overrides/burst"),
        ("POST", "/admin/blocks"),
        ("POST", "/admin/apps"),
        ("POST", "/admin/accounts/%00/packs"),
        ("PUT", "/admin/accounts/x/overrides/nope"),
    ]);
    runner(5_000)
        .run(&(routes, hostile_body()), |((method, uri), body)| {
            runtime.block_on(async {
                let response = admin_router(Arc::clone(&admin))
                    .oneshot(authorized(request(method, uri, body)))
                    .await
                    .unwrap();
                no_fault(&response)
            })
        })
        .unwrap();
}
