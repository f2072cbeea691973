//! The binary's `replay` and `diff` subcommands on files: JSON on standard output, the HTML
//! page written, a combined log read with `--key-header`, exit code 2 on an invalid policy.

use std::process::Command;

use crate::{ACCOUNTS, Scratch};

fn policy_with_daily(max: u64) -> String {
    format!(
        r#"{ACCOUNTS}
    [[limits]]
    name = "daily"
    window = {{ max = {max}, every = "day", align = "calendar", tz = "UTC" }}
    per = ["account"]
"#
    )
}

/// Three requests of acme and one of globex, nginx's combined format with the key last.
const COMBINED: &str = r#"192.0.2.1 - - [01/Jan/2026:10:00:00 +0000] "GET /machines/1 HTTP/1.1" 200 5 "-" "ua" "acme-key"
192.0.2.1 - - [01/Jan/2026:10:00:01 +0000] "GET /machines/1 HTTP/1.1" 200 5 "-" "ua" "acme-key"
192.0.2.1 - - [01/Jan/2026:10:00:02 +0000] "GET /machines/1 HTTP/1.1" 200 5 "-" "ua" "acme-key"
this line is not a log line
192.0.2.2 - - [01/Jan/2026:10:00:03 +0000] "GET /machines/1 HTTP/1.1" 200 5 "-" "ua" "globex-key"
"#;

#[test]
fn replay_prints_json_and_writes_the_html_page() {
    let dir = Scratch::new("replay-cli");
    let policy = dir.write("policy.toml", &policy_with_daily(2));
    let log = dir.write("access.log", COMBINED);
    let page = dir.0.join("report.html");
    let output = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["replay", "--json", "--key-header", "X-Api-Key", "--config"])
        .arg(&policy)
        .arg("--log")
        .arg(&log)
        .arg("--html")
        .arg(&page)
        .output()
        .expect("tollgate runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(
        (&report["lines"], &report["requests"], &report["refused"]),
        (&5.into(), &4.into(), &1.into())
    );
    assert_eq!(report["malformed"]["first"][0]["line"], 4);
    assert_eq!(report["limits"][0]["top"][0]["account"], "acme");
    let html = std::fs::read_to_string(&page).expect("the page");
    assert!(html.contains("<svg") && !html.contains("<script"));
}

#[test]
fn diff_names_the_accounts_a_lower_quota_hurts() {
    let dir = Scratch::new("diff-cli");
    let old = dir.write("old.toml", &policy_with_daily(5));
    let new = dir.write("new.toml", &policy_with_daily(1));
    let log = dir.write("access.log", COMBINED);
    let output = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("diff")
        .args([&old, &new])
        .args([
            "--json",
            "--format",
            "combined",
            "--key-header",
            "X-Api-Key",
            "--log",
        ])
        .arg(&log)
        .output()
        .expect("tollgate runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let diff: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(
        diff["accounts"],
        serde_json::json!([{ "account": "acme", "old": 0, "new": 2, "change": 2 }])
    );
}

#[test]
fn an_invalid_policy_is_exit_code_two() {
    let dir = Scratch::new("replay-bad");
    let policy = dir.write("bad.toml", "[[limits]]\nname = 1\n");
    let log = dir.write("access.log", COMBINED);
    let status = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["replay", "--config"])
        .arg(&policy)
        .arg("--log")
        .arg(&log)
        .output()
        .expect("tollgate runs")
        .status;
    assert_eq!(status.code(), Some(2));
}

#[test]
fn a_combined_log_replayed_without_key_header_says_so() {
    let dir = Scratch::new("replay-no-key-header");
    let policy = dir.write("policy.toml", &policy_with_daily(2));
    let log = dir.write("access.log", COMBINED);
    let replay = |extra: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["replay", "--config"])
            .arg(&policy)
            .arg("--log")
            .arg(&log)
            .args(extra)
            .output()
            .expect("tollgate runs");
        assert!(output.status.success());
        (
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    };
    let (table, warning) = replay(&[]);
    assert!(
        warning.starts_with("tollgate: warning: 4 of 4 requests")
            && warning.contains("--key-header X-Api-Key")
            && !warning.contains("acme-key"),
        "{warning}"
    );
    // Every request without a key: the very thing warned about.
    assert!(table.contains("(no key)"), "{table}");
    let (table, quiet) = replay(&["--key-header", "X-Api-Key"]);
    assert_eq!(quiet, "");
    assert!(
        table.contains("acme") && !table.contains("(no key)"),
        "{table}"
    );
}
