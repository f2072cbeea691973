//! Envoy's rate-limit service in process: the tonic client of envoy-types talking to the gRPC
//! router with no socket, over envoyproxy/ratelimit's YAML on a manual clock. Every status is
//! checked field by field: code, current limit, remaining, time to reset.

use std::sync::Arc;
use std::time::Duration;

use envoy_types::pb::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::Entry;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::rate_limit::Unit;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::{Code, RateLimit};
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_client::RateLimitServiceClient;
use envoy_types::pb::envoy::service::ratelimit::v3::{RateLimitRequest, RateLimitResponse};
use tollgate_core::{ManualClock, Nanos};
use tollgate_policy::Source;
use tollgate_ratelimit_config::RateLimitConfig;
use tollgate_server::{App, Gate, grpc_router};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::{T0, policy, rls_request};

/// envoyproxy/ratelimit's own format, every kind of rule once.
const RULES: &str = r"
domain: edge
descriptors:
  - key: user
    rate_limit:
      unit: minute
      requests_per_unit: 3
  - key: path
    value: /reports
    rate_limit:
      name: reports
      unit: hour
      requests_per_unit: 5
  - key: plan
    value: vip
    rate_limit:
      name: vip
      unit: hour
      requests_per_unit: 100
      replaces:
        - name: reports
  - key: trial
    rate_limit:
      unit: minute
      requests_per_unit: 1
    shadow_mode: true
  - key: health
    rate_limit:
      unlimited: true
  - key: banned
    rate_limit:
      unit: day
      requests_per_unit: 0
";

/// A descriptor's entries, `(key, value)`.
type Entries<'a> = &'a [(&'a str, &'a str)];

/// The gRPC router over a gate on a manual clock, with `RULES` loaded.
struct Rls {
    client: RateLimitServiceClient<axum::Router>,
    router: axum::Router,
    clock: ManualClock,
    app: Arc<App<ManualClock>>,
}

impl Rls {
    async fn start(policy_text: &str, now: Nanos) -> Self {
        let clock = ManualClock::new(now);
        let gate = Gate::new(policy(policy_text), clock.clone());
        let config = RateLimitConfig::compile(&[Source::new("edge.yaml", RULES)])
            .unwrap_or_else(|errors| panic!("{errors}"));
        gate.set_ratelimit_config(config);
        let app = Arc::new(App::new(gate, None, Duration::from_secs(30)));
        let router = grpc_router(Arc::clone(&app)).await;
        Self {
            client: RateLimitServiceClient::new(router.clone()),
            router,
            clock,
            app,
        }
    }

