//! What a pack replaced by another leaves, through the ledger, on instants of a leap year: its
//! unused seconds, and their share of what was paid — and nothing for a renewal or an expired
//! pack.

use tollgate_catalog::{Catalog, Refund};
use tollgate_core::{Nanos, Price};

use super::{Scratch, YEAR, account, postgres_server};

/// An instant written with its zone, in nanoseconds since the epoch.
fn at(text: &str) -> Nanos {
    let zoned: jiff::Zoned = text.parse().unwrap();
    Nanos::try_from(zoned.timestamp().as_nanosecond()).unwrap()
}

fn euros(text: &str) -> Option<Price> {
    Some(text.parse().unwrap())
}

/// The refund of each row of `id`'s ledger, oldest first.
async fn refunds(catalog: &Catalog, id: &str) -> Vec<Option<Refund>> {
    let ledger = catalog.pack_purchases(id).await.unwrap();
    ledger.into_iter().map(|row| row.refund).collect()
}

async fn a_replaced_pack_leaves_its_unused_time(url: &str) {
    let catalog = Catalog::open(url).await.unwrap();
    catalog.create_account(&account("acme"), 0).await.unwrap();

    // A year's pack bought on 15 January 2028, replaced on 1 March: 46 days used across
    // 29 February, 319 of its 365 days unused.
    let bought = at("2028-01-15T00:00:00+08:00[Asia/Shanghai]");
    let basic = catalog
        .buy_pack("acme", "basic", YEAR, euros("99.99 EUR"), "billing", bought)
        .await
        .unwrap();
    assert_eq!(basic.price, euros("99.99 EUR"));
    assert_eq!(
        basic.expires_at,
        at("2029-01-14T00:00:00+08:00[Asia/Shanghai]")
    );
    let replaced = at("2028-03-01T00:00:00+08:00[Asia/Shanghai]");
    let premium = catalog
        .buy_pack(
            "acme",
            "premium",
            YEAR,
            euros("199.99 EUR"),
            "billing",
            replaced,
        )
        .await
        .unwrap();
    assert_eq!((premium.price, premium.refund), (euros("199.99 EUR"), None));
    let left = Refund {
        unused_seconds: 319 * 86_400,
        // 9,999 × 319 / 365 = 8,738.85… cents, to the nearest.
        value: euros("87.39 EUR"),
    };
    assert_eq!(refunds(&catalog, "acme").await, [Some(left), None]);
    let ledger = catalog.pack_purchases("acme").await.unwrap();
    assert_eq!(
        ledger[0].superseded,
        Some((replaced, "premium".to_owned())),
        "the row says when and by what"
    );
}

async fn the_zone_of_the_account_changes_nothing_of_the_instants(url: &str) {
    let catalog = Catalog::open(url).await.unwrap();
    catalog.create_account(&account("globex"), 0).await.unwrap();
    let bought = at("2028-01-15T00:00:00+08:00[Asia/Shanghai]");
    let basic = catalog
        .buy_pack(
            "globex",
            "basic",
            YEAR,
            euros("99.99 EUR"),
            "billing",
            bought,
        )
        .await
        .unwrap();
    // The account moves to New York: the pack still ends at the instant it was sold with,
    // 2029-01-13 11:00 there (a pack's period is a length, not calendar days of a zone).
    catalog
        .update_account("globex", None, None, Some("America/New_York"))
        .await
        .unwrap();
    let expiry = at("2029-01-13T11:00:00-05:00[America/New_York]");
    assert_eq!(basic.expires_at, expiry);
    let in_force = |now| {
        let catalog = catalog.clone();
        async move { catalog.pack_in_force("globex", now).await.unwrap() }
    };
    assert!(in_force(expiry - 1).await.is_some());
    assert!(in_force(expiry).await.is_none());
    // Replaced at midnight of 1 March in New York, 13 hours after Shanghai's: the unused time
    // runs from that instant to the expiry that was enforced.
    let replaced = at("2028-03-01T00:00:00-05:00[America/New_York]");
    catalog
        .buy_pack("globex", "premium", YEAR, None, "billing", replaced)
        .await
        .unwrap();
    let left = Refund {
        unused_seconds: 319 * 86_400 - 13 * 3_600,
        // 9,999 × 27,514,800 / 31,536,000 = 8,724.01… cents.
        value: euros("87.24 EUR"),
    };
    assert_eq!(refunds(&catalog, "globex").await, [Some(left), None]);
}

