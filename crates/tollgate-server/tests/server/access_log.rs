//! The access log (`tollgate serve --access-log FILE`): a JSON line per decision of the gateway,
//! forward-auth and the check API, with the account and never a key; and the answers and the
//! upstream's time in `/metrics`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{TempDir, Tollgate, Upstream, counter, send};
use crate::{KEY, POLICY};

/// The lines of `file` once it has `count` of them (at most 20 s).
fn lines(file: &std::path::Path, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        if lines.len() >= count || Instant::now() > deadline {
            assert_eq!(lines.len(), count, "{text}");
            return lines;
        }
        std::thread::yield_now();
    }
}

/// A `tollgate serve` of `policy` in front of `upstream`, writing its access log to the file
/// returned (in the directory returned with it).
fn logging(policy: &str, upstream: &Upstream) -> (Tollgate, std::path::PathBuf, TempDir) {
    let dir = TempDir::new();
    let log = dir.0.join("access.jsonl");
    let flag = log.to_str().unwrap().to_owned();
    let tollgate = Tollgate::start_with(
        TempDir::new(),
        policy,
        Some(upstream.address),
        &["--access-log", &flag],
    );
    (tollgate, log, dir)
}

/// `tollgate replay --json` of `log` through the policy `tollgate` serves: its summary, and
/// the report as text for messages.
fn replayed(tollgate: &Tollgate, log: &std::path::Path) -> (Value, String) {
    let replayed = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["replay", "--json", "--config"])
        .arg(&tollgate.config)
        .arg("--log")
        .arg(log)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&replayed.stdout).into_owned();
    assert!(
        replayed.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    (serde_json::from_str(&report).unwrap(), report)
}

#[tokio::test]
async fn every_decision_is_a_line_with_the_account_and_never_a_key() {
    let upstream = Upstream::start().await;
    let (tollgate, log, _dir) = logging(POLICY, &upstream);
    let gateway = |path: &'static str| send(tollgate.address, "GET", path, &[KEY], "");
    assert_eq!(gateway("/machines/007?x=1").await.status, 200);
    assert_eq!(gateway("/machines/8").await.status, 200);
    assert_eq!(gateway("/machines/9").await.status, 429);
    let auth = [
        KEY,
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Uri", "/machines/1"),
    ];
    let refused = send(tollgate.address, "GET", "/v1/auth", &auth, "").await;
    assert_eq!(refused.status, 429);
    let ask = r#"{"method":"GET","path":"/machines/2","headers":{"x-api-key":"wrong-key"}}"#;
    let checked = send(tollgate.address, "POST", "/v1/check", &[], ask).await;
    assert_eq!(checked.status, 200);

    let lines = lines(&log, 5);
    let field = |line: &Value, name: &str| line[name].clone();
    let summary: Vec<(Value, Value, Value, Value, Value)> = lines
        .iter()
        .map(|line| {
            (
                field(line, "via"),
                field(line, "path"),
                field(line, "account"),
                field(line, "answer"),
                field(line, "status"),
            )
        })
        .collect();
    let row = |via: &str, path: &str, account: Value, answer: u16, status: Value| {
        (
            Value::from(via),
            Value::from(path),
            account,
            Value::from(answer),
            status,
        )
    };
    assert_eq!(
        summary,
        [
            row(
                "gateway",
                "/machines/007?x=1",
                "acme".into(),
                200,
                200.into()
            ),
            row("gateway", "/machines/8", "acme".into(), 200, 200.into()),
            row("gateway", "/machines/9", "acme".into(), 429, Value::Null),
            row(
                "forward-auth",
                "/machines/1",
                "acme".into(),
                429,
                Value::Null
            ),
            row("check", "/machines/2", Value::Null, 401, Value::Null),
        ]
    );
    assert_eq!(lines[2]["refused_by"], serde_json::json!(["hourly"]));
    assert_eq!(lines[2]["why"], "limited");
    assert_eq!(lines[4]["why"], "unauthenticated");
    assert_eq!(lines[0]["api"], "machines");
    assert!(lines[0]["upstream_ms"].as_f64().is_some_and(|ms| ms >= 0.0));
    assert!(
        lines
            .iter()
            .all(|line| line["time"].as_str().is_some_and(|t| t.ends_with('Z')))
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains("acme-key") && !text.contains("wrong-key"),
        "{text}"
    );

    // The same answers in /metrics, by api and class, and the upstream's two answers timed.
    let metrics = tollgate.metrics().await;
    let answers = |api: &str, class: &str| {
        let name = format!("tollgate_answers_total{{api=\"{api}\",class=\"{class}\"}}");
        counter(&metrics, &name)
    };
    assert_eq!(answers("machines", "2xx"), 2);
    assert_eq!(answers("machines", "4xx"), 2);
    // An unknown key's refusal names no api: it would tell what the key may call.
    assert_eq!(answers("-", "4xx"), 1);
    assert_eq!(counter(&metrics, "tollgate_upstream_seconds_count"), 2);

    // Replayed as it is, through the same policy: the same decisions, accounts and refusals.
    let (summary, report) = replayed(&tollgate, &log);
    assert_eq!(
        (&summary["requests"], &summary["refused"]),
        (&5.into(), &3.into()),
        "{report}"
    );
    assert_eq!(summary["malformed"]["count"], 0, "{report}");
    let hourly = summary["limits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "hourly");
    assert_eq!(
        hourly.map(|limit| &limit["refused"]),
        Some(&Value::from(2)),
        "{report}"
    );
}

/// A policy that reads keys from the query: the key's value is never written, and a replay of
/// the log puts a stand-in key where it stood.
const QUERY_KEYS: &str = r#"
    [identity]
    api_key = { query = "api_key" }

    [[accounts]]
    id = "alice"
    keys = ["alice-key"]

    [[routes]]
    api = "hello"
    match = "GET /hello/{name}"

    [[limits]]
    name = "per-minute"
    window = { max = 2, every = "1m" }
    per = ["account"]
"#;

#[tokio::test]
async fn a_key_in_the_query_is_never_written_and_the_log_still_replays() {
    let upstream = Upstream::start().await;
    let (tollgate, log, _dir) = logging(QUERY_KEYS, &upstream);
    let ask = |path: &'static str| send(tollgate.address, "GET", path, &[], "");
    assert_eq!(ask("/hello/a?api_key=alice-key&page=2").await.status, 200);
    assert_eq!(ask("/hello/b?page=3&api_key=alice-key").await.status, 200);
    assert_eq!(
        ask("/hello/c?api_key=alice-key&token=t0p").await.status,
        429
    );
    assert_eq!(ask("/hello/d?api_key=wrong-key").await.status, 401);

    let lines = lines(&log, 4);
    let paths: Vec<&str> = lines
        .iter()
        .map(|line| line["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "/hello/a?api_key=REDACTED&page=2",
            "/hello/b?page=3&api_key=REDACTED",
            "/hello/c?api_key=REDACTED&token=REDACTED",
            "/hello/d?api_key=REDACTED",
        ]
    );
    let text = std::fs::read_to_string(&log).unwrap();
    for secret in ["alice-key", "wrong-key", "t0p"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }

    let (summary, report) = replayed(&tollgate, &log);
    assert_eq!(
        (&summary["requests"], &summary["refused"]),
        (&4.into(), &2.into()),
        "{report}"
    );
    assert_eq!(summary["refused_by_status"]["401"], 1, "{report}");
    assert_eq!(summary["refused_by_status"]["429"], 1, "{report}");
}
