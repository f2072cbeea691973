//! The figures `/metrics` adds to the stores' own: decisions by api, limit and outcome,
//! admissions near a limit, decision latency, reloads and open connections. A decision adds
//! to counters of its thread's own ([`Striped`]: no cache line another core writes), found
//! by index; the series of a new api or limit get their indices copy-on-write under a lock,
//! at most [`MAX_SERIES`] of them (api and limit names come from the policy, so they are
//! bounded; accounts are labelled only when `server.metrics_per_account` is on; past the
//! bound, `_other` takes the counts).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use foldhash::fast::RandomState;
use tollgate_core::StoreError;

use crate::exposition::Exposition;
use crate::striped::Striped;
use crate::{Admission, Refusal, Why};

/// The most api and limit series held; past it, new ones are counted as `_other`.
pub(crate) const MAX_SERIES: usize = 10_000;

/// Upper bounds of the latency histograms' buckets, in nanoseconds: 10 µs to 1 s.
const BOUNDS: [u64; 16] = [
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
];

/// The same bounds in seconds, as the `le` label writes them.
const LE: [&str; 17] = [
    "0.00001", "0.000025", "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
    "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "+Inf",
];

/// The counter of a histogram that sums its observations (after its 17 buckets).
const SUM: usize = 17;

/// A latency histogram with the fixed buckets above, counted per thread.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative; the last one is past every bound), then the
    /// sum of the observations in nanoseconds.
    counts: Striped,
}

impl Histogram {
    /// Counts one observation of `nanos`.
    pub fn observe(&self, nanos: u64) {
        let at = BOUNDS.partition_point(|&bound| bound < nanos);
        self.counts.add(at, 1);
        self.counts.add(SUM, nanos);
    }

    /// Observations so far.
    #[cfg(test)]
    fn count(&self) -> u64 {
        (0..LE.len()).map(|bucket| self.counts.get(bucket)).sum()
    }

    /// Writes the samples of family `name` (started by the caller) with `labels`, in seconds:
    /// `_bucket` (cumulative, `_count` always equal to the `+Inf` one), `_sum`, `_count`.
    pub fn write(&self, page: &mut Exposition, name: &str, labels: &[(&str, &str)]) {
        let bucket = format!("{name}_bucket");
        let mut with_le: Vec<(&str, &str)> = labels.to_vec();
        with_le.push(("le", ""));
        let mut total = 0;
        for (at, le) in LE.iter().enumerate() {
            total += self.counts.get(at);
            if let Some(last) = with_le.last_mut() {
                last.1 = le;
            }
            page.sample(&bucket, &with_le, total);
        }
        #[allow(
            clippy::cast_precision_loss,
            reason = "a sum in seconds; nanoseconds past 2^53 lose nothing that matters"
        )]
        let seconds = self.counts.get(SUM) as f64 / 1e9;
        page.sample_text(&format!("{name}_sum"), labels, format_args!("{seconds}"));
        page.sample(&format!("{name}_count"), labels, total);
    }
}

/// The outcome of one decision, as `tollgate_decisions_total` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    /// Admitted.
    Admitted,
    /// Refused: by a limit, a block, or the request itself.
    Refused,
    /// Refused because the limit store (or the journal) could not decide.
    Unavailable,
}

impl Decided {
    /// Every outcome, in the order of [`Gate::decisions`](crate::Gate::decisions).
    pub const ALL: [Self; 3] = [Self::Admitted, Self::Refused, Self::Unavailable];

    /// The outcome of `answer`.
    #[must_use]
    pub fn of(answer: &Result<Admission, Refusal>) -> Self {
        match answer {
            Ok(_) => Self::Admitted,
            Err(refusal) if refusal.why == Why::StoreFault => Self::Unavailable,
            Err(_) => Self::Refused,
        }
    }

    /// Its label in the metrics.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Admitted => "admitted",
            Self::Refused => "refused",
            Self::Unavailable => "unavailable",
        }
    }

    /// Its place in counters kept per outcome.
    pub(crate) fn index(self) -> usize {
        match self {
            Self::Admitted => 0,
            Self::Refused => 1,
            Self::Unavailable => 2,
        }
    }
}

/// What a limit did in a decision: counted an admitted request, refused it, had room while
/// another limit refused, or (a shadow limit) would have refused it.
const LIMIT_OUTCOMES: [&str; 4] = ["admitted", "refused", "passed", "shadow_refused"];

