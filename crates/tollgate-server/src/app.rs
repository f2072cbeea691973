//! What the public port's adapters share: the gate, the upstream and the client that reaches it,
//! and the catalog the customer's page reads history from.

use std::time::Duration;

use axum::body::Body;
use axum::http::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tollgate_catalog::Catalog;
use tollgate_core::{Clock, SystemClock};

use tollgate_gate::Gate;

use crate::observe::access::{AccessLog, Answered};

/// What the public port's adapters share.
#[derive(Debug)]
pub struct App<C: Clock = SystemClock> {
    /// The policy and its limiter.
    pub gate: Gate<C>,
    /// The API admitted requests are forwarded to.
    pub upstream: Option<Uri>,
    /// How long the upstream may take to send its response headers.
    pub upstream_timeout: Duration,
    /// Where the customer's page reads its usage history (the admin API's catalog).
    pub(crate) catalog: Option<Catalog>,
    pub(crate) client: Client<HttpConnector, Body>,
    /// Where a line per decision goes, when asked (`--access-log`).
    pub(crate) access_log: Option<AccessLog>,
}

impl<C: Clock> App<C> {
    /// Adapters over `gate`, forwarding to `upstream` when given.
    pub fn new(gate: Gate<C>, upstream: Option<Uri>, upstream_timeout: Duration) -> Self {
        Self {
            gate,
            upstream,
            upstream_timeout,
            catalog: None,
            client: Client::builder(TokioExecutor::new()).build_http(),
            access_log: None,
        }
    }

    /// The same, writing a line per decision to `log`.
    #[must_use]
    pub(crate) fn with_access_log(mut self, log: AccessLog) -> Self {
        self.access_log = Some(log);
        self
    }

    /// Counts what a request came to in `/metrics` (its answer by api and status class, the
    /// upstream's time) and writes its line to the access log, if there is one: every adapter
    /// tells its answers here, once.
    pub(crate) fn answered(&self, answered: &Answered<'_>) {
        let metrics = self.gate.metrics();
        let api = answered.report.api.as_deref().unwrap_or("-");
        metrics.answered(api, answered.answer);
        if let Some((_, took)) = answered.upstream {
            metrics
                .upstream
                .observe(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX));
        }
        if let Some(log) = &self.access_log {
            let at = match answered.report.at {
                0 => self.gate.limiter().clock().now(),
                at => at,
            };
            let policy = self.gate.policy();
            log.write(&answered.line(at, policy.key_parameter()));
        }
    }

    /// The same, showing customers their usage history from `catalog`.
    #[must_use]
    pub fn with_catalog(mut self, catalog: Catalog) -> Self {
        self.catalog = Some(catalog);
        self
    }
}
