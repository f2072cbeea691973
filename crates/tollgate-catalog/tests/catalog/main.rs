//! The catalog on a real SQLite file and on a real PostgreSQL server, the same code and the
//! same checks: accounts, keys held as hashes, and every pack rule through the ledger, on
//! chosen instants.

mod alerts;
#[path = "../support/postgres_server.rs"]
#[allow(dead_code, unreachable_pub)]
mod postgres_server;
mod refunds;

use std::path::PathBuf;

use tollgate_catalog::{Account, Catalog, CatalogError, UsageDay, key_hash};

const DAY: u64 = 86_400 * 1_000_000_000;
const YEAR: u64 = 365 * DAY;

/// A catalog file in a fresh folder, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("tollgate-catalog-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.0.join("catalog.db").display())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A ledger row as the test compares it: pack, buyer, and when and by what it was superseded.
type LedgerRow<'a> = (&'a str, &'a str, Option<(u64, &'a str)>);

fn account(id: &str) -> Account {
    Account {
        id: id.to_owned(),
        plan: Some("basic".to_owned()),
        company: None,
        time_zone: "Asia/Shanghai".to_owned(),
    }
}

/// Accounts and keys written, the catalog opened again, read back; the clear key.
async fn accounts_and_keys_survive_reopening(url: &str) -> String {
    let key = {
        let catalog = Catalog::open(url).await.unwrap();
        catalog.create_account(&account("acme"), 0).await.unwrap();
        assert!(matches!(
            catalog.create_account(&account("acme"), 1).await,
            Err(CatalogError::DuplicateAccount(id)) if id == "acme"
        ));
        assert!(matches!(
            catalog.create_key("nobody", 0).await,
            Err(CatalogError::UnknownAccount(_))
        ));
        catalog.create_key("acme", 0).await.unwrap()
    };
    let catalog = Catalog::open(url).await.unwrap();
    assert_eq!(
        catalog.account("acme").await.unwrap(),
        Some(account("acme"))
    );
    assert_eq!(
        catalog.account_for_key(&key).await.unwrap().as_deref(),
        Some("acme")
    );
    assert_eq!(catalog.account_for_key("tg_guess").await.unwrap(), None);
    accounts_are_listed_in_pages(&catalog).await;
    key
}

/// Pages of accounts by id, after a cursor, filtered by plan.
async fn accounts_are_listed_in_pages(catalog: &Catalog) {
    for id in ["zeta", "beta", "delta", "Beta"] {
        let plan = if id == "zeta" { "pro" } else { "basic" };
        let account = Account {
            plan: Some(plan.to_owned()),
            ..account(id)
        };
        catalog.create_account(&account, 2).await.unwrap();
    }
    let ids = |accounts: Vec<Account>| accounts.into_iter().map(|a| a.id).collect::<Vec<_>>();
    // Byte order, whatever the database's collation: capitals first.
    let first = catalog.accounts(None, None, 2).await.unwrap();
    assert_eq!(ids(first), ["Beta", "acme"]);
    let second = catalog.accounts(Some("acme"), None, 2).await.unwrap();
    assert_eq!(ids(second), ["beta", "delta"]);
    let third = catalog.accounts(Some("delta"), None, 2).await.unwrap();
    assert_eq!(ids(third), ["zeta"]);
    assert!(
        catalog
            .accounts(Some("zeta"), None, 2)
            .await
            .unwrap()
            .is_empty()
    );
    let on_pro = catalog.accounts(None, Some("pro"), 10).await.unwrap();
    assert_eq!(ids(on_pro), ["zeta"]);
    let basic_after_acme = catalog.accounts(Some("acme"), Some("basic"), 10).await;
    assert_eq!(ids(basic_after_acme.unwrap()), ["beta", "delta"]);
    let basic = catalog.accounts(None, Some("basic"), 10).await.unwrap();
    assert_eq!(ids(basic), ["Beta", "acme", "beta", "delta"]);
}

#[tokio::test]
async fn sqlite_keeps_accounts_and_keys_hashed() {
    let scratch = Scratch::new("keys");
    let key = accounts_and_keys_survive_reopening(&scratch.url()).await;
    let file = std::fs::read(scratch.0.join("catalog.db")).unwrap();
    let contains = |needle: &[u8]| file.windows(needle.len()).any(|window| window == needle);
    assert!(!contains(key.as_bytes()), "the clear key is never stored");
    assert!(contains(key_hash(&key).as_bytes()), "its hash is");
}

#[tokio::test]
async fn postgres_keeps_accounts_and_keys() {
    let server = postgres_server::PostgresServer::start();
    // Ids compared by a collation that is not byte order (ICU's root: `acme` < `Beta` <
    // `beta`), as a database made with a locale such as en_US would: pages stay in byte order.
    Catalog::open(&server.url()).await.unwrap();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&server.url()).await.unwrap();
    sqlx::query(r#"ALTER TABLE accounts ALTER COLUMN id TYPE TEXT COLLATE "und-x-icu""#)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    accounts_and_keys_survive_reopening(&server.url()).await;
}

