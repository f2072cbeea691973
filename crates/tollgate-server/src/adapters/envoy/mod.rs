//! Envoy's rate-limit service, `envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit`,
//! its external authorization, `envoy.service.auth.v3.Authorization/Check`, and
//! `grpc.health.v1`, on the gRPC port. These files only map protobuf in and out:
//!
//! - `rules.rs` — with `--ratelimit-config`, envoyproxy/ratelimit's files decide
//!   ([`Gate::should_rate_limit`]);
//! - `policy.rs` — without, the descriptors describe one request that the policy file's
//!   pipeline decides, as the check API would;
//! - `ext_authz.rs` — the request Envoy holds, decided by the policy file and answered with
//!   Tollgate's own statuses, headers and bodies.

mod ext_authz;
mod policy;
mod rules;

use std::sync::Arc;

use envoy_types::pb::envoy::service::auth::v3::authorization_server::AuthorizationServer;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::Code;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_server::{
    RateLimitService, RateLimitServiceServer,
};
use envoy_types::pb::envoy::service::ratelimit::v3::{RateLimitRequest, RateLimitResponse};
use tollgate_core::Clock;

use crate::App;
use tollgate_gate::{Descriptor, NotDecided, validate};

/// Envoy's services over the public port's [`App`] (its gate, its store).
#[derive(Debug)]
pub(crate) struct Envoy<C: Clock> {
    app: Arc<App<C>>,
}

/// The largest `ShouldRateLimit` or `Check` request decoded, in bytes.
/// Envoy copies request headers (60 KiB at most by default) into descriptors, a path or a key
/// into several, and all of them into a `Check`: room for that, and a bound all the same.
const MAX_MESSAGE: usize = 1024 * 1024;

/// The gRPC port's services over `app`'s gate: `ShouldRateLimit` (see
/// [`Gate::should_rate_limit`](crate::Gate::should_rate_limit)), ext_authz's `Check` (decided
/// by the policy file) and `grpc.health.v1` (`SERVING` for the server as a whole, for
/// `envoy.service.ratelimit.v3.RateLimitService` and for `envoy.service.auth.v3.Authorization`),
/// as a router: `tollgate serve` serves it with the same accept loop, timeouts and connection
/// caps as its HTTP ports (HTTP/2 without TLS).
pub async fn grpc_router<C: Clock + 'static>(app: Arc<App<C>>) -> axum::Router {
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<RateLimitServiceServer<Envoy<C>>>()
        .await;
    health.set_serving::<AuthorizationServer<Envoy<C>>>().await;
    // Envoy's requests are a few hundred bytes: one past the bound is refused undecoded.
    let authorization = AuthorizationServer::new(Envoy {
        app: Arc::clone(&app),
    })
    .max_decoding_message_size(MAX_MESSAGE);
    let service = RateLimitServiceServer::new(Envoy { app }).max_decoding_message_size(MAX_MESSAGE);
    tonic::service::Routes::new(service)
        .add_service(authorization)
        .add_service(health_service)
        .into_axum_router()
}

#[tonic::async_trait]
impl<C: Clock + 'static> RateLimitService for Envoy<C> {
    async fn should_rate_limit(
        &self,
        request: tonic::Request<RateLimitRequest>,
    ) -> Result<tonic::Response<RateLimitResponse>, tonic::Status> {
        let peer = request.remote_addr().map(|peer| peer.ip());
        let request = request.into_inner();
        let descriptors: Vec<Descriptor<'_>> = request
            .descriptors
            .iter()
            .map(|descriptor| Descriptor {
                entries: descriptor
                    .entries
                    .iter()
                    .map(|entry| (entry.key.as_str(), entry.value.as_str()))
                    .collect(),
                hits: descriptor.hits_addend.as_ref().map(|hits| hits.value),
                limit: descriptor.limit.as_ref().and_then(rules::limit_override),
            })
            .collect();
        let decided = if self.app.gate.ratelimit_config().is_some() {
            self.app
                .gate
                .should_rate_limit(&request.domain, &descriptors, request.hits_addend)
                .await
                .map(rules::response)
        } else {
            // `should_rate_limit` checks the same on its own.
            validate(&request.domain, &descriptors).map_err(status)?;
            policy::decide(&self.app, peer, &descriptors, request.hits_addend).await
        };
        decided.map(tonic::Response::new).map_err(status)
    }
}

/// The gRPC status of a request not decided.
fn status(not_decided: NotDecided) -> tonic::Status {
    match not_decided {
        NotDecided::Invalid(reason) => tonic::Status::invalid_argument(reason),
        // Envoy's `failure_mode_deny` decides what the request gets.
        NotDecided::Unavailable => tonic::Status::unavailable("the limit store cannot decide now"),
    }
}

/// A status code: `OVER_LIMIT` or `OK`.
fn code(over_limit: bool) -> i32 {
    if over_limit {
        Code::OverLimit as i32
    } else {
        Code::Ok as i32
    }
}
