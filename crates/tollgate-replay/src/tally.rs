//! Counting verdicts as they come: [`Tally`] keeps one entry per limit, account, hour and
//! (account, api, limit) refused, never one per line, and turns into a [`Summary`] at the end,
//! where every hour of the span is listed, the hours without a request (or without a refusal
//! by a limit) too: a profile is a time axis.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tollgate_core::Nanos;
use tollgate_policy::Name;

use crate::source::Malformed;
use crate::summary::Summary;
use crate::summary::{AccountSummary, HourCount, HourSummary, LimitSummary, Offender, Refusals};
use crate::time::rfc3339;
use crate::verdict::{Caller, Verdict};

/// How many offenders each limit lists.
pub const TOP_OFFENDERS: usize = 10;

const HOUR: Nanos = 3_600 * tollgate_core::NANOS_PER_SEC;

/// Counts of a replay so far.
#[derive(Debug)]
pub struct Tally {
    pub(crate) files: Vec<String>,
    pub(crate) lines: u64,
    pub(crate) refused: u64,
    pub(crate) late: u64,
    pub(crate) malformed: Malformed,
    pub(crate) no_request: u64,
    pub(crate) unread_key_fields: u64,
    requests: u64,
    first_at: Option<Nanos>,
    last_at: Option<Nanos>,
    by_status: BTreeMap<u16, u64>,
    limits: HashMap<Name, LimitCount>,
    accounts: HashMap<Name, [u64; 3]>,
    hours: BTreeMap<Nanos, [u64; 2]>,
    refusals: HashMap<(Name, Name, Name), u64>,
    no_key: Name,
    unknown_key: Name,
    unidentified: Name,
    no_api: Name,
}

#[derive(Debug, Default)]
struct LimitCount {
    shadow: bool,
    requests: u64,
    refused: u64,
    by_account: HashMap<Name, u64>,
    hours: BTreeMap<Nanos, u64>,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            files: Vec::new(),
            lines: 0,
            refused: 0,
            late: 0,
            malformed: Malformed::default(),
            no_request: 0,
            unread_key_fields: 0,
            requests: 0,
            first_at: None,
            last_at: None,
            by_status: BTreeMap::new(),
            limits: HashMap::new(),
            accounts: HashMap::new(),
            hours: BTreeMap::new(),
            refusals: HashMap::new(),
            no_key: Arc::from(Caller::NO_KEY),
            unknown_key: Arc::from(Caller::UNKNOWN_KEY),
            unidentified: Arc::from(Caller::UNIDENTIFIED),
            no_api: Arc::from("-"),
        }
    }
}

impl Tally {
    /// Counts `verdict`, decided at `at`.
    pub fn add(&mut self, at: Nanos, verdict: &Verdict) {
        self.requests += 1;
        self.first_at.get_or_insert(at);
        self.last_at = Some(at);
        let hour = at - at % HOUR;
        let account = match &verdict.caller {
            Caller::Account(account) => account,
            Caller::NoKey => &self.no_key,
            Caller::UnknownKey => &self.unknown_key,
            Caller::Unidentified => &self.unidentified,
        };
        let counts = match self.accounts.get_mut(account) {
            Some(counts) => counts,
            None => self.accounts.entry(Arc::clone(account)).or_default(),
        };
        counts[0] += 1;
        let hourly = self.hours.entry(hour).or_default();
        hourly[0] += 1;
        if let Some(status) = verdict.refused {
            self.refused += 1;
            counts[1] += 1;
            hourly[1] += 1;
            *self.by_status.entry(status).or_default() += 1;
        }
        let mut by_a_limit = false;
        for outcome in &verdict.limits {
            let limit = match self.limits.get_mut(&outcome.name) {
                Some(limit) => limit,
                None => self.limits.entry(Arc::clone(&outcome.name)).or_default(),
            };
            limit.shadow = outcome.shadow;
            limit.requests += 1;
            if outcome.allowed {
                continue;
            }
            limit.refused += 1;
            *limit.by_account.entry(Arc::clone(account)).or_default() += 1;
            *limit.hours.entry(hour).or_default() += 1;
            if outcome.shadow {
                counts[2] += 1;
            } else {
                by_a_limit = true;
                let api = verdict.api.as_ref().unwrap_or(&self.no_api);
                let key = (
                    Arc::clone(account),
                    Arc::clone(api),
                    Arc::clone(&outcome.name),
                );
                *self.refusals.entry(key).or_default() += 1;
            }
        }
        if let (Some(status), false) = (verdict.refused, by_a_limit) {
            let api = verdict.api.as_ref().unwrap_or(&self.no_api);
            let key = (
                Arc::clone(account),
                Arc::clone(api),
                Arc::from(format!("status {status}")),
            );
            *self.refusals.entry(key).or_default() += 1;
        }
    }

