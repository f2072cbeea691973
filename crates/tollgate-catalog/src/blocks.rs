//! Blocks: requests refused until a time, by account, api or path.

use sqlx::Row;
pub use tollgate_core::Block;
use tollgate_core::Nanos;

use crate::catalog::Catalog;
use crate::encoding::{from_nanos, hex, nanos};
use crate::error::CatalogError;

impl Catalog {
    /// Adds a block; its id is made here and returned.
    ///
    /// # Errors
    /// A database or randomness fault.
    pub async fn add_block(&self, block: &Block) -> Result<String, CatalogError> {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random)
            .map_err(|error| CatalogError::Randomness(error.to_string()))?;
        let id = format!("blk_{}", hex(&random));
        sqlx::query(
            "INSERT INTO blocks (id, account_id, api, path, until, reason, set_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(block.account.as_deref())
        .bind(block.api.as_deref())
        .bind(block.path.as_deref())
        .bind(nanos(block.until))
        .bind(&block.reason)
        .bind(&block.set_by)
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// The blocks still in force at `now`.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn blocks(&self, now: Nanos) -> Result<Vec<Block>, CatalogError> {
        let rows = sqlx::query(
            "SELECT id, account_id, api, path, until, reason, set_by FROM blocks WHERE until > $1 ORDER BY until",
        )
        .bind(nanos(now))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(Block {
                    id: row.try_get(0)?,
                    account: row.try_get(1)?,
                    api: row.try_get(2)?,
                    path: row.try_get(3)?,
                    until: from_nanos(row.try_get(4)?),
                    reason: row.try_get(5)?,
                    set_by: row.try_get(6)?,
                })
            })
            .collect()
    }

    /// Removes a block; whether there was one.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn remove_block(&self, id: &str) -> Result<bool, CatalogError> {
        let deleted = sqlx::query("DELETE FROM blocks WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }
}
