//! `--log-format json`: one JSON object a line, a refusal's line naming its limit and never
//! the API key.

use crate::support::{TempDir, Tollgate, send};

const POLICY: &str = r#"
    [identity]
    api_key = { header = "X-Api-Key" }

    [[accounts]]
    id = "acme"
    keys = ["acme-secret-key-4711"]

    [[routes]]
    api = "machines"
    match = "* /machines/{*rest}"

    [[limits]]
    name = "hourly"
    window = { max = 1, every = "1h" }
    per = ["account", "api"]
"#;

#[tokio::test]
async fn a_refusal_is_one_json_line_with_its_limit_and_no_key() {
    let tollgate = Tollgate::start_with(TempDir::new(), POLICY, None, &["--log-format", "json"]);
    let headers = [
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Uri", "/machines/7"),
        ("X-Api-Key", "acme-secret-key-4711"),
    ];
    let admitted = send(tollgate.address, "GET", "/v1/auth", &headers, "").await;
    assert_eq!(admitted.status, 200, "{}", admitted.body);
    let refused = send(tollgate.address, "GET", "/v1/auth", &headers, "").await;
    assert_eq!(refused.status, 429, "{}", refused.body);

    let line = tollgate.wait_for_logged(r#""message":"refused""#);
    assert!(!line.contains("acme-secret-key-4711"), "{line}");
    let event: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
    assert_eq!(event["level"], "INFO", "{line}");
    assert_eq!(event["limit"], "hourly", "{line}");
    assert_eq!(event["api"], "machines", "{line}");
    assert_eq!(event["account"], "acme", "{line}");
    assert_eq!(event["max"], 1, "{line}");
    assert_eq!(event["remaining"], 0, "{line}");
    assert!(event["timestamp"].is_string(), "{line}");
    // Every line so far is JSON too, the start-up ones included.
    let seen = tollgate.logged_lines();
    assert!(seen.len() >= 3, "{seen:?}");
    for line in seen {
        assert!(!line.contains("acme-secret-key-4711"), "{line}");
        serde_json::from_str::<serde_json::Value>(&line)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
    }
}
