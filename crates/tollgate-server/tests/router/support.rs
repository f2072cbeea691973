//! One tollgate in process: the public router (and, where a test asks, the admin router) over a
//! gate on a manual clock, each request sent with `tower::ServiceExt::oneshot`. No socket, no
//! sleep: time moves only when a test advances the clock.
//!
//! The routers are held as boxed services over `http::Request<Body>`, and replies are read
//! only through their status, headers and body bytes, so that the tests hold whatever the
//! server's routers are made of.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::BoxError;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, Response};
use envoy_types::pb::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::Entry;
use envoy_types::pb::envoy::service::ratelimit::v3::RateLimitRequest;
use envoy_types::pb::google::protobuf::UInt64Value;
use http_body_util::BodyExt;
use tollgate_catalog::{Block, Catalog};
use tollgate_core::{ManualClock, NANOS_PER_SEC, Nanos};
use tollgate_policy::{Policy, Source};
use tollgate_server::{Admin, App, Gate, admin_router, router};
use tower::util::BoxCloneService;
use tower::{Service, ServiceExt};

/// 2026-01-01T00:00:00Z, a Thursday: on a quarter hour, at midnight UTC, 08:00 in Shanghai.
pub(crate) const T0: Nanos = 1_767_225_600 * NANOS_PER_SEC;
/// [`T0`] in epoch seconds.
pub(crate) const T0_S: u64 = 1_767_225_600;

/// The admin token of [`Tollgate::with_admin`].
const ADMIN_TOKEN: &str = "an-admin-token-of-more-than-32-visible-characters";

type Routes = BoxCloneService<Request<Body>, Response<Body>, BoxError>;

/// Any service over `Request<Body>` answering with an HTTP body, boxed.
fn boxed<S, B>(service: S) -> Routes
where
    S: Service<Request<Body>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    BoxCloneService::new(
        service
            .map_response(|response| response.map(Body::new))
            .map_err(|error: S::Error| error.into()),
    )
}

/// A policy from TOML text; panics with its errors.
pub(crate) fn policy(text: &str) -> Policy {
    Policy::compile(&Source::new("policy.toml", text))
        .unwrap_or_else(|errors| panic!("an invalid test policy: {errors:?}"))
}

