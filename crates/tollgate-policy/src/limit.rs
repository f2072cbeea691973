//! A compiled limit: its numbers (per plan, pack, account and api), what partitions it, when
//! it applies, and how its refusals read.

use std::collections::HashMap;

use tollgate_core::Algorithm;

use crate::Numbers;

/// What partitions a limit: each dimension's value is part of the partition's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dimension {
    /// The account of the API key.
    Account,
    /// The verified app, if any.
    App,
    /// The company (tenant).
    Company,
    /// The client's IP address.
    Ip,
    /// The api the route belongs to.
    Api,
    /// The request method.
    Method,
    /// The concrete, normalized path.
    Path,
    /// A path parameter of the route, by name.
    Param(String),
    /// A request header, by lower-case name.
    Header(String),
}

/// A compiled limit.
#[derive(Debug)]
pub struct Limit {
    pub(crate) name: std::sync::Arc<str>,
    /// A hash of the name and the limit's own numbers: the first part of its partition keys, so
    /// that a reload keeps the counters of limits whose name and numbers did not change.
    pub(crate) identity: u64,
    /// One algorithm per plan (index = plan index), then the limit's own numbers last.
    pub(crate) algorithms: Vec<Algorithm>,
    /// Numbers for one api of one plan, and for one account, which win over the plan's.
    pub(crate) special: HashMap<Selector, Algorithm>,
    pub(crate) per: Vec<Dimension>,
    /// What a distinct-value limit counts the distinct values of.
    pub(crate) counted: Option<Dimension>,
    /// What a distinct-value limit calls its values, in the plural (`machines`).
    pub(crate) noun: Option<std::sync::Arc<str>>,
    /// Plans it applies to (`None`: all).
    pub(crate) plans: Option<Vec<usize>>,
    /// Apis it applies to (`None`: all).
    pub(crate) apis: Option<Vec<usize>>,
    pub(crate) when: When,
    pub(crate) shadow: bool,
    pub(crate) status: u16,
    pub(crate) code: std::sync::Arc<str>,
    /// Inclusive ranges of upstream statuses that give the units back.
    pub(crate) refund: Vec<(u16, u16)>,
}

impl Limit {
    /// Whether an upstream answer with `status` gives this limit's units back.
    #[must_use]
    pub fn refunds(&self, status: u16) -> bool {
        self.refund
            .iter()
            .any(|&(low, high)| (low..=high).contains(&status))
    }

    /// Its name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name and the error code, shared: each clone counts a reference, never copies, so a
    /// decision's report costs no allocation. (What it allows, as enforced for a request, is
    /// its algorithm's [`shown`](tollgate_core::Algorithm::shown).)
    #[must_use]
    pub fn labels(&self) -> [std::sync::Arc<str>; 2] {
        [
            std::sync::Arc::clone(&self.name),
            std::sync::Arc::clone(&self.code),
        ]
    }

    /// What partitions it.
    #[must_use]
    pub fn per(&self) -> &[Dimension] {
        &self.per
    }

    /// For a distinct-value limit, the dimension whose distinct values it counts.
    #[must_use]
    pub fn counted(&self) -> Option<&Dimension> {
        self.counted.as_ref()
    }

    /// For a distinct-value limit, what its values are called, in the plural (`machines`;
    /// `values` unless the policy says).
    #[must_use]
    pub fn noun(&self) -> Option<&std::sync::Arc<str>> {
        self.noun.as_ref()
    }

    /// Whether it is counted and reported but never refuses.
    #[must_use]
    pub fn shadow(&self) -> bool {
        self.shadow
    }

    /// The status of a refusal.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The error code of a refusal.
    #[must_use]
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The algorithm for a plan (by index), or the limit's own numbers.
    #[must_use]
    pub fn algorithm(&self, plan: Option<usize>) -> &Algorithm {
        let own = self.algorithms.len() - 1;
        &self.algorithms[plan.unwrap_or(own).min(own)]
    }

