//! What a decision tells the client: who the request was found to come from, the state of
//! each limit consulted, and the limit its headers show.

use smallvec::SmallVec;
use tollgate_core::{Decision, Nanos, Shown};
use tollgate_policy::{HeaderFamily, Limits, Name, Resolved};

/// The state of one limit after a decision, as reported to clients and logs.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LimitReport {
    /// The limit's name.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub name: Name,
    /// Whether it admitted the request.
    pub allowed: bool,
    /// Its capacity.
    pub limit: u64,
    /// Units left.
    pub remaining: u64,
    /// When it is whole again, ns since the epoch.
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub reset_at: Nanos,
    /// When the same request would be admitted, ns since the epoch.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u64>))]
    pub retry_at: Option<Nanos>,
    /// Counted and reported, never refusing.
    pub shadow: bool,
    /// The status of a refusal.
    #[serde(skip)]
    pub status: u16,
    /// The error code of a refusal.
    #[serde(skip)]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub code: Name,
    /// What the limit allows, as enforced for this request (its plan's, pack's or override's
    /// numbers): what messages, pages and Envoy's `current_limit` show.
    #[serde(skip)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub allowance: Shown,
    /// What a distinct-value limit counts, in the plural (`machines`); `None` for others.
    #[serde(skip)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub noun: Option<Name>,
}

/// The header families a policy adds (three at most: no allocation).
pub type Families = SmallVec<[HeaderFamily; 3]>;

/// Who a request was found to come from and what its limits said.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The route's api, when one matched.
    pub api: Option<Name>,
    /// The account of the API key.
    pub account: Option<Name>,
    /// The verified app.
    pub app: Option<Name>,
    /// The pricing plan whose numbers applied.
    pub plan: Option<Name>,
    /// Every limit consulted, enforced ones first, then shadow ones.
    pub limits: SmallVec<[LimitReport; 4]>,
    /// The enforced limit the headers show: the refusing one that frees up last, or the one
    /// with fewest units left among those that count requests (not distinct values).
    pub shown: Option<usize>,
    /// The header families to show it in.
    pub families: Families,
    /// When it was decided, by the store's clock.
    pub at: Nanos,
    /// Whether limits counted the request (not an exempt route, nor a store whose failure
    /// policy admitted it uncounted).
    pub counted: bool,
}

impl Report {
    /// Nothing consulted, for a request to `api` (if routed) seen at `at`.
    pub(crate) fn uncounted(api: Option<&Name>, at: Nanos) -> Self {
        Self {
            api: api.cloned(),
            at,
            ..Self::default()
        }
    }

    /// The report of `decision` on the enforced limits of `resolved`, shown in `families`.
    pub(crate) fn of(
        resolved: &Resolved<'_>,
        limits: &Limits<'_>,
        decision: &Decision,
        families: &[HeaderFamily],
    ) -> Self {
        let mut report = Self {
            api: Some(resolved.api.clone()),
            account: resolved.account.cloned(),
            app: resolved.app.cloned(),
            plan: resolved.plan.cloned(),
            limits: SmallVec::new(),
            shown: None,
            families: families.iter().copied().collect(),
            at: decision.at(),
            counted: true,
        };
        report.add(limits, decision, false);
        report.shown = most_restrictive(&report.limits);
        report
    }

    /// Adds the limits of a decision (shadow ones after the enforced ones).
    /// Each limit is shown with the numbers its request was decided by.
    pub(crate) fn add(&mut self, limits: &Limits<'_>, decision: &Decision, shadow: bool) {
        let reports = limits
            .limits
            .iter()
            .zip(&limits.requests)
            .zip(decision.outcomes())
            .map(|((limit, request), outcome)| {
                let [name, code] = limit.labels();
                LimitReport {
                    name,
                    allowed: outcome.allowed(),
                    limit: outcome.limit(),
                    remaining: outcome.remaining(),
                    reset_at: outcome.reset_at(),
                    retry_at: outcome.retry_at(),
                    shadow,
                    status: limit.status(),
                    code,
                    allowance: request.algorithm.shown(),
                    noun: limit.noun().cloned(),
                }
            });
        self.limits.extend(reports);
    }

    /// Marks the enforced limits that gave the request a turn still to come as refusing it
    /// (its caller cannot wait), and shows the one whose turn comes last.
    pub(crate) fn refuse_turns(&mut self) {
        let at = self.at;
        for report in self.limits.iter_mut().filter(|report| !report.shadow) {
            if report.retry_at.is_some_and(|turn| turn > at) {
                report.allowed = false;
            }
        }
        self.shown = most_restrictive(&self.limits);
    }

    /// The limit the headers show.
    #[must_use]
    pub fn shown(&self) -> Option<&LimitReport> {
        self.shown.map(|at| &self.limits[at])
    }

    /// The first refusing enforced limit, for logs.
    pub(crate) fn refusing(&self) -> Option<&LimitReport> {
        self.limits
            .iter()
            .find(|report| !report.allowed && !report.shadow)
    }
}

/// The limit to show: the refusing one that frees up last, or the one with fewest units left.
/// A distinct-value limit shows only when it refuses: its units are new values, not requests,
/// and the values already used go on whatever it has left.
fn most_restrictive(limits: &[LimitReport]) -> Option<usize> {
    let enforced = limits
        .iter()
        .enumerate()
        .filter(|(_, report)| !report.shadow);
    let refusing = enforced.clone().filter(|(_, report)| !report.allowed);
    refusing
        .max_by_key(|(_, report)| report.retry_at.unwrap_or(Nanos::MAX))
        .or_else(|| {
            enforced
                .filter(|(_, report)| report.noun.is_none())
                .min_by_key(|(_, report)| (report.remaining, std::cmp::Reverse(report.reset_at)))
        })
        .map(|(at, _)| at)
}
