//! Envoy's question — a domain and descriptors, each a list of `(key, value)` entries — decided
//! by envoyproxy/ratelimit's configuration: every descriptor of a request at once, all or
//! nothing, in one store call. Nothing here knows gRPC: the adapter maps protobuf in and out.

use std::time::Duration;

use smallvec::SmallVec;
use tollgate_core::{Clock, Decision, LimitRequest, Nanos, Outcome};
use tollgate_ratelimit_config::{Match, Override, Rule, Unit};

use super::gate::Gate;
use super::seconds_until;
use crate::decision::Asked;
use crate::metrics::{Decided, LimitSeen};
use crate::rule_stats::RuleHits;

/// The most descriptors one request may carry: Envoy sends one per rate-limit action of a
/// route, a handful; a request of thousands would make one decision of thousands of partitions.
const MAX_DESCRIPTORS: usize = 64;

/// The most entries one descriptor may carry.
const MAX_ENTRIES: usize = 32;

/// One descriptor of a request: its entries in order, and the hits it adds when it overrides
/// the request's (`Some(0)` looks without counting).
#[derive(Debug, Clone, Default)]
pub struct Descriptor<'a> {
    /// The `(key, value)` entries, in order.
    pub entries: Vec<(&'a str, &'a str)>,
    /// The descriptor's own `hits_addend`, overriding the request's.
    pub hits: Option<u64>,
    /// The descriptor's own `limit` (`requests_per_unit`, unit), which Envoy takes from dynamic
    /// metadata: it replaces the files' rule for this request and counts in a partition of its
    /// own, as in envoyproxy/ratelimit. A policy file's decision ignores it.
    pub limit: Option<(u32, Unit)>,
}

/// The answer to a request: overall and per descriptor, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether an enforced rule refused the request (`OVER_LIMIT`); nothing was counted then.
    pub over_limit: bool,
    /// One status per descriptor, in the order they were sent.
    pub statuses: Vec<DescriptorStatus>,
}

/// What one descriptor's rule says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescriptorStatus {
    /// Whether this descriptor is over its limit (never for a `shadow_mode` rule).
    pub over_limit: bool,
    /// The rule's numbers; `None` when no rule counts it (none matches, it is replaced, it is
    /// unlimited, or the store is down and `on_store_error = "allow"` admits uncounted).
    pub limit: Option<CurrentLimit>,
    /// Units left in the window (after this request's hits when it was admitted; untouched when
    /// refused); `u32::MAX` for an unlimited rule, 0 where no rule counts.
    pub remaining: u32,
    /// Time until the window ends, in whole seconds rounded up.
    pub reset_in: Option<Duration>,
}

/// A rule's `rate_limit`, as a status reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentLimit {
    /// `requests_per_unit`.
    pub requests_per_unit: u32,
    /// `unit`.
    pub unit: Unit,
    /// The `rate_limit`'s `name`, if it has one.
    pub name: Option<Box<str>>,
}

/// Why a request was not decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotDecided {
    /// The request itself is wrong (no domain, no descriptor).
    Invalid(&'static str),
    /// The limit store could not decide and `on_store_error = "deny"`.
    Unavailable,
}

impl std::fmt::Display for NotDecided {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid(reason) => f.write_str(reason),
            Self::Unavailable => f.write_str("the limit store cannot decide now"),
        }
    }
}

impl std::error::Error for NotDecided {}

/// What one descriptor comes to before the store is asked.
enum Slot<'c> {
    /// No rule applies (none matches, or another matched rule `replaces` it).
    Free,
    /// `unlimited: true`.
    Unlimited,
    /// `requests_per_unit: 0`: always over.
    Blocked { rule: &'c Rule, shadow: bool },
    /// A window to count in.
    Counted {
        rule: &'c Rule,
        request: LimitRequest<'c>,
        shadow: bool,
    },
}

