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
        }
    }

    /// The same, showing customers their usage history from `catalog`.
    #[must_use]
    pub fn with_catalog(mut self, catalog: Catalog) -> Self {
        self.catalog = Some(catalog);
        self
    }
}
