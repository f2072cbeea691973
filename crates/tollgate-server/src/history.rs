//! Usage history: admitted and refused requests per account, api and UTC day, counted in
//! memory on the decision path and added to the catalog every few seconds.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;

use tollgate_core::{NANOS_PER_SEC, Nanos};

/// Shards of the counters, so that decisions of different accounts rarely share a lock.
const SHARDS: usize = 16;

/// Day → (admitted, refused).
type Days = HashMap<i64, (u64, u64)>;

/// Counts of decisions not yet written down.
#[derive(Debug)]
pub struct UsageCounter {
    shards: Vec<Mutex<HashMap<String, HashMap<String, Days>>>>,
    hasher: RandomState,
}

impl Default for UsageCounter {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
        }
    }
}

/// The UTC day of an instant, numbered from the epoch.
#[must_use]
pub fn day_of(at: Nanos) -> i64 {
    i64::try_from(at / (86_400 * NANOS_PER_SEC)).unwrap_or(i64::MAX)
}

impl UsageCounter {
    /// Counts one decision; allocates only for an account, api or day not seen since the last
    /// take.
    pub fn record(&self, account: &str, api: &str, at: Nanos, admitted: bool) {
        let shard = self.hasher.hash_one(account) as usize % SHARDS;
        let mut accounts = self.shards[shard]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let apis = match accounts.get_mut(account) {
            Some(apis) => apis,
            None => accounts.entry(account.to_owned()).or_default(),
        };
        let days = match apis.get_mut(api) {
            Some(days) => days,
            None => apis.entry(api.to_owned()).or_default(),
        };
        let counts = days.entry(day_of(at)).or_default();
        if admitted {
            counts.0 += 1;
        } else {
            counts.1 += 1;
        }
    }

    /// Takes every count so far: `(account, api, day, admitted, refused)`.
    pub fn take(&self) -> Vec<(String, String, i64, u64, u64)> {
        let mut taken = Vec::new();
        for shard in &self.shards {
            let accounts = std::mem::take(
                &mut *shard
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            for (account, apis) in accounts {
                for (api, days) in apis {
                    for (day, (admitted, refused)) in days {
                        taken.push((account.clone(), api.clone(), day, admitted, refused));
                    }
                }
            }
        }
        taken
    }

    /// Puts counts back (a write that failed is tried again with the next take).
    pub fn put_back(&self, counts: Vec<(String, String, i64, u64, u64)>) {
        for (account, api, day, admitted, refused) in counts {
            let shard = self.hasher.hash_one(account.as_str()) as usize % SHARDS;
            let mut accounts = self.shards[shard]
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let counts = accounts
                .entry(account)
                .or_default()
                .entry(api)
                .or_default()
                .entry(day)
                .or_default();
            counts.0 += admitted;
            counts.1 += refused;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_account_api_and_day() {
        let counter = UsageCounter::default();
        let day = 86_400 * NANOS_PER_SEC;
        counter.record("acme", "machines", 3 * day + 5, true);
        counter.record("acme", "machines", 3 * day + 9, false);
        counter.record("acme", "machines", 4 * day, true);
        counter.record("acme", "tasks", 3 * day, true);
        let mut taken = counter.take();
        taken.sort();
        assert_eq!(
            taken,
            [
                ("acme".into(), "machines".into(), 3, 1, 1),
                ("acme".into(), "machines".into(), 4, 1, 0),
                ("acme".into(), "tasks".into(), 3, 1, 0),
            ]
        );
        assert!(counter.take().is_empty());
        counter.put_back(taken);
        assert_eq!(counter.take().len(), 3);
    }
}
