//! The adapters of the public port (and of the gRPC port): each turns what its caller sends into
//! [`RequestFacts`](tollgate_policy::RequestFacts), and an admission or a refusal into its own
//! reply.
//!
//! - `forward_auth.rs` — `GET /v1/auth`, for nginx and Caddy (and Traefik);
//! - `check.rs` — `POST /v1/check`, the decision as JSON;
//! - `gateway.rs` — every other path, forwarded to the upstream when admitted;
//! - `portal/` — a customer's own quotas, as JSON or a page with a sign-in form;
//! - `envoy/` — Envoy's gRPC rate-limit service (decided by the policy file or by
//!   envoyproxy/ratelimit's files), its external authorization (`ext_authz.rs`, by the policy
//!   file) and gRPC health, on their own port;
//! - `body.rs` — a request body read whole, bounded in size and time;
//! - `upstream_body.rs` — an upstream's response body, holding the request's slots until the
//!   upstream has sent it all.

mod body;
pub(crate) mod check;
pub(crate) mod envoy;
pub(crate) mod forward_auth;
pub(crate) mod gateway;
pub(crate) mod portal;
mod upstream_body;

pub(crate) use tollgate_http::{Head, HttpHeaders, forwarded_for};
