//! The catalog over one SQL database: SQLite embedded, or PostgreSQL shared; opening it,
//! bringing its tables up to date, and the count of changes that instances sharing it read.

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};

use crate::error::CatalogError;
use crate::schema::MIGRATIONS;

/// Accounts, keys and pack purchases, kept in a database that outlives the process.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub(crate) pool: AnyPool,
    /// What makes a text comparison byte order: SQLite's is already; PostgreSQL's follows the
    /// database's collation (`COLLATE "C"` makes it byte order).
    pub(crate) bytewise: &'static str,
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
        // SQLite writes one at a time, and two of its connections whose transactions read and
        // then write can deadlock, one answered "database is locked" at once, whatever the busy
        // timeout: one connection serializes them (and each connection to an in-memory database
        // is a database of its own). PostgreSQL takes four.
        let connections = if url.starts_with("sqlite:") { 1 } else { 4 };
        let pool = AnyPoolOptions::new()
            .max_connections(connections)
            .connect(&url)
            .await?;
        let bytewise = if url.starts_with("sqlite:") {
            ""
        } else {
            r#" COLLATE "C""#
        };
        let catalog = Self { pool, bytewise };
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
}
