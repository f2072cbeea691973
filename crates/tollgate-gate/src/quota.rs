//! A customer's own quotas: who a lookup's key belongs to (charged to the limits for unknown
//! keys like a guess through the API), and an account's standing on every api.

use tollgate_core::{Clock, Decision, Nanos, epoch_seconds};
use tollgate_policy::{Headers, KeyLookup, RequestFacts};

use super::admit::Guess;
use super::gate::Gate;
use super::refusal::{Refusal, local_time};
use crate::store::Acquired;

impl<C: Clock + 'static> Gate<C> {
    /// The account whose API key a lookup (the customer's quota page) carries, or the refusal:
    /// 401 without a key or with an unknown one, whose guess is charged to the limits for
    /// unknown keys first (429 once they are spent), 400 for a key read two ways.
    ///
    /// # Errors
    /// The refusal.
    pub async fn key_holder<H: Headers + ?Sized>(
        &self,
        facts: &RequestFacts<'_, H>,
        signed_in: Option<&str>,
    ) -> Result<String, Refusal> {
        let state = self.rules.state.load_full();
        let policy = &state.policy;
        let limits = match policy.key_lookup(Some(&state.directory), facts, signed_in) {
            KeyLookup::Account(account, guards) => {
                return match self.as_a_guess(&guards.requests).await {
                    Guess::Refused(refused) => Err(guess_throttled(&refused)),
                    Guess::Unavailable => Err(Refusal::unavailable()),
                    Guess::Admitted => Ok(account.to_owned()),
                };
            }
            KeyLookup::Absent => {
                let message = "send your API key to see your quotas";
                return Err(Refusal::unauthenticated(401, message));
            }
            KeyLookup::Ambiguous(reason) => {
                return Err(Refusal::bad_request("bad_request", reason));
            }
            KeyLookup::Unknown(limits) => limits,
        };
        let unknown = || Refusal::unauthenticated(policy.unknown_key_status(), "unknown API key");
        // Counted, not held.
        match self.storage.stores.acquire(&limits.requests).await {
            Acquired::Decided(taken) if !taken.decision.allowed() => {
                Err(guess_throttled(&taken.decision))
            }
            Acquired::Decided(_) | Acquired::Unlimited => Err(unknown()),
            Acquired::Failed(_) => Err(Refusal::unavailable()),
        }
    }

    /// The standing of account `id`: its plan, its pack in force, and every api's limits with
    /// what is used and when each resets, in epoch seconds and in the account's zone
    /// (`time_zone` if given, else the policy's: see
    /// [`AccountUsage::time_zone`](tollgate_policy::AccountUsage)); `None` if no such account.
    /// Looking costs nothing.
    pub async fn usage(&self, id: &str, time_zone: Option<&jiff::tz::TimeZone>) -> Option<Usage> {
        let state = self.rules.state.load_full();
        let now = self.limiter().clock().now();
        let usage = state.policy.usage(Some(&state.directory), id, now)?;
        let zone = time_zone.unwrap_or(&usage.time_zone);
        let local = |at: Nanos| local_time(at, zone);
        let mut apis = Vec::with_capacity(usage.apis.len());
        for api in &usage.apis {
            let requests: Vec<_> = api.limits.iter().map(|(_, request)| *request).collect();
            let outcomes = match self.storage.stores.acquire(&requests).await {
                Acquired::Decided(taken) => taken.decision.outcomes().to_vec(),
                Acquired::Unlimited | Acquired::Failed(_) => Vec::new(),
            };
            let limits = api
                .limits
                .iter()
                .zip(&outcomes)
                .map(|((limit, request), outcome)| LimitUsage {
                    name: limit.name().to_owned(),
                    kind: LimitKind::of(request.algorithm),
                    noun: limit.noun().map(ToString::to_string),
                    per_period: request.algorithm.shown().count,
                    period: request.algorithm.shown().per.to_string(),
                    limit: outcome.limit(),
                    used: outcome.limit().saturating_sub(outcome.remaining()),
                    remaining: outcome.remaining(),
                    reset: epoch_seconds(outcome.reset_at()),
                    reset_local: local(outcome.reset_at()),
                })
                .collect();
            apis.push(ApiStanding {
                api: api.api.to_string(),
                limits,
                per_request: api
                    .per_request
                    .iter()
                    .map(|limit| limit.name().to_owned())
                    .collect(),
            });
        }
        Some(Usage {
            account: id.to_owned(),
            time_zone: zone.iana_name().unwrap_or("UTC").to_owned(),
            plan: usage.plan.map(ToString::to_string),
            pack: usage.pack.map(|(pack, until)| PackUsage {
                name: pack.to_owned(),
                expires: epoch_seconds(until),
                expires_local: local(until),
            }),
            apis,
        })
    }
}