    /// The counts as a report.
    #[must_use]
    pub fn summary(self) -> Summary {
        // Every hour from the first request's to the latest one's: times never go back.
        let span: Vec<Nanos> = match (self.first_at, self.last_at) {
            (Some(first), Some(last)) => {
                let first = first - first % HOUR;
                (0..=(last - first) / HOUR)
                    .map(|hour| first + hour * HOUR)
                    .collect()
            }
            _ => Vec::new(),
        };
        let hour_of = |hour: &Nanos| rfc3339(*hour);
        let warnings = self.warnings();
        let mut limits: Vec<LimitSummary> = self
            .limits
            .into_iter()
            .map(|(name, count)| {
                let mut top: Vec<Offender> = count
                    .by_account
                    .into_iter()
                    .map(|(account, refused)| Offender {
                        account: account.to_string(),
                        refused,
                    })
                    .collect();
                top.sort_by(|a, b| b.refused.cmp(&a.refused).then(a.account.cmp(&b.account)));
                top.truncate(TOP_OFFENDERS);
                LimitSummary {
                    name: name.to_string(),
                    shadow: count.shadow,
                    requests: count.requests,
                    refused: count.refused,
                    top,
                    hours: span
                        .iter()
                        .map(|hour| HourCount {
                            hour: hour_of(hour),
                            count: count.hours.get(hour).copied().unwrap_or(0),
                        })
                        .collect(),
                }
            })
            .collect();
        limits.sort_by(|a, b| a.shadow.cmp(&b.shadow).then(a.name.cmp(&b.name)));
        let mut accounts: Vec<AccountSummary> = self
            .accounts
            .into_iter()
            .map(
                |(account, [requests, refused, shadow_refused])| AccountSummary {
                    account: account.to_string(),
                    requests,
                    refused,
                    shadow_refused,
                },
            )
            .collect();
        accounts.sort_by(|a, b| {
            (b.refused, b.shadow_refused, b.requests)
                .cmp(&(a.refused, a.shadow_refused, a.requests))
                .then(a.account.cmp(&b.account))
        });
        let mut refusals: Vec<Refusals> = self
            .refusals
            .into_iter()
            .map(|((account, api, limit), count)| Refusals {
                account: account.to_string(),
                api: api.to_string(),
                limit: limit.to_string(),
                count,
            })
            .collect();
        refusals.sort();
        Summary {
            files: self.files,
            lines: self.lines,
            requests: self.requests,
            admitted: self.requests - self.refused,
            refused: self.refused,
            late: self.late,
            first_at: self.first_at.map(rfc3339),
            last_at: self.last_at.map(rfc3339),
            malformed: self.malformed,
            no_request: self.no_request,
            unread_key_fields: self.unread_key_fields,
            warnings,
            refused_by_status: self.by_status,
            limits,
            accounts,
            hours: span
                .iter()
                .map(|hour| {
                    let [requests, refused] = self.hours.get(hour).copied().unwrap_or_default();
                    HourSummary {
                        hour: hour_of(hour),
                        requests,
                        refused,
                    }
                })
                .collect(),
            refusals,
        }
    }