    /// `descriptors` (each its entries and its own hits) to domain `edge`, with request `hits`.
    async fn ask(
        &mut self,
        descriptors: &[(Entries<'_>, Option<u64>)],
        hits: u32,
    ) -> Result<RateLimitResponse, tonic::Status> {
        let request = rls_request("edge", descriptors.iter().copied(), hits);
        self.client
            .should_rate_limit(request)
            .await
            .map(tonic::Response::into_inner)
    }

    /// One descriptor of one entry, one hit.
    async fn one(&mut self, key: &str, value: &str) -> RateLimitResponse {
        self.ask(&[(&[(key, value)], None)], 0).await.unwrap()
    }
}

/// A status as `(code, current limit, remaining, seconds to reset)`.
type Status = (Code, Option<(u32, Unit, &'static str)>, u32, Option<i64>);

fn statuses(response: &RateLimitResponse) -> Vec<Status> {
    response
        .statuses
        .iter()
        .map(|status| {
            let limit = status.current_limit.as_ref().map(|limit: &RateLimit| {
                let name = match limit.name.as_str() {
                    "" => "",
                    "reports" => "reports",
                    "vip" => "vip",
                    other => panic!("a limit named {other:?}"),
                };
                (limit.requests_per_unit, limit.unit(), name)
            });
            let reset = status.duration_until_reset.map(|reset| {
                assert_eq!(reset.nanos, 0, "whole seconds");
                reset.seconds
            });
            (status.code(), limit, status.limit_remaining, reset)
        })
        .collect()
}

const MINUTE: Option<(u32, Unit, &str)> = Some((3, Unit::Minute, ""));
const REPORTS: Option<(u32, Unit, &str)> = Some((5, Unit::Hour, "reports"));

#[tokio::test]
async fn ok_then_over_limit_at_the_exact_count_and_ok_in_the_next_window() {
    let mut rls = Rls::start("", T0).await;
    for remaining in [2, 1, 0] {
        let response = rls.one("user", "alice").await;
        assert_eq!(response.overall_code(), Code::Ok);
        assert_eq!(
            statuses(&response),
            [(Code::Ok, MINUTE, remaining, Some(60))]
        );
    }
    rls.clock.advance(Duration::from_millis(59_500));
    let refused = rls.one("user", "alice").await;
    assert_eq!(refused.overall_code(), Code::OverLimit);
    // Half a second before the window ends: told to wait one whole second.
    assert_eq!(statuses(&refused), [(Code::OverLimit, MINUTE, 0, Some(1))]);
    // Another user has a counter of its own.
    assert_eq!(rls.one("user", "bob").await.overall_code(), Code::Ok);
    rls.clock.advance(Duration::from_millis(500));
    let next = rls.one("user", "alice").await;
    assert_eq!(statuses(&next), [(Code::Ok, MINUTE, 2, Some(60))]);
}

#[tokio::test]
async fn each_descriptor_has_its_status_in_request_order() {
    let mut rls = Rls::start("", T0).await;
    rls.clock.advance(Duration::from_secs(15));
    let user: Entries<'_> = &[("user", "carol")];
    let unknown: Entries<'_> = &[("country", "fr")];
    let reports: Entries<'_> = &[("path", "/reports")];
    let response = rls
        .ask(&[(reports, None), (unknown, None), (user, None)], 0)
        .await
        .unwrap();
    assert_eq!(response.overall_code(), Code::Ok);
    assert_eq!(
        statuses(&response),
        [
            (Code::Ok, REPORTS, 4, Some(3_585)),
            (Code::Ok, None, 0, None),
            (Code::Ok, MINUTE, 2, Some(45)),
        ]
    );
    // A domain without files: every descriptor OK, none limited.
    let mut request = RateLimitRequest {
        domain: "elsewhere".to_owned(),
        ..RateLimitRequest::default()
    };
    request.descriptors.push(RateLimitDescriptor {
        entries: vec![Entry {
            key: "user".to_owned(),
            value: "carol".to_owned(),
        }],
        ..RateLimitDescriptor::default()
    });
    let elsewhere = rls.client.should_rate_limit(request).await.unwrap();
    assert_eq!(statuses(elsewhere.get_ref()), [(Code::Ok, None, 0, None)]);
}

#[tokio::test]
async fn hits_addend_counts_on_the_request_and_per_descriptor_and_zero_only_looks() {
    let mut rls = Rls::start("", T0).await;
    let dave: Entries<'_> = &[("user", "dave")];
    let look = |rls_response: RateLimitResponse| statuses(&rls_response)[0];
    // Two hits on the request.
    let two = rls.ask(&[(dave, None)], 2).await.unwrap();
    assert_eq!(look(two), (Code::Ok, MINUTE, 1, Some(60)));
    // 0 on the descriptor looks, counting nothing, and overrides the request's hits.
    let peek = rls.ask(&[(dave, Some(0))], 2).await.unwrap();
    assert_eq!(look(peek), (Code::Ok, MINUTE, 1, Some(60)));
    // Two more do not fit: refused, and nothing is taken.
    let over = rls.ask(&[(dave, Some(2))], 0).await.unwrap();
    assert_eq!(over.overall_code(), Code::OverLimit);
    assert_eq!(look(over), (Code::OverLimit, MINUTE, 1, Some(60)));
    let last = rls.ask(&[(dave, Some(1))], 5).await.unwrap();
    assert_eq!(look(last), (Code::Ok, MINUTE, 0, Some(60)));
    // A look at a spent window says it is over.
    let spent = rls.ask(&[(dave, Some(0))], 0).await.unwrap();
    assert_eq!(spent.overall_code(), Code::OverLimit);
    assert_eq!(look(spent), (Code::OverLimit, MINUTE, 0, Some(60)));
    // More hits than the limit never fit.
    let never = rls.ask(&[(&[("user", "erin")], None)], 4).await.unwrap();
    assert_eq!(look(never), (Code::OverLimit, MINUTE, 3, Some(60)));
}

#[tokio::test]
async fn a_refused_request_takes_nothing_from_its_other_descriptors() {
    let mut rls = Rls::start("", T0).await;
    for _ in 0..3 {
        rls.one("user", "frank").await;
    }
    let reports: Entries<'_> = &[("path", "/reports")];
    let frank: Entries<'_> = &[("user", "frank")];
    let refused = rls.ask(&[(reports, None), (frank, None)], 0).await.unwrap();
    assert_eq!(refused.overall_code(), Code::OverLimit);
    assert_eq!(
        statuses(&refused),
        [
            (Code::Ok, REPORTS, 5, Some(3_600)),
            (Code::OverLimit, MINUTE, 0, Some(60)),
        ]
    );
    // The reports window is whole: the refusal took nothing from it.
    let alone = rls.one("path", "/reports").await;
    assert_eq!(statuses(&alone), [(Code::Ok, REPORTS, 4, Some(3_600))]);
}

#[tokio::test]
async fn shadow_mode_counts_but_never_refuses() {
    let mut rls = Rls::start("", T0).await;
    let shadow = Some((1, Unit::Minute, ""));
    let first = rls.one("trial", "grace").await;
    assert_eq!(statuses(&first), [(Code::Ok, shadow, 0, Some(60))]);
    // Over its limit: reported with nothing remaining, answered OK.
    let second = rls.one("trial", "grace").await;
    assert_eq!(second.overall_code(), Code::Ok);
    assert_eq!(statuses(&second), [(Code::Ok, shadow, 0, Some(60))]);
    // A request refused by an enforced rule counts nothing in its shadow rules.
    for _ in 0..3 {
        rls.one("user", "heidi").await;
    }
    let trial: Entries<'_> = &[("trial", "heidi")];
    let heidi: Entries<'_> = &[("user", "heidi")];
    let refused = rls.ask(&[(trial, None), (heidi, None)], 0).await.unwrap();
    assert_eq!(refused.overall_code(), Code::OverLimit);
    assert_eq!(statuses(&refused)[0], (Code::Ok, shadow, 1, Some(60)));
    assert_eq!(
        statuses(&rls.one("trial", "heidi").await),
        [(Code::Ok, shadow, 0, Some(60))]
    );
}

#[tokio::test]
async fn envoyproxy_ratelimit_s_statistics_by_its_prometheus_names() {
    let mut rls = Rls::start("", T0).await;
    for _ in 0..5 {
        rls.one("user", "alice").await;
    }
    for _ in 0..2 {
        rls.one("trial", "t").await;
    }
    rls.one("banned", "b").await;
    let mut page = tollgate_gate::Exposition::default();
    rls.app.gate.rule_stats().write(&mut page);
    let text = page.into_text();
    let stat = |name: &str, key: &str| {
        let series =
            format!("ratelimit_service_rate_limit_{name}{{domain=\"edge\",key1=\"{key}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(series.as_str()))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
            .parse::<u64>()
            .unwrap()
    };
    // 3 a minute: 3 within (the third past the threshold of 2, so near), then 2 over.
    let user = [
        "total_hits",
        "over_limit",
        "near_limit",
        "within_limit",
        "shadow_mode",
    ]
    .map(|name| stat(name, "user"));
    assert_eq!(user, [5, 2, 1, 3, 0]);
    // Shadow mode, 1 a minute: the second is over, counted as shadow_mode, and admitted.
    let trial = [
        "total_hits",
        "over_limit",
        "near_limit",
        "within_limit",
        "shadow_mode",
    ]
    .map(|name| stat(name, "trial"));
    assert_eq!(trial, [2, 1, 1, 1, 1]);
    assert_eq!(stat("over_limit", "banned"), 1);
}

#[tokio::test]
async fn a_descriptor_s_own_limit_replaces_the_rule_and_counts_on_its_own() {
    use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::RateLimitOverride;
    use envoy_types::pb::envoy::r#type::v3::RateLimitUnit;
    let mut rls = Rls::start("", T0).await;
    let with_limit = |rls: &mut Rls, entries: Entries<'static>, count: u32, unit: RateLimitUnit| {
        let mut request = rls_request("edge", [(entries, None)], 0);
        request.descriptors[0].limit = Some(RateLimitOverride {
            requests_per_unit: count,
            unit: unit as i32,
        });
        let mut client = rls.client.clone();
        async move {
            client
                .should_rate_limit(request)
                .await
                .unwrap()
                .into_inner()
        }
    };
    let two = Some((2, Unit::Minute, ""));
    let user: Entries<'static> = &[("user", "erin")];
    for remaining in [1, 0] {
        let response = with_limit(&mut rls, user, 2, RateLimitUnit::Minute).await;
        assert_eq!(statuses(&response), [(Code::Ok, two, remaining, Some(60))]);
    }
    let refused = with_limit(&mut rls, user, 2, RateLimitUnit::Minute).await;
    assert_eq!(statuses(&refused), [(Code::OverLimit, two, 0, Some(60))]);
    // Other numbers count apart, and so does the files' rule (3 a minute).
    let five = with_limit(&mut rls, user, 5, RateLimitUnit::Minute).await;
    assert_eq!(
        statuses(&five),
        [(Code::Ok, Some((5, Unit::Minute, "")), 4, Some(60))]
    );
    assert_eq!(
        statuses(&rls.one("user", "erin").await),
        [(Code::Ok, MINUTE, 2, Some(60))]
    );
    // A descriptor no rule of the files matches is counted by its own limit; 0 refuses.
    let stray: Entries<'static> = &[("nowhere", "x")];
    let hourly = with_limit(&mut rls, stray, 1, RateLimitUnit::Hour).await;
    assert_eq!(
        statuses(&hourly),
        [(Code::Ok, Some((1, Unit::Hour, "")), 0, Some(3600))]
    );
    let zero = with_limit(&mut rls, stray, 0, RateLimitUnit::Hour).await;
    assert_eq!(zero.overall_code(), Code::OverLimit);
    // Overrides are counted in statistics named by their keys, not by the values sent.
    let mut page = tollgate_gate::Exposition::default();
    rls.app.gate.rule_stats().write(&mut page);
    let text = page.into_text();
    assert!(
        text.contains(
            "ratelimit_service_rate_limit_total_hits{domain=\"edge\",key1=\"nowhere\"} 2\n"
        )
    );
    assert!(
        !text.contains("erin") && !text.contains("key1=\"x\""),
        "{text}"
    );
    // An unknown unit leaves the files' rule in force.
    let unknown = with_limit(&mut rls, user, 1, RateLimitUnit::Unknown).await;
    assert_eq!(statuses(&unknown), [(Code::Ok, MINUTE, 1, Some(60))]);
}

#[tokio::test]
async fn unlimited_rules_are_ok_without_a_limit() {
    let mut rls = Rls::start("", T0).await;
    for _ in 0..10 {
        let response = rls.one("health", "probe").await;
        assert_eq!(response.overall_code(), Code::Ok);
        assert_eq!(statuses(&response), [(Code::Ok, None, u32::MAX, None)]);
    }
}

#[tokio::test]
async fn a_replaced_rule_is_not_applied() {
    let mut rls = Rls::start("", T0).await;
    let reports: Entries<'_> = &[("path", "/reports")];
    let vip: Entries<'_> = &[("plan", "vip")];
    for remaining in [99, 98, 97, 96, 95, 94] {
        let response = rls.ask(&[(reports, None), (vip, None)], 0).await.unwrap();
        assert_eq!(response.overall_code(), Code::Ok);
        assert_eq!(
            statuses(&response),
            [
                (Code::Ok, None, 0, None),
                (
                    Code::Ok,
                    Some((100, Unit::Hour, "vip")),
                    remaining,
                    Some(3_600)
                ),
            ]
        );
    }
    // Alone, the reports rule applies and was never counted.
    let alone = rls.one("path", "/reports").await;
    assert_eq!(statuses(&alone), [(Code::Ok, REPORTS, 4, Some(3_600))]);
}

#[tokio::test]
async fn requests_per_unit_zero_refuses_and_takes_nothing_from_the_others() {
    let mut rls = Rls::start("", T0).await;
    rls.clock.advance(Duration::from_secs(3_600));
    let banned: Entries<'_> = &[("banned", "10.0.0.1")];
    let ivan: Entries<'_> = &[("user", "ivan")];
    let refused = rls.ask(&[(ivan, None), (banned, None)], 0).await.unwrap();
    assert_eq!(refused.overall_code(), Code::OverLimit);
    assert_eq!(
        statuses(&refused),
        [
            (Code::Ok, MINUTE, 3, Some(60)),
            (Code::OverLimit, Some((0, Unit::Day, "")), 0, Some(82_800)),
        ]
    );
    assert_eq!(
        statuses(&rls.one("user", "ivan").await),
        [(Code::Ok, MINUTE, 2, Some(60))]
    );
}

#[tokio::test]
async fn a_store_that_cannot_decide_is_unavailable() {
    // A store of one partition (per shard), refusing new ones when full: a fault to Envoy.
    let mut rls = Rls::start("[server]\nmax_partitions = 1\n", T0).await;
    let mut answers = Vec::new();
    for user in 0..1_000 {
        match rls.ask(&[(&[("user", &user.to_string())], None)], 0).await {
            Ok(response) => answers.push(response.overall_code()),
            Err(status) => {
                assert_eq!(status.code(), tonic::Code::Unavailable);
                assert!(answers.iter().all(|code| *code == Code::Ok));
                return;
            }
        }
    }
    panic!("a full store never answered UNAVAILABLE");
}

#[tokio::test]
async fn a_request_without_domain_or_descriptors_is_invalid() {
    let mut rls = Rls::start("", T0).await;
    let empty = rls.ask(&[], 0).await.unwrap_err();
    assert_eq!(empty.code(), tonic::Code::InvalidArgument);
    let no_domain = rls
        .client
        .should_rate_limit(RateLimitRequest::default())
        .await
        .unwrap_err();
    assert_eq!(no_domain.code(), tonic::Code::InvalidArgument);
    // Bounded: a request of thousands of descriptors would be one decision of thousands of
    // partitions.
    let one: Entries<'_> = &[("user", "alice")];
    let many: Vec<_> = (0..65).map(|_| (one, None)).collect();
    let refused = rls.ask(&many, 1).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let within: Vec<_> = (0..64).map(|_| (one, None)).collect();
    assert!(rls.ask(&within, 0).await.is_ok());
    let long: Vec<(&str, &str)> = (0..33).map(|_| ("user", "alice")).collect();
    let refused = rls.ask(&[(&long[..], None)], 1).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let huge = "x".repeat(2 * 1024 * 1024);
    let refused = rls
        .ask(&[(&[("user", huge.as_str())], None)], 1)
        .await
        .unwrap_err();
    assert_ne!(refused.code(), tonic::Code::Ok);
}

#[tokio::test]
async fn health_reports_serving() {
    let rls = Rls::start("", T0).await;
    let mut health = HealthClient::new(rls.router.clone());
    for service in ["", "envoy.service.ratelimit.v3.RateLimitService"] {
        let answer = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .unwrap();
        assert_eq!(
            answer.get_ref().status(),
            ServingStatus::Serving,
            "{service:?}"
        );
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "nothing.Else".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
}
