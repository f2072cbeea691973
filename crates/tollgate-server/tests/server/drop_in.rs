//! `tollgate` as a drop-in for envoyproxy/ratelimit, through its command line: `check-config`
//! on a directory of its YAML files, `serve --ratelimit-config DIR --grpc-listen ADDR` answered
//! by the envoy-types gRPC client over a real connection, and a `SIGHUP` reload.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use envoy_types::pb::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::Entry;
use envoy_types::pb::envoy::service::ratelimit::v3::RateLimitRequest;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::Code;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_client::RateLimitServiceClient;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::envoy_proxy::DropIn;
use crate::support::TempDir;

const RULES: &str = "domain: edge\ndescriptors:\n  - key: user\n    rate_limit:\n      unit: hour\n      requests_per_unit: 2\n";

fn tollgate(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn check_config_validates_a_directory_of_ratelimit_files() {
    let dir = TempDir::new();
    std::fs::write(dir.0.join("edge.yaml"), RULES).unwrap();
    let path = dir.0.display().to_string();
    for args in [
        ["check-config", "--ratelimit-config", &path].as_slice(),
        ["check-config", &path].as_slice(),
    ] {
        let output = tollgate(args);
        assert!(output.status.success(), "{args:?}");
        assert_eq!(
            String::from_utf8(output.stdout).unwrap(),
            format!("{path}: ok: 1 domains, 1 rate limits\n")
        );
    }
    std::fs::write(
        dir.0.join("edge.yaml"),
        RULES.replace("unit: hour", "unit: fortnight"),
    )
    .unwrap();
    let output = tollgate(&["check-config", "--ratelimit-config", &path]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        format!(
            "{path}/edge.yaml:5:13: unknown unit `fortnight`: use second, minute, hour, day, week, month or year\n{path}: 1 error(s)\n"
        )
    );
}

#[test]
fn merge_domain_config_lets_one_domain_span_files() {
    let dir = TempDir::new();
    std::fs::write(dir.0.join("edge.yaml"), RULES).unwrap();
    let more = "domain: edge\ndescriptors:\n  - key: path\n    rate_limit:\n      unit: minute\n      requests_per_unit: 9\n";
    std::fs::write(dir.0.join("more.yaml"), more).unwrap();
    let path = dir.0.display().to_string();
    let check = |merge: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tollgate"));
        command.args(["check-config", "--ratelimit-config", &path]);
        if let Some(merge) = merge {
            command.env("MERGE_DOMAIN_CONFIG", merge);
        }
        command.output().unwrap()
    };
    let merged = check(Some("true"));
    assert!(merged.status.success());
    assert_eq!(
        String::from_utf8(merged.stdout).unwrap(),
        format!("{path}: ok: 1 domains, 2 rate limits\n")
    );
    for unmerged in [None, Some("0")] {
        let output = check(unmerged);
        assert_eq!(output.status.code(), Some(2));
        assert!(
            String::from_utf8(output.stderr)
                .unwrap()
                .contains("(MERGE_DOMAIN_CONFIG=true merges them)")
        );
    }
    let output = check(Some("yes"));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .starts_with("tollgate: MERGE_DOMAIN_CONFIG=yes: true or false")
    );
}

#[test]
fn the_ratelimit_files_need_the_grpc_port() {
    let dir = TempDir::new();
    std::fs::write(dir.0.join("edge.yaml"), RULES).unwrap();
    let data = dir.0.join("data").display().to_string();
    let config = dir.0.display().to_string();
    let without_grpc = ["serve", "--ratelimit-config", &config, "--data-dir", &data];
    let output = tollgate(&without_grpc);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "tollgate: --ratelimit-config needs the gRPC port: --grpc-listen ADDR or server.grpc_listen\n"
    );
    // Neither a policy file nor rate-limit files: clap says what is missing.
    let output = tollgate(&["serve", "--grpc-listen", "127.0.0.1:0"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("--config <CONFIG>")
    );
}

#[test]
fn a_near_limit_ratio_that_is_no_share_stops_the_start() {
    let dir = TempDir::new();
    std::fs::write(dir.0.join("edge.yaml"), RULES).unwrap();
    let data = dir.0.join("data").display().to_string();
    let config = dir.0.display().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["serve", "--ratelimit-config", &config, "--data-dir", &data])
        .args(["--grpc-listen", "127.0.0.1:0", "--listen", "127.0.0.1:0"])
        .args(["--admin-listen", "127.0.0.1:0"])
        .env("NEAR_LIMIT_RATIO", "1.5")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8(output.stderr).unwrap().ends_with(
            "tollgate: NEAR_LIMIT_RATIO=1.5: a share of a limit, more than 0 and at most 1 (as envoyproxy/ratelimit reads it; 0.8 when unset)\n"
        )
    );
}