/// Counters of one limit (for one api, and one account when labelled), from its first index:
/// by outcome, then the admissions that left it at 80 % used or more.
const LIMIT_COUNTERS: usize = 5;
const NEAR: usize = 4;

/// Counters of one api, from its first index: by outcome, then answers by status class (1xx
/// to 5xx).
const API_COUNTERS: usize = 8;
const ANSWERS: usize = 3;

/// A map hashed with foldhash: api, limit and account names of the policy and catalog.
type Map<V> = HashMap<String, V, RandomState>;

/// One api's series: where its counters start.
#[derive(Debug, Clone, Default)]
struct ApiSeries {
    counters: usize,
    /// By limit, then account (empty when accounts are not labelled): where each one's
    /// counters start.
    limits: Map<Map<usize>>,
}

/// What one limit said in a decision, as the metrics count it.
#[derive(Debug, Clone, Copy)]
pub struct LimitSeen<'a> {
    /// The limit's name (a rule's name, or its descriptor path).
    pub name: &'a str,
    /// Whether it had room.
    pub allowed: bool,
    /// Whether it only reports.
    pub shadow: bool,
    /// Its capacity.
    pub limit: u64,
    /// Units left after the decision.
    pub remaining: u64,
}

/// The figures of the pipeline and the ports.
#[derive(Debug)]
pub struct Metrics {
    /// Time `Gate::admit` took, by the gate's clock.
    pub latency: Histogram,
    /// Time the gateway's upstream took to send its response headers.
    pub upstream: Histogram,
    /// Every api's and limit's counters, by index.
    counters: Striped,
    /// By api name ("-": none was routed).
    apis: ArcSwap<Map<ApiSeries>>,
    /// Series held, and the next free counter index.
    series: AtomicUsize,
    next_counter: AtomicUsize,
    adding: Mutex<()>,
    /// Counts past [`MAX_SERIES`]: an api's at 0, a limit's after them.
    other: ApiSeries,
    /// Policy reloads: succeeded, failed.
    reloads: [AtomicU64; 2],
    /// Connections open per port.
    connections: [(&'static str, ConnectionGauge); 3],
    /// Requests waiting for their turn, and turns given back.
    turns: Arc<Turns>,
    /// What became of quota alerts.
    alerts: AlertCounts,
}

/// What became of quota alerts, counted by whoever delivers them.
#[derive(Debug, Default)]
pub struct AlertCounts {
    /// Alerts written down to be sent (each once per threshold and period).
    pub recorded: AtomicU64,
    /// Crossings dropped because the queue to the deliverer was full.
    pub dropped: AtomicU64,
    /// Tries a receiver answered 2xx.
    pub delivered: AtomicU64,
    /// Tries that failed (no answer in time, not 2xx, unreachable).
    pub failed_tries: AtomicU64,
    /// Alerts whose last try failed.
    pub given_up: AtomicU64,
}

/// What became of the turns a token bucket's delay gave out, shared with each [`Turn`] so
/// that it counts itself.
///
/// [`Turn`]: crate::turn::Turn
#[derive(Debug, Default)]
pub(crate) struct Turns {
    /// Requests waiting for their turn now.
    pub(crate) waiting: AtomicU64,
    /// Turns given back: the request left before its turn, or its caller could not wait.
    pub(crate) given_back: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            latency: Histogram::default(),
            upstream: Histogram::default(),
            counters: Striped::default(),
            apis: ArcSwap::default(),
            series: AtomicUsize::new(0),
            next_counter: AtomicUsize::new(API_COUNTERS + LIMIT_COUNTERS),
            adding: Mutex::new(()),
            other: ApiSeries::default(),
            reloads: Default::default(),
            connections: ["public", "admin", "grpc"].map(|port| (port, ConnectionGauge::default())),
            turns: Arc::default(),
            alerts: AlertCounts::default(),
        }
    }
}