    /// What the reader of the report must know before trusting it.
    fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.unread_key_fields > 0 {
            warnings.push(format!(
                "{} of {} requests come from combined-format lines that end in one more quoted \
                 field after the user agent, which no --key-header names: they were replayed \
                 without an API key. If that field is the key (a log_format ending in \
                 \"$http_x_api_key\"), replay again with --key-header and the header's name, \
                 e.g. --key-header X-Api-Key.",
                self.unread_key_fields, self.requests
            ));
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::LimitOutcome;

    fn verdict(account: &str, refused_by: Option<&str>) -> Verdict {
        let outcome = |name: &str, allowed| LimitOutcome {
            name: Arc::from(name),
            allowed,
            shadow: false,
        };
        Verdict {
            refused: refused_by.map(|_| 429),
            api: Some(Arc::from("api")),
            caller: Caller::Account(Arc::from(account)),
            limits: vec![
                outcome("daily", refused_by != Some("daily")),
                outcome("rate", refused_by != Some("rate")),
            ],
        }
    }

    #[test]
    fn counts_land_per_limit_account_and_hour() {
        let mut tally = Tally::default();
        tally.add(0, &verdict("a", None));
        tally.add(1, &verdict("a", Some("daily")));
        tally.add(HOUR, &verdict("b", Some("rate")));
        tally.add(HOUR + 1, &verdict("a", Some("daily")));
        let summary = tally.summary();
        assert_eq!(
            (summary.requests, summary.refused, summary.admitted),
            (4, 3, 1)
        );
        let daily = summary.limit("daily").unwrap();
        assert_eq!((daily.requests, daily.refused), (4, 2));
        assert_eq!(
            daily.top,
            [Offender {
                account: "a".into(),
                refused: 2
            }]
        );
        assert_eq!(
            daily.hours.iter().map(|h| h.count).collect::<Vec<_>>(),
            [1, 1]
        );
        assert_eq!(
            summary.limit("rate").unwrap().hours[0],
            HourCount {
                hour: "1970-01-01T00:00:00Z".into(),
                count: 0
            }
        );
        assert_eq!(summary.accounts[0].account, "a");
        assert_eq!(
            (summary.accounts[0].requests, summary.accounts[0].refused),
            (3, 2)
        );
        assert_eq!(summary.hours.len(), 2);
        assert_eq!(summary.hours[1].hour, "1970-01-01T01:00:00Z");
        assert_eq!(summary.refusals.len(), 2);
        assert_eq!(summary.refused_by_status.get(&429), Some(&3));
    }

    #[test]
    fn every_hour_of_the_span_is_listed_and_callers_without_an_account_apart() {
        let mut tally = Tally::default();
        let anonymous = |caller: Caller, refused| Verdict {
            refused,
            caller,
            ..Verdict::default()
        };
        tally.add(HOUR + 5, &anonymous(Caller::NoKey, None));
        tally.add(3 * HOUR, &anonymous(Caller::UnknownKey, Some(401)));
        tally.add(4 * HOUR - 1, &anonymous(Caller::Unidentified, Some(404)));
        let summary = tally.summary();
        let hours: Vec<(&str, u64, u64)> = summary
            .hours
            .iter()
            .map(|h| (&*h.hour, h.requests, h.refused))
            .collect();
        assert_eq!(
            hours,
            [
                ("1970-01-01T01:00:00Z", 1, 0),
                ("1970-01-01T02:00:00Z", 0, 0),
                ("1970-01-01T03:00:00Z", 2, 2),
            ]
        );
        let mut accounts: Vec<&str> = summary.accounts.iter().map(|a| &*a.account).collect();
        accounts.sort_unstable();
        assert_eq!(accounts, ["(no key)", "(not identified)", "(unknown key)"]);
        assert!(summary.warnings.is_empty());
    }
}