    /// The same limit with other numbers.
    ///
    /// # Errors
    /// Numbers that do not fit the algorithm, or that it refuses.
    pub fn with_numbers(&self, numbers: &Numbers) -> Result<Algorithm, BadNumbers> {
        let own = self.algorithm(None);
        let built = match own {
            Algorithm::TokenBucket(bucket) => {
                if numbers.max.is_some() {
                    return Err(BadNumbers::NotTaken {
                        limit: "a token bucket",
                        takes: "rate and burst",
                    });
                }
                let rate = match &numbers.rate {
                    Some(text) => {
                        let (count, period) =
                            crate::units::parse_rate(text).map_err(BadNumbers::Rate)?;
                        tollgate_core::Rate::new(count, period)
                    }
                    None => bucket.rate(),
                };
                tollgate_core::TokenBucket::new(rate, numbers.burst.unwrap_or(bucket.burst()))
                    .and_then(|built| match bucket.delay() {
                        Some(delay) => built.with_delay(delay),
                        None => Ok(built),
                    })
                    .map(Algorithm::from)
            }
            _ if numbers.rate.is_some() || numbers.burst.is_some() => {
                return Err(BadNumbers::NotTaken {
                    limit: "a window",
                    takes: "max",
                });
            }
            Algorithm::Window(window) => tollgate_core::Window::new(
                numbers.max.unwrap_or(window.max()),
                window.schedule().clone(),
            )
            .map(Algorithm::from),
            Algorithm::Sliding(sliding) => tollgate_core::SlidingWindow::new(
                numbers.max.unwrap_or(sliding.max()),
                std::time::Duration::from_nanos(sliding.period()),
            )
            .map(Algorithm::from),
            Algorithm::Concurrency(limit) => tollgate_core::Concurrency::new(
                numbers.max.unwrap_or(limit.max()),
                std::time::Duration::from_nanos(limit.lease_ttl()),
            )
            .map(Algorithm::from),
            Algorithm::Distinct(distinct) => tollgate_core::Distinct::new(
                numbers.max.unwrap_or(distinct.max()),
                distinct.period().cloned(),
            )
            .map(Algorithm::from),
        };
        built.map_err(BadNumbers::Limit)
    }

    /// The numbers that apply to a request: the account's override, else its pack's, else its
    /// plan's numbers for the api, else the plan's, else the limit's own.
    pub(crate) fn algorithm_for(&self, chosen: Selection) -> &Algorithm {
        if self.special.is_empty() {
            return self.algorithm(chosen.plan);
        }
        let special = |selector| self.special.get(&selector);
        chosen
            .account
            .and_then(|account| special(Selector::Account(account)))
            .or_else(|| chosen.pack.and_then(|pack| special(Selector::Pack(pack))))
            .or_else(|| {
                chosen
                    .plan
                    .and_then(|plan| special(Selector::PlanApi(plan, chosen.api)))
            })
            .unwrap_or_else(|| self.algorithm(chosen.plan))
    }
}

/// Whose special numbers: one api of one plan, a pack, or one account (by index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Selector {
    PlanApi(usize, usize),
    Pack(usize),
    Account(usize),
}

/// What chooses a limit's numbers for a request: the policy account (for overrides), the pack
/// in force, the plan and the api (indices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Selection {
    pub(crate) account: Option<usize>,
    pub(crate) pack: Option<usize>,
    pub(crate) plan: Option<usize>,
    pub(crate) api: usize,
}

/// `when` conditions, compiled.
#[derive(Debug, Default)]
pub(crate) struct When {
    pub(crate) key: Option<crate::model::KeyState>,
    pub(crate) app: Option<bool>,
    /// Upper-case methods.
    pub(crate) methods: Vec<String>,
    /// Lower-case header name → value.
    pub(crate) headers: Vec<(String, String)>,
}

/// Why numbers given for a limit (an override, a pack) cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadNumbers {
    /// Numbers of another kind of limit: `max` for a token bucket, `rate` for a window.
    #[error("{limit} takes {takes}")]
    NotTaken {
        /// The kind of limit, in words.
        limit: &'static str,
        /// The numbers it takes.
        takes: &'static str,
    },
    /// A rate that cannot be read.
    #[error("{0}")]
    Rate(String),
    /// Numbers the algorithm refuses.
    #[error(transparent)]
    Limit(#[from] tollgate_core::LimitError),
    /// Numbers the store the policy was compiled for cannot keep exactly.
    #[error(transparent)]
    Unsupported(#[from] tollgate_core::Unsupported),
}
