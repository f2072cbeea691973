//! What a customer is shown is what is enforced: for every algorithm and every source of its
//! numbers — the policy's own, a plan's, a pack's, an account's override — the quota JSON, the
//! admin API's usage, the customer's page, the refusal's body and the `RateLimit-Policy` header
//! all show the numbers the decision was made by.

use serde_json::json;

use crate::support::Tollgate;

const POLICY: &str = r#"
    default_plan = "free"

    [identity]
    api_key = { header = "X-Api-Key" }

    [[accounts]]
    id = "own"
    keys = ["own-key"]

    [[accounts]]
    id = "planned"
    plan = "gold"
    keys = ["planned-key"]

    [[accounts]]
    id = "packed"
    keys = ["packed-key"]

    [[accounts]]
    id = "overridden"
    keys = ["overridden-key"]

    [[routes]]
    api = "bucket"
    match = "GET /bucket"

    [[routes]]
    api = "clock"
    match = "GET /clock"

    [[routes]]
    api = "calendar"
    match = "GET /calendar"

    [[routes]]
    api = "sliding"
    match = "GET /sliding"

    [[routes]]
    api = "slots"
    match = "GET /slots"

    [[limits]]
    name = "bucket"
    token_bucket = { rate = "2/s", burst = 2 }
    apis = ["bucket"]
    per = ["account"]

    [[limits]]
    name = "clock"
    window = { max = 3, every = "1h" }
    apis = ["clock"]
    per = ["account"]

    [[limits]]
    name = "calendar"
    window = { max = 4, every = "day", align = "calendar", tz = "UTC" }
    apis = ["calendar"]
    per = ["account"]

    [[limits]]
    name = "sliding"
    sliding = { max = 5, every = "1m" }
    apis = ["sliding"]
    per = ["account"]

    [[limits]]
    name = "slots"
    concurrency = { max = 1 }
    apis = ["slots"]
    per = ["account"]

    [plans.free.limits]

    [plans.gold.limits]
    bucket = { rate = "7/s", burst = 7 }
    clock = { max = 13 }
    calendar = { max = 14 }
    sliding = { max = 15 }
    slots = { max = 6 }

    [packs.plus]
    period = "30d"
    limits.bucket = { rate = "9/s", burst = 9 }
    limits.clock = { max = 23 }
    limits.calendar = { max = 24 }
    limits.sliding = { max = 25 }
    limits.slots = { max = 8 }
"#;

/// Each limit, the words of its period, and what each account is allowed by it: the policy's
/// own numbers, the gold plan's, the plus pack's, the override's (a bucket's count is also its
/// burst here).
const EXPECTED: [(&str, &str, [u64; 4]); 5] = [
    ("bucket", "second", [2, 7, 9, 11]),
    ("clock", "hour", [3, 13, 23, 33]),
    ("calendar", "day", [4, 14, 24, 34]),
    ("sliding", "minute", [5, 15, 25, 35]),
    ("slots", "", [1, 6, 8, 10]),
];

const ACCOUNTS: [&str; 4] = ["own", "planned", "packed", "overridden"];

async fn started() -> Tollgate {
    let tollgate = Tollgate::with_admin(POLICY).await;
    let bought = tollgate
        .admin("POST", "/admin/accounts/packed/packs", r#"{"pack":"plus"}"#)
        .await;
    assert_eq!(bought.status, 201, "{}", bought.body);
    for (limit, _, counts) in EXPECTED {
        let numbers = if limit == "bucket" {
            json!({ "rate": format!("{}/s", counts[3]), "burst": counts[3] })
        } else {
            json!({ "max": counts[3] })
        };
        let path = format!("/admin/accounts/overridden/overrides/{limit}");
        let set = tollgate.admin("PUT", &path, &numbers.to_string()).await;
        assert_eq!(set.status, 200, "{limit}: {}", set.body);
    }
    tollgate
}

/// `count per period` as the page and bodies word it.
fn allowance(count: u64, period: &str) -> String {
    if period.is_empty() {
        format!("{count} in flight")
    } else {
        format!("{count} per {period}")
    }
}

#[tokio::test]
async fn the_quota_json_the_admin_usage_and_the_page_show_what_is_enforced() {
    let tollgate = started().await;
    for (at, account) in ACCOUNTS.iter().enumerate() {
        let key = format!("{account}-key");
        let customer = tollgate.quota(&[("x-api-key", &key)]).await;
        assert_eq!(customer.status, 200, "{}", customer.body);
        let admin = tollgate
            .admin("GET", &format!("/admin/accounts/{account}/usage"), "")
            .await;
        let page = tollgate
            .quota(&[("x-api-key", &key), ("accept", "text/html")])
            .await;
        for (limit, period, counts) in EXPECTED {
            let count = counts[at];
            for usage in [customer.json(), admin.json()] {
                let apis = usage["apis"].as_array().unwrap();
                let api = apis.iter().find(|api| api["api"] == limit).unwrap();
                let shown = &api["limits"][0];
                assert_eq!(
                    (&shown["per_period"], &shown["period"], &shown["limit"]),
                    (&json!(count), &json!(period), &json!(count)),
                    "{account}, {limit}"
                );
            }
            assert!(
                page.body.contains(&allowance(count, period)),
                "{account}, {limit}: the page lacks `{}`",
                allowance(count, period)
            );
        }
    }
}

#[tokio::test]
async fn refusals_and_headers_show_what_is_enforced() {
    let tollgate = started().await;
    for (at, account) in ACCOUNTS.iter().enumerate() {
        let key = format!("{account}-key");
        // Requests at once hold nothing through forward-auth: no refusal to read.
        for (limit, period, counts) in EXPECTED.iter().filter(|(limit, ..)| *limit != "slots") {
            let count = counts[at];
            let path = format!("/{limit}");
            let first = tollgate.auth("GET", &path, &[("x-api-key", &key)]).await;
            assert_eq!(first.status, 200, "{account}, {limit}: {}", first.body);
            assert_eq!(
                first.header("ratelimit-policy"),
                Some(format!("\"{limit}\";q={count}").as_str()),
                "{account}, {limit}"
            );
            for _ in 1..count {
                let admitted = tollgate.auth("GET", &path, &[("x-api-key", &key)]).await;
                assert_eq!(admitted.status, 200, "{account}, {limit}");
            }
            let refused = tollgate.auth("GET", &path, &[("x-api-key", &key)]).await;
            assert_eq!(refused.status, 429, "{account}, {limit}: {}", refused.body);
            let message = refused.json()["message"].as_str().unwrap().to_owned();
            let expected = format!(
                "Maximum number of requests ({}) reached",
                allowance(count, period)
            );
            assert!(
                message.starts_with(&expected),
                "{account}, {limit}: {message}"
            );
        }
    }
}