impl Metrics {
    /// Counts the answer of one decision by api and limit; `per_account` labels the limits'
    /// counts with the account. (Its time and outcome: [`Gate::admit`](crate::Gate::admit)
    /// counts them, as every decision does.)
    pub fn decided(&self, answer: &Result<Admission, Refusal>, per_account: bool) {
        let outcome = Decided::of(answer);
        let report = match answer {
            Ok(admission) => admission.report(),
            Err(refusal) => &refusal.report,
        };
        let api = report.api.as_deref().unwrap_or("-");
        let account = match (per_account, report.account.as_deref()) {
            (false, _) => "",
            (true, account) => account.unwrap_or("-"),
        };
        let limits = report.limits.iter().map(|limit| LimitSeen {
            name: &limit.name,
            allowed: limit.allowed,
            shadow: limit.shadow,
            limit: limit.limit,
            remaining: limit.remaining,
        });
        self.count(api, outcome, account, limits);
    }

    /// Counts Envoy's request decided by envoyproxy/ratelimit's rules: `domain` stands for the
    /// api (`-` when no rule matched, so that a client's domains add no series), each counted
    /// rule for a limit.
    pub fn decided_rules<'a>(
        &self,
        domain: &str,
        outcome: Decided,
        rules: impl Iterator<Item = LimitSeen<'a>>,
    ) {
        self.count(domain, outcome, "", rules);
    }

    /// Counts a decision's `outcome` for `api`, and what each of its limits did.
    fn count<'a>(
        &self,
        api: &str,
        outcome: Decided,
        account: &str,
        limits: impl Iterator<Item = LimitSeen<'a>>,
    ) {
        let counters = &self.counters;
        counters.add(self.api_counters(api) + outcome.index(), 1);
        for limit in limits {
            let counted = match (outcome, limit.allowed, limit.shadow) {
                (Decided::Admitted, true, _) => 0,
                (Decided::Admitted, false, _) => 3,
                (_, false, false) => 1,
                (_, _, _) => 2,
            };
            let near = outcome == Decided::Admitted
                && !limit.shadow
                && limit.limit > 0
                && u128::from(limit.limit.saturating_sub(limit.remaining)) * 5
                    >= u128::from(limit.limit) * 4;
            let at = self.limit_counters(api, limit.name, account);
            counters.add(at + counted, 1);
            if near {
                counters.add(at + NEAR, 1);
            }
        }
    }

    /// Where the counters of `api` start (added if new).
    fn api_counters(&self, api: &str) -> usize {
        if let Some(series) = self.apis.load().get(api) {
            return series.counters;
        }
        self.added(api, None)
    }

    /// Where the counters of `limit` of `api` for `account` start (added if new).
    fn limit_counters(&self, api: &str, limit: &str, account: &str) -> usize {
        let found = self
            .apis
            .load()
            .get(api)
            .and_then(|series| series.limits.get(limit)?.get(account).copied());
        found.unwrap_or_else(|| self.added(api, Some((limit, account))))
    }

    /// Adds the series of `api` (and of its `limit` for an account, if given) unless another
    /// thread just did, and says where its counters start: `_other`'s past [`MAX_SERIES`].
    fn added(&self, api: &str, limit: Option<(&str, &str)>) -> usize {
        let _adding = self.adding.lock().unwrap_or_else(PoisonError::into_inner);
        let apis = self.apis.load_full();
        let held = apis.get(api).and_then(|series| match limit {
            None => Some(series.counters),
            Some((limit, account)) => series.limits.get(limit)?.get(account).copied(),
        });
        if let Some(at) = held {
            return at;
        }
        let other = match limit {
            None => 0,
            Some(_) => API_COUNTERS,
        };
        let mut grown = (*apis).clone();
        let allot = |counters: usize| {
            let at = self.next_counter.load(Ordering::Relaxed);
            if self.series.load(Ordering::Relaxed) >= MAX_SERIES
                || at + counters > Striped::CAPACITY
            {
                return None;
            }
            self.series.fetch_add(1, Ordering::Relaxed);
            self.next_counter.store(at + counters, Ordering::Relaxed);
            Some(at)
        };
        let series = match grown.get_mut(api) {
            Some(series) => series,
            None => {
                let Some(counters) = allot(API_COUNTERS) else {
                    return other;
                };
                grown.entry(api.to_owned()).or_insert(ApiSeries {
                    counters,
                    limits: Map::default(),
                })
            }
        };
        let at = match limit {
            None => series.counters,
            Some((limit, account)) => match allot(LIMIT_COUNTERS) {
                None => API_COUNTERS,
                Some(at) => {
                    series
                        .limits
                        .entry(limit.to_owned())
                        .or_default()
                        .insert(account.to_owned(), at);
                    at
                }
            },
        };
        self.apis.store(Arc::new(grown));
        at
    }

    /// Counts an answer with `status` to a request for `api` (`-`: none was routed), as the
    /// client got it (the check API's: the status it reports).
    pub fn answered(&self, api: &str, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.counters
            .add(self.api_counters(api) + ANSWERS + class, 1);
    }

    /// Counts a reload of the policy or of envoyproxy/ratelimit's files.
    pub fn reloaded(&self, succeeded: bool) {
        self.reloads[usize::from(!succeeded)].fetch_add(1, Ordering::Relaxed);
    }

    /// The gauge of connections open on `port` (`public`, `admin`, `grpc`).
    pub fn connections(&self, port: &str) -> ConnectionGauge {
        self.connections
            .iter()
            .find(|(name, _)| *name == port)
            .map(|(_, gauge)| gauge.clone())
            .unwrap_or_default()
    }

    /// What became of quota alerts, for their deliverer to count.
    pub fn alerts(&self) -> &AlertCounts {
        &self.alerts
    }

    /// Where turns count themselves.
    pub(crate) fn turns(&self) -> &Arc<Turns> {
        &self.turns
    }

    /// Writes every figure held here.
    pub fn write(&self, page: &mut Exposition) {
        let apis = self.apis.load();
        let mut names: Vec<&String> = apis.keys().collect();
        names.sort_unstable();
        let mut every: Vec<(&str, &ApiSeries)> = names
            .iter()
            .map(|name| (name.as_str(), &apis[*name]))
            .collect();
        let counters = &self.counters;
        if (0..API_COUNTERS).any(|at| counters.get(at) > 0) {
            every.push(("_other", &self.other));
        }
        let name = "tollgate_api_decisions_total";
        page.family(
            name,
            "counter",
            "Decisions by api (\"-\": no route matched) and outcome.",
        );
        for (api, series) in &every {
            for outcome in Decided::ALL {
                let labels = [("api", *api), ("outcome", outcome.label())];
                page.sample(
                    name,
                    &labels,
                    counters.get(series.counters + outcome.index()),
                );
            }
        }
        let name = "tollgate_answers_total";
        page.family(
            name,
            "counter",
            "Answers of the gateway, forward-auth and the check API by api and status class (the check API's: the status it reports).",
        );
        for (api, series) in &every {
            for (at, class) in ["1xx", "2xx", "3xx", "4xx", "5xx"].iter().enumerate() {
                let labels = [("api", *api), ("class", *class)];
                page.sample(name, &labels, counters.get(series.counters + ANSWERS + at));
            }
        }
        let mut limits: Vec<(&str, &str, &str, usize)> = Vec::new();
        for (api, series) in &every {
            for (limit, accounts) in &series.limits {
                for (account, at) in accounts {
                    limits.push((api, limit, account, *at));
                }
            }
        }
        limits.sort_unstable_by_key(|&(api, limit, account, _)| (api, limit, account));
        let other_limit = API_COUNTERS;
        if (0..LIMIT_COUNTERS).any(|at| counters.get(other_limit + at) > 0) {
            limits.push(("_other", "_other", "", other_limit));
        }
        let name = "tollgate_limit_decisions_total";
        page.family(
            name,
            "counter",
            "What each limit did per decision, by api and limit: admitted (counted an admitted request), refused (refused it), passed (had room while another refused), shadow_refused (a shadow limit would have refused).",
        );
        for &(api, limit, account, at) in &limits {
            for (outcome, offset) in LIMIT_OUTCOMES.iter().zip(0..) {
                let labels = limit_labels(api, limit, account, Some(outcome));
                page.sample(name, &labels, counters.get(at + offset));
            }
        }
        let name = "tollgate_near_limit_total";
        page.family(
            name,
            "counter",
            "Admissions that left a limit at 80 % used or more, by api and limit.",
        );
        for &(api, limit, account, at) in &limits {
            let labels = limit_labels(api, limit, account, None);
            page.sample(name, &labels, counters.get(at + NEAR));
        }
        let name = "tollgate_decision_seconds";
        page.family(
            name,
            "histogram",
            "Time to decide one request (Gate::admit), in seconds.",
        );
        self.latency.write(page, name, &[]);
        let name = "tollgate_upstream_seconds";
        page.family(
            name,
            "histogram",
            "Time the gateway's upstream took to send its response headers, in seconds.",
        );
        self.upstream.write(page, name, &[]);
        let name = "tollgate_reloads_total";
        page.family(
            name,
            "counter",
            "Reloads of the policy (and envoyproxy/ratelimit's files), by result.",
        );
        for (result, count) in ["ok", "error"].iter().zip(&self.reloads) {
            page.sample(name, &[("result", result)], count.load(Ordering::Relaxed));
        }
        let name = "tollgate_open_connections";
        page.family(name, "gauge", "Connections open now, by port.");
        for (port, gauge) in &self.connections {
            page.sample(name, &[("port", port)], gauge.0.load(Ordering::Relaxed));
        }
        let name = "tollgate_waiting_requests";
        page.family(
            name,
            "gauge",
            "Requests held now for their turn (a token bucket's delay).",
        );
        page.sample(name, &[], self.turns.waiting.load(Ordering::Relaxed));
        let name = "tollgate_turns_given_back_total";
        page.family(
            name,
            "counter",
            "Turns given back: the request left before its turn, or its caller answers at once.",
        );
        page.sample(name, &[], self.turns.given_back.load(Ordering::Relaxed));
        let name = "tollgate_alerts_total";
        page.family(
            name,
            "counter",
            "Quota alerts by what became of them: recorded (written down to send), dropped (the queue to the deliverer was full), delivered (a try answered 2xx), failed_try, given_up (the last try failed).",
        );
        let alerts = &self.alerts;
        for (what, count) in [
            ("recorded", &alerts.recorded),
            ("dropped", &alerts.dropped),
            ("delivered", &alerts.delivered),
            ("failed_try", &alerts.failed_tries),
            ("given_up", &alerts.given_up),
        ] {
            page.sample(name, &[("result", what)], count.load(Ordering::Relaxed));
        }
    }
}

