//! The layer's cost: the same axum app answered in process with and without it, one token
//! bucket that never runs dry: `cargo bench -p tollgate-tower --bench layer`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use criterion::Criterion;
use tollgate_core::SystemClock;
use tollgate_gate::Gate;
use tollgate_policy::{Policy, Source};
use tollgate_tower::RateLimitLayer;
use tower::ServiceExt;

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
name = "limit"
token_bucket = { rate = "1000000000/s", burst = 1000000000 }
per = ["account"]
"#;

fn layer(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let bare = Router::new().route("/hello/{name}", get(|| async { "hello" }));
    let policy = Policy::compile(&Source::new("policy.toml", POLICY)).expect("a valid policy");
    let limited = bare.clone().layer(RateLimitLayer::new(Arc::new(Gate::new(
        policy,
        SystemClock,
    ))));
    let ask = || {
        Request::get("/hello/world")
            .header("x-api-key", "acme-key")
            .body(Body::empty())
            .expect("a request")
    };
    let mut group = c.benchmark_group("axum-app");
    for (name, app) in [("without-layer", bare), ("with-layer", limited)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let answer = app.clone().oneshot(ask()).await.expect("an answer");
                    assert_eq!(answer.status(), 200);
                });
            });
        });
    }
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3))
        .configure_from_args();
    layer(&mut criterion);
    criterion.final_summary();
}
