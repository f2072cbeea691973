//! The customer's quota view and the admin usage show times in the account's zone: its own
//! (`time_zone` on the account), else its first calendar-aligned limit's, else UTC — RFC 3339
//! with the offset, to the second.

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
