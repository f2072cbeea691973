//! The catalog over one SQL database: SQLite embedded, or PostgreSQL shared.

use sha2::{Digest, Sha256};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};
use tollgate_core::Nanos;

use crate::CatalogError;
use crate::packs::{HeldPack, in_force, purchase};
use crate::schema::MIGRATIONS;

/// Accounts, keys and pack purchases, kept in a database that outlives the process.
#[derive(Debug, Clone)]
pub struct Catalog {
    pool: AnyPool,
}

/// An account as the catalog holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its id.
    pub id: String,
    /// Its plan, by the policy's name.
    pub plan: Option<String>,
    /// Its company (tenant).
    pub company: Option<String>,
    /// The IANA time zone its usage is reported in.
    pub time_zone: String,
}

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
}

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

/// Requests refused until a time: those of an account, an api, a concrete path, or any
/// combination (every field given must match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Its id, for removal.
    pub id: String,
    /// Only this account's requests.
    pub account: Option<String>,
    /// Only requests to this api.
    pub api: Option<String>,
    /// Only requests to this normalized path.
    pub path: Option<String>,
    /// Refused until then.
    pub until: Nanos,
    /// Why, for the refusal's message.
    pub reason: String,
    /// Who set it.
    pub set_by: String,
}

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

impl Catalog {
    /// Opens (creating if needed) the catalog at `url`: `sqlite://PATH` or `postgres://…`,
    /// and brings its tables up to date.
    ///
    /// # Errors
    /// The database cannot be opened or migrated.
    pub async fn open(url: &str) -> Result<Self, CatalogError> {
        install_default_drivers();
        let url = match url.strip_prefix("sqlite://") {
            Some(path) if !path.contains('?') => format!("sqlite://{path}?mode=rwc"),
            _ => url.to_owned(),
        };
        // Each connection to an in-memory SQLite database is a database of its own.
        let connections = if url.contains(":memory:") { 1 } else { 4 };
        let pool = AnyPoolOptions::new()
            .max_connections(connections)
            .connect(&url)
            .await?;
        let catalog = Self { pool };
        // Instances starting together race to create the tables; the losers find them made.
        let mut attempts = 0;
        loop {
            match catalog.migrate().await {
                Err(CatalogError::Database(sqlx::Error::Database(error)))
                    if error.is_unique_violation() && attempts < 5 =>
                {
                    attempts += 1;
                }
                done => return done.map(|()| catalog),
            }
        }
    }

