//! `[alerts]` compiled: which quotas are watched and at which shares, how long before a pack's
//! end an account is told, where alerts go and how they are signed and retried.

use std::sync::Arc;
use std::time::Duration;

use crate::{Limit, Name};

/// The policy's alerts: read by the gate (which limits to watch, at which shares) and by
/// the server (where to send, how to sign and retry).
pub struct Alerts {
    pub(crate) url: Option<String>,
    pub(crate) plan_urls: Vec<(Name, String)>,
    pub(crate) secret: String,
    /// The watched limits' names: the very names of the policy's limits, compared by address.
    pub(crate) limits: Vec<Arc<str>>,
    /// Percentages, ascending, each 1 to 100.
    pub(crate) at: Vec<u8>,
    /// Before a pack's expiry, longest first.
    pub(crate) pack_expiry: Vec<Duration>,
    pub(crate) attempts: u32,
    pub(crate) backoff: Duration,
    pub(crate) timeout: Duration,
}

impl std::fmt::Debug for Alerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret is never written out, not even to a debug log.
        f.debug_struct("Alerts")
            .field("url", &self.url)
            .field("plan_urls", &self.plan_urls)
            .field("limits", &self.limits)
            .field("at", &self.at)
            .field("pack_expiry", &self.pack_expiry)
            .field("attempts", &self.attempts)
            .field("backoff", &self.backoff)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Alerts {
    /// Whether `limit` (of the same policy) is a watched quota.
    #[inline]
    #[must_use]
    pub fn watches(&self, limit: &Limit) -> bool {
        self.limits
            .iter()
            .any(|name| Arc::ptr_eq(name, &limit.name))
    }

    /// The names of the watched quotas.
    pub fn limits(&self) -> impl Iterator<Item = &str> {
        self.limits.iter().map(|name| &**name)
    }

    /// The percentages of a quota at which an alert goes out, ascending.
    #[must_use]
    pub fn at(&self) -> &[u8] {
        &self.at
    }

    /// How long before a pack's expiry an alert goes out, longest first.
    #[must_use]
    pub fn pack_expiry(&self) -> &[Duration] {
        &self.pack_expiry
    }

    /// Where alerts go for accounts whose plan names no receiver (`url`).
    #[must_use]
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// Where the alerts of accounts on `plan` go (`plans.NAME`), if the policy says.
    #[must_use]
    pub fn plan_url(&self, plan: &str) -> Option<&str> {
        self.plan_urls
            .iter()
            .find(|(name, _)| &**name == plan)
            .map(|(_, url)| url.as_str())
    }

    /// The key alerts are signed with (HMAC-SHA256). Never log it.
    #[must_use]
    pub fn secret(&self) -> &[u8] {
        self.secret.as_bytes()
    }

    /// Tries per alert before it is given up.
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The wait before retry `retry` (1 for the first): the backoff doubled `retry - 1` times,
    /// at most an hour.
    #[must_use]
    pub fn backoff(&self, retry: u32) -> Duration {
        let doubled = self
            .backoff
            .saturating_mul(1 << retry.saturating_sub(1).min(20));
        doubled.min(Duration::from_secs(3_600))
    }

    /// How long a receiver may take to answer a try.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// Where the levels of a quota of `max` units lie for `at`'s percentages: the units at which
/// each is reached (rounded up, at least 1).
#[must_use]
pub fn level(max: u64, percent: u8) -> u64 {
    (u128::from(max) * u128::from(percent))
        .div_ceil(100)
        .max(1)
        .try_into()
        .unwrap_or(u64::MAX)
}
