//! Tollgate's catalog: the durable data of an API provider — accounts, API keys (kept as
//! SHA-256 hashes, shown in clear once), and the ledger of upgrade packs — in SQL that runs on
//! the embedded SQLite and on a shared PostgreSQL.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use tollgate_catalog::{Account, Catalog};
//!
//! let catalog = Catalog::open("sqlite::memory:").await?;
//! let acme = Account { id: "acme".into(), plan: Some("basic".into()), company: None, time_zone: "UTC".into() };
//! catalog.create_account(&acme, 0).await?;
//! let key = catalog.create_key("acme", 0).await?;
//! assert_eq!(catalog.account_for_key(&key).await?.as_deref(), Some("acme"));
//!
//! const DAY: u64 = 86_400 * 1_000_000_000;
//! const YEAR: u64 = 365 * DAY;
//! let price = "99.99 EUR".parse().ok();
//! let plus = catalog.buy_pack("acme", "plus", YEAR, price, "billing", 0).await?;
//! let renewed = catalog.buy_pack("acme", "plus", YEAR, price, "billing", 1_000).await?;
//! assert_eq!(renewed.expires_at, plus.expires_at + YEAR);
//!
//! // Another pack replaces it 73 days in: 657 of the 730 days paid for are left unused.
//! catalog.buy_pack("acme", "max", YEAR, None, "billing", 73 * DAY).await?;
//! let left = catalog.pack_purchases("acme").await?[1].refund.unwrap();
//! assert_eq!(left.unused_seconds, 657 * 86_400);
//! assert_eq!(left.value.unwrap().to_string(), "179.98 EUR");
//! # Ok::<(), tollgate_catalog::CatalogError>(())
//! # }).unwrap();
//! ```

#![forbid(unsafe_code)]

mod accounts;
mod alerts;
mod apps;
mod blocks;
mod catalog;
mod encoding;
mod error;
mod keys;
mod ledger;
mod overrides;
mod packs;
mod schema;
mod usage;

pub use accounts::Account;
pub use alerts::{AlertDelivery, DeliveryState, Tried};
pub use apps::RegisteredApp;
pub use blocks::Block;
pub use catalog::Catalog;
pub use error::CatalogError;
pub use keys::{KeyedAccount, StoredKey, key_hash};
pub use ledger::{LatestPack, PackPurchase};
pub use overrides::Override;
pub use packs::Refund;
pub use usage::UsageDay;
