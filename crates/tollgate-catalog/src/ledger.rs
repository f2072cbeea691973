//! The pack ledger: every purchase of an upgrade pack, kept, with what it cost, what renewed
//! or replaced it, and what a replaced pack left (the rules of a purchase are in
//! [`packs`](crate::packs)).

use sqlx::Row;
use sqlx::any::AnyRow;
use tollgate_core::{Nanos, Price};

use crate::catalog::Catalog;
use crate::encoding::{from_nanos, nanos};
use crate::error::CatalogError;
use crate::packs::{HeldPack, Refund, in_force, purchase, refund};

/// One row of the pack ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackPurchase {
    /// The pack bought.
    pub pack: String,
    /// Who bought it (an admin, a billing system).
    pub bought_by: String,
    /// When.
    pub bought_at: Nanos,
    /// When it started applying (a renewal keeps the renewed pack's start).
    pub starts_at: Nanos,
    /// When it stops applying.
    pub expires_at: Nanos,
    /// When a later purchase renewed or replaced it, and with which pack.
    pub superseded: Option<(Nanos, String)>,
    /// What this purchase cost, as the policy priced the pack then; `None` for a pack without
    /// a price.
    pub price: Option<Price>,
    /// What it left when a different pack replaced it before its expiry; `None` while it
    /// applies, once renewed, and after it expired.
    pub refund: Option<Refund>,
}

/// The pack an account bought last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestPack {
    /// The account.
    pub account: String,
    /// The pack.
    pub pack: String,
    /// When it ends (it may have ended).
    pub expires_at: Nanos,
}

