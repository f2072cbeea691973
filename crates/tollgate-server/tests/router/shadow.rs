//! Shadow limits on the admin port: `GET /admin/shadow?hours=N` (who would have been refused,
//! by limit and account, per hour) and their counter in `/metrics`. Shadow limits never refuse.

use std::time::Duration;

use serde_json::json;

use crate::support::Tollgate;

/// Everything admitted; a shadow "trial" plan of two requests a clock hour per account.
const SHADOWED: &str = r#"
    [identity]
    api_key = { header = "X-Api-Key" }

    [[accounts]]
    id = "acme"
    keys = ["acme-key"]

    [[accounts]]
    id = "globex"
    keys = ["globex-key"]

    [[routes]]
    api = "machines"
    match = "* /machines/{*rest}"

    [[limits]]
    name = "trial"
    window = { max = 2, every = "1h" }
    per = ["account"]
    shadow = true

    [[limits]]
    name = "burst-trial"
    window = { max = 100, every = "1h" }
    per = ["account"]
    shadow = true
"#;

async fn call(tollgate: &Tollgate, key: &str, times: usize) {
    for _ in 0..times {
        let ask =
            json!({ "method": "GET", "path": "/machines/1", "headers": { "X-Api-Key": key } });
        let answer = tollgate.check(ask).await;
        assert_eq!(
            answer["allowed"],
            json!(true),
            "a shadow limit never refuses"
        );
    }
}

#[tokio::test]
async fn the_shadow_report_lists_who_would_have_been_refused_by_hour() {
    let tollgate = Tollgate::with_admin(SHADOWED).await;
    call(&tollgate, "acme-key", 5).await;
    call(&tollgate, "globex-key", 3).await;
    tollgate.advance(Duration::from_secs(2 * 3600));
    call(&tollgate, "acme-key", 3).await;

    let last_hour = tollgate.admin("GET", "/admin/shadow?hours=1", "").await;
    assert_eq!(last_hour.status, 200, "{}", last_hour.body);
    assert_eq!(
        last_hour.json(),
        json!({
            "hours": 1,
            "since": "2026-01-01T02:00:00Z",
            "limits": [{
                "limit": "trial",
                "refused": 1,
                "accounts": [{ "account": "acme", "refused": 1 }],
                "others": 0,
            }],
        })
    );
    let three_hours = tollgate
        .admin("GET", "/admin/shadow?hours=3", "")
        .await
        .json();
    assert_eq!(
        three_hours["limits"][0]["accounts"],
        json!([
            { "account": "acme", "refused": 4 },
            { "account": "globex", "refused": 1 },
        ])
    );
    assert_eq!(three_hours["limits"][0]["refused"], json!(5));
    assert_eq!(three_hours["since"], json!("2026-01-01T00:00:00Z"));

    let metrics = tollgate.admin("GET", "/metrics", "").await.body;
    assert!(
        metrics.contains("tollgate_shadow_refusals_total{limit=\"trial\"} 5\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tollgate_shadow_refusals_total{limit=\"burst-trial\"} 0\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_shadow_report_defaults_to_the_last_day() {
    let tollgate = Tollgate::with_admin(SHADOWED).await;
    let report = tollgate.admin("GET", "/admin/shadow", "").await.json();
    assert_eq!(
        report,
        json!({ "hours": 24, "since": "2025-12-31T01:00:00Z", "limits": [] })
    );
}
