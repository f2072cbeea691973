//! Requests no route matches (`server.unmatched`), and exempt routes.

use serde_json::json;

use crate::support::Tollgate;
use crate::{ACME, POLICY};

fn ask(method: &str, path: &str) -> serde_json::Value {
    json!({ "method": method, "path": path, "headers": { "x-api-key": "acme-key" } })
}

#[tokio::test]
async fn unmatched_is_refused_by_default_403_from_forward_auth() {
    let tollgate = Tollgate::start(POLICY);
    for (method, path) in [("GET", "/elsewhere"), ("POST", "/healthz"), ("GET", "/")] {
        let reply = tollgate.auth(method, path, &[ACME]).await;
        assert_eq!(reply.status, 403, "{method} {path}");
        assert_eq!(
            reply.json(),
            json!({ "error": "no_route", "message": "no route matches this method and path" })
        );
        assert_eq!(reply.header("tollgate-refusal"), Some(reply.body.as_str()));
        assert_eq!(reply.limit_headers(), []);
    }
}

#[tokio::test]
async fn unmatched_is_status_404_in_the_check_api() {
    let tollgate = Tollgate::start(POLICY);
    let answer = tollgate.check(ask("GET", "/elsewhere")).await;
    assert_eq!(
        answer,
        json!({
            "allowed": false,
            "status": 404,
            "retry_after": null,
            "api": null,
            "account": null,
            "app": null,
            "plan": null,
            "limits": [],
            "headers": {},
        })
    );
}

#[tokio::test]
async fn unmatched_pass_is_200_and_allowed_uncounted() {
    let passing = format!("[server]\nunmatched = \"pass\"\n{POLICY}");
    let tollgate = Tollgate::start(&passing);
    for _ in 0..3 {
        let reply = tollgate.auth("GET", "/elsewhere", &[ACME]).await;
        assert_eq!((reply.status, reply.limit_headers()), (200, vec![]));
        let answer = tollgate.check(ask("GET", "/elsewhere")).await;
        assert_eq!(
            (
                &answer["allowed"],
                &answer["status"],
                &answer["api"],
                &answer["limits"]
            ),
            (&json!(true), &json!(200), &json!(null), &json!([]))
        );
    }
    let counted = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(
        counted.header("x-rate-limit-remaining"),
        Some("1"),
        "the unmatched requests counted nothing"
    );
}

#[tokio::test]
async fn an_exempt_route_is_never_refused_and_shows_no_limit() {
    let tollgate = Tollgate::start(POLICY);
    for _ in 0..5 {
        let reply = tollgate.auth("GET", "/healthz", &[ACME]).await;
        assert_eq!((reply.status, reply.body.as_str()), (200, ""));
        assert_eq!(reply.limit_headers(), []);
    }
    let answer = tollgate.check(ask("GET", "/healthz")).await;
    assert_eq!(
        (
            &answer["allowed"],
            &answer["status"],
            &answer["api"],
            &answer["limits"],
            &answer["headers"]
        ),
        (
            &json!(true),
            &json!(200),
            &json!("health"),
            &json!([]),
            &json!({})
        )
    );
    let machines = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(machines.header("x-rate-limit-remaining"), Some("1"));
}

#[tokio::test]
async fn an_exempt_route_is_served_to_an_unknown_key_too() {
    let tollgate = Tollgate::start(POLICY);
    let reply = tollgate
        .auth("GET", "/healthz", &[("X-Api-Key", "guess")])
        .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn head_is_served_by_a_get_route() {
    let tollgate = Tollgate::start(POLICY);
    let head = tollgate.auth("HEAD", "/healthz", &[]).await;
    assert_eq!(head.status, 200, "GET /healthz serves HEAD");
}

#[tokio::test]
async fn tollgate_paths_answer_their_methods_only_and_others_reach_the_gateway() {
    let tollgate = Tollgate::start(POLICY);
    let send = |method: &str, path: &str| {
        let request = crate::support::request(method, path, &[ACME], axum::body::Body::empty());
        tollgate.send(request)
    };
    for (method, path, allow) in [
        ("POST", "/v1/auth", "GET,HEAD"),
        ("DELETE", "/v1/auth", "GET,HEAD"),
        ("GET", "/v1/check", "POST"),
        ("POST", "/_tollgate/quota", "GET,HEAD"),
    ] {
        let reply = send(method, path).await;
        assert_eq!(
            (reply.status, reply.header("allow")),
            (405, Some(allow)),
            "{method} {path}"
        );
    }
    // HEAD is forward-auth too: a proxy asking without a URI gets forward-auth's 400.
    assert_eq!(send("HEAD", "/v1/auth").await.status, 400);
    // Other spellings are no Tollgate path: the gateway finds no route for them.
    for path in ["/v1/auth/", "//v1/auth", "/v1/%61uth", "/V1/auth"] {
        assert_eq!(send("GET", path).await.status, 404, "{path}");
    }
}

#[tokio::test]
async fn a_request_without_its_peer_address_is_a_500_not_a_shared_address() {
    use tower::ServiceExt;
    let app = std::sync::Arc::new(tollgate_server::App::new(
        tollgate_server::Gate::new(
            crate::support::policy(POLICY),
            tollgate_core::ManualClock::new(crate::support::T0),
        ),
        None,
        std::time::Duration::from_secs(1),
    ));
    let request = crate::support::request(
        "GET",
        "/v1/auth",
        &[("x-forwarded-method", "GET"), ("x-forwarded-uri", "/x")],
        axum::body::Body::empty(),
    );
    let reply = tollgate_server::router(app).oneshot(request).await.unwrap();
    assert_eq!(reply.status(), 500);
}
