//! What shadow limits would have refused: a counter per limit since the start (for `/metrics`)
//! and, per hour, who would have been refused by which limit (for `GET /admin/shadow`).
//!
//! Memory is bounded: [`SHADOW_HOURS`] hourly buckets at most, each with at most
//! [`ACCOUNTS_PER_HOUR`] distinct (limit, account) pairs; past that, a limit's further accounts
//! are counted together as its `others`. Only a would-be refusal takes the lock: an admitted
//! request that no shadow limit refuses never comes here.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use tollgate_core::{NANOS_PER_SEC, Nanos};
use tollgate_policy::Name;

/// Hours of would-be refusals kept (a week).
pub const SHADOW_HOURS: usize = 168;
/// Distinct (limit, account) pairs kept per hour; more are counted as `others`.
pub const ACCOUNTS_PER_HOUR: usize = 1_000;

const HOUR: Nanos = 3_600 * NANOS_PER_SEC;

/// The would-be refusals of shadow limits.
#[derive(Debug, Default)]
pub struct ShadowLog {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    totals: BTreeMap<Name, u64>,
    hours: VecDeque<Hour>,
    anonymous: Option<Name>,
}

#[derive(Debug)]
struct Hour {
    start: Nanos,
    counts: HashMap<(Name, Name), u64>,
    others: HashMap<Name, u64>,
}

/// Who shadow limits would have refused over some hours.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShadowReport {
    /// The hours covered, the current one included.
    pub hours: u64,
    /// The first hour's start, RFC 3339.
    pub since: String,
    /// Each limit that would have refused, most refusals first.
    pub limits: Vec<ShadowLimit>,
}

/// One shadow limit's would-be refusals.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShadowLimit {
    /// The limit.
    pub limit: String,
    /// Requests it would have refused.
    pub refused: u64,
    /// By account (`(anonymous)` without a known key), most first.
    pub accounts: Vec<ShadowAccount>,
    /// Refusals of accounts past the per-hour bound.
    pub others: u64,
}

/// An account's would-be refusals by one limit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShadowAccount {
    /// The account.
    pub account: String,
    /// Requests that would have been refused.
    pub refused: u64,
}

impl ShadowLog {
    /// Notes that `limit` would have refused a request of `account` at `at`.
    pub fn record(&self, at: Nanos, limit: &Name, account: Option<&Name>) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let account = match account {
            Some(account) => Arc::clone(account),
            None => Arc::clone(
                inner
                    .anonymous
                    .get_or_insert_with(|| Arc::from("(anonymous)")),
            ),
        };
        *inner.totals.entry(Arc::clone(limit)).or_default() += 1;
        let start = at - at % HOUR;
        if inner.hours.back().is_none_or(|hour| hour.start < start) {
            inner.hours.push_back(Hour {
                start,
                counts: HashMap::new(),
                others: HashMap::new(),
            });
            while inner.hours.len() > SHADOW_HOURS {
                inner.hours.pop_front();
            }
        }
        // A clock that went back lands in the newest hour.
        let hour = inner.hours.back_mut().expect("pushed above");
        let key = (Arc::clone(limit), account);
        if let Some(count) = hour.counts.get_mut(&key) {
            *count += 1;
        } else if hour.counts.len() < ACCOUNTS_PER_HOUR {
            hour.counts.insert(key, 1);
        } else {
            *hour.others.entry(key.0).or_default() += 1;
        }
    }

    /// Would-be refusals per limit since the start.
    #[must_use]
    pub fn totals(&self) -> Vec<(Name, u64)> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner
            .totals
            .iter()
            .map(|(limit, count)| (Arc::clone(limit), *count))
            .collect()
    }

    /// Who would have been refused in the last `hours` hours up to `now` (the current hour
    /// counts as one; at most [`SHADOW_HOURS`]).
    #[must_use]
    pub fn report(&self, now: Nanos, hours: u64) -> ShadowReport {
        let hours = hours.clamp(1, SHADOW_HOURS as u64);
        let since = (now - now % HOUR).saturating_sub((hours - 1) * HOUR);
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut limits: BTreeMap<&str, (HashMap<&str, u64>, u64)> = BTreeMap::new();
        for hour in inner.hours.iter().filter(|hour| hour.start >= since) {
            for ((limit, account), count) in &hour.counts {
                *limits
                    .entry(limit)
                    .or_default()
                    .0
                    .entry(account)
                    .or_default() += count;
            }
            for (limit, count) in &hour.others {
                limits.entry(limit).or_default().1 += count;
            }
        }
        let mut limits: Vec<ShadowLimit> = limits
            .into_iter()
            .map(|(limit, (accounts, others))| {
                let mut accounts: Vec<ShadowAccount> = accounts
                    .into_iter()
                    .map(|(account, refused)| ShadowAccount {
                        account: account.to_owned(),
                        refused,
                    })
                    .collect();
                accounts.sort_by(|a, b| b.refused.cmp(&a.refused).then(a.account.cmp(&b.account)));
                ShadowLimit {
                    limit: limit.to_owned(),
                    refused: accounts.iter().map(|a| a.refused).sum::<u64>() + others,
                    accounts,
                    others,
                }
            })
            .collect();
        limits.sort_by_key(|limit| std::cmp::Reverse(limit.refused));
        let since = jiff::Timestamp::from_second(i64::try_from(since / NANOS_PER_SEC).unwrap_or(0))
            .map(|at| at.to_string())
            .unwrap_or_default();
        ShadowReport {
            hours,
            since,
            limits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_roll_and_accounts_are_bounded() {
        let log = ShadowLog::default();
        let daily: Name = Arc::from("daily");
        for account in 0..ACCOUNTS_PER_HOUR + 5 {
            log.record(HOUR, &daily, Some(&Arc::from(account.to_string())));
        }
        log.record(3 * HOUR, &daily, None);
        log.record(3 * HOUR + 1, &daily, None);
        let last = log.report(3 * HOUR + 5, 1);
        assert_eq!(last.limits[0].refused, 2);
        assert_eq!(last.limits[0].accounts[0].account, "(anonymous)");
        let all = log.report(3 * HOUR, 3);
        assert_eq!((all.limits[0].refused, all.limits[0].others), (1_007, 5));
        assert_eq!(log.totals(), [(daily, 1_007)]);
        for hour in 0..SHADOW_HOURS as u64 + 10 {
            log.record((10 + hour) * HOUR, &Arc::from("x"), None);
        }
        assert_eq!(log.inner.lock().unwrap().hours.len(), SHADOW_HOURS);
    }
}