impl Catalog {
    /// The pack each account bought last, and its expiry (it may have expired).
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn latest_packs(&self) -> Result<Vec<LatestPack>, CatalogError> {
        let rows = sqlx::query(
            "SELECT p.account_id, p.pack, p.expires_at FROM pack_purchases p
             WHERE p.superseded_at IS NULL AND p.bought_at = (
                SELECT MAX(q.bought_at) FROM pack_purchases q
                WHERE q.account_id = p.account_id AND q.superseded_at IS NULL)",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(LatestPack {
                    account: row.try_get(0)?,
                    pack: row.try_get(1)?,
                    expires_at: from_nanos(row.try_get(2)?),
                })
            })
            .collect()
    }

    /// Buys `pack` for `period` at `price` on account `id` at `now`, by `bought_by`, following
    /// the pack rules (same pack renews from its expiry, another replaces at once and leaves a
    /// [`Refund`] on the replaced row), all in one transaction. Returns the new ledger row. The
    /// account may be one of the catalog or of the policy file: the caller checks that it
    /// exists.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn buy_pack(
        &self,
        account_id: &str,
        pack: &str,
        period: Nanos,
        price: Option<Price>,
        bought_by: &str,
        now: Nanos,
    ) -> Result<PackPurchase, CatalogError> {
        let mut tx = self.pool.begin().await?;
        let held = sqlx::query(
            "SELECT pack, starts_at, expires_at, bought_at FROM pack_purchases
             WHERE account_id = $1 AND superseded_at IS NULL ORDER BY bought_at DESC LIMIT 1",
        )
        .bind(account_id)
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| -> Result<(HeldPack, i64), sqlx::Error> {
            Ok((
                HeldPack {
                    pack: row.try_get("pack")?,
                    starts_at: from_nanos(row.try_get("starts_at")?),
                    expires_at: from_nanos(row.try_get("expires_at")?),
                },
                row.try_get("bought_at")?,
            ))
        })
        .transpose()?;
        let bought = purchase(held.as_ref().map(|(held, _)| held), pack, period, now);
        // The ledger is keyed by the account and the instant of purchase: a second purchase in
        // the same nanosecond (a fast client, a coarse clock) is written a nanosecond after the
        // last one, never lost to the key.
        let latest: Option<i64> =
            sqlx::query_scalar("SELECT MAX(bought_at) FROM pack_purchases WHERE account_id = $1")
                .bind(account_id)
                .fetch_one(&mut *tx)
                .await?;
        let bought_at = latest.map_or(nanos(now), |latest| nanos(now).max(latest + 1));
        if let Some((held, bought_at)) = &held {
            // Renewed or replaced from now; an expired pack stays as it ended.
            if held.expires_at > now {
                let left = if bought.replaces_held {
                    let paid = paid_for(&mut tx, account_id, held).await?;
                    Some(refund(held, paid, now))
                } else {
                    None
                };
                sqlx::query(
                    "UPDATE pack_purchases
                     SET superseded_at = $1, superseded_by = $2, unused_seconds = $3, refund = $4
                     WHERE account_id = $5 AND bought_at = $6",
                )
                .bind(nanos(now))
                .bind(pack)
                .bind(left.map(|left| seconds(left.unused_seconds)))
                .bind(
                    left.and_then(|left| left.value)
                        .map(|value| value.to_string()),
                )
                .bind(account_id)
                .bind(*bought_at)
                .execute(&mut *tx)
                .await?;
            }
        }
        sqlx::query(
            "INSERT INTO pack_purchases
             (account_id, bought_at, pack, bought_by, starts_at, expires_at, price)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(account_id)
        .bind(bought_at)
        .bind(pack)
        .bind(bought_by)
        .bind(nanos(bought.starts_at))
        .bind(nanos(bought.expires_at))
        .bind(price.map(|price| price.to_string()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(PackPurchase {
            pack: pack.to_owned(),
            bought_by: bought_by.to_owned(),
            bought_at: from_nanos(bought_at),
            starts_at: bought.starts_at,
            expires_at: bought.expires_at,
            superseded: None,
            price,
            refund: None,
        })
    }

    /// The pack ledger of an account, oldest first.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn pack_purchases(
        &self,
        account_id: &str,
    ) -> Result<Vec<PackPurchase>, CatalogError> {
        let rows = sqlx::query(
            "SELECT pack, bought_by, bought_at, starts_at, expires_at, superseded_at, superseded_by,
                    price, unused_seconds, refund
             FROM pack_purchases WHERE account_id = $1 ORDER BY bought_at",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(ledger_row).collect()
    }

    /// The pack that applies to an account at `now`, if any: the latest purchase, until it
    /// expires (a renewal or a replacement is itself the latest purchase).
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn pack_in_force(
        &self,
        account_id: &str,
        now: Nanos,
    ) -> Result<Option<PackPurchase>, CatalogError> {
        let latest = self
            .pack_purchases(account_id)
            .await?
            .into_iter()
            .rev()
            .find(|row| row.superseded.is_none());
        Ok(latest.filter(|row| {
            let held = HeldPack {
                pack: row.pack.clone(),
                starts_at: row.starts_at,
                expires_at: row.expires_at,
            };
            in_force(Some(&held), now).is_some()
        }))
    }
}

/// A row of `pack_purchases`, every column read.
fn ledger_row(row: &AnyRow) -> Result<PackPurchase, CatalogError> {
    let superseded_at: Option<i64> = row.try_get("superseded_at")?;
    let superseded_by: Option<String> = row.try_get("superseded_by")?;
    let unused_seconds: Option<i64> = row.try_get("unused_seconds")?;
    let refund_value = money(row.try_get("refund")?)?;
    Ok(PackPurchase {
        pack: row.try_get("pack")?,
        bought_by: row.try_get("bought_by")?,
        bought_at: from_nanos(row.try_get("bought_at")?),
        starts_at: from_nanos(row.try_get("starts_at")?),
        expires_at: from_nanos(row.try_get("expires_at")?),
        superseded: superseded_at.map(from_nanos).zip(superseded_by),
        price: money(row.try_get("price")?)?,
        refund: unused_seconds.map(|unused| Refund {
            unused_seconds: u64::try_from(unused).unwrap_or(0),
            value: refund_value,
        }),
    })
}

/// What was paid for `held`: the prices of its purchase and of the renewals folded into it
/// (the rows of its pack that share its start), summed; `None` if one had no price, or two
/// were in different currencies.
async fn paid_for(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    account_id: &str,
    held: &HeldPack,
) -> Result<Option<Price>, CatalogError> {
    let prices: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT price FROM pack_purchases WHERE account_id = $1 AND pack = $2 AND starts_at = $3",
    )
    .bind(account_id)
    .bind(&held.pack)
    .bind(nanos(held.starts_at))
    .fetch_all(&mut **tx)
    .await?;
    let mut paid: Option<Price> = None;
    for price in prices {
        let Some(price) = money(price)? else {
            return Ok(None);
        };
        paid = match paid {
            None => Some(price),
            Some(sum) => match sum.checked_add(&price) {
                Some(sum) => Some(sum),
                None => return Ok(None),
            },
        };
    }
    Ok(paid)
}

/// A price as the ledger keeps it, `99.99 EUR`.
fn money(text: Option<String>) -> Result<Option<Price>, CatalogError> {
    text.map(|text| {
        text.parse::<Price>()
            .map_err(|error| CatalogError::Database(sqlx::Error::Decode(Box::new(error))))
    })
    .transpose()
}

/// Seconds as SQL's signed 64-bit integer.
fn seconds(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}
