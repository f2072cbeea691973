//! `rls_ok ADDRESS`: Envoy's rate-limit service answering every `ShouldRateLimit` OK, as bare as
//! tonic allows — the peer Tollgate's gRPC port is measured against (`scripts/bench-server`),
//! to tell what a decision costs apart from what gRPC costs.

use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::Code;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_server::{
    RateLimitService, RateLimitServiceServer,
};
use envoy_types::pb::envoy::service::ratelimit::v3::{RateLimitRequest, RateLimitResponse};

/// Says OK to everything, reading nothing.
struct AlwaysOk;

#[tonic::async_trait]
impl RateLimitService for AlwaysOk {
    async fn should_rate_limit(
        &self,
        _: tonic::Request<RateLimitRequest>,
    ) -> Result<tonic::Response<RateLimitResponse>, tonic::Status> {
        Ok(tonic::Response::new(RateLimitResponse {
            overall_code: Code::Ok.into(),
            ..RateLimitResponse::default()
        }))
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let address = tollgate_bench::address(std::env::args().nth(1))?;
    tonic::transport::Server::builder()
        .add_service(RateLimitServiceServer::new(AlwaysOk))
        .serve(address)
        .await
        .map_err(|error| format!("cannot serve on {address}: {error}"))
}
