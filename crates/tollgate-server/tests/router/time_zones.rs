//! The customer's quota view and the admin usage show times in the account's zone: its own
//! (`time_zone` on the account, in the policy file or the catalog), else the policy's first
//! calendar-aligned limit's, else UTC — RFC 3339 with the offset, to the second. The usage
//! history counts the account's days in the same zone.

use serde_json::json;
use tollgate_core::NANOS_PER_SEC;
use tollgate_policy::{Policy, Source};

use crate::support::{T0_S, Tollgate};

const KEY: (&str, &str) = ("X-Api-Key", "acme-key");

/// A policy whose one account is `account` (extra lines for `[[accounts]]`), limited by
/// `limits`.
fn policy(account: &str, limits: &str) -> String {
    format!(
        r#"
    [identity]
    api_key = {{ header = "X-Api-Key" }}

    [[accounts]]
    id = "acme"
    keys = ["acme-key"]
    {account}

    [[routes]]
    api = "machines"
    match = "* /machines/{{*rest}}"

    {limits}
"#
    )
}

const HOURLY: &str = r#"
    [[limits]]
    name = "hourly"
    window = { max = 10, every = "1h" }
    per = ["account"]
"#;

const NEW_YORK_DAY: &str = r#"
    [[limits]]
    name = "daily"
    window = { max = 100, every = "day", align = "calendar", tz = "America/New_York" }
    per = ["account"]
"#;

const BERLIN_DAY: &str = r#"
    [[limits]]
    name = "daily"
    window = { max = 100, every = "day", align = "calendar", tz = "Europe/Berlin" }
    per = ["account"]
"#;