/// An account's standing, as the admin API's `usage`, the customer's JSON and its page show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Usage {
    /// The account.
    pub account: String,
    /// The zone its times are shown in (IANA).
    pub time_zone: String,
    /// Its plan, if any.
    pub plan: Option<String>,
    /// The pack in force, if any.
    pub pack: Option<PackUsage>,
    /// Every api with limits the account meets.
    pub apis: Vec<ApiStanding>,
}

/// A pack in force.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PackUsage {
    /// Its name.
    pub name: String,
    /// When it ends, in epoch seconds.
    pub expires: u64,
    /// When it ends, in the account's zone (RFC 3339 with the offset).
    pub expires_local: String,
}

/// One api's limits for an account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiStanding {
    /// The api.
    pub api: String,
    /// Its limits partitioned by the account (or by nothing a request chooses).
    pub limits: Vec<LimitUsage>,
    /// Its limits partitioned per request (address, path, header): named, not counted.
    pub per_request: Vec<String>,
}

/// One limit's standing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LimitUsage {
    /// The limit's name.
    pub name: String,
    /// What it bounds.
    pub kind: LimitKind,
    /// What a distinct-value limit counts, in the plural (`machines`): `used` of `limit`
    /// machines. Absent for other limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noun: Option<String>,
    /// What it allows per `period` (a bucket's rate, a window's max), or at once.
    pub per_period: u64,
    /// Its period in words (`day`, `15 minutes`); empty for concurrency and for distinct
    /// values counted for good (whose `reset` is then the end of time, never reached).
    pub period: String,
    /// What it holds when whole (a bucket's burst).
    pub limit: u64,
    /// What is used.
    pub used: u64,
    /// What is left.
    pub remaining: u64,
    /// When it is whole again, in epoch seconds.
    pub reset: u64,
    /// The same in the account's zone (RFC 3339 with the offset).
    pub reset_local: String,
}

/// What a limit bounds, by its algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum LimitKind {
    /// A rate (token bucket).
    Rate,
    /// A quota per window (fixed, calendar or sliding).
    Quota,
    /// Requests in flight at once.
    Concurrency,
    /// Distinct values (machines, devices) per period or for good.
    Distinct,
}

impl LimitKind {
    /// The kind of `algorithm`: every algorithm is named here, so a new one must say its kind.
    #[must_use]
    pub fn of(algorithm: &tollgate_core::Algorithm) -> Self {
        match algorithm {
            tollgate_core::Algorithm::TokenBucket(_) => Self::Rate,
            tollgate_core::Algorithm::Window(_) | tollgate_core::Algorithm::Sliding(_) => {
                Self::Quota
            }
            tollgate_core::Algorithm::Concurrency(_) => Self::Concurrency,
            tollgate_core::Algorithm::Distinct(_) => Self::Distinct,
        }
    }
}

/// The quota page's answer to a throttled guess (a right key's, or a wrong one's).
fn guess_throttled(decision: &Decision) -> Refusal {
    let at = decision.retry_at().unwrap_or_else(|| decision.at());
    let message = "too many unknown API keys: try again later";
    Refusal::throttled(message, at, decision.at())
}
