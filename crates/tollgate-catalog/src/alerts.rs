//! Quota alerts: each delivery written before it is sent and marked once answered, so that a
//! restart neither loses nor repeats one; and the receiver an account set for its own.

use sqlx::Row;
use sqlx::any::AnyRow;
use tollgate_core::Nanos;

use crate::catalog::Catalog;
use crate::encoding::{from_nanos, hex, nanos};
use crate::error::CatalogError;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Written, not yet answered with a 2xx: sent (again) until it is, or its tries run out.
    Due,
    /// A receiver answered 2xx.
    Delivered,
    /// Every try failed; not sent again.
    Failed,
}

impl DeliveryState {
    /// Its name, as stored and shown: `due`, `delivered`, `failed`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Due => "due",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "delivered" => Self::Delivered,
            "failed" => Self::Failed,
            _ => Self::Due,
        }
    }
}

/// One alert and its delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertDelivery {
    /// Unique, sent with it: a receiver that sees an id twice has seen the alert before.
    pub id: String,
    /// The account told.
    pub account: String,
    /// What it is about: `LIMIT/API` for a quota, `pack/NAME` for a pack's end.
    pub subject: String,
    /// Which threshold: `80%` of a quota, `14d` before a pack's end.
    pub threshold: String,
    /// The end of the quota's period, or the pack's expiry: one alert per subject, threshold
    /// and period end.
    pub period_end: Nanos,
    /// Where it is sent.
    pub url: String,
    /// The JSON body, the same on every try.
    pub body: String,
    /// Where its delivery stands.
    pub state: DeliveryState,
    /// Tries so far.
    pub attempts: u32,
    /// When it was written.
    pub created_at: Nanos,
    /// When a receiver acknowledged it.
    pub delivered_at: Option<Nanos>,
    /// Why the last try failed.
    pub last_error: Option<String>,
}

/// How a try went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tried<'a> {
    /// Answered 2xx at this instant.
    Delivered(Nanos),
    /// Failed for this reason; `last`: no try is left.
    Failed {
        /// Why, in words (no secret).
        error: &'a str,
        /// Whether it was the last try.
        last: bool,
    },
}

const COLUMNS: &str = "id, account_id, subject, threshold, period_end, url, body, state, attempts, created_at, delivered_at, last_error";

impl Catalog {
    /// A new delivery id, `alr_` and 16 hex digits.
    ///
    /// # Errors
    /// The operating system's randomness failed.
    pub fn new_alert_id() -> Result<String, CatalogError> {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random)
            .map_err(|error| CatalogError::Randomness(error.to_string()))?;
        Ok(format!("alr_{}", hex(&random)))
    }

    /// Writes `alert` as due, unless one of the same account, subject, threshold and period
    /// end is there already; whether it was written (and is to be sent).
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn record_alert(&self, alert: &AlertDelivery) -> Result<bool, CatalogError> {
        let written = sqlx::query(&format!(
            "INSERT INTO alert_deliveries ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (account_id, subject, threshold, period_end) DO NOTHING"
        ))
        .bind(&alert.id)
        .bind(&alert.account)
        .bind(&alert.subject)
        .bind(&alert.threshold)
        .bind(nanos(alert.period_end))
        .bind(&alert.url)
        .bind(&alert.body)
        .bind(alert.state.as_str())
        .bind(i64::from(alert.attempts))
        .bind(nanos(alert.created_at))
        .bind(alert.delivered_at.map(nanos))
        .bind(alert.last_error.as_deref())
        .execute(&self.pool)
        .await?;
        Ok(written.rows_affected() > 0)
    }

    /// Records a try of delivery `id` (its `attempts`-th).
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn alert_tried(
        &self,
        id: &str,
        attempts: u32,
        tried: Tried<'_>,
    ) -> Result<(), CatalogError> {
        let (state, delivered_at, error) = match tried {
            Tried::Delivered(at) => (DeliveryState::Delivered, Some(nanos(at)), None),
            Tried::Failed { error, last } => {
                let state = if last {
                    DeliveryState::Failed
                } else {
                    DeliveryState::Due
                };
                (state, None, Some(error))
            }
        };
        sqlx::query(
            "UPDATE alert_deliveries SET state = $1, attempts = $2, delivered_at = $3, last_error = $4 WHERE id = $5",
        )
        .bind(state.as_str())
        .bind(i64::from(attempts))
        .bind(delivered_at)
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every delivery still due, oldest first: what a start sends again.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn due_alerts(&self) -> Result<Vec<AlertDelivery>, CatalogError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM alert_deliveries WHERE state = 'due' ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery).collect()
    }

    /// The last `limit` deliveries of `account`, newest first.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn alert_deliveries(
        &self,
        account: &str,
        limit: u32,
    ) -> Result<Vec<AlertDelivery>, CatalogError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM alert_deliveries WHERE account_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
        ))
        .bind(account)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery).collect()
    }

    /// Forgets the deliveries made before `before` that are no longer due; how many.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn prune_alerts(&self, before: Nanos) -> Result<u64, CatalogError> {
        let pruned =
            sqlx::query("DELETE FROM alert_deliveries WHERE created_at < $1 AND state <> 'due'")
                .bind(nanos(before))
                .execute(&self.pool)
                .await?;
        Ok(pruned.rows_affected())
    }

    /// Sets where `account`'s alerts go (`None`: to its plan's or the policy's receiver).
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn set_alert_url(
        &self,
        account: &str,
        url: Option<&str>,
    ) -> Result<(), CatalogError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM alert_receivers WHERE account_id = $1")
            .bind(account)
            .execute(&mut *tx)
            .await?;
        if let Some(url) = url {
            sqlx::query("INSERT INTO alert_receivers (account_id, url) VALUES ($1, $2)")
                .bind(account)
                .bind(url)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Where `account` asked its alerts to go, if it did.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn alert_url(&self, account: &str) -> Result<Option<String>, CatalogError> {
        let row = sqlx::query("SELECT url FROM alert_receivers WHERE account_id = $1")
            .bind(account)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.try_get(0)).transpose()?)
    }
}

fn delivery(row: &AnyRow) -> Result<AlertDelivery, CatalogError> {
    let attempts: i64 = row.try_get(8)?;
    let delivered_at: Option<i64> = row.try_get(10)?;
    Ok(AlertDelivery {
        id: row.try_get(0)?,
        account: row.try_get(1)?,
        subject: row.try_get(2)?,
        threshold: row.try_get(3)?,
        period_end: from_nanos(row.try_get(4)?),
        url: row.try_get(5)?,
        body: row.try_get(6)?,
        state: DeliveryState::parse(&row.try_get::<String, _>(7)?),
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        created_at: from_nanos(row.try_get(9)?),
        delivered_at: delivered_at.map(from_nanos),
        last_error: row.try_get(11)?,
    })
}