/// Checks what every `ShouldRateLimit` request must be, whichever configuration decides it: a
/// domain, and between 1 and 64 descriptors of at most 32 entries each.
///
/// # Errors
/// [`NotDecided::Invalid`], saying which.
pub fn validate(domain: &str, descriptors: &[Descriptor<'_>]) -> Result<(), NotDecided> {
    let too_many = descriptors.len() > MAX_DESCRIPTORS
        || descriptors
            .iter()
            .any(|descriptor| descriptor.entries.len() > MAX_ENTRIES);
    if domain.is_empty() {
        Err(NotDecided::Invalid(
            "the rate limit domain must not be empty",
        ))
    } else if descriptors.is_empty() {
        Err(NotDecided::Invalid(
            "the rate limit descriptor list must not be empty",
        ))
    } else if too_many {
        Err(NotDecided::Invalid(
            "at most 64 descriptors of at most 32 entries each are decided in one request",
        ))
    } else {
        Ok(())
    }
}

impl<C: Clock + 'static> Gate<C> {
    /// Decides Envoy's rate-limit request for `domain`: each descriptor finds its rule in the
    /// envoyproxy/ratelimit configuration set with [`Gate::set_ratelimit_config`], and all the
    /// enforced ones are counted in one store call, all or nothing: a refusal by one takes
    /// nothing from the others. `hits` is the request's `hits_addend` (0, protobuf's default,
    /// is 1); a descriptor's own hits override it, and 0 there looks without counting.
    /// `shadow_mode` rules are counted once the request is admitted and never refuse.
    ///
    /// # Errors
    /// An invalid request, or a store that cannot decide under `on_store_error = "deny"`.
    pub async fn should_rate_limit(
        &self,
        domain: &str,
        descriptors: &[Descriptor<'_>],
        hits: u32,
    ) -> Result<Verdict, NotDecided> {
        validate(domain, descriptors)?;
        let started = self.limiter().clock().now();
        let answer = self.decide_descriptors(domain, descriptors, hits).await;
        if answer.is_err() {
            self.record
                .metrics
                .decided_rules("-", Decided::Unavailable, std::iter::empty());
        }
        let outcome = match &answer {
            Ok(verdict) if !verdict.over_limit => Decided::Admitted,
            Ok(_) => Decided::Refused,
            Err(_) => Decided::Unavailable,
        };
        self.finished(started, outcome);
        answer
    }

    async fn decide_descriptors(
        &self,
        domain: &str,
        descriptors: &[Descriptor<'_>],
        hits: u32,
    ) -> Result<Verdict, NotDecided> {
        let config = self.rules.ratelimit.load_full();
        let overrides: SmallVec<[Option<Override>; 4]> = descriptors
            .iter()
            .map(|descriptor| {
                let (count, unit) = descriptor.limit?;
                let entries = descriptor.entries.iter().copied();
                Some(config.as_deref()?.overridden(domain, entries, count, unit))
            })
            .collect();
        let matches: SmallVec<[Option<Match<'_>>; 4]> = descriptors
            .iter()
            .zip(&overrides)
            .map(|(descriptor, overridden)| match overridden {
                Some(overridden) => Some(overridden.matched()),
                None => config
                    .as_deref()?
                    .find(domain, descriptor.entries.iter().copied()),
            })
            .collect();
        let costs: SmallVec<[u32; 4]> = descriptors
            .iter()
            .map(|descriptor| {
                descriptor
                    .hits
                    .map_or(hits.max(1), |own| u32::try_from(own).unwrap_or(u32::MAX))
            })
            .collect();
        let slots: SmallVec<[Slot<'_>; 4]> = matches
            .iter()
            .zip(&costs)
            .map(|(found, &cost)| slot(found.as_ref(), &matches, cost))
            .collect();
        let blocked = slots
            .iter()
            .any(|slot| matches!(slot, Slot::Blocked { shadow: false, .. }));
        // The enforced rules, in one call, all or nothing; then the shadow rules, counted for an
        // admitted request, and looked at for a refused one — with the enforced rules of a
        // request that a `requests_per_unit: 0` rule refused.
        let enforced = counted(&slots, |shadow| !shadow && !blocked);
        let rest = counted(&slots, |shadow| shadow || blocked);
        let took = self
            .decide_limits(Asked {
                enforced: &requests(&enforced),
                shadow: &requests(&rest),
                refused: blocked,
                look_when_refused: true,
            })
            .await
            .map_err(|_| NotDecided::Unavailable)?;
        let admitted = took.admitted;
        let mut outcomes: SmallVec<[Option<Outcome>; 4]> = slots.iter().map(|_| None).collect();
        let decided = took.enforced.as_ref().map(|taken| &taken.decision);
        for (counted, decision) in [(&enforced, decided), (&rest, took.shadow.as_ref())] {
            for (&(index, _), outcome) in counted
                .iter()
                .zip(decision.map(Decision::outcomes).into_iter().flatten())
            {
                outcomes[index] = Some(*outcome);
            }
        }
        let at = decided
            .or(took.shadow.as_ref())
            .map_or_else(|| self.limiter().clock().now(), Decision::at);
        let statuses = slots
            .iter()
            .zip(&outcomes)
            .map(|(slot, outcome)| status(slot, outcome.as_ref(), at))
            .collect();
        // The domain labels the series (and counts log lines) only when the files know it: a
        // client's domains add none.
        let known = matches.iter().any(Option::is_some);
        let budget = if known { domain } else { "-" };
        if !admitted
            && tracing::enabled!(tracing::Level::INFO)
            && self.record.refusal_lines.may_log(budget, at)
        {
            log_refusal(domain, &slots, &outcomes);
        }
        for ((slot, outcome), &cost) in slots.iter().zip(&outcomes).zip(&costs) {
            if let Some(hits) = rule_hits(domain, slot, outcome.as_ref(), cost, admitted) {
                self.record.rule_stats.count(&hits);
            }
        }
        self.record.metrics.decided_rules(
            if known { domain } else { "-" },
            if admitted {
                Decided::Admitted
            } else {
                Decided::Refused
            },
            slots
                .iter()
                .zip(&outcomes)
                .filter_map(|(slot, outcome)| seen(slot, outcome.as_ref())),
        );
        Ok(Verdict {
            over_limit: !admitted,
            statuses,
        })
    }
}

/// What a descriptor's match comes to, charging `cost`.
fn slot<'c>(found: Option<&Match<'c>>, matches: &[Option<Match<'_>>], cost: u32) -> Slot<'c> {
    let Some(found) = found.filter(|found| !found.is_replaced(matches)) else {
        return Slot::Free;
    };
    let rule = found.rule();
    let shadow = rule.shadow_mode();
    match found.request(cost) {
        Some(request) => Slot::Counted {
            rule,
            request,
            shadow,
        },
        None if rule.is_unlimited() => Slot::Unlimited,
        None => Slot::Blocked { rule, shadow },
    }
}

/// The counted slots whose shadow flag passes `which`, with their index.
fn counted<'c>(
    slots: &[Slot<'c>],
    which: impl Fn(bool) -> bool,
) -> SmallVec<[(usize, LimitRequest<'c>); 4]> {
    slots
        .iter()
        .enumerate()
        .filter_map(|(index, slot)| match slot {
            Slot::Counted {
                request, shadow, ..
            } if which(*shadow) => Some((index, *request)),
            _ => None,
        })
        .collect()
}

/// The requests of `counted`, in order.
fn requests<'c>(counted: &[(usize, LimitRequest<'c>)]) -> SmallVec<[LimitRequest<'c>; 4]> {
    counted.iter().map(|&(_, request)| request).collect()
}

/// A descriptor's status, from its slot and what the store said of it (decided at `at`).
fn status(slot: &Slot<'_>, outcome: Option<&Outcome>, at: Nanos) -> DescriptorStatus {
    let uncounted = |remaining| DescriptorStatus {
        over_limit: false,
        limit: None,
        remaining,
        reset_in: None,
    };
    match (slot, outcome) {
        (Slot::Free, _) => uncounted(0),
        (Slot::Unlimited, _) => uncounted(u32::MAX),
        (Slot::Blocked { rule, shadow }, _) => DescriptorStatus {
            over_limit: !shadow,
            limit: current_limit(rule),
            remaining: 0,
            reset_in: rule
                .unit()
                .map(|unit| until(unit.schedule().bounds(at).1, at)),
        },
        (Slot::Counted { rule, shadow, .. }, Some(outcome)) => DescriptorStatus {
            over_limit: !outcome.allowed() && !shadow,
            limit: current_limit(rule),
            remaining: u32::try_from(outcome.remaining()).unwrap_or(u32::MAX),
            reset_in: Some(until(outcome.reset_at(), at)),
        },
        // The store is down and admits uncounted.
        (Slot::Counted { .. }, None) => uncounted(0),
    }
}

/// What a counted or blocking rule said, for the metrics (labelled by its name, else its path).
fn seen<'c>(slot: &Slot<'c>, outcome: Option<&Outcome>) -> Option<LimitSeen<'c>> {
    let label = |rule: &'c Rule| rule.name().unwrap_or_else(|| rule.path());
    match (slot, outcome) {
        (Slot::Counted { rule, shadow, .. }, Some(outcome)) => Some(LimitSeen {
            name: label(rule),
            allowed: outcome.allowed(),
            shadow: *shadow,
            limit: outcome.limit(),
            remaining: outcome.remaining(),
        }),
        (Slot::Blocked { rule, shadow }, _) => Some(LimitSeen {
            name: label(rule),
            allowed: false,
            shadow: *shadow,
            limit: 0,
            remaining: 0,
        }),
        _ => None,
    }
}

/// What a counted or blocked rule saw of a request of `cost` hits, for its statistics: the
/// units it had used before, whether or not the request (`admitted` or not) took from it.
fn rule_hits<'c>(
    domain: &'c str,
    slot: &Slot<'c>,
    outcome: Option<&Outcome>,
    cost: u32,
    admitted: bool,
) -> Option<RuleHits<'c>> {
    let (rule, shadow, limit, used_before) = match (slot, outcome) {
        (Slot::Counted { rule, shadow, .. }, Some(outcome)) => {
            let used = outcome.limit().saturating_sub(outcome.remaining());
            let took = admitted && outcome.allowed();
            let before = if took {
                used.saturating_sub(u64::from(cost))
            } else {
                used
            };
            (*rule, *shadow, outcome.limit(), before)
        }
        (Slot::Blocked { rule, shadow }, _) => (*rule, *shadow, 0, 0),
        _ => return None,
    };
    Some(RuleHits {
        domain,
        path: rule.path(),
        hits: u64::from(cost),
        limit,
        used_before,
        shadow,
    })
}

/// The rule's numbers, for a rule that has a unit.
fn current_limit(rule: &Rule) -> Option<CurrentLimit> {
    Some(CurrentLimit {
        requests_per_unit: rule.requests_per_unit(),
        unit: rule.unit()?,
        name: rule.name().map(Box::from),
    })
}

/// From `at` to `until`, in whole seconds rounded up (a client told to wait that long is never
/// early).
fn until(end: Nanos, at: Nanos) -> Duration {
    Duration::from_secs(seconds_until(end, at))
}

/// The log line of a refusal: the domain and the path of every refusing rule.
fn log_refusal(domain: &str, slots: &[Slot<'_>], outcomes: &[Option<Outcome>]) {
    let refusing: Vec<&str> = slots
        .iter()
        .zip(outcomes)
        .filter_map(|(slot, outcome)| match (slot, outcome) {
            (
                Slot::Blocked {
                    rule,
                    shadow: false,
                },
                _,
            ) => Some(rule.path()),
            (
                Slot::Counted {
                    rule,
                    shadow: false,
                    ..
                },
                Some(outcome),
            ) if !outcome.allowed() => Some(rule.path()),
            _ => None,
        })
        .collect();
    tracing::info!(domain, rules = ?refusing, "refused");
}