/// The labels of a limit's series: api, limit, account (when labelled), outcome (if any).
fn limit_labels<'a>(
    api: &'a str,
    limit: &'a str,
    account: &'a str,
    outcome: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut labels = vec![("api", api), ("limit", limit)];
    if !account.is_empty() {
        labels.push(("account", account));
    }
    if let Some(outcome) = outcome {
        labels.push(("outcome", outcome));
    }
    labels
}

/// Connections open on one port; each [`OpenConnection`] counts one while it lives.
#[derive(Debug, Clone, Default)]
pub struct ConnectionGauge(Arc<AtomicU64>);

impl ConnectionGauge {
    /// Counts a connection open until the value returned is dropped.
    pub fn open(&self) -> OpenConnection {
        self.0.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self.clone())
    }
}

/// One open connection, counted until dropped.
#[derive(Debug)]
pub struct OpenConnection(ConnectionGauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The kinds of store errors `tollgate_store_errors_total` counts.
pub const STORE_ERROR_KINDS: [&str; 4] = ["full", "timeout", "unreachable", "fault"];

/// Which of [`STORE_ERROR_KINDS`] `error` is.
pub fn store_error_kind(error: &StoreError) -> usize {
    match error {
        StoreError::Full { .. } => 0,
        StoreError::Unavailable { message, .. } if message.starts_with("no answer within") => 1,
        StoreError::Unavailable {
            transient: true, ..
        } => 2,
        _ => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_count_is_the_last() {
        let histogram = Histogram::default();
        for nanos in [0, 10_000, 10_001, 2_000_000_000] {
            histogram.observe(nanos);
        }
        let mut page = Exposition::default();
        histogram.write(&mut page, "h", &[]);
        let text = page.into_text();
        assert!(text.starts_with("h_bucket{le=\"0.00001\"} 2\nh_bucket{le=\"0.000025\"} 3\n"));
        assert!(text.contains("h_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 4\n"));
        assert!(text.ends_with("h_sum 2.000020001\nh_count 4\n"));
        assert_eq!(histogram.count(), 4);
    }

    #[test]
    fn store_errors_by_kind() {
        let kind = |message: &str, transient| {
            STORE_ERROR_KINDS[store_error_kind(&StoreError::Unavailable {
                message: message.to_owned(),
                transient,
            })]
        };
        assert_eq!(kind("no answer within 50 ms", true), "timeout");
        assert_eq!(kind("connection refused", true), "unreachable");
        assert_eq!(kind("damaged answer", false), "fault");
        let full = StoreError::Full { capacity: 1 };
        assert_eq!(STORE_ERROR_KINDS[store_error_kind(&full)], "full");
    }
}
