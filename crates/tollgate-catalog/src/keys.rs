//! API keys: made at random, shown in clear once, kept as their SHA-256.

use sha2::{Digest, Sha256};
use sqlx::Row;
use tollgate_core::Nanos;

use crate::catalog::Catalog;
use crate::encoding::{from_nanos, hex, nanos};
use crate::error::CatalogError;

/// An API key (as its SHA-256) and the account it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedAccount {
    /// SHA-256 of the key, in hex.
    pub key_sha256: String,
    /// The account's id.
    pub account: String,
    /// Its plan.
    pub plan: Option<String>,
    /// Its company.
    pub company: Option<String>,
    /// The pack it bought last and when that expires (it may have expired already).
    pub pack: Option<(String, Nanos)>,
    /// Its IANA time zone (`UTC` unless one was given).
    pub time_zone: String,
}

/// An API key as the catalog keeps it: never the key, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The SHA-256 of the key, in hex.
    pub sha256: String,
    /// When it was made.
    pub created_at: Nanos,
}

impl Catalog {
    /// Makes a new API key for account `id` and returns it in clear: the only time it is
    /// shown. The catalog keeps its SHA-256.
    ///
    /// # Errors
    /// [`CatalogError::UnknownAccount`], or a database or randomness fault.
    pub async fn create_key(&self, account_id: &str, now: Nanos) -> Result<String, CatalogError> {
        if self.account(account_id).await?.is_none() {
            return Err(CatalogError::UnknownAccount(account_id.to_owned()));
        }
        let mut secret = [0u8; 24];
        getrandom::fill(&mut secret)
            .map_err(|error| CatalogError::Randomness(error.to_string()))?;
        let key = format!("tg_{}", hex(&secret));
        sqlx::query(
            "INSERT INTO api_keys (key_sha256, account_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(key_hash(&key))
        .bind(account_id)
        .bind(nanos(now))
        .execute(&self.pool)
        .await?;
        Ok(key)
    }

    /// The account an API key belongs to.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn account_for_key(&self, key: &str) -> Result<Option<String>, CatalogError> {
        let row = sqlx::query("SELECT account_id FROM api_keys WHERE key_sha256 = $1")
            .bind(key_hash(key))
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.try_get("account_id")).transpose()?)
    }

    /// Each key of an account, oldest first.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn keys(&self, account_id: &str) -> Result<Vec<StoredKey>, CatalogError> {
        let rows = sqlx::query(
            "SELECT key_sha256, created_at FROM api_keys WHERE account_id = $1 ORDER BY created_at",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(StoredKey {
                    sha256: row.try_get(0)?,
                    created_at: from_nanos(row.try_get(1)?),
                })
            })
            .collect()
    }

    /// Revokes a key of an account, by its SHA-256; whether there was such a key.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn revoke_key(
        &self,
        account_id: &str,
        key_sha256: &str,
    ) -> Result<bool, CatalogError> {
        let deleted = sqlx::query("DELETE FROM api_keys WHERE account_id = $1 AND key_sha256 = $2")
            .bind(account_id)
            .bind(key_sha256)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    /// Every API key with its account's id, plan and company: what decisions look keys up in.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn keyed_accounts(&self) -> Result<Vec<KeyedAccount>, CatalogError> {
        let rows = sqlx::query(
            "SELECT k.key_sha256, a.id, a.plan, a.company, a.time_zone,
                (SELECT p.pack FROM pack_purchases p WHERE p.account_id = a.id
                 AND p.superseded_at IS NULL ORDER BY p.bought_at DESC LIMIT 1) AS pack,
                (SELECT p.expires_at FROM pack_purchases p WHERE p.account_id = a.id
                 AND p.superseded_at IS NULL ORDER BY p.bought_at DESC LIMIT 1) AS pack_expires_at
             FROM api_keys k JOIN accounts a ON a.id = k.account_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let pack: Option<String> = row.try_get(5)?;
                let expires_at: Option<i64> = row.try_get(6)?;
                Ok(KeyedAccount {
                    key_sha256: row.try_get(0)?,
                    account: row.try_get(1)?,
                    plan: row.try_get(2)?,
                    company: row.try_get(3)?,
                    time_zone: row.try_get(4)?,
                    pack: pack.zip(expires_at.map(from_nanos)),
                })
            })
            .collect()
    }
}

/// SHA-256 of an API key, in hex: what the catalog stores.
#[must_use]
pub fn key_hash(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}