/// `user=value` asked of `client`: the overall code and the descriptor's remaining.
async fn ask(client: &mut RateLimitServiceClient<Channel>, user: &str) -> (Code, u32) {
    let request = RateLimitRequest {
        domain: "edge".to_owned(),
        descriptors: vec![RateLimitDescriptor {
            entries: vec![Entry {
                key: "user".to_owned(),
                value: user.to_owned(),
            }],
            ..RateLimitDescriptor::default()
        }],
        hits_addend: 0,
    };
    let response = client
        .should_rate_limit(request)
        .await
        .unwrap()
        .into_inner();
    (
        response.overall_code(),
        response.statuses[0].limit_remaining,
    )
}

fn hour() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 3_600
}

#[tokio::test(flavor = "multi_thread")]
async fn the_drop_in_answers_over_grpc_and_reloads_its_files_on_sighup() {
    let tollgate = DropIn::start(RULES);
    let channel = Channel::from_shared(format!("http://{}", tollgate.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel.clone());
    let serving = health
        .check(HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(serving.status(), ServingStatus::Serving);

    let mut client = RateLimitServiceClient::new(channel);
    // Judged only when no hour turned during the run (then run again with another user).
    for run in 0..2 {
        let start = hour();
        let user = format!("ann-{run}");
        std::fs::write(tollgate.config.join("edge.yaml"), RULES).unwrap();
        if run > 0 {
            tollgate.signal("HUP");
            tollgate.wait_for("policy reloaded");
        }
        let before = [ask(&mut client, &user).await, ask(&mut client, &user).await];
        let refused = ask(&mut client, &user).await;
        // Five an hour from now on; the two counted stay counted.
        std::fs::write(
            tollgate.config.join("edge.yaml"),
            RULES.replace("requests_per_unit: 2", "requests_per_unit: 5"),
        )
        .unwrap();
        tollgate.signal("HUP");
        tollgate.wait_for("policy reloaded");
        let after = ask(&mut client, &user).await;
        if hour() != start {
            continue;
        }
        assert_eq!(before, [(Code::Ok, 1), (Code::Ok, 0)]);
        assert_eq!(refused, (Code::OverLimit, 0));
        assert_eq!(after, (Code::Ok, 2));
        // An invalid file is logged and the rules loaded before stay.
        std::fs::write(tollgate.config.join("edge.yaml"), "domain: [").unwrap();
        tollgate.signal("HUP");
        tollgate.wait_for("policy not reloaded");
        assert_eq!(ask(&mut client, &user).await, (Code::Ok, 1));
        return;
    }
    panic!("two runs each straddled the turn of an hour");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configmap_style_swap_of_the_files_reloads_them_within_a_second() {
    let tollgate = DropIn::start(RULES);
    let config = &tollgate.config;
    // The layout kubelet mounts a ConfigMap as: the files are links through `..data`, itself a
    // link to the current version's directory. Same bytes as before: nothing to reload.
    std::fs::create_dir(config.join("..2026_01")).unwrap();
    std::fs::write(config.join("..2026_01/edge.yaml"), RULES).unwrap();
    std::os::unix::fs::symlink("..2026_01", config.join("..data")).unwrap();
    std::fs::remove_file(config.join("edge.yaml")).unwrap();
    std::os::unix::fs::symlink("..data/edge.yaml", config.join("edge.yaml")).unwrap();

    let channel = Channel::from_shared(format!("http://{}", tollgate.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = RateLimitServiceClient::new(channel);
    let start = hour();
    let before = ask(&mut client, "ann").await;
    // The next version, swapped in at once by renaming a new link over `..data`.
    std::fs::create_dir(config.join("..2026_02")).unwrap();
    std::fs::write(
        config.join("..2026_02/edge.yaml"),
        RULES.replace("requests_per_unit: 2", "requests_per_unit: 5"),
    )
    .unwrap();
    std::os::unix::fs::symlink("..2026_02", config.join("..data_tmp")).unwrap();
    let swapped = std::time::Instant::now();
    std::fs::rename(config.join("..data_tmp"), config.join("..data")).unwrap();
    tollgate.wait_for("policy reloaded: its files changed");
    let took = swapped.elapsed();
    assert!(
        took < std::time::Duration::from_secs(1),
        "reloaded after {took:?}"
    );
    let after = ask(&mut client, "ann").await;
    if hour() == start {
        // Two an hour, then five: the one counted stays counted.
        assert_eq!(before, (Code::Ok, 1));
        assert_eq!(after, (Code::Ok, 3));
    }
    // A broken version is logged, and the rules in force stay.
    std::fs::create_dir(config.join("..2026_03")).unwrap();
    std::fs::write(config.join("..2026_03/edge.yaml"), "domain: [").unwrap();
    std::os::unix::fs::symlink("..2026_03", config.join("..data_tmp")).unwrap();
    std::fs::rename(config.join("..data_tmp"), config.join("..data")).unwrap();
    tollgate.wait_for("policy not reloaded: its files changed");
    let kept = ask(&mut client, "ann").await;
    if hour() == start {
        assert_eq!(kept, (Code::Ok, 2));
    }
    assert_eq!(kept.0, Code::Ok);
}