#[tokio::test]
async fn sqlite_packs_renew_replace_and_expire_through_the_ledger() {
    let scratch = Scratch::new("packs");
    packs_renew_replace_and_expire(&scratch.url()).await;
}

#[tokio::test]
async fn postgres_packs_renew_replace_and_expire_through_the_ledger() {
    let server = postgres_server::PostgresServer::start();
    packs_renew_replace_and_expire(&server.url()).await;
}

async fn packs_renew_replace_and_expire(url: &str) {
    let catalog = Catalog::open(url).await.unwrap();
    catalog.create_account(&account("acme"), 0).await.unwrap();

    let plus = catalog
        .buy_pack("acme", "plus", YEAR, None, "billing", 10 * DAY)
        .await
        .unwrap();
    assert_eq!(
        (plus.starts_at, plus.expires_at),
        (10 * DAY, 10 * DAY + YEAR)
    );

    // Same pack again, 100 days in: renewed from the old expiry.
    let renewed = catalog
        .buy_pack("acme", "plus", YEAR, None, "billing", 100 * DAY)
        .await
        .unwrap();
    assert_eq!(
        (renewed.starts_at, renewed.expires_at),
        (10 * DAY, 10 * DAY + 2 * YEAR)
    );

    // A different pack: replaces at once.
    let max = catalog
        .buy_pack("acme", "max", YEAR, None, "admin", 200 * DAY)
        .await
        .unwrap();
    assert_eq!(
        (max.starts_at, max.expires_at),
        (200 * DAY, 200 * DAY + YEAR)
    );
    assert_eq!(
        catalog
            .pack_in_force("acme", 200 * DAY)
            .await
            .unwrap()
            .unwrap()
            .pack,
        "max"
    );

    // At expiry it stops applying; bought again after that, it starts anew.
    assert!(
        catalog
            .pack_in_force("acme", 200 * DAY + YEAR - 1)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        catalog
            .pack_in_force("acme", 200 * DAY + YEAR)
            .await
            .unwrap()
            .is_none()
    );
    let again = catalog
        .buy_pack("acme", "max", YEAR, None, "billing", 600 * DAY)
        .await
        .unwrap();
    assert_eq!(
        (again.starts_at, again.expires_at),
        (600 * DAY, 600 * DAY + YEAR)
    );

    let ledger = catalog.pack_purchases("acme").await.unwrap();
    let rows: Vec<LedgerRow<'_>> = ledger
        .iter()
        .map(|row| {
            (
                row.pack.as_str(),
                row.bought_by.as_str(),
                row.superseded.as_ref().map(|(at, by)| (*at, by.as_str())),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("plus", "billing", Some((100 * DAY, "plus"))),
            ("plus", "billing", Some((200 * DAY, "max"))),
            ("max", "admin", None),
            ("max", "billing", None),
        ],
        "every purchase is kept; an expired pack is not marked superseded"
    );
}

/// The usage history over a range of days, and pruned before a day, in both databases.
async fn usage_is_read_by_range_and_pruned(url: &str) {
    let catalog = Catalog::open(url).await.unwrap();
    catalog.create_account(&account("acme"), 0).await.unwrap();
    let row = |api: &str, day, admitted, refused| UsageDay {
        account: "acme".to_owned(),
        api: api.to_owned(),
        day,
        admitted,
        refused,
    };
    catalog
        .add_usage(&[
            row("a", 10, 1, 0),
            row("a", 11, 2, 1),
            row("b", 11, 3, 0),
            row("a", 12, 4, 0),
        ])
        .await
        .unwrap();
    // Added to, not replaced.
    catalog.add_usage(&[row("a", 11, 1, 1)]).await.unwrap();
    let read = catalog.usage_history("acme", 11, 12).await.unwrap();
    let expected = [("a", 11, 3, 2), ("b", 11, 3, 0), ("a", 12, 4, 0)]
        .map(|(api, day, admitted, refused)| row(api, day, admitted, refused));
    assert_eq!(read, expected);
    assert_eq!(catalog.prune_usage(12).await.unwrap(), 3);
    assert_eq!(
        catalog.usage_history("acme", 0, 100).await.unwrap(),
        expected[2..]
    );
    assert_eq!(catalog.prune_usage(12).await.unwrap(), 0);
}

#[tokio::test]
async fn sqlite_usage_is_read_by_range_and_pruned() {
    let scratch = Scratch::new("usage");
    usage_is_read_by_range_and_pruned(&scratch.url()).await;
}

#[tokio::test]
async fn postgres_usage_is_read_by_range_and_pruned() {
    let server = postgres_server::PostgresServer::start();
    usage_is_read_by_range_and_pruned(&server.url()).await;
}
