//! Apps: registered clients with a secret, shown in clear once and kept as its SHA-256.

use sqlx::Row;
use tollgate_core::Nanos;

use crate::catalog::Catalog;
use crate::encoding::{from_nanos, hex, nanos};
use crate::error::CatalogError;
use crate::keys::key_hash;

/// An app as the catalog lists it (its secret's hash is only read into the gate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredApp {
    /// Its id.
    pub id: String,
    /// The account it belongs to, if any.
    pub owner: Option<String>,
    /// When it was registered.
    pub created_at: Nanos,
}

impl Catalog {
    /// Registers an app and returns its secret in clear: the only time it is shown.
    ///
    /// # Errors
    /// [`CatalogError::DuplicateApp`], or a database or randomness fault.
    pub async fn create_app(
        &self,
        id: &str,
        owner: Option<&str>,
        now: Nanos,
    ) -> Result<String, CatalogError> {
        let mut random = [0u8; 24];
        getrandom::fill(&mut random)
            .map_err(|error| CatalogError::Randomness(error.to_string()))?;
        let secret = format!("tgs_{}", hex(&random));
        let inserted = sqlx::query("INSERT INTO apps (id, owner_account, secret_sha256, created_at) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(owner)
            .bind(key_hash(&secret))
            .bind(nanos(now))
            .execute(&self.pool)
            .await;
        match inserted {
            Ok(_) => Ok(secret),
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                Err(CatalogError::DuplicateApp(id.to_owned()))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Every registered app: its id and the SHA-256 (hex) of its secret.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn apps(&self) -> Result<Vec<(String, String)>, CatalogError> {
        let rows = sqlx::query("SELECT id, secret_sha256 FROM apps ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect()
    }

    /// Every registered app, never its secret.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn app_list(&self) -> Result<Vec<RegisteredApp>, CatalogError> {
        let rows = sqlx::query("SELECT id, owner_account, created_at FROM apps ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(RegisteredApp {
                    id: row.try_get(0)?,
                    owner: row.try_get(1)?,
                    created_at: from_nanos(row.try_get(2)?),
                })
            })
            .collect()
    }

    /// Removes an app; whether there was one.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn delete_app(&self, id: &str) -> Result<bool, CatalogError> {
        let deleted = sqlx::query("DELETE FROM apps WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }
}
