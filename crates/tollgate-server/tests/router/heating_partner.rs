//! `examples/heating-partner.toml` (seed page 001, a heating-appliance partner API) in process:
//! token buckets per company, gateway, endpoint and concrete path, the stricter bucket for a time
//! program, and blocks on one function of one appliance. The appliance's own
//! `Tollgate-Block-For` hints need the gateway and an upstream: `tests/server/examples.rs`.

use std::time::Duration;

use crate::support::{T0, Tollgate, block, example, pairs, secs};

const ACME: (&str, &str) = ("Authorization", "Bearer acme-key");
const GLOBEX: (&str, &str) = ("Authorization", "Bearer globex-key");

fn start() -> Tollgate {
    Tollgate::start(&example("heating-partner.toml"))
}

#[tokio::test]
async fn with_a_gateway_burst_3_then_one_every_2_s_per_concrete_path() {
    let tollgate = start();
    let circuit = "/hvacs/1/heatingCircuits/1";
    for _ in 0..3 {
        assert_eq!(tollgate.auth("GET", circuit, &[ACME]).await.status, 200);
    }
    let refused = tollgate.auth("GET", circuit, &[ACME]).await;
    assert_eq!(
        refused.limit_headers(),
        pairs([
            ("ratelimit-policy", "\"with-gateway\";q=3"),
            ("ratelimit", "\"with-gateway\";r=0;t=6"),
            ("retry-after", "2"),
        ])
    );
    tollgate.advance(Duration::from_secs(2) - Duration::from_nanos(1));
    assert_eq!(tollgate.auth("GET", circuit, &[ACME]).await.status, 429);
    tollgate.advance_nanos(1);
    assert_eq!(tollgate.auth("GET", circuit, &[ACME]).await.status, 200);
}

#[tokio::test]
async fn another_circuit_gateway_or_company_is_another_bucket() {
    let tollgate = start();
    for _ in 0..3 {
        tollgate
            .auth("GET", "/hvacs/1/heatingCircuits/1", &[ACME])
            .await;
    }
    assert_eq!(
        tollgate
            .auth("GET", "/hvacs/1/heatingCircuits/1", &[ACME])
            .await
            .status,
        429
    );
    for (path, key) in [
        ("/hvacs/1/heatingCircuits/2", ACME),
        ("/hvacs/2/heatingCircuits/1", ACME),
        ("/hvacs/1/heatingCircuits/1", GLOBEX),
    ] {
        let reply = tollgate.auth("GET", path, &[key]).await;
        assert_eq!(
            (reply.status, reply.header("ratelimit")),
            (200, Some("\"with-gateway\";r=2;t=2")),
            "{path} {key:?}"
        );
    }
}

#[tokio::test]
async fn without_a_gateway_burst_5_then_two_a_second() {
    let tollgate = start();
    for _ in 0..5 {
        assert_eq!(tollgate.auth("GET", "/gateways", &[ACME]).await.status, 200);
    }
    let refused = tollgate.auth("GET", "/gateways", &[ACME]).await;
    assert_eq!(
        refused.limit_headers(),
        pairs([
            ("ratelimit-policy", "\"without-gateway\";q=5"),
            ("ratelimit", "\"without-gateway\";r=0;t=3"),
            ("retry-after", "1"),
        ]),
        "0.5 s to wait, 2.5 s until whole: rounded up"
    );
    tollgate.advance(Duration::from_millis(500) - Duration::from_nanos(1));
    assert_eq!(tollgate.auth("GET", "/gateways", &[ACME]).await.status, 429);
    tollgate.advance_nanos(1);
    assert_eq!(tollgate.auth("GET", "/gateways", &[ACME]).await.status, 200);
    assert_eq!(
        tollgate.auth("GET", "/hvacs", &[ACME]).await.status,
        200,
        "another endpoint, another bucket"
    );
}

#[tokio::test]
async fn a_time_program_once_per_10_s_per_exact_resource() {
    let tollgate = start();
    let program = "/hvacs/1/heatingCircuits/1/timePrograms/1";
    assert_eq!(tollgate.auth("PUT", program, &[ACME]).await.status, 200);
    let again = tollgate.auth("PUT", program, &[ACME]).await;
    assert_eq!(
        again.limit_headers(),
        pairs([
            ("ratelimit-policy", "\"time-program\";q=1"),
            ("ratelimit", "\"time-program\";r=0;t=10"),
            ("retry-after", "10"),
        ]),
        "refused by the stricter limit though its gateway bucket has tokens"
    );
    for (path, key) in [
        ("/hvacs/1/heatingCircuits/1/timePrograms/2", ACME),
        ("/hvacs/1/dhwCircuits/1/timePrograms/1", ACME),
        (program, GLOBEX),
    ] {
        assert_eq!(
            tollgate.auth("PUT", path, &[key]).await.status,
            200,
            "{path} {key:?}"
        );
    }
    tollgate.advance(Duration::from_secs(10) - Duration::from_nanos(1));
    assert_eq!(tollgate.auth("PUT", program, &[ACME]).await.status, 429);
    tollgate.advance_nanos(1);
    assert_eq!(tollgate.auth("PUT", program, &[ACME]).await.status, 200);
}

#[tokio::test]
async fn a_blocked_function_on_one_appliance_is_423() {
    let tollgate = start();
    let program = "/hvacs/2/heatingCircuits/1/timePrograms/1";
    tollgate.set_blocks(vec![block(
        None,
        Some("heating-time-program"),
        Some(program),
        T0 + secs(60),
    )]);
    for key in [ACME, GLOBEX] {
        let blocked = tollgate.auth("PUT", program, &[key]).await;
        assert_eq!(
            (blocked.status, blocked.header("retry-after")),
            (423, Some("60"))
        );
    }
    assert_eq!(
        tollgate
            .auth("PUT", "/hvacs/2/heatingCircuits/2/timePrograms/1", &[ACME])
            .await
            .status,
        200
    );
    assert_eq!(
        tollgate
            .auth("GET", "/hvacs/2/heatingCircuits/1", &[ACME])
            .await
            .status,
        200,
        "only that function"
    );
}
