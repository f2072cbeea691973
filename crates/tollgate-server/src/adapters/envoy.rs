//! Envoy's rate-limit service, `envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit`,
//! and `grpc.health.v1`, on the gRPC port. This file only maps protobuf in and out: the
//! decision is [`Gate::should_rate_limit`].

use std::sync::Arc;

use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::rate_limit::Unit as ProtoUnit;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::{
    Code, DescriptorStatus as ProtoStatus, RateLimit,
};
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_server::{
    RateLimitService, RateLimitServiceServer,
};
use envoy_types::pb::envoy::service::ratelimit::v3::{RateLimitRequest, RateLimitResponse};
use envoy_types::pb::google::protobuf::Duration as ProtoDuration;
use tollgate_core::Clock;
use tollgate_ratelimit_config::Unit;

use crate::App;
use crate::pipeline::{Descriptor, DescriptorStatus, NotDecided, Verdict};

/// The rate-limit service over the public port's [`App`] (its gate, its store).
#[derive(Debug)]
pub(crate) struct Envoy<C: Clock> {
    app: Arc<App<C>>,
}

/// The largest `ShouldRateLimit` request decoded, in bytes.
const MAX_MESSAGE: usize = 64 * 1024;

/// The gRPC port's services over `app`'s gate: `ShouldRateLimit` (see
/// [`Gate::should_rate_limit`](crate::Gate::should_rate_limit)) and `grpc.health.v1`
/// (`SERVING` for the server as a whole and for `envoy.service.ratelimit.v3.RateLimitService`),
/// as a router: `tollgate serve` serves it with the same accept loop, timeouts and connection
/// caps as its HTTP ports (HTTP/2 without TLS).
pub async fn grpc_router<C: Clock + 'static>(app: Arc<App<C>>) -> axum::Router {
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<RateLimitServiceServer<Envoy<C>>>()
        .await;
    // Envoy's requests are a few hundred bytes: a larger one is refused before it is decoded.
    let service = RateLimitServiceServer::new(Envoy { app }).max_decoding_message_size(MAX_MESSAGE);
    tonic::service::Routes::new(service)
        .add_service(health_service)
        .into_axum_router()
}

#[tonic::async_trait]
impl<C: Clock + 'static> RateLimitService for Envoy<C> {
    async fn should_rate_limit(
        &self,
        request: tonic::Request<RateLimitRequest>,
    ) -> Result<tonic::Response<RateLimitResponse>, tonic::Status> {
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
            })
            .collect();
        let decided = self
            .app
            .gate
            .should_rate_limit(&request.domain, &descriptors, request.hits_addend)
            .await;
        match decided {
            Ok(verdict) => Ok(tonic::Response::new(response(verdict))),
            Err(NotDecided::Invalid(reason)) => Err(tonic::Status::invalid_argument(reason)),
            // Envoy's `failure_mode_deny` decides what the request gets.
            Err(NotDecided::Unavailable) => Err(tonic::Status::unavailable(
                "the limit store cannot decide now",
            )),
        }
    }
}

/// The response Envoy reads: the overall code and one status per descriptor, in order.
fn response(verdict: Verdict) -> RateLimitResponse {
    RateLimitResponse {
        overall_code: code(verdict.over_limit),
        statuses: verdict.statuses.into_iter().map(status).collect(),
        ..RateLimitResponse::default()
    }
}

fn status(status: DescriptorStatus) -> ProtoStatus {
    ProtoStatus {
        code: code(status.over_limit),
        current_limit: status.limit.map(|limit| RateLimit {
            name: limit.name.map(String::from).unwrap_or_default(),
            requests_per_unit: limit.requests_per_unit,
            unit: unit(limit.unit) as i32,
        }),
        limit_remaining: status.remaining,
        duration_until_reset: status.reset_in.map(|reset| ProtoDuration {
            seconds: i64::try_from(reset.as_secs()).unwrap_or(i64::MAX),
            nanos: 0,
        }),
        quota: None,
    }
}

fn code(over_limit: bool) -> i32 {
    if over_limit {
        Code::OverLimit as i32
    } else {
        Code::Ok as i32
    }
}

fn unit(unit: Unit) -> ProtoUnit {
    match unit {
        Unit::Second => ProtoUnit::Second,
        Unit::Minute => ProtoUnit::Minute,
        Unit::Hour => ProtoUnit::Hour,
        Unit::Day => ProtoUnit::Day,
        Unit::Week => ProtoUnit::Week,
        Unit::Month => ProtoUnit::Month,
        Unit::Year => ProtoUnit::Year,
    }
}
