//! Usage history: admitted and refused requests per account, api and day — the account's day,
//! in its own time zone — counted in memory on the decision path, for the server to add to the
//! catalog every few seconds. Days are numbered from 1970-01-01 of the account's calendar.

use std::collections::HashMap;
use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use std::sync::Mutex;

use jiff::tz::TimeZone;
use tollgate_core::{NANOS_PER_SEC, Nanos, UsageDay};

/// Shards of the counters, so that decisions of different accounts rarely share a lock.
const SHARDS: usize = 16;

/// Day → (admitted, refused).
/// A map hashed with foldhash: the keys are accounts and apis the policy or catalog knows.
type Map<K, V> = HashMap<K, V, RandomState>;

type Days = Map<i64, (u64, u64)>;

/// Counts of decisions not yet written down.
#[derive(Debug)]
pub struct UsageCounter {
    shards: Vec<Mutex<Map<String, Map<String, Days>>>>,
    hasher: RandomState,
}

impl Default for UsageCounter {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::default()))
                .collect(),
            hasher: RandomState::default(),
        }
    }
}

/// The day of `at` in `zone` — the calendar date there — numbered from 1970-01-01.
#[must_use]
pub fn day_of(at: Nanos, zone: &TimeZone) -> i64 {
    let seconds = i64::try_from(at / NANOS_PER_SEC).unwrap_or(i64::MAX);
    let offset = jiff::Timestamp::from_second(seconds)
        .map_or(0, |instant| zone.to_offset(instant).seconds());
    (seconds + i64::from(offset)).div_euclid(86_400)
}

/// The date of day number `day` (as [`day_of`] numbers them).
#[must_use]
pub fn date_of(day: i64) -> Option<jiff::civil::Date> {
    jiff::civil::date(1970, 1, 1)
        .checked_add(jiff::Span::new().days(day))
        .ok()
}

/// The day number of `date` (as [`day_of`] numbers them).
#[must_use]
pub fn day_number(date: jiff::civil::Date) -> i64 {
    i64::from(
        jiff::civil::date(1970, 1, 1)
            .until((jiff::Unit::Day, date))
            .map_or(0, |span| span.get_days()),
    )
}

impl UsageCounter {
    /// Counts one decision on `day` (see [`day_of`]); allocates only for an account, api or day
    /// not seen since the last take.
    pub fn record(&self, account: &str, api: &str, day: i64, admitted: bool) {
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
        let counts = days.entry(day).or_default();
        if admitted {
            counts.0 += 1;
        } else {
            counts.1 += 1;
        }
    }

    /// The counts of `account` not yet written, left in place.
    pub fn pending(&self, account: &str) -> Vec<UsageDay> {
        let shard = self.hasher.hash_one(account) as usize % SHARDS;
        let accounts = self.shards[shard]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        accounts
            .get(account)
            .into_iter()
            .flat_map(|apis| {
                apis.iter().flat_map(|(api, days)| {
                    days.iter().map(|(&day, &(admitted, refused))| UsageDay {
                        account: account.to_owned(),
                        api: api.clone(),
                        day,
                        admitted,
                        refused,
                    })
                })
            })
            .collect()
    }

    /// Takes every count so far.
    pub fn take(&self) -> Vec<UsageDay> {
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
                        taken.push(UsageDay {
                            account: account.clone(),
                            api: api.clone(),
                            day,
                            admitted,
                            refused,
                        });
                    }
                }
            }
        }
        taken
    }

    /// Puts counts back (a write that failed is tried again with the next take).
    pub fn put_back(&self, counts: Vec<UsageDay>) {
        for UsageDay {
            account,
            api,
            day,
            admitted,
            refused,
        } in counts
        {
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
        counter.record("acme", "machines", 3, true);
        counter.record("acme", "machines", 3, false);
        counter.record("acme", "machines", 4, true);
        counter.record("acme", "tasks", 3, true);
        let row = |api: &str, day, admitted, refused| UsageDay {
            account: "acme".to_owned(),
            api: api.to_owned(),
            day,
            admitted,
            refused,
        };
        let expected = [
            row("machines", 3, 1, 1),
            row("machines", 4, 1, 0),
            row("tasks", 3, 1, 0),
        ];
        let sorted = |mut rows: Vec<UsageDay>| {
            rows.sort_by(|a, b| (&a.api, a.day).cmp(&(&b.api, b.day)));
            rows
        };
        let taken = sorted(counter.take());
        assert_eq!(taken, expected);
        assert!(counter.take().is_empty());
        counter.put_back(taken);
        assert_eq!(sorted(counter.pending("acme")), expected);
        assert!(counter.pending("globex").is_empty());
        assert_eq!(counter.take().len(), 3);
    }

    #[test]
    fn days_are_the_zone_s_calendar_days() {
        let shanghai = TimeZone::get("Asia/Shanghai").unwrap();
        let at = |text: &str| {
            let instant: jiff::Timestamp = text.parse().unwrap();
            u64::try_from(instant.as_nanosecond()).unwrap()
        };
        let day = |text: &str| day_number(text.parse().unwrap());
        // 23:59:59 UTC on 25 November is already 26 November in Shanghai (UTC+8).
        let late = at("2026-11-25T23:59:59Z");
        assert_eq!(day_of(late, &TimeZone::UTC), day("2026-11-25"));
        assert_eq!(day_of(late, &shanghai), day("2026-11-26"));
        assert_eq!(
            day_of(at("2026-11-25T15:59:59Z"), &shanghai),
            day("2026-11-25")
        );
        assert_eq!(
            day_of(at("2026-11-25T16:00:00Z"), &shanghai),
            day("2026-11-26")
        );
        // Berlin's 23-hour day: 29 March 2026 runs from 23:00 UTC on the 28th to 22:00 UTC.
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        assert_eq!(
            day_of(at("2026-03-28T23:00:00Z"), &berlin),
            day("2026-03-29")
        );
        assert_eq!(
            day_of(at("2026-03-29T21:59:59Z"), &berlin),
            day("2026-03-29")
        );
        assert_eq!(
            day_of(at("2026-03-29T22:00:00Z"), &berlin),
            day("2026-03-30")
        );
        assert_eq!(
            date_of(day("2026-11-26")).unwrap().to_string(),
            "2026-11-26"
        );
        assert_eq!(day("1970-01-01"), 0);
    }
}
