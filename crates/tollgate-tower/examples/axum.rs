//! An axum app behind a Tollgate policy, in process:
//! `cargo run -p tollgate-tower --example axum`, then
//! `curl -i -H 'X-Api-Key: acme-key' http://127.0.0.1:3000/hello/world` a few times.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use tollgate_core::SystemClock;
use tollgate_gate::Gate;
use tollgate_policy::{Policy, Source};
use tollgate_tower::RateLimitLayer;

const POLICY: &str = r#"
[identity]
api_key = { header = "X-Api-Key" }

[[accounts]]
id = "acme"
keys = ["acme-key"]

[[routes]]
api = "hello"
match = "GET /hello/{name}"

[[limits]]
name = "per-second"
token_bucket = { rate = "1/s", burst = 3 }
per = ["account"]

[[limits]]
name = "daily"
window = { max = 1000, every = "day", align = "calendar", tz = "UTC" }
per = ["account"]
"#;

/// The app: one route, limited as the policy says.
fn app() -> Router {
    let policy = Policy::compile(&Source::new("policy.toml", POLICY)).expect("a valid policy");
    let gate = Arc::new(Gate::new(policy, SystemClock));
    Router::new()
        .route("/hello/{name}", get(|| async { "hello\n" }))
        .layer(RateLimitLayer::new(gate))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://127.0.0.1:3000");
    // With the peer's address, limits partitioned by address see it.
    axum::serve(
        listener,
        app().into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await
}

#[cfg(test)]
mod tests {
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn a_burst_of_three_then_a_refusal() {
        let app = app();
        let ask = || {
            axum::http::Request::get("/hello/world")
                .header("x-api-key", "acme-key")
                .body(axum::body::Body::empty())
                .unwrap()
        };
        for _ in 0..3 {
            assert_eq!(app.clone().oneshot(ask()).await.unwrap().status(), 200);
        }
        let refused = app.oneshot(ask()).await.unwrap();
        assert_eq!(refused.status(), 429);
        assert!(refused.headers().contains_key("retry-after"));
    }
}
