//! One account's calls to one api on one day: what the gate counts and the catalog keeps.

/// Calls of `account` to `api` on `day` (the account's calendar day, numbered from
/// 1970-01-01), admitted and refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageDay {
    /// The account.
    pub account: String,
    /// The api.
    pub api: String,
    /// The day, numbered from 1970-01-01 of the account's calendar.
    pub day: i64,
    /// Calls admitted.
    pub admitted: u64,
    /// Calls refused.
    pub refused: u64,
}
