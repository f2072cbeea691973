//! Quota alerts noticed on the decision path: after an admission, a watched quota whose units
//! this request took past one of the policy's shares (`[alerts] at`) is handed, as a
//! [`Crossing`], to the [`AlertSink`] the server set. Noticing costs a comparison per watched
//! limit; the sink must not wait (the server's puts it on a bounded queue), and sending,
//! recording and retrying happen off the request path.

use std::sync::Arc;

use tollgate_core::{Algorithm, Clock, Decision, Nanos};
use tollgate_policy::{Name, Policy, Resolved, level};

use crate::gate::Gate;

/// A watched quota that one request took past one of the policy's shares. Exactly one request
/// takes a window's count past a level: a crossing is noticed once per level and period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crossing {
    /// The account whose quota it is.
    pub account: Name,
    /// Its plan, whose receiver alerts go to when the catalog names none.
    pub plan: Option<Name>,
    /// The api of the request that crossed.
    pub api: Name,
    /// The quota (the limit's name).
    pub limit: Name,
    /// The share reached, in percent.
    pub percent: u8,
    /// Units used in the period, this request's included.
    pub used: u64,
    /// The quota's units per period, as enforced for the account.
    pub max: u64,
    /// Where the period began, ns since the epoch.
    pub period_start: Nanos,
    /// Where it ends (exclusive), ns since the epoch.
    pub period_end: Nanos,
}

/// Where the gate hands the crossings it notices. Called on the decision path: it must return
/// at once (queue the crossing, or drop it), never wait.
pub trait AlertSink: Send + Sync + std::fmt::Debug {
    /// One crossing, noticed now.
    fn crossed(&self, crossing: Crossing);
}

impl<C: Clock> Gate<C> {
    /// From now on, hands the crossings of watched quotas to `sink`. Set once; later calls are
    /// ignored.
    pub fn set_alert_sink(&self, sink: Arc<dyn AlertSink>) {
        let _ = self.record.alerts.set(sink);
    }

    /// Hands `sink` the watched quotas of an admitted request that `decision` took past one of
    /// the policy's shares.
    pub(crate) fn notice_crossings(
        &self,
        policy: &Policy,
        resolved: &Resolved<'_>,
        decision: &Decision,
    ) {
        let (Some(sink), Some(alerts), Some(account)) =
            (self.record.alerts.get(), policy.alerts(), resolved.account)
        else {
            return;
        };
        let enforced = &resolved.enforced;
        let outcomes = enforced
            .limits
            .iter()
            .zip(&enforced.requests)
            .zip(decision.outcomes());
        for ((limit, request), outcome) in outcomes {
            let Algorithm::Window(window) = request.algorithm else {
                continue;
            };
            if !alerts.watches(limit) {
                continue;
            }
            let max = outcome.limit();
            let used = max.saturating_sub(outcome.remaining());
            let before = used.saturating_sub(u64::from(request.cost));
            for &percent in alerts.at() {
                let level = level(max, percent);
                if before < level && level <= used {
                    let (period_start, period_end) = window.schedule().bounds(decision.at());
                    sink.crossed(Crossing {
                        account: account.clone(),
                        plan: resolved.plan.cloned(),
                        api: resolved.api.clone(),
                        limit: limit.labels()[0].clone(),
                        percent,
                        used,
                        max,
                        period_start,
                        period_end,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tollgate_core::{ManualClock, NANOS_PER_SEC};
    use tollgate_policy::{RequestFacts, Source};

    use super::*;

    #[derive(Debug, Default)]
    struct Collected(Mutex<Vec<Crossing>>);

    impl AlertSink for Collected {
        fn crossed(&self, crossing: Crossing) {
            self.0.lock().unwrap().push(crossing);
        }
    }

    const POLICY: &str = r#"
        [identity]
        api_key = { header = "X-Api-Key" }

        [[accounts]]
        id = "acme"
        keys = ["acme-key"]

        [[routes]]
        api = "tasks"
        match = "POST /tasks"
        cost = 3

        [[routes]]
        api = "machines"
        match = "GET /machines"

        [[limits]]
        name = "daily"
        window = { max = 10, every = "day", align = "calendar" }
        per = ["account"]

        [[limits]]
        name = "hourly"
        window = { max = 1000, every = "1h" }
        per = ["account"]

        [alerts]
        url = "http://127.0.0.1:9/alerts"
        secret = "a secret of sixteen or more"
        limits = ["daily"]
        at = [80, 100]
    "#;

    async fn call(gate: &Gate<ManualClock>, route: &str, key: &str) -> bool {
        let policy = gate.policy();
        let (method, path) = route.split_once(' ').unwrap();
        let target = policy.target(method, path).unwrap();
        let headers = [("x-api-key", key)];
        let facts = RequestFacts {
            method,
            target: &target,
            headers: &headers[..],
            client_ip: None,
            cost: None,
            from_trusted_proxy: false,
        };
        gate.admit(&facts).await.is_ok()
    }

    #[tokio::test]
    async fn each_share_of_a_watched_quota_is_noticed_once_by_the_request_that_reaches_it() {
        let policy = Policy::compile(&Source::new("alerts.toml", POLICY)).unwrap();
        let day = 86_400 * NANOS_PER_SEC;
        let gate = Gate::new(
            policy,
            ManualClock::new(20_000 * day + 3_600 * NANOS_PER_SEC),
        );
        let sink = Arc::new(Collected::default());
        gate.set_alert_sink(Arc::clone(&sink) as Arc<dyn AlertSink>);
        // 1 + 1 + 3 + 1 = 6 units: below 80 % (8 units); the next task takes 7 to 9.
        for route in [
            "GET /machines",
            "GET /machines",
            "POST /tasks",
            "GET /machines",
        ] {
            assert!(call(&gate, route, "acme-key").await);
        }
        assert!(sink.0.lock().unwrap().is_empty());
        assert!(call(&gate, "POST /tasks", "acme-key").await);
        assert!(call(&gate, "GET /machines", "acme-key").await);
        // Refused from here on: no unit taken, nothing more noticed.
        assert!(!call(&gate, "GET /machines", "acme-key").await);
        assert!(!call(&gate, "POST /tasks", "acme-key").await);
        let crossing = |api: &str, percent, used| Crossing {
            account: "acme".into(),
            plan: None,
            api: api.into(),
            limit: "daily".into(),
            percent,
            used,
            max: 10,
            period_start: 20_000 * day,
            period_end: 20_001 * day,
        };
        assert_eq!(
            *sink.0.lock().unwrap(),
            [crossing("tasks", 80, 9), crossing("machines", 100, 10)]
        );
    }
}
