//! Two policies over the same logs: who gains and who loses refusals under the new one, by
//! account, and by account, api and limit — "if we lower the free plan to 500 a day, whom do
//! we hurt?"

use std::collections::BTreeMap;

use serde::Serialize;

use crate::summary::Summary;

/// What changes from the old policy's replay to the new one's.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Diff {
    /// Requests decided under each (the same logs: the same count).
    pub requests: u64,
    /// Refusals under the old policy.
    pub old_refused: u64,
    /// Refusals under the new policy.
    pub new_refused: u64,
    /// Accounts whose refusals change, most hurt first, most relieved last.
    pub accounts: Vec<Change>,
    /// Refusals by account, api and limit that change, most hurt first.
    pub changes: Vec<Change>,
}

/// One account's (or one account, api and limit's) refusals under both policies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The account.
    pub account: String,
    /// The api (`None` for an account's total).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// The limit (`None` for an account's total).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// Refusals under the old policy.
    pub old: u64,
    /// Refusals under the new policy.
    pub new: u64,
    /// `new - old`: above zero the new policy hurts, below it relieves.
    pub change: i64,
}

impl Diff {
    /// The changes from `old` to `new`.
    #[must_use]
    pub fn of(old: &Summary, new: &Summary) -> Self {
        let mut accounts: BTreeMap<&str, [u64; 2]> = BTreeMap::new();
        for (side, summary) in [old, new].into_iter().enumerate() {
            for account in &summary.accounts {
                accounts.entry(&account.account).or_default()[side] = account.refused;
            }
        }
        let mut cells: BTreeMap<(&str, &str, &str), [u64; 2]> = BTreeMap::new();
        for (side, summary) in [old, new].into_iter().enumerate() {
            for cell in &summary.refusals {
                let key = (&*cell.account, &*cell.api, &*cell.limit);
                cells.entry(key).or_default()[side] = cell.count;
            }
        }
        let mut accounts: Vec<Change> = accounts
            .into_iter()
            .filter(|(_, [old, new])| old != new)
            .map(|(account, [old, new])| Change {
                account: account.to_owned(),
                api: None,
                limit: None,
                old,
                new,
                change: signed(new) - signed(old),
            })
            .collect();
        let mut changes: Vec<Change> = cells
            .into_iter()
            .filter(|(_, [old, new])| old != new)
            .map(|((account, api, limit), [old, new])| Change {
                account: account.to_owned(),
                api: Some(api.to_owned()),
                limit: Some(limit.to_owned()),
                old,
                new,
                change: signed(new) - signed(old),
            })
            .collect();
        // Stable: ties keep the order of account, api, limit.
        accounts.sort_by_key(|change| std::cmp::Reverse(change.change));
        changes.sort_by_key(|change| std::cmp::Reverse(change.change));
        Self {
            requests: new.requests,
            old_refused: old.refused,
            new_refused: new.refused,
            accounts,
            changes,
        }
    }

    /// Accounts refused more under the new policy, most hurt first.
    pub fn losers(&self) -> impl Iterator<Item = &Change> {
        self.accounts.iter().filter(|change| change.change > 0)
    }

    /// Accounts refused less under the new policy, most relieved first.
    pub fn gainers(&self) -> impl Iterator<Item = &Change> {
        self.accounts
            .iter()
            .rev()
            .filter(|change| change.change < 0)
    }
}

fn signed(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{AccountSummary, Refusals};

    fn summary(rows: &[(&str, &str, u64)]) -> Summary {
        let mut summary = Summary::default();
        for &(account, limit, count) in rows {
            summary.refused += count;
            summary.refusals.push(Refusals {
                account: account.into(),
                api: "api".into(),
                limit: limit.into(),
                count,
            });
            summary.accounts.push(AccountSummary {
                account: account.into(),
                requests: 100,
                refused: count,
                shadow_refused: 0,
            });
        }
        summary
    }

    #[test]
    fn losers_and_gainers_with_their_counts() {
        let old = summary(&[("a", "daily", 5), ("b", "daily", 10), ("c", "daily", 1)]);
        let new = summary(&[("a", "daily", 50), ("b", "daily", 2), ("c", "daily", 1)]);
        let diff = Diff::of(&old, &new);
        let losers: Vec<_> = diff.losers().map(|c| (&*c.account, c.change)).collect();
        let gainers: Vec<_> = diff.gainers().map(|c| (&*c.account, c.change)).collect();
        assert_eq!(losers, [("a", 45)]);
        assert_eq!(gainers, [("b", -8)]);
        assert_eq!(diff.changes.len(), 2);
        assert_eq!((diff.old_refused, diff.new_refused), (16, 53));
    }
}
