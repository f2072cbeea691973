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

#[tokio::test]
async fn a_flood_of_refusals_is_no_flood_of_log_lines() {
    let policy = format!(
        "{POLICY}\n[[routes]]\napi = \"marker\"\nmatch = \"GET /marker\"\n\n[[limits]]\nname = \"marker\"\nwindow = {{ max = 1, every = \"1h\" }}\napis = [\"marker\"]\n"
    )
    .replace("per = [\"account\", \"api\"]", "per = [\"account\", \"api\"]\napis = [\"machines\"]");
    let tollgate = Tollgate::start_with(TempDir::new(), &policy, None, &["--log-format", "json"]);
    let ask = |uri: &'static str| {
        let headers = [
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Uri", uri),
            ("X-Api-Key", "acme-secret-key-4711"),
        ];
        async move {
            send(tollgate.address, "GET", "/v1/auth", &headers, "")
                .await
                .status
        }
    };
    assert_eq!(ask("/machines/7").await, 200);
    for _ in 0..40 {
        assert_eq!(ask("/machines/7").await, 429);
    }
    // Another limit's refusal, logged after all the others: once it is read, they all are.
    assert_eq!(ask("/marker").await, 200);
    assert_eq!(ask("/marker").await, 429);
    tollgate.wait_for_logged(r#""limit":"marker""#);
    let refused: Vec<serde_json::Value> = tollgate
        .logged_lines()
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| event["message"] == "refused" && event["limit"] == "hourly")
        .collect();
    // At most 5 a second: whatever seconds the flood spanned, far fewer than its 40 refusals.
    let seconds: std::collections::BTreeSet<String> = refused
        .iter()
        .map(|event| event["timestamp"].as_str().unwrap_or_default()[..19].to_owned())
        .collect();
    assert!(!refused.is_empty());
    assert!(
        refused.len() <= 5 * (seconds.len() + 1),
        "{} refusal lines over {} seconds",
        refused.len(),
        seconds.len()
    );
}
