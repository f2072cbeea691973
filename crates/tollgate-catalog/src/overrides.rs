//! Overrides: an account's own numbers for a limit of the policy.

use sqlx::Row;

use crate::catalog::Catalog;
use crate::error::CatalogError;

/// An account's own numbers for one limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// The limit's name in the policy.
    pub limit: String,
    /// A window's or concurrency limit's maximum.
    pub max: Option<u64>,
    /// A bucket's rate, `COUNT/PERIOD`.
    pub rate: Option<String>,
    /// A bucket's burst.
    pub burst: Option<u64>,
}

impl Catalog {
    /// Sets an account's own numbers for a limit (replacing any it had). The account may be
    /// one of the catalog or of the policy file: the caller checks it exists.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn set_override(
        &self,
        account_id: &str,
        limit: &str,
        numbers: &Override,
    ) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO overrides (account_id, limit_name, max, rate, burst) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (account_id, limit_name) DO UPDATE SET max = $3, rate = $4, burst = $5",
        )
        .bind(account_id)
        .bind(limit)
        .bind(numbers.max.map(|max| i64::try_from(max).unwrap_or(i64::MAX)))
        .bind(numbers.rate.as_deref())
        .bind(numbers.burst.map(|burst| i64::try_from(burst).unwrap_or(i64::MAX)))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes an account's own numbers for a limit; whether it had some.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn clear_override(
        &self,
        account_id: &str,
        limit: &str,
    ) -> Result<bool, CatalogError> {
        let deleted =
            sqlx::query("DELETE FROM overrides WHERE account_id = $1 AND limit_name = $2")
                .bind(account_id)
                .bind(limit)
                .execute(&self.pool)
                .await?;
        Ok(deleted.rows_affected() > 0)
    }

    /// Every account's own numbers: `(account, override)`.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn overrides(&self) -> Result<Vec<(String, Override)>, CatalogError> {
        let rows = sqlx::query("SELECT account_id, limit_name, max, rate, burst FROM overrides ORDER BY account_id, limit_name")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|row| {
                let max: Option<i64> = row.try_get(2)?;
                let burst: Option<i64> = row.try_get(4)?;
                Ok((
                    row.try_get(0)?,
                    Override {
                        limit: row.try_get(1)?,
                        max: max.and_then(|max| u64::try_from(max).ok()),
                        rate: row.try_get(3)?,
                        burst: burst.and_then(|burst| u64::try_from(burst).ok()),
                    },
                ))
            })
            .collect()
    }
}
