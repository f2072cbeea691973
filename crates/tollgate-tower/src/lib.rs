//! A Tollgate policy applied in process to any axum or hyper service: [`RateLimitLayer`] wraps
//! a service in [`RateLimit`], which decides each request through the same pipeline as the
//! `tollgate` server (the same reading of the path and headers, the same limits, headers and
//! refusal bodies), over the embedded memory store or Redis shared by many instances (see
//! [`Gate::new`] and [`Gate::shared`]).
//!
//! An admitted request reaches the service with what it took held until its response body is
//! done (concurrency slots), and the limits that refund some statuses give back their units
//! when the service answers with one of them. A refused request never reaches the service.
//!
//! ```
//! use std::sync::Arc;
//!
//! use axum::{Router, routing::get};
//! use tollgate_core::ManualClock;
//! use tollgate_policy::{Policy, Source};
//! use tollgate_gate::Gate;
//! use tollgate_tower::RateLimitLayer;
//! use tower::ServiceExt;
//!
//! let policy = Policy::compile(&Source::new("p.toml", r#"
//!     [[routes]]
//!     api = "hello"
//!     match = "GET /hello"
//!
//!     [[limits]]
//!     name = "global"
//!     window = { max = 1, every = "1m" }
//! "#)).unwrap();
//! let gate = Arc::new(Gate::new(policy, ManualClock::new(0)));
//! let app = Router::new()
//!     .route("/hello", get(|| async { "hello" }))
//!     .layer(RateLimitLayer::new(gate));
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let ask = || axum::http::Request::get("/hello").body(axum::body::Body::empty()).unwrap();
//! assert_eq!(app.clone().oneshot(ask()).await.unwrap().status(), 200);
//! let refused = app.oneshot(ask()).await.unwrap();
//! assert_eq!(refused.status(), 429);
//! assert_eq!(refused.headers()["retry-after"], "60");
//! # });
//! ```

#![forbid(unsafe_code)]

mod layer;
mod service;

pub use layer::RateLimitLayer;
pub use service::RateLimit;
pub use tollgate_gate::Gate;
