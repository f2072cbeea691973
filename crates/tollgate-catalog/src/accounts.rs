//! Accounts: who is limited, on which plan, for which company, in which time zone.

use sqlx::Row;
use tollgate_core::Nanos;

use crate::catalog::Catalog;
use crate::encoding::nanos;
use crate::error::CatalogError;

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

impl Catalog {
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

    /// Up to `limit` accounts in byte order of id, those after `after` (the last id of the page
    /// before), on `plan` when given: pages that neither skip nor repeat an account however
    /// accounts are added or removed between them.
    ///
    /// # Errors
    /// Only for database faults.
    pub async fn accounts(
        &self,
        after: Option<&str>,
        plan: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Account>, CatalogError> {
        // Byte order, whatever the database's collation: the server merges these pages with the
        // policy file's accounts, and its cursor compares bytes.
        let order = self.bytewise;
        let rows = sqlx::query(&format!(
            "SELECT id, plan, company, time_zone FROM accounts \
             WHERE ($1 IS NULL OR id{order} > $1) AND ($2 IS NULL OR plan = $2) \
             ORDER BY id{order} LIMIT $3"
        ))
        .bind(after)
        .bind(plan)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(Account {
                    id: row.try_get("id")?,
                    plan: row.try_get("plan")?,
                    company: row.try_get("company")?,
                    time_zone: row.try_get("time_zone")?,
                })
            })
            .collect()
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
}