async fn quota(tollgate: &Tollgate) -> serde_json::Value {
    let reply = tollgate.quota(&[KEY]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

#[tokio::test]
async fn the_accounts_own_zone_with_its_offset() {
    let tollgate = Tollgate::start(&policy(r#"time_zone = "Europe/Berlin""#, HOURLY));
    let view = quota(&tollgate).await;
    assert_eq!(view["time_zone"], "Europe/Berlin");
    let hourly = &view["apis"][0]["limits"][0];
    assert_eq!(
        (&hourly["reset"], &hourly["reset_local"]),
        (&json!(T0_S + 3600), &json!("2026-01-01T02:00:00+01:00"))
    );
}

#[tokio::test]
async fn by_default_the_zone_of_the_first_calendar_limit() {
    let tollgate = Tollgate::start(&policy("", &format!("{HOURLY}{NEW_YORK_DAY}")));
    let view = quota(&tollgate).await;
    assert_eq!(view["time_zone"], "America/New_York");
    let limits = &view["apis"][0]["limits"];
    // The clock-aligned hour ends at 01:00 UTC, the New York day at its midnight.
    assert_eq!(
        (&limits[0]["reset_local"], &limits[1]["reset_local"]),
        (
            &json!("2025-12-31T20:00:00-05:00"),
            &json!("2026-01-01T00:00:00-05:00")
        )
    );
    assert_eq!(limits[1]["reset"], 1_767_243_600);
}

#[tokio::test]
async fn utc_without_a_zone_or_a_calendar_limit() {
    let tollgate = Tollgate::start(&policy("", HOURLY));
    let view = quota(&tollgate).await;
    assert_eq!(view["time_zone"], "UTC");
    assert_eq!(
        view["apis"][0]["limits"][0]["reset_local"],
        "2026-01-01T01:00:00+00:00"
    );
}

#[tokio::test]
async fn across_the_change_to_summer_time_the_offset_changes() {
    // 2026-03-29 00:30 in Berlin (+01:00); the day ends at midnight, summer time (+02:00).
    let tollgate = Tollgate::start_at(&policy("", BERLIN_DAY), 1_774_740_600 * NANOS_PER_SEC);
    let view = quota(&tollgate).await;
    let daily = &view["apis"][0]["limits"][0];
    assert_eq!(
        (&daily["reset"], &daily["reset_local"]),
        (&json!(1_774_821_600), &json!("2026-03-30T00:00:00+02:00"))
    );
}

#[tokio::test]
async fn to_the_second_rounded_up_as_the_epoch_seconds_are() {
    let limits = r#"
    [[limits]]
    name = "rate"
    token_bucket = { rate = "1/1s", burst = 1 }
    per = ["account"]
"#;
    let tollgate = Tollgate::start(&policy(r#"time_zone = "Asia/Kolkata""#, limits));
    tollgate.advance_nanos(1);
    let reply = tollgate.auth("GET", "/machines/1", &[KEY]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let rate = &quota(&tollgate).await["apis"][0]["limits"][0];
    // Full again 1 s and 1 ns after T0: shown as the next whole second.
    assert_eq!(
        (&rate["reset"], &rate["reset_local"]),
        (&json!(T0_S + 2), &json!("2026-01-01T05:30:02+05:30"))
    );
}

#[tokio::test]
async fn the_admin_usage_of_a_policy_account_uses_the_same_zone() {
    let tollgate = Tollgate::with_admin(&policy("", &format!("{HOURLY}{NEW_YORK_DAY}"))).await;
    let reply = tollgate
        .admin("GET", "/admin/accounts/acme/usage", "")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let usage = reply.json();
    assert_eq!(usage["time_zone"], "America/New_York");
    assert_eq!(
        usage["apis"][0]["limits"][1]["reset_local"],
        "2026-01-01T00:00:00-05:00"
    );
    assert_eq!(usage, quota(&tollgate).await, "the customer sees the same");
}

#[test]
fn an_unknown_zone_is_a_configuration_error_at_its_place() {
    let text = policy(r#"time_zone = "Mars/Olympus""#, HOURLY);
    let errors = Policy::compile(&Source::new("p.toml", &text)).expect_err("an unknown zone");
    let message = errors.to_string();
    assert!(
        message.contains("p.toml:8:17: ")
            && message.contains("`Mars/Olympus` is not an IANA time zone"),
        "{message}"
    );
}

/// `GET /admin/accounts/{id}/usage/history` with `query`.
async fn history(tollgate: &Tollgate, id: &str, query: &str) -> serde_json::Value {
    let path = format!("/admin/accounts/{id}/usage/history{query}");
    let reply = tollgate.admin("GET", &path, "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

#[tokio::test]
async fn usage_history_days_are_the_accounts_days() {
    let shanghai = r#"time_zone = "Asia/Shanghai""#;
    let tollgate = Tollgate::with_admin(&policy(shanghai, HOURLY)).await;
    // T0 is 08:00 on 1 January in Shanghai: two calls, then 16 hours on, 00:00 on 2 January
    // there (still 1 January in UTC), a third.
    for _ in 0..2 {
        let reply = tollgate.auth("GET", "/machines/1", &[KEY]).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    tollgate.advance(std::time::Duration::from_secs(16 * 3_600));
    let reply = tollgate.auth("GET", "/machines/1", &[KEY]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let answer = history(&tollgate, "acme", "?from=2025-12-31&to=2026-01-02").await;
    assert_eq!(
        answer,
        json!({
            "account": "acme",
            "time_zone": "Asia/Shanghai",
            "from": "2025-12-31",
            "to": "2026-01-02",
            "kept_days": 400,
            "days": [
                { "api": "machines", "date": "2026-01-01", "admitted": 2, "refused": 0 },
                { "api": "machines", "date": "2026-01-02", "admitted": 1, "refused": 0 },
            ],
        })
    );
    // By default the 30 days to today, today being 2 January in Shanghai.
    let answer = history(&tollgate, "acme", "").await;
    assert_eq!(
        (&answer["from"], &answer["to"]),
        (&json!("2025-12-04"), &json!("2026-01-02"))
    );
    assert_eq!(answer["days"].as_array().unwrap().len(), 2);
    // One day only.
    let answer = history(&tollgate, "acme", "?from=2026-01-02&to=2026-01-02").await;
    assert_eq!(answer["days"][0]["admitted"], 1);
    assert_eq!(answer["days"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_history_range_that_is_not_one_is_a_400() {
    let tollgate = Tollgate::with_admin(&policy("", HOURLY)).await;
    for query in [
        "?from=2026-02-30",
        "?from=yesterday",
        "?from=2026-01-02&to=2026-01-01",
        "?from=2000-01-01&to=2026-01-01",
        "?from=2026-01-01&days=3",
        "?days=many",
        "?since=2026-01-01",
    ] {
        let path = format!("/admin/accounts/acme/usage/history{query}");
        let reply = tollgate.admin("GET", &path, "").await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.body);
        assert_eq!(reply.json()["code"], "bad_range", "{query}");
    }
    let reply = tollgate
        .admin("GET", "/admin/accounts/nobody/usage/history", "")
        .await;
    assert_eq!(reply.status, 404, "{}", reply.body);
}

#[tokio::test]
async fn a_catalog_accounts_zone_is_used_for_its_customer_and_its_days() {
    let tollgate = Tollgate::with_admin(&policy("", HOURLY)).await;
    let reply = tollgate
        .admin(
            "POST",
            "/admin/accounts",
            r#"{"id": "globex", "time_zone": "America/New_York"}"#,
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let reply = tollgate
        .admin("POST", "/admin/accounts/globex/keys", "")
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let key = reply.json()["key"].as_str().unwrap().to_owned();
    let reply = tollgate.quota(&[("X-Api-Key", &key)]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let usage = reply.json();
    assert_eq!(usage["time_zone"], "America/New_York");
    // The hourly window ends at 01:00 UTC, 20:00 the evening before in New York.
    assert_eq!(
        usage["apis"][0]["limits"][0]["reset_local"],
        "2025-12-31T20:00:00-05:00"
    );
    // A call at T0 is on 31 December in New York.
    let reply = tollgate
        .auth("GET", "/machines/1", &[("X-Api-Key", &key)])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let answer = history(&tollgate, "globex", "?from=2025-12-31&to=2026-01-01").await;
    assert_eq!(answer["time_zone"], "America/New_York");
    assert_eq!(
        answer["days"],
        json!([{ "api": "machines", "date": "2025-12-31", "admitted": 1, "refused": 0 }])
    );
}
