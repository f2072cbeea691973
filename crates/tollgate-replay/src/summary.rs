//! What a replay found, as plain data for the terminal, JSON and HTML: totals, each limit with
//! its top offenders and its refusals per hour, each account, the requests per hour, and the
//! refusals by account, api and limit that `tollgate diff` compares. The hours are every hour of
//! the span, from the first request's to the last one's, the same in every profile.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::source::Malformed;

/// The report of one replay.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// The logs replayed, in order.
    pub files: Vec<String>,
    /// Lines read (blank lines aside), malformed ones included.
    pub lines: u64,
    /// Requests decided.
    pub requests: u64,
    /// Requests admitted.
    pub admitted: u64,
    /// Requests refused, for any reason.
    pub refused: u64,
    /// Lines older than one before them, replayed at the latest time seen.
    pub late: u64,
    /// The first request's time (RFC 3339), if any.
    pub first_at: Option<String>,
    /// The last time replayed (RFC 3339), if any.
    pub last_at: Option<String>,
    /// Lines that could not be read.
    pub malformed: Malformed,
    /// Lines of a connection that sent no request (nginx's own `"-" 400`, Apache's `"-" 408`):
    /// neither requests nor malformed.
    pub no_request: u64,
    /// Requests from combined-format lines whose last quoted field (after the user agent) has
    /// a value that no `--key-header` names: replayed without a key.
    pub unread_key_fields: u64,
    /// What the reader must know before trusting the report, in words (e.g. keys left unread
    /// for want of `--key-header`).
    pub warnings: Vec<String>,
    /// Refusals by status (429 for limits; 400, 401, 404, 423… for the rest).
    pub refused_by_status: BTreeMap<u16, u64>,
    /// Every limit consulted, enforced then shadow, by name.
    pub limits: Vec<LimitSummary>,
    /// Every account seen, most refused first.
    pub accounts: Vec<AccountSummary>,
    /// Requests and refusals in every hour from the first request's to the last one's, oldest
    /// first, hours without a request too.
    pub hours: Vec<HourSummary>,
    /// Refusals by account, api and limit (`status N` for a refusal by no limit).
    pub refusals: Vec<Refusals>,
}

/// One limit over the replay.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LimitSummary {
    /// Its name.
    pub name: String,
    /// Counted and reported, never refusing: its refusals are would-be refusals.
    pub shadow: bool,
    /// Requests it was consulted for.
    pub requests: u64,
    /// Requests it refused (or, in shadow, would have refused).
    pub refused: u64,
    /// Accounts it refused most, most first.
    pub top: Vec<Offender>,
    /// Its refusals in each hour of [`Summary::hours`], hours without any too.
    pub hours: Vec<HourCount>,
}

/// An account and how often a limit refused it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offender {
    /// The account, or for requests without one `(no key)`, `(unknown key)` or
    /// `(not identified)` (see [`Caller`](crate::Caller)).
    pub account: String,
    /// Its refusals.
    pub refused: u64,
}

/// A count in one hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HourCount {
    /// The hour's start, RFC 3339, UTC.
    pub hour: String,
    /// The count.
    pub count: u64,
}

/// One account over the replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountSummary {
    /// The account, or for requests without one `(no key)`, `(unknown key)` or
    /// `(not identified)` (see [`Caller`](crate::Caller)).
    pub account: String,
    /// Its requests.
    pub requests: u64,
    /// Its requests refused.
    pub refused: u64,
    /// Its admitted requests a shadow limit would have refused.
    pub shadow_refused: u64,
}

/// Requests in one hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HourSummary {
    /// The hour's start, RFC 3339, UTC.
    pub hour: String,
    /// Requests decided.
    pub requests: u64,
    /// Requests refused.
    pub refused: u64,
}

/// Refusals of one account on one api by one limit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Refusals {
    /// The account, or for requests without one `(no key)`, `(unknown key)` or
    /// `(not identified)` (see [`Caller`](crate::Caller)).
    pub account: String,
    /// The api (`-` when no route matched).
    pub api: String,
    /// The limit, or `status N` for a refusal by no limit.
    pub limit: String,
    /// Refusals.
    pub count: u64,
}

impl Summary {
    /// The limit called `name`.
    #[must_use]
    pub fn limit(&self, name: &str) -> Option<&LimitSummary> {
        self.limits.iter().find(|limit| limit.name == name)
    }

    /// The account called `name`.
    #[must_use]
    pub fn account(&self, name: &str) -> Option<&AccountSummary> {
        self.accounts.iter().find(|account| account.account == name)
    }
}
