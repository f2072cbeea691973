//! What the gate keeps of the decisions it made: counts per outcome and latency, the series of
//! `/metrics`, decisions per account and day not yet written down, what shadow limits would
//! have refused, the budget of refusal log lines, and where quota alerts go.

use std::sync::{Arc, OnceLock};

use tollgate_core::Nanos;

use crate::alerts::AlertSink;

use crate::metrics::{Decided, Metrics};
use crate::refusal_lines::RefusalLines;
use crate::rule_stats::RuleStats;
use crate::shadow::ShadowLog;
use crate::striped::Striped;
use crate::usage::UsageCounter;

/// The records of decisions.
#[derive(Debug, Default)]
pub(crate) struct Record {
    /// Decisions since the start, by [`Decided`], counted per thread.
    decisions: Striped,
    /// What `/metrics` adds to the stores' figures: decisions by api and limit, latency.
    pub(crate) metrics: Metrics,
    /// envoyproxy/ratelimit's statistics of its rules, by its names.
    pub(crate) rule_stats: RuleStats,
    /// Decisions per account, api and day, not yet written down.
    pub(crate) usage: UsageCounter,
    /// What shadow limits would have refused.
    pub(crate) shadow: ShadowLog,
    /// How many refusals are logged, per limit and second.
    pub(crate) refusal_lines: RefusalLines,
    /// Where watched quotas taken past a share go, once the server set it.
    pub(crate) alerts: OnceLock<Arc<dyn AlertSink>>,
}

impl Record {
    /// Counts a decision that took `took`: its time in the latency histogram, its outcome in
    /// [`decisions`](Self::decisions).
    pub(crate) fn finished(&self, took: Nanos, outcome: Decided) {
        self.metrics.latency.observe(took);
        self.decisions.add(outcome.index(), 1);
    }

    /// Decisions since the start, in the order of [`Decided::ALL`].
    pub(crate) fn decisions(&self) -> [u64; 3] {
        Decided::ALL.map(|outcome| self.decisions.get(outcome.index()))
    }
}