/// A shipped example policy (`examples/NAME`), as text.
pub(crate) fn example(name: &str) -> String {
    let path = format!("{}/../../examples/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// The public router over a gate on a manual clock.
pub(crate) struct Tollgate {
    routes: Routes,
    admin: Option<Routes>,
    app: Arc<App<ManualClock>>,
    clock: ManualClock,
    /// The socket peer every request comes from.
    peer: SocketAddr,
}

impl Tollgate {
    /// `policy` served from [`T0`].
    pub(crate) fn start(policy_text: &str) -> Self {
        Self::start_at(policy_text, T0)
    }

    /// `policy` served from `now`.
    pub(crate) fn start_at(policy_text: &str, now: Nanos) -> Self {
        Self::serving(policy_text, now, None)
    }

    /// `policy` served from `now`, the customer's page reading `catalog` if given.
    fn serving(policy_text: &str, now: Nanos, catalog: Option<Catalog>) -> Self {
        let clock = ManualClock::new(now);
        let gate = Gate::new(policy(policy_text), clock.clone());
        let app = App::new(gate, None, Duration::from_secs(30));
        let app = Arc::new(match catalog {
            Some(catalog) => app.with_catalog(catalog),
            None => app,
        });
        Self {
            routes: boxed(router(Arc::clone(&app))),
            admin: None,
            app,
            clock,
            peer: SocketAddr::from(([127, 0, 0, 1], 40_000)),
        }
    }

    /// `policy` served from [`T0`], with the admin router over an in-memory catalog.
    pub(crate) async fn with_admin(policy_text: &str) -> Self {
        Self::with_admin_at(policy_text, T0).await
    }

    /// `policy` served from `now`, with the admin router over an in-memory catalog that the
    /// customer's page reads too (its history, its replaced packs).
    pub(crate) async fn with_admin_at(policy_text: &str, now: Nanos) -> Self {
        let catalog = Catalog::open("sqlite::memory:")
            .await
            .expect("an in-memory catalog");
        let mut tollgate = Self::serving(policy_text, now, Some(catalog.clone()));
        let admin = Arc::new(Admin::new(
            Arc::clone(&tollgate.app),
            catalog,
            PathBuf::from("policy.toml"),
            ADMIN_TOKEN.to_owned(),
        ));
        admin.refresh().await.expect("the catalog read");
        tollgate.admin = Some(boxed(admin_router(admin)));
        tollgate
    }

    /// The same routers, every request coming from `peer`.
    pub(crate) fn with_peer(mut self, peer: &str) -> Self {
        self.peer = peer.parse().expect("a socket address");
        self
    }

    /// Moves the clock forward.
    pub(crate) fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Moves the clock forward by `nanos` nanoseconds.
    pub(crate) fn advance_nanos(&self, nanos: u64) {
        self.clock.advance(Duration::from_nanos(nanos));
    }

    /// The gate, to set what the routers serve by (envoyproxy/ratelimit's files).
    pub(crate) fn gate(&self) -> &Gate<ManualClock> {
        &self.app.gate
    }

    /// A gRPC client of Envoy's rate-limit service over the same app, with no socket.
    pub(crate) async fn grpc(
        &self,
    ) -> envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_client::RateLimitServiceClient<axum::Router>{
        let router = tollgate_server::grpc_router(Arc::clone(&self.app)).await;
        envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_client::RateLimitServiceClient::new(router)
    }

    /// Replaces the catalog's blocks.
    pub(crate) fn set_blocks(&self, blocks: Vec<Block>) {
        self.app.gate.set_blocks(blocks);
    }

    /// Sends `request` through the public router.
    pub(crate) async fn send(&self, request: Request<Body>) -> Reply {
        let routes = self.routes.clone();
        exchange(routes, request, self.peer).await
    }

    /// `GET path` with `headers`.
    pub(crate) async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(request("GET", path, headers, Body::empty()))
            .await
    }

    /// Forward-auth for `method uri` named in `X-Forwarded-Method` / `X-Forwarded-Uri`.
    pub(crate) async fn auth(&self, method: &str, uri: &str, headers: &[(&str, &str)]) -> Reply {
        let mut all = vec![("X-Forwarded-Method", method), ("X-Forwarded-Uri", uri)];
        all.extend_from_slice(headers);
        self.get("/v1/auth", &all).await
    }

    /// `POST /v1/check` with a raw body.
    pub(crate) async fn check_raw(&self, body: impl Into<Body>) -> Reply {
        let headers = [("content-type", "application/json")];
        self.send(request("POST", "/v1/check", &headers, body.into()))
            .await
    }

    /// `POST /v1/check` with `ask`: its answer, which is HTTP 200 allowed or not.
    pub(crate) async fn check(&self, ask: serde_json::Value) -> serde_json::Value {
        let reply = self.check_raw(ask.to_string()).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    }

    /// `GET /_tollgate/quota` with `headers`.
    pub(crate) async fn quota(&self, headers: &[(&str, &str)]) -> Reply {
        self.get("/_tollgate/quota", headers).await
    }

    /// `method path` on the admin router with the admin token and a JSON `body`.
    pub(crate) async fn admin(&self, method: &str, path: &str, body: &str) -> Reply {
        let routes = self.admin.clone().expect("a tollgate started with_admin");
        let bearer = format!("Bearer {ADMIN_TOKEN}");
        let headers = [
            ("authorization", bearer.as_str()),
            ("content-type", "application/json"),
        ];
        let request = request(method, path, &headers, Body::from(body.to_owned()));
        exchange(routes, request, self.peer).await
    }
}

/// Envoy's rate-limit request for `domain`: each descriptor its `(key, value)` entries and its
/// own `hits_addend`, and the request's `hits`.
pub(crate) fn rls_request<'a>(
    domain: &str,
    descriptors: impl IntoIterator<Item = (&'a [(&'a str, &'a str)], Option<u64>)>,
    hits: u32,
) -> RateLimitRequest {
    RateLimitRequest {
        domain: domain.to_owned(),
        descriptors: descriptors
            .into_iter()
            .map(|(entries, own)| RateLimitDescriptor {
                entries: entries
                    .iter()
                    .map(|(key, value)| Entry {
                        key: (*key).to_owned(),
                        value: (*value).to_owned(),
                    })
                    .collect(),
                hits_addend: own.map(|value| UInt64Value { value }),
                ..RateLimitDescriptor::default()
            })
            .collect(),
        hits_addend: hits,
    }
}

/// A request with `headers` (in order, a name given twice sent twice).
pub(crate) fn request(
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Body,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body).expect("a request")
}

async fn exchange(routes: Routes, mut request: Request<Body>, peer: SocketAddr) -> Reply {
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = routes.oneshot(request).await.expect("an answer");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a whole body")
        .to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).expect("a UTF-8 body"),
    }
}

/// A response, read whole.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Reply {
    /// The header `name` as text, if there once.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        let mut values = self.headers.get_all(name).iter();
        let value = values.next()?;
        assert!(values.next().is_none(), "{name} sent twice");
        Some(value.to_str().expect("a text header"))
    }

    /// The body as JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }

    /// The rate-limit and retry headers, by name: what a client reads of a limit.
    pub(crate) fn limit_headers(&self) -> Vec<(String, String)> {
        const NAMES: [&str; 10] = [
            "ratelimit-policy",
            "ratelimit",
            "x-rate-limit-remaining",
            "x-rate-limit-reset",
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
            "x-ratelimit-used",
            "x-ratelimit-resource",
            "retry-after",
        ];
        NAMES
            .iter()
            .filter_map(|name| Some(((*name).to_owned(), self.header(name)?.to_owned())))
            .collect()
    }
}

/// A block of the catalog, refusing until `until`.
pub(crate) fn block(
    account: Option<&str>,
    api: Option<&str>,
    path: Option<&str>,
    until: Nanos,
) -> Block {
    Block {
        id: "b1".to_owned(),
        account: account.map(str::to_owned),
        api: api.map(str::to_owned),
        path: path.map(str::to_owned),
        until,
        reason: "maintenance".to_owned(),
        set_by: "test".to_owned(),
    }
}

/// Header pairs, owned (as [`Reply::limit_headers`] lists them).
pub(crate) fn pairs<const N: usize>(pairs: [(&str, &str); N]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

/// Whole seconds as nanoseconds.
pub(crate) const fn secs(seconds: u64) -> Nanos {
    seconds * NANOS_PER_SEC
}
