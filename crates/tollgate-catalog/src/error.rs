//! What can go wrong with the catalog.

/// A catalog fault, or a request it cannot honour.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// No such account.
    #[error("no account `{0}`")]
    UnknownAccount(String),
    /// An account with this id exists.
    #[error("account `{0}` already exists")]
    DuplicateAccount(String),
    /// An app with this id exists.
    #[error("app `{0}` already exists")]
    DuplicateApp(String),
    /// The database failed or could not be reached.
    #[error("catalog database: {0}")]
    Database(#[from] sqlx::Error),
    /// The operating system's randomness failed while making a key.
    #[error("no randomness for a new key: {0}")]
    Randomness(String),
}