    async fn migrate(&self) -> Result<(), CatalogError> {
        sqlx::query("CREATE TABLE IF NOT EXISTS tollgate_migrations (version BIGINT PRIMARY KEY)")
            .execute(&self.pool)
            .await?;
        for &(version, statements) in MIGRATIONS {
            let mut tx = self.pool.begin().await?;
            let applied = sqlx::query("SELECT version FROM tollgate_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
            if applied.is_some() {
                continue;
            }
            for statement in statements {
                sqlx::query(statement).execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO tollgate_migrations (version) VALUES ($1)")
                .bind(version)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Counts a change that instances sharing the catalog must read (see
    /// [`version`](Self::version)).
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn touch(&self) -> Result<(), CatalogError> {
        sqlx::query("UPDATE catalog_changes SET version = version + 1 WHERE id = 1")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// How many changes have been counted: an instance whose view was read at this version has
    /// nothing new to read while it stays the same.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn version(&self) -> Result<i64, CatalogError> {
        let row = sqlx::query("SELECT version FROM catalog_changes WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Adds an account.
    ///
    /// # Errors
    /// [`CatalogError::DuplicateAccount`] if the id is taken.
    pub async fn create_account(&self, account: &Account, now: Nanos) -> Result<(), CatalogError> {
        let inserted = sqlx::query(
            "INSERT INTO accounts (id, plan, company, time_zone, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&account.id)
        .bind(account.plan.as_deref())
        .bind(account.company.as_deref())
        .bind(&account.time_zone)
        .bind(nanos(now))
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                Err(CatalogError::DuplicateAccount(account.id.clone()))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The account `id`, if it exists.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn account(&self, id: &str) -> Result<Option<Account>, CatalogError> {
        let row = sqlx::query("SELECT id, plan, company, time_zone FROM accounts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(Account {
                id: row.try_get("id")?,
                plan: row.try_get("plan")?,
                company: row.try_get("company")?,
                time_zone: row.try_get("time_zone")?,
            })
        })
        .transpose()
    }

    /// Changes an account's plan, company or time zone (`None` leaves a field as it is).
    ///
    /// # Errors
    /// [`CatalogError::UnknownAccount`], or a database fault.
    pub async fn update_account(
        &self,
        id: &str,
        plan: Option<Option<&str>>,
        company: Option<Option<&str>>,
        time_zone: Option<&str>,
    ) -> Result<Account, CatalogError> {
        let mut account = self
            .account(id)
            .await?
            .ok_or_else(|| CatalogError::UnknownAccount(id.to_owned()))?;
        if let Some(plan) = plan {
            account.plan = plan.map(str::to_owned);
        }
        if let Some(company) = company {
            account.company = company.map(str::to_owned);
        }
        if let Some(time_zone) = time_zone {
            time_zone.clone_into(&mut account.time_zone);
        }
        sqlx::query("UPDATE accounts SET plan = $1, company = $2, time_zone = $3 WHERE id = $4")
            .bind(account.plan.as_deref())
            .bind(account.company.as_deref())
            .bind(&account.time_zone)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(account)
    }

    /// Deletes an account with its keys and pack ledger.
    ///
    /// # Errors
    /// [`CatalogError::UnknownAccount`], or a database fault.
    pub async fn delete_account(&self, id: &str) -> Result<(), CatalogError> {
        let mut tx = self.pool.begin().await?;
        for table in ["api_keys", "pack_purchases", "overrides", "usage_days"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE account_id = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let deleted = sqlx::query("DELETE FROM accounts WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(CatalogError::UnknownAccount(id.to_owned()));
        }
        tx.commit().await?;
        Ok(())
    }

    /// The SHA-256 (hex) and creation time of each key of an account.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn keys(&self, account_id: &str) -> Result<Vec<(String, Nanos)>, CatalogError> {
        let rows = sqlx::query(
            "SELECT key_sha256, created_at FROM api_keys WHERE account_id = $1 ORDER BY created_at",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| Ok((row.try_get(0)?, from_nanos(row.try_get(1)?))))
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

    /// Adds counts to the usage history: `(account, api, day, admitted, refused)`, the day
    /// numbered from the epoch in UTC.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn add_usage(
        &self,
        counts: &[(String, String, i64, u64, u64)],
    ) -> Result<(), CatalogError> {
        let mut tx = self.pool.begin().await?;
        for (account, api, day, admitted, refused) in counts {
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

    /// An account's usage history from `first_day` on: `(api, day, admitted, refused)`.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn usage_history(
        &self,
        account_id: &str,
        first_day: i64,
    ) -> Result<Vec<(String, i64, u64, u64)>, CatalogError> {
        let rows = sqlx::query(
            "SELECT api, day, admitted, refused FROM usage_days
             WHERE account_id = $1 AND day >= $2 ORDER BY day, api",
        )
        .bind(account_id)
        .bind(first_day)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let (admitted, refused): (i64, i64) = (row.try_get(2)?, row.try_get(3)?);
                Ok((
                    row.try_get(0)?,
                    row.try_get(1)?,
                    u64::try_from(admitted).unwrap_or(0),
                    u64::try_from(refused).unwrap_or(0),
                ))
            })
            .collect()
    }

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

    /// Every registered app: its id, owner and creation time (never its secret).
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn app_list(&self) -> Result<Vec<(String, Option<String>, Nanos)>, CatalogError> {
        let rows = sqlx::query("SELECT id, owner_account, created_at FROM apps ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok((
                    row.try_get(0)?,
                    row.try_get(1)?,
                    from_nanos(row.try_get(2)?),
                ))
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

    /// Every API key with its account's id, plan and company: what decisions look keys up in.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn keyed_accounts(&self) -> Result<Vec<KeyedAccount>, CatalogError> {
        let rows = sqlx::query(
            "SELECT k.key_sha256, a.id, a.plan, a.company,
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
                let pack: Option<String> = row.try_get(4)?;
                let expires_at: Option<i64> = row.try_get(5)?;
                Ok(KeyedAccount {
                    key_sha256: row.try_get(0)?,
                    account: row.try_get(1)?,
                    plan: row.try_get(2)?,
                    company: row.try_get(3)?,
                    pack: pack.zip(expires_at.map(from_nanos)),
                })
            })
            .collect()
    }

    /// The pack each account bought last, and its expiry (it may have expired).
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn latest_packs(&self) -> Result<Vec<(String, String, Nanos)>, CatalogError> {
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
                Ok((
                    row.try_get(0)?,
                    row.try_get(1)?,
                    from_nanos(row.try_get(2)?),
                ))
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
        .bind(nanos(now))
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
            bought_at: now,
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

/// SHA-256 of an API key, in hex: what the catalog stores.
#[must_use]
pub fn key_hash(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Nanoseconds as SQL's signed 64-bit integer (valid until 2262).
fn nanos(at: Nanos) -> i64 {
    i64::try_from(at).unwrap_or(i64::MAX)
}

fn from_nanos(at: i64) -> Nanos {
    Nanos::try_from(at).unwrap_or(0)
}
