//! Heap allocations per admitted forward-auth decision, with one and with four limits:
//! `cargo bench -p tollgate-server --bench allocations`.
//!
//! Two figures each: the pipeline alone (the request's target parsed, resolved, decided and
//! shaped into a verdict: `Gate::decide` on facts an adapter has read), and forward-auth through
//! the router in process (axum's routing and extractors included, no socket). Counted by a
//! global allocator shared with the engine's bench.

#[path = "../../tollgate-core/benches/engine/alloc.rs"]
mod alloc;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use tollgate_core::ManualClock;
use tollgate_policy::{Policy, RequestFacts, Source};
use tollgate_server::{App, Gate, router};
use tower::ServiceExt;

#[global_allocator]
static COUNTING: alloc::Counting = alloc::Counting;

const ROUNDS: isize = 1_000;

fn policy(limits: usize) -> Policy {
    let mut text = String::from(
        "[identity]\napi_key = { header = \"X-Api-Key\" }\n[[accounts]]\nid = \"acme\"\nkeys = [\"acme-key\"]\n[[routes]]\napi = \"hello\"\nmatch = \"GET /hello/{name}\"\n",
    );
    let kinds = [
        "token_bucket = { rate = \"1000000000/s\", burst = 1000000000 }",
        "window = { max = 1000000000000, every = \"day\", align = \"calendar\", tz = \"UTC\" }",
        "window = { max = 100000000000, every = \"15m\" }",
        "sliding = { max = 1000000, every = \"1h\" }",
    ];
    for (i, kind) in kinds.iter().take(limits).enumerate() {
        text.push_str(&format!(
            "[[limits]]\nname = \"l{i}\"\n{kind}\nper = [\"account\", \"api\"]\n"
        ));
    }
    Policy::compile(&Source::new("alloc.toml", text)).expect("a valid policy")
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    println!("allocations per admitted forward-auth decision (mean of {ROUNDS}):");
    for limits in [1, 4] {
        let gate = Gate::new(policy(limits), ManualClock::new(1_767_225_600_000_000_000));
        let headers = [("x-api-key", "acme-key")];
        let decide = || {
            runtime.block_on(async {
                let target = gate
                    .policy()
                    .target_exact("GET", "/hello/world")
                    .expect("a path");
                let facts = RequestFacts {
                    method: "GET",
                    target: &target,
                    headers: &headers[..],
                    client_ip: None,
                    cost: None,
                    from_trusted_proxy: false,
                };
                assert!(gate.admit(&facts).await.is_ok());
            });
        };
        decide();
        let (pipeline, ()) = alloc::calls(|| (0..ROUNDS).for_each(|_| decide()));

        let app = Arc::new(App::new(
            Gate::new(policy(limits), ManualClock::new(1_767_225_600_000_000_000)),
            None,
            std::time::Duration::from_secs(1),
        ));
        let routes = router(app);
        let peer: SocketAddr = "127.0.0.1:40000".parse().expect("an address");
        let request = || {
            let mut request = Request::get("/v1/auth")
                .header("x-api-key", "acme-key")
                .header("x-forwarded-method", "GET")
                .header("x-forwarded-uri", "/hello/world")
                .body(Body::empty())
                .expect("a request");
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        };
        let ask = |request: Request<Body>| {
            runtime.block_on(async {
                let answer = routes.clone().oneshot(request).await.expect("an answer");
                assert_eq!(answer.status(), 200);
            });
        };
        ask(request());
        let requests: Vec<_> = (0..ROUNDS).map(|_| request()).collect();
        let (routed, ()) = alloc::calls(|| requests.into_iter().for_each(ask));
        println!(
            "  {limits} limit(s): pipeline {:.1}, through the router {:.1}",
            pipeline as f64 / ROUNDS as f64,
            routed as f64 / ROUNDS as f64,
        );
    }
}
