//! The pack ledger: every purchase of an upgrade pack, kept, with what renewed or replaced it
//! (the rules of a purchase are in [`packs`](crate::packs)).

use sqlx::Row;
use tollgate_core::Nanos;

use crate::catalog::Catalog;
use crate::encoding::{from_nanos, nanos};
use crate::error::CatalogError;
use crate::packs::{HeldPack, in_force, purchase};

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

    /// Buys `pack` for `period` on account `id` at `now`, by `bought_by`, following the pack
    /// rules (same pack renews from its expiry, another replaces at once), all in one
    /// transaction. Returns the new ledger row. The account may be one of the catalog or of the
    /// policy file: the caller checks that it exists.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn buy_pack(
        &self,
        account_id: &str,
        pack: &str,
        period: Nanos,
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
                sqlx::query(
                    "UPDATE pack_purchases SET superseded_at = $1, superseded_by = $2
                     WHERE account_id = $3 AND bought_at = $4",
                )
                .bind(nanos(now))
                .bind(pack)
                .bind(account_id)
                .bind(*bought_at)
                .execute(&mut *tx)
                .await?;
            }
        }
        sqlx::query(
            "INSERT INTO pack_purchases (account_id, bought_at, pack, bought_by, starts_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(account_id)
        .bind(bought_at)
        .bind(pack)
        .bind(bought_by)
        .bind(nanos(bought.starts_at))
        .bind(nanos(bought.expires_at))
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
            "SELECT pack, bought_by, bought_at, starts_at, expires_at, superseded_at, superseded_by
             FROM pack_purchases WHERE account_id = $1 ORDER BY bought_at",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let superseded_at: Option<i64> = row.try_get("superseded_at")?;
                let superseded_by: Option<String> = row.try_get("superseded_by")?;
                Ok(PackPurchase {
                    pack: row.try_get("pack")?,
                    bought_by: row.try_get("bought_by")?,
                    bought_at: from_nanos(row.try_get("bought_at")?),
                    starts_at: from_nanos(row.try_get("starts_at")?),
                    expires_at: from_nanos(row.try_get("expires_at")?),
                    superseded: superseded_at.map(from_nanos).zip(superseded_by),
                })
            })
            .collect()
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
