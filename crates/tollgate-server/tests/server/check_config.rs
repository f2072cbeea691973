//! `tollgate check-config` through the real binary: every mistake of a policy file in one run,
//! the unit words wherever a unit is read, and an envoyproxy/ratelimit YAML file given alone.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::TempDir;

fn check_config(file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("check-config")
        .arg(file)
        .output()
        .unwrap()
}

const RULES: &str = "domain: edge\ndescriptors:\n  - key: user\n    rate_limit:\n      unit: hour\n      requests_per_unit: 2\n  - key: path\n    rate_limit:\n      unit: second\n      requests_per_unit: 10\n";

#[test]
fn a_yaml_file_given_alone_is_read_as_envoyproxy_ratelimits() {
    let dir = TempDir::new();
    for name in ["edge.yaml", "edge.yml", "EDGE.YML"] {
        let file = dir.0.join(name);
        std::fs::write(&file, RULES).unwrap();
        let output = check_config(&file);
        assert_eq!(
            (
                output.status.code(),
                String::from_utf8(output.stdout).unwrap(),
                String::from_utf8(output.stderr).unwrap()
            ),
            (
                Some(0),
                format!("{}: ok: 1 domains, 2 rate limits\n", file.display()),
                String::new()
            ),
            "{name}"
        );
    }
    let broken = dir.0.join("broken.yaml");
    std::fs::write(
        &broken,
        RULES
            .replace("unit: hour", "unit: fortnight")
            .replace("unit: second", "unit: seconds"),
    )
    .unwrap();
    let output = check_config(&broken);
    assert_eq!(output.status.code(), Some(2));
    let file = broken.display();
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        format!(
            "{file}:5:13: unknown unit `fortnight`: use second, minute, hour, day, week, month or year\n\
             {file}:9:13: unknown unit `seconds`: envoyproxy/ratelimit reads second, minute, hour, day, week, month or year (write `second`)\n\
             {file}: 2 error(s)\n"
        )
    );
}

/// Three mistakes: a syntax error, a unit nobody knows, a key misspelt, each in a table of
/// its own; the rest is right, `every = "hour"` and `rate = "2/sec"` included.
const THREE_MISTAKES: &str = r#"default_plan = "free"

[server
listen = "127.0.0.1:8080"

[[routes]]
api = "machines"
match = "GET /machines/{id}"

[[limits]]
name = "hourly"
window = { max = 100, every = "hour" }
per = ["account"]

[[limits]]
name = "daily"
window = { max = 1000, every = "1 fortnight" }

[[limits]]
name = "burst"
token_bucket = { rate = "2/sec", burst = 10 }
pre = ["account"]

[plans.free.limits]
hourly = { max = 10 }
burst = { rate = "1/sec" }
"#;

#[test]
fn every_mistake_of_a_policy_file_is_reported_in_one_run() {
    let dir = TempDir::new();
    let policy = dir.0.join("policy.toml");
    std::fs::write(&policy, THREE_MISTAKES).unwrap();
    let output = check_config(&policy);
    assert_eq!(output.status.code(), Some(2));
    let file = policy.display();
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        format!(
            "{file}:3:8: unclosed table, expected `]`\n\
             {file}:17:32: unknown unit `fortnight` in `1 fortnight`: use ms, s, m, h, d or w, or a word such as sec, minutes, hr, day or weeks\n\
             {file}:22:1: unknown field `pre`, expected one of `name`, `token_bucket`, `window`, `sliding`, `concurrency`, `distinct`, `per`, `plans`, `apis`, `when`, `shadow`, `status`, `code`, `refund`, `delay`\n\
             {file}: 3 error(s)\n"
        )
    );

    // Fixed, the same file checks.
    let fixed = THREE_MISTAKES
        .replace("[server\n", "[server]\n")
        .replace("1 fortnight", "day")
        .replace("pre = ", "per = ");
    std::fs::write(&policy, fixed).unwrap();
    let output = check_config(&policy);
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!("{file}: ok: 1 routes (1 apis), 3 limits, 1 plans, 0 accounts, 0 apps\n")
    );
    assert_eq!(output.status.code(), Some(0));
}
