//! The usage history: requests admitted and refused per account, api and day (the account's
//! calendar day, numbered from 1970-01-01), kept for a number of days and then pruned.

use sqlx::Row;
pub use tollgate_core::UsageDay;

use crate::catalog::Catalog;
use crate::error::CatalogError;

impl Catalog {
    /// Adds counts to the usage history.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn add_usage(&self, counts: &[UsageDay]) -> Result<(), CatalogError> {
        let mut tx = self.pool.begin().await?;
        for UsageDay {
            account,
            api,
            day,
            admitted,
            refused,
        } in counts
        {
            sqlx::query(
                "INSERT INTO usage_days (account_id, api, day, admitted, refused) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (account_id, api, day)
                 DO UPDATE SET admitted = usage_days.admitted + $4, refused = usage_days.refused + $5",
            )
            .bind(account)
            .bind(api)
            .bind(*day)
            .bind(i64::try_from(*admitted).unwrap_or(i64::MAX))
            .bind(i64::try_from(*refused).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// An account's usage history from day `first` to day `last`, both included, by day then
    /// api.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn usage_history(
        &self,
        account_id: &str,
        first: i64,
        last: i64,
    ) -> Result<Vec<UsageDay>, CatalogError> {
        let rows = sqlx::query(
            "SELECT api, day, admitted, refused FROM usage_days
             WHERE account_id = $1 AND day >= $2 AND day <= $3 ORDER BY day, api",
        )
        .bind(account_id)
        .bind(first)
        .bind(last)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let (admitted, refused): (i64, i64) = (row.try_get(2)?, row.try_get(3)?);
                Ok(UsageDay {
                    account: account_id.to_owned(),
                    api: row.try_get(0)?,
                    day: row.try_get(1)?,
                    admitted: u64::try_from(admitted).unwrap_or(0),
                    refused: u64::try_from(refused).unwrap_or(0),
                })
            })
            .collect()
    }

    /// Forgets the usage of every day before day `first`; returns how many rows went.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn prune_usage(&self, first: i64) -> Result<u64, CatalogError> {
        let done = sqlx::query("DELETE FROM usage_days WHERE day < $1")
            .bind(first)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