async fn renewals_leave_nothing_and_are_paid_for_together(url: &str) {
    let catalog = Catalog::open(url).await.unwrap();
    catalog
        .create_account(&account("initech"), 0)
        .await
        .unwrap();
    let day = |date: &str| at(&format!("{date}T00:00:00+00:00[UTC]"));
    let buy = |pack: &'static str, price: Option<Price>, now| {
        let catalog = catalog.clone();
        async move {
            catalog
                .buy_pack("initech", pack, YEAR, price, "billing", now)
                .await
                .unwrap()
        }
    };
    // Bought, renewed a month later at a new price: the renewal leaves no refund line.
    buy("basic", euros("100 EUR"), day("2028-01-01")).await;
    buy("basic", euros("120.50 EUR"), day("2028-02-01")).await;
    assert_eq!(refunds(&catalog, "initech").await, [None, None]);
    // Replaced 73 days after the first purchase: 657 of the 730 days paid 220.50 EUR for.
    buy("premium", None, day("2028-03-14")).await;
    let left = Refund {
        unused_seconds: 657 * 86_400,
        // 22,050 × 657 / 730 = 19,845 cents.
        value: euros("198.45 EUR"),
    };
    assert_eq!(refunds(&catalog, "initech").await, [None, Some(left), None]);
    // An unpriced pack replaced: its unused seconds, no value.
    buy("basic", euros("100 EUR"), day("2028-03-15")).await;
    let unpriced = Refund {
        unused_seconds: 364 * 86_400,
        value: None,
    };
    assert_eq!(refunds(&catalog, "initech").await[2], Some(unpriced));
    // After the pack expired, another leaves nothing: all of it was used.
    let expired = day("2028-03-15") + YEAR;
    buy("premium", euros("199.99 EUR"), expired).await;
    let ledger = catalog.pack_purchases("initech").await.unwrap();
    assert_eq!((&ledger[3].superseded, ledger[3].refund), (&None, None));
}

async fn a_pack_paid_in_two_currencies_has_no_value(url: &str) {
    let catalog = Catalog::open(url).await.unwrap();
    catalog
        .create_account(&account("umbrella"), 0)
        .await
        .unwrap();
    let prices = [euros("100 EUR"), "110 USD".parse().ok()];
    for (days, price) in [0, 10].into_iter().zip(prices) {
        let now = days * 86_400 * 1_000_000_000;
        catalog
            .buy_pack("umbrella", "basic", YEAR, price, "billing", now)
            .await
            .unwrap();
    }
    let replaced = 30 * 86_400 * 1_000_000_000;
    catalog
        .buy_pack("umbrella", "premium", YEAR, None, "billing", replaced)
        .await
        .unwrap();
    let left = Refund {
        unused_seconds: 700 * 86_400,
        value: None,
    };
    assert_eq!(refunds(&catalog, "umbrella").await[1], Some(left));
}

async fn every_refund_rule(url: &str) {
    a_replaced_pack_leaves_its_unused_time(url).await;
    the_zone_of_the_account_changes_nothing_of_the_instants(url).await;
    renewals_leave_nothing_and_are_paid_for_together(url).await;
    a_pack_paid_in_two_currencies_has_no_value(url).await;
}

#[tokio::test]
async fn sqlite_keeps_what_a_replaced_pack_leaves() {
    let scratch = Scratch::new("refunds");
    every_refund_rule(&scratch.url()).await;
}

#[tokio::test]
async fn postgres_keeps_what_a_replaced_pack_leaves() {
    let server = postgres_server::PostgresServer::start();
    every_refund_rule(&server.url()).await;
}
