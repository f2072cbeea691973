//! What a pack replaced by another leaves, through the admin API and on the customer's page,
//! with `examples/iot-platform.toml`'s prices (plus 999.00 CNY, max 2999.00 CNY a year): a year
//! with a leap day, an account whose zone changes in between, renewals that leave nothing, and
//! the worked example of docs/policy.md.

use std::time::Duration;

use serde_json::{Value, json};
use tollgate_core::Nanos;

use crate::support::{Tollgate, example};

const ACME: (&str, &str) = ("Authorization", "Bearer acme-key");
const DAY: u64 = 86_400;

/// An instant written with its zone, in nanoseconds since the epoch.
fn at(text: &str) -> Nanos {
    let zoned: jiff::Zoned = text.parse().unwrap();
    Nanos::try_from(zoned.timestamp().as_nanosecond()).unwrap()
}

/// Sells `account` `pack` through the admin API: the new ledger row.
async fn buy(tollgate: &Tollgate, account: &str, pack: &str) -> Value {
    let path = format!("/admin/accounts/{account}/packs");
    let body = format!(r#"{{"pack":"{pack}"}}"#);
    let bought = tollgate.admin("POST", &path, &body).await;
    assert_eq!(bought.status, 201, "{}", bought.body);
    bought.json()
}

/// `account`'s pack ledger, as the admin API answers it.
async fn ledger(tollgate: &Tollgate, account: &str) -> Vec<Value> {
    let path = format!("/admin/accounts/{account}/packs");
    let ledger = tollgate.admin("GET", &path, "").await;
    assert_eq!(ledger.status, 200, "{}", ledger.body);
    ledger.json().as_array().unwrap().clone()
}

/// `account`'s standing, as the admin API answers it.
async fn usage(tollgate: &Tollgate, account: &str) -> Value {
    let path = format!("/admin/accounts/{account}/usage");
    let usage = tollgate.admin("GET", &path, "").await;
    assert_eq!(usage.status, 200, "{}", usage.body);
    usage.json()
}

fn yuan(amount: &str) -> Value {
    json!({ "amount": amount, "currency": "CNY" })
}

#[tokio::test]
async fn a_year_s_pack_replaced_after_29_february_leaves_319_days_worth_their_share() {
    let bought_at = at("2028-01-15T00:00:00+08:00[Asia/Shanghai]");
    let tollgate = Tollgate::with_admin_at(&example("iot-platform.toml"), bought_at).await;
    // acme is an account of the policy file: its packs are kept in the catalog all the same.
    let plus = buy(&tollgate, "acme", "plus").await;
    assert_eq!(
        (&plus["price"], &plus["refund"]),
        (&yuan("999.00"), &json!(null))
    );
    // 1 March 2028, 46 days on: January's 16 and February's 29, a leap day among them.
    tollgate.advance(Duration::from_secs(46 * DAY));
    let max = buy(&tollgate, "acme", "max").await;
    let rows = ledger(&tollgate, "acme").await;
    let replaced_at = plus["bought_at"].as_u64().unwrap() + 46 * DAY;
    assert_eq!(
        rows[0],
        json!({
            "pack": "plus",
            "bought_by": "admin",
            "bought_at": plus["bought_at"],
            "starts_at": plus["starts_at"],
            "expires_at": plus["expires_at"],
            "superseded_at": replaced_at,
            "superseded_by": "max",
            "price": yuan("999.00"),
            // 319 of 365 days: 99,900 × 319 / 365 = 87,309.86… fen, to the nearest.
            "refund": { "unused_seconds": 319 * DAY, "value": yuan("873.10") },
        })
    );
    assert_eq!(
        rows[0]["expires_at"].as_u64().unwrap() - replaced_at,
        319 * DAY,
        "expires_at − superseded_at, as the row shows them"
    );
    assert_eq!(rows[1], max);
    assert_eq!(
        (&max["price"], &max["refund"]),
        (&yuan("2999.00"), &json!(null))
    );
    assert_eq!(usage(&tollgate, "acme").await["pack"]["name"], "max");

    // The customer's page says it too, on the day of the account's zone.
    let page = tollgate.quota(&[ACME, ("Accept", "text/html")]).await.body;
    assert!(
        page.contains(
            "Pack <strong>plus</strong> replaced by <strong>max</strong> on 1 March 2028 \
             with 319 days unused, worth 873.10 CNY</p>"
        ),
        "{page}"
    );
}

#[tokio::test]
async fn the_worked_example_of_docs_policy_md_is_what_the_admin_api_answers() {
    let bought_at = at("2026-01-15T09:30:00+08:00[Asia/Shanghai]");
    let tollgate = Tollgate::with_admin_at(&example("iot-platform.toml"), bought_at).await;
    buy(&tollgate, "acme", "plus").await;
    tollgate.advance(Duration::from_secs(31 * DAY));
    buy(&tollgate, "acme", "max").await;
    assert_eq!(
        ledger(&tollgate, "acme").await,
        [
            json!({
                "pack": "plus", "bought_by": "admin",
                "bought_at": 1_768_440_600, "starts_at": 1_768_440_600, "expires_at": 1_799_976_600,
                "superseded_at": 1_771_119_000, "superseded_by": "max",
                "price": yuan("999.00"),
                "refund": { "unused_seconds": 28_857_600, "value": yuan("914.15") },
            }),
            json!({
                "pack": "max", "bought_by": "admin",
                "bought_at": 1_771_119_000, "starts_at": 1_771_119_000, "expires_at": 1_802_655_000,
                "superseded_at": null, "superseded_by": null,
                "price": yuan("2999.00"),
                "refund": null,
            }),
        ]
    );
    let page = tollgate.quota(&[ACME, ("Accept", "text/html")]).await.body;
    assert!(
        page.contains(
            "Pack <strong>plus</strong> replaced by <strong>max</strong> on 15 February 2026 \
             with 334 days unused, worth 914.15 CNY</p>"
        ),
        "{page}"
    );
}

#[tokio::test]
async fn the_unused_time_runs_to_the_expiry_enforced_whatever_the_account_s_zone() {
    let bought_at = at("2028-01-15T00:00:00+08:00[Asia/Shanghai]");
    let tollgate = Tollgate::with_admin_at(&example("iot-platform.toml"), bought_at).await;
    let created = tollgate
        .admin(
            "POST",
            "/admin/accounts",
            r#"{"id":"initech","plan":"basic","time_zone":"Asia/Shanghai"}"#,
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let key = tollgate
        .admin("POST", "/admin/accounts/initech/keys", "")
        .await;
    assert_eq!(key.status, 201, "{}", key.body);
    let plus = buy(&tollgate, "initech", "plus").await;
    let expires = plus["expires_at"].as_u64().unwrap();
    let pack = usage(&tollgate, "initech").await["pack"].clone();
    assert_eq!(
        (&pack["expires"], &pack["expires_local"]),
        (&json!(expires), &json!("2029-01-14T00:00:00+08:00"))
    );

    // The account moves to New York: its pack ends at the same instant, read there.
    let moved = tollgate
        .admin(
            "PATCH",
            "/admin/accounts/initech",
            r#"{"time_zone":"America/New_York"}"#,
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    let standing = usage(&tollgate, "initech").await;
    assert_eq!(
        (
            &standing["pack"]["expires"],
            &standing["pack"]["expires_local"]
        ),
        (&json!(expires), &json!("2029-01-13T11:00:00-05:00"))
    );

    // Replaced at midnight of 1 March in New York, 13 hours after Shanghai's: the pack's
    // quota applied until that instant, and what it left runs from there to its expiry.
    let replaced = at("2028-03-01T00:00:00-05:00[America/New_York]");
    tollgate.advance_nanos(replaced - bought_at);
    let before = usage(&tollgate, "initech").await;
    assert_eq!(
        before["apis"][0]["limits"][0]["limit"], 5000,
        "plus's quota"
    );
    buy(&tollgate, "initech", "max").await;
    let after = usage(&tollgate, "initech").await;
    assert_eq!(
        after["apis"][0]["limits"][0]["limit"], 20000,
        "max's, at once"
    );
    let left = &ledger(&tollgate, "initech").await[0]["refund"];
    let unused = 319 * DAY - 13 * 3_600;
    assert_eq!(
        left,
        // 99,900 × 27,514,800 / 31,536,000 = 87,161.61 fen.
        &json!({ "unused_seconds": unused, "value": yuan("871.62") })
    );
    let now = replaced / 1_000_000_000;
    assert_eq!(
        expires - now,
        unused,
        "the time the pack was still shown to have"
    );
}

#[tokio::test]
async fn a_renewal_leaves_nothing_and_a_replacement_counts_both_years_paid() {
    let tollgate = Tollgate::with_admin(&example("iot-platform.toml")).await;
    buy(&tollgate, "acme", "plus").await;
    tollgate.advance(Duration::from_secs(30 * DAY));
    buy(&tollgate, "acme", "plus").await;
    let rows = ledger(&tollgate, "acme").await;
    assert_eq!(rows[0]["superseded_by"], "plus");
    let refunds: Vec<&Value> = rows.iter().map(|row| &row["refund"]).collect();
    assert_eq!(
        refunds,
        [&json!(null), &json!(null)],
        "renewed, not replaced"
    );
    // Replaced 365 days in: 365 of the 730 days paid 1998.00 CNY for are left.
    tollgate.advance(Duration::from_secs(335 * DAY));
    buy(&tollgate, "acme", "max").await;
    let rows = ledger(&tollgate, "acme").await;
    assert_eq!(
        rows[1]["refund"],
        json!({ "unused_seconds": 365 * DAY, "value": yuan("999.00") })
    );
    assert_eq!(rows[0]["refund"], json!(null));
}

#[tokio::test]
async fn the_openapi_document_describes_the_price_and_the_refund() {
    let tollgate = Tollgate::with_admin(&example("iot-platform.toml")).await;
    let document = tollgate
        .admin("GET", "/admin/openapi.json", "")
        .await
        .json();
    let schemas = &document["components"]["schemas"];
    let purchase = &schemas["Purchase"]["properties"];
    assert_eq!(
        purchase["price"]["oneOf"][1]["$ref"],
        "#/components/schemas/Money"
    );
    assert_eq!(
        purchase["refund"]["oneOf"][1]["$ref"],
        "#/components/schemas/RefundBody"
    );
    let refund = &schemas["RefundBody"];
    assert_eq!(refund["required"], json!(["unused_seconds"]));
    assert_eq!(
        refund["properties"]["value"]["oneOf"][1]["$ref"],
        "#/components/schemas/Money"
    );
    let amount = &schemas["Money"]["properties"]["amount"];
    assert_eq!(
        (&amount["type"], &amount["pattern"]),
        (&json!("string"), &json!(r"^[0-9]+(\.[0-9]{1,4})?$")),
        "a decimal string, never a float"
    );
}
