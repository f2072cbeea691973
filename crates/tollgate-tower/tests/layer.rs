//! The layer over an axum app, driven with `oneshot` on a manual clock: what is admitted
//! reaches the app with the policy's headers; what is refused never does; refunds and slots
//! follow the app's answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use http_body_util::BodyExt;
use tollgate_core::ManualClock;
use tollgate_gate::Gate;
use tollgate_policy::{Policy, Source};
use tollgate_tower::RateLimitLayer;
use tower::ServiceExt;

/// 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600_000_000_000;

const POLICY: &str = r#"
[responses]
headers = ["ietf", "x-ratelimit"]

[identity]
api_key = { header = "X-Api-Key" }

[[accounts]]
id = "acme"
keys = ["acme-key"]

[[routes]]
api = "machines"
match = "GET /machines/{id}"

[[routes]]
api = "health"
match = "GET /healthz"
exempt = true

[[limits]]
name = "per-minute"
window = { max = 2, every = "1m" }
per = ["account"]
refund = ["5xx"]
"#;

struct App {
    router: Router,
    clock: ManualClock,
    served: Arc<AtomicUsize>,
}

fn app(policy: &str) -> App {
    let clock = ManualClock::new(T0);
    let policy = Policy::compile(&Source::new("policy.toml", policy)).unwrap();
    let gate = Arc::new(Gate::new(policy, clock.clone()));
    let served = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&served);
    let router = Router::new()
        .route(
            "/machines/{id}",
            get(
                move |axum::extract::Path(id): axum::extract::Path<String>| {
                    count.fetch_add(1, Ordering::SeqCst);
                    async move {
                        if id == "broken" {
                            (StatusCode::INTERNAL_SERVER_ERROR, "down")
                        } else {
                            (StatusCode::OK, "machine")
                        }
                    }
                },
            ),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/unrouted", get(|| async { "free" }))
        .layer(RateLimitLayer::new(gate));
    App {
        router,
        clock,
        served,
    }
}

async fn get_with(app: &App, path: &str, key: &str) -> (u16, axum::http::HeaderMap, String) {
    let request = Request::get(path)
        .header("x-api-key", key)
        .body(Body::empty())
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn admitted_requests_carry_the_policys_headers_and_refusals_never_reach_the_app() {
    let app = app(POLICY);
    let (status, headers, body) = get_with(&app, "/machines/1", "acme-key").await;
    assert_eq!((status, body.as_str()), (200, "machine"));
    assert_eq!(headers["ratelimit-policy"], "\"per-minute\";q=2");
    assert_eq!(headers["ratelimit"], "\"per-minute\";r=1;t=60");
    assert_eq!(headers["x-ratelimit-remaining"], "1");
    assert_eq!(get_with(&app, "/machines/2", "acme-key").await.0, 200);
    let (status, headers, body) = get_with(&app, "/machines/3", "acme-key").await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "60");
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["limit"], "per-minute");
    assert_eq!(
        app.served.load(Ordering::SeqCst),
        2,
        "the refusal never reached the app"
    );

    // Admitted again exactly when the minute turns, not a nanosecond before.
    app.clock
        .advance(Duration::from_secs(60) - Duration::from_nanos(1));
    assert_eq!(get_with(&app, "/machines/4", "acme-key").await.0, 429);
    app.clock.advance(Duration::from_nanos(1));
    assert_eq!(get_with(&app, "/machines/4", "acme-key").await.0, 200);
}

#[tokio::test]
async fn an_answer_the_limit_refunds_gives_its_unit_back() {
    let app = app(POLICY);
    for _ in 0..5 {
        let (status, _, body) = get_with(&app, "/machines/broken", "acme-key").await;
        assert_eq!((status, body.as_str()), (500, "down"));
    }
    let (_, headers, _) = get_with(&app, "/machines/1", "acme-key").await;
    assert_eq!(
        headers["x-ratelimit-remaining"], "1",
        "the five 500s were refunded"
    );
}

#[tokio::test]
async fn unknown_keys_exempt_routes_and_unrouted_paths() {
    let refusing = app(POLICY);
    let app = &refusing;
    let (status, _, body) = get_with(app, "/machines/1", "stolen").await;
    assert_eq!(status, 401, "{body}");
    let (status, headers, body) = get_with(app, "/healthz", "").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    assert!(headers.get("ratelimit").is_none());
    // A path no route of the policy names: refused as the gateway refuses it...
    assert_eq!(get_with(app, "/unrouted", "acme-key").await.0, 404);
    // ...or served uncounted with `unmatched = "pass"`.
    let passing = self::app(&format!("[server]\nunmatched = \"pass\"\n{POLICY}"));
    let (status, _, body) = get_with(&passing, "/unrouted", "acme-key").await;
    assert_eq!((status, body.as_str()), (200, "free"));
    assert_eq!(get_with(app, "/machines/%2F", "acme-key").await.0, 400);
}

#[tokio::test(start_paused = true)]
async fn a_request_a_bucket_lets_wait_reaches_the_app_at_its_turn() {
    // A delay takes no refund: a turn given back after later ones would start two in one.
    let policy = POLICY
        .replace(
            r#"window = { max = 2, every = "1m" }"#,
            r#"token_bucket = { rate = "1/2s", burst = 1 }
delay = { max = "1s", queue = 1 }"#,
        )
        .replace("refund = [\"5xx\"]\n", "");
    let app = app(&policy);
    assert_eq!(get_with(&app, "/machines/1", "acme-key").await.0, 200);
    app.clock.advance(Duration::from_millis(1_200));
    let started = tokio::time::Instant::now();
    assert_eq!(get_with(&app, "/machines/2", "acme-key").await.0, 200);
    assert_eq!(
        started.elapsed(),
        Duration::from_millis(800),
        "held until its turn"
    );
    assert_eq!(app.served.load(Ordering::SeqCst), 2);
    let (status, headers, _) = get_with(&app, "/machines/3", "acme-key").await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "3");
    assert_eq!(app.served.load(Ordering::SeqCst), 2);
}
