//! The answer to Envoy when envoyproxy/ratelimit's files decide: one status per descriptor,
//! in request order, from [`Gate::should_rate_limit`](crate::Gate::should_rate_limit)'s verdict.

use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::RateLimitOverride;
use envoy_types::pb::envoy::service::ratelimit::v3::RateLimitResponse;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::rate_limit::Unit as ProtoUnit;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::{
    DescriptorStatus as ProtoStatus, RateLimit,
};
use envoy_types::pb::envoy::r#type::v3::RateLimitUnit;
use envoy_types::pb::google::protobuf::Duration as ProtoDuration;
use tollgate_ratelimit_config::Unit;

use super::code;
use tollgate_gate::{DescriptorStatus, Verdict};

/// The response Envoy reads: the overall code and one status per descriptor, in order.
pub(super) fn response(verdict: Verdict) -> RateLimitResponse {
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

/// A descriptor's own `limit`, as its rule's numbers; `None` (the files' rule applies) when
/// its unit is unknown (`envoy.type.v3.RateLimitUnit` has no week).
pub(super) fn limit_override(limit: &RateLimitOverride) -> Option<(u32, Unit)> {
    let unit = match RateLimitUnit::try_from(limit.unit).ok()? {
        RateLimitUnit::Second => Unit::Second,
        RateLimitUnit::Minute => Unit::Minute,
        RateLimitUnit::Hour => Unit::Hour,
        RateLimitUnit::Day => Unit::Day,
        RateLimitUnit::Month => Unit::Month,
        RateLimitUnit::Year => Unit::Year,
        RateLimitUnit::Unknown => return None,
    };
    Some((limit.requests_per_unit, unit))
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
