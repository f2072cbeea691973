//! A customer's own quotas: who a lookup's key belongs to (charged to the limits for unknown
//! keys like a guess through the API), and an account's standing on every api.

use tollgate_core::{Clock, Decision, NANOS_PER_SEC, Nanos};
use tollgate_policy::{Headers, KeyLookup, RequestFacts};

use super::admit::Guess;
use super::gate::Gate;
use super::refusal::Refusal;
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
        let state = self.state.load_full();
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
                return Err(Refusal::error(401, "unauthenticated", message));
            }
            KeyLookup::Ambiguous(reason) => return Err(Refusal::error(400, "bad_request", reason)),
            KeyLookup::Unknown(limits) => limits,
        };
        let unknown = || {
            Refusal::error(
                policy.unknown_key_status(),
                "unauthenticated",
                "unknown API key",
            )
        };
        // Counted, not held.
        match self.stores.acquire(&limits.requests).await {
            Acquired::Decided(taken) if !taken.decision.allowed() => {
                Err(guess_throttled(&taken.decision))
            }
            Acquired::Decided(_) | Acquired::Unlimited => Err(unknown()),
            Acquired::Failed(_) => Err(Refusal::unavailable()),
        }
    }

    /// Account `id`'s standing on every api, as JSON: each limit's numbers now, reset times in
    /// epoch seconds and in the account's zone (`time_zone` if given, else the policy's: see
    /// [`AccountUsage::time_zone`](tollgate_policy::AccountUsage)), as RFC 3339 with the
    /// offset, to the second; `None` if no such account. Looking costs nothing.
    pub async fn usage(
        &self,
        id: &str,
        time_zone: Option<&jiff::tz::TimeZone>,
    ) -> Option<serde_json::Value> {
        let state = self.state.load_full();
        let now = self.limiter().clock().now();
        let usage = state.policy.usage(Some(&state.directory), id, now)?;
        let zone = time_zone.unwrap_or(&usage.time_zone);
        let local = |at: Nanos| local_time(at, zone);
        let mut apis = Vec::with_capacity(usage.apis.len());
        for api in &usage.apis {
            let requests: Vec<_> = api.limits.iter().map(|(_, request)| *request).collect();
            let outcomes = match self.stores.acquire(&requests).await {
                Acquired::Decided(taken) => taken.decision.outcomes().to_vec(),
                Acquired::Unlimited | Acquired::Failed(_) => Vec::new(),
            };
            let limits: Vec<serde_json::Value> = api
                .limits
                .iter()
                .zip(&outcomes)
                .map(|((limit, request), outcome)| {
                    let kind = match request.algorithm {
                        tollgate_core::Algorithm::TokenBucket(_) => "rate",
                        tollgate_core::Algorithm::Concurrency(_) => "concurrency",
                        _ => "quota",
                    };
                    serde_json::json!({
                        "name": limit.name(),
                        "kind": kind,
                        // What the limit allows in words: `per_period` per `period` (a
                        // bucket's rate; a window's max), or `limit` at once (concurrency).
                        "per_period": limit.rate_count().unwrap_or(outcome.limit()),
                        "period": limit.period(),
                        "limit": outcome.limit(),
                        "used": outcome.limit().saturating_sub(outcome.remaining()),
                        "remaining": outcome.remaining(),
                        "reset": outcome.reset_at().div_ceil(NANOS_PER_SEC),
                        "reset_local": local(outcome.reset_at()),
                    })
                })
                .collect();
            let per_request: Vec<&str> = api.per_request.iter().map(|limit| limit.name()).collect();
            apis.push(
                serde_json::json!({ "api": api.api, "limits": limits, "per_request": per_request }),
            );
        }
        Some(serde_json::json!({
            "account": id,
            "time_zone": zone.iana_name().unwrap_or("UTC"),
            "plan": usage.plan,
            "pack": usage.pack.map(|(pack, until)| serde_json::json!({
                "name": pack,
                "expires": until / NANOS_PER_SEC,
                "expires_local": local(until),
            })),
            "apis": apis,
        }))
    }
}

/// `at` in `zone` as RFC 3339 with its offset, rounded up to the second (as the epoch-second
/// fields are): `2026-03-29T00:00:00+01:00`.
pub(crate) fn local_time(at: Nanos, zone: &jiff::tz::TimeZone) -> String {
    let seconds = i64::try_from(at.div_ceil(NANOS_PER_SEC)).unwrap_or(i64::MAX);
    jiff::Timestamp::from_second(seconds)
        .map(|instant| {
            instant
                .to_zoned(zone.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        })
        .unwrap_or_default()
}

/// The quota page's answer to a throttled guess (a right key's, or a wrong one's).
fn guess_throttled(decision: &Decision) -> Refusal {
    let at = decision.retry_at().unwrap_or_else(|| decision.at());
    let message = "too many unknown API keys: try again later";
    Refusal::throttled(message, at, decision.at())
}
