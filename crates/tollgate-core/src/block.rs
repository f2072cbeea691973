//! A block: requests refused until a time, whoever set it (the admin API, an upstream's hint, a
//! rule). Plain data, kept by the catalog and read by the pipeline.

use crate::Nanos;

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
