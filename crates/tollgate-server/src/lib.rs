//! The `tollgate` server: one compiled policy, one code path, three ways in over HTTP, and
//! Envoy's rate-limit service over gRPC.
//!
//! - **Check API** — `POST /v1/check` with `{"method", "path", "headers", "client_ip"?, "cost"?}`
//!   answers the decision as JSON with HTTP 200, allowed or not.
//! - **Forward-auth** — `GET /v1/auth` reads the original method and URI from
//!   `X-Forwarded-Method`/`X-Forwarded-Uri` (Traefik, Caddy) or `X-Original-Method`/
//!   `X-Original-URI` (nginx `auth_request`) and answers 200 or the refusal, with the headers.
//! - **Gateway** — every other path is decided and, when admitted, forwarded to the upstream
//!   with its body streamed both ways; a refusal never reaches the upstream.
//! - **Envoy** — `envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit` and
//!   `grpc.health.v1` on their own port ([`grpc_router`]), deciding Envoy's descriptors by
//!   envoyproxy/ratelimit's own YAML files ([`Gate::should_rate_limit`]): every descriptor of a
//!   request at once, all or nothing, with a status per descriptor.
//!
//! Every adapter reads its request through `tollgate-http` (or, for Envoy, its descriptors),
//! builds the same [`RequestFacts`](tollgate_policy::RequestFacts) and gets back an
//! [`Admission`] (which owns what the request took, and gives it back when settled or dropped)
//! or a [`Refusal`] from [`Gate::admit`] — the pipeline of the `tollgate-gate` crate, which the
//! `tollgate-tower` layer and `tollgate replay` run too. This crate wires the ports, the
//! adapters, the admin API, the catalog and start-up around it.
//!
//! ```
//! use tollgate_core::ManualClock;
//! use tollgate_policy::{Policy, RequestFacts, Source};
//! use tollgate_gate::Gate;
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
//! let target = policy.target("GET", "/hello").unwrap();
//! let gate = Gate::new(policy, ManualClock::new(0));
//! let facts = RequestFacts { method: "GET", target: &target, headers: &[][..], client_ip: None, cost: None, from_trusted_proxy: false };
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! assert!(gate.admit(&facts).await.is_ok());
//! let refused = gate.admit(&facts).await.unwrap_err();
//! assert_eq!((refused.status, refused.retry_after), (429, Some(60)));
//! # });
//! ```

#![forbid(unsafe_code)]

mod adapters;
mod admin;
pub mod admin_cli;
mod alerts;
mod app;
mod history;
mod listen;
mod observe;
mod ports;
mod public;
pub mod replay;
mod respond;
mod secrets;
mod serve;

pub use adapters::envoy::grpc_router;
pub use admin::{Admin, admin_router};
pub use alerts::Deliverer;
pub use app::App;
pub use observe::{LogFormat, init_logs};
pub use public::{PublicPort, router};
pub use serve::{ServeOptions, merge_domain_config, redis_check, serve};
pub use tollgate_gate::{
    ACCOUNTS_PER_HOUR, Admission, CurrentLimit, DURABILITY_WAIT, Descriptor, DescriptorStatus,
    Durability, Families, Gate, Held, Journal, JournalFigures, LimitReport, MAX_HINTS, NotDecided,
    NotDurable, Refusal, Report, SHADOW_HOURS, ShadowAccount, ShadowLimit, ShadowLog, ShadowReport,
    Shared, SharedHealth, UsageCounter, Verdict, day_of,
};
pub use tollgate_http::edge;
