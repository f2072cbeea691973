//! The public port: the check API, forward-auth, and the gateway, over one [`Gate`].

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use tollgate_core::{Clock, SystemClock};
use tollgate_policy::{
    HeaderLookup, Headers, RequestFacts, Unmatched, is_header_text, same_header,
};

use crate::gate::Gate;
use crate::respond::Verdict;

/// What the handlers share.
#[derive(Debug)]
pub struct App<C: Clock = SystemClock> {
    /// The policy and its limiter.
    pub gate: Gate<C>,
    /// The API admitted requests are forwarded to.
    pub upstream: Option<Uri>,
    /// How long the upstream may take to send its response headers.
    pub upstream_timeout: Duration,
    pub(crate) client: Client<HttpConnector, Body>,
    /// Where long-lived state is written down, once started.
    pub journal: std::sync::OnceLock<crate::Journal>,
}

impl<C: Clock> App<C> {
    /// Handlers over `gate`, forwarding to `upstream` when given.
    pub fn new(gate: Gate<C>, upstream: Option<Uri>, upstream_timeout: Duration) -> Self {
        Self {
            gate,
            upstream,
            upstream_timeout,
            client: Client::builder(TokioExecutor::new()).build_http(),
            journal: std::sync::OnceLock::new(),
        }
    }

    /// Waits until what `verdict` counted is on disk, when the journal says answers wait; the
    /// failure answer (`on_store_error`: 503 under `deny`, the default) when it cannot be.
    pub(crate) async fn durable(&self, verdict: &Verdict) -> Result<(), Verdict> {
        let (Some(journal), Some(epoch)) = (self.journal.get(), verdict.journal) else {
            return Ok(());
        };
        match journal.written(epoch).await {
            Ok(()) => Ok(()),
            Err(crate::NotDurable) => match self.gate.policy().server().on_store_error {
                tollgate_policy::OnStoreError::Deny => Err(Verdict::error(
                    503,
                    "store_unavailable",
                    "the limit store cannot keep this decision now",
                )),
                _ => Ok(()),
            },
        }
    }
}

/// The public port's routes.
pub fn router<C: Clock + 'static>(app: Arc<App<C>>) -> Router {
    Router::new()
        .route("/v1/check", post(check::<C>))
        .route("/v1/auth", get(crate::forward_auth::forward_auth::<C>))
        .route("/_tollgate/quota", get(own_quota::<C>))
        .fallback(crate::gateway::gateway::<C>)
        .with_state(app)
}

/// Request headers seen through the policy's lookup.
pub(crate) struct HttpHeaders<'a> {
    map: &'a HeaderMap,
    /// Whether some header name has a `_`: only then are names compared with `_` for `-`.
    underscored: bool,
}

impl<'a> HttpHeaders<'a> {
    pub(crate) fn new(map: &'a HeaderMap) -> Self {
        let underscored = map.keys().any(|name| name.as_str().contains('_'));
        Self { map, underscored }
    }
}

impl Headers for HttpHeaders<'_> {
    fn lookup(&self, name: &str) -> HeaderLookup<'_> {
        let mut values = self.map.get_all(name).iter();
        // The same header with `_` for `-` is this one to a CGI-style server: two values then.
        let aliased = || {
            (self.underscored || name.contains('_'))
                && self
                    .map
                    .keys()
                    .any(|key| key.as_str() != name && same_header(key.as_str(), name))
        };
        match (values.next(), values.next()) {
            (None, _) if aliased() => HeaderLookup::Repeated,
            (None, _) => HeaderLookup::Absent,
            (Some(_), Some(_)) => HeaderLookup::Repeated,
            (Some(_), None) if aliased() => HeaderLookup::Repeated,
            (Some(value), None) => match value.to_str() {
                Ok(text) if is_header_text(value.as_bytes()) => HeaderLookup::One(text),
                _ => HeaderLookup::NotText,
            },
        }
    }
}

/// The largest check request body read.
const MAX_CHECK_BODY: usize = 64 * 1024;

/// `POST /v1/check` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckRequest {
    method: String,
    path: String,
    /// Kept in order, a name given twice included: the policy refuses an identity read two ways.
    #[serde(default, deserialize_with = "header_list")]
    headers: Vec<(String, String)>,
    client_ip: Option<IpAddr>,
    cost: Option<u32>,
    /// Add each limit's partition to the answer.
    #[serde(default)]
    explain: bool,
}

async fn check<C: Clock>(
    State(app): State<Arc<App<C>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body,
) -> Response {
    // Who may ask is decided before a byte of the body is read; the body is bounded in size
    // and in time, so that a client cannot hold a connection by never finishing it.
    if !app.gate.policy().server().may_check(peer.ip()) {
        return forbidden();
    }
    let read = http_body_util::BodyExt::collect(http_body_util::Limited::new(body, MAX_CHECK_BODY));
    let patience = app.gate.policy().server().header_read_timeout;
    let body = match tokio::time::timeout(patience, read).await {
        Ok(Ok(body)) => body.to_bytes(),
        Ok(Err(_)) => {
            let message = format!(
                "the check request's body is not read: larger than {MAX_CHECK_BODY} bytes, or cut short"
            );
            let error = serde_json::json!({ "error": "bad_request", "message": message });
            return (StatusCode::BAD_REQUEST, Json(error)).into_response();
        }
        Err(_) => {
            let message = "the check request's body did not arrive in time";
            let error = serde_json::json!({ "error": "request_timeout", "message": message });
            return (StatusCode::REQUEST_TIMEOUT, Json(error)).into_response();
        }
    };
    // Read as JSON whatever the Content-Type says (`curl -d` sends a form type).
    let request: CheckRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            let message = format!("invalid check request: {error}");
            let error = serde_json::json!({ "error": "bad_request", "message": message });
            return (StatusCode::BAD_REQUEST, Json(error)).into_response();
        }
    };
    let headers: Vec<(&str, &str)> = request
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let policy = app.gate.policy();
    let target = match policy.target_exact(&request.path) {
        Ok(target) => target,
        // What the gateway would answer.
        Err(refused) => {
            return check_answer(&Verdict::error(400, "bad_path", &refused.to_string()), None);
        }
    };
    let facts = RequestFacts {
        method: &request.method,
        target: &target,
        headers: headers.as_slice(),
        client_ip: request.client_ip,
        cost: request.cost,
    };
    let mut verdict = app.gate.decide(&facts).await;
    if verdict.unmatched && policy.server().unmatched == Unmatched::Pass {
        verdict = Verdict::passed();
    }
    let durable = app.durable(&verdict).await;
    // A check holds no concurrency slot: nothing tells when its request ends.
    drop(std::mem::take(&mut verdict.held));
    if let Err(refused) = durable {
        return check_answer(&refused, None);
    }
    let partitions = request
        .explain
        .then(|| app.gate.explain(&facts).into_iter().collect());
    check_answer(&verdict, partitions)
}

/// The check API's answer: the verdict, its headers as an object, and the partitions when asked.
fn check_answer(verdict: &Verdict, partitions: Option<BTreeMap<String, String>>) -> Response {
    let headers: BTreeMap<&str, &str> = verdict
        .headers
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    let mut answer = serde_json::to_value(verdict).unwrap_or_default();
    answer["headers"] = serde_json::json!(headers);
    if let Some(partitions) = partitions {
        answer["partitions"] = serde_json::json!(partitions);
    }
    Json(answer).into_response()
}

/// A customer's own quotas, seen with its own API key (as JSON, or as a page for a browser).
/// Looking costs no quota.
async fn own_quota<C: Clock>(
    State(app): State<Arc<App<C>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let lookup = HttpHeaders::new(&headers);
    let policy = app.gate.policy();
    let raw = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let target = match policy.target(raw) {
        Ok(target) => target,
        Err(refused) => return refusal(Verdict::error(400, "bad_path", &refused.to_string())),
    };
    let facts = RequestFacts {
        method: "GET",
        target: &target,
        headers: &lookup,
        client_ip: Some(policy.client_ip(peer.ip(), forwarded_for(&headers).as_deref())),
        cost: Some(0),
    };
    let account = match app.gate.key_holder(&facts).await {
        Ok(account) => account,
        Err(refused) => return refusal(refused),
    };
    let Some(usage) = app.gate.usage(&account, &jiff::tz::TimeZone::UTC).await else {
        return (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": "unknown_account" })),
        )
            .into_response();
    };
    let wants_page = lookup
        .get("accept")
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_page {
        return (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            crate::quota_page::render(&usage),
        )
            .into_response();
    }
    Json(usage).into_response()
}

/// The answer to a peer that may not use the check API or forward-auth.
pub(crate) fn forbidden() -> Response {
    let error = serde_json::json!({
        "error": "forbidden",
        "message": "this peer may not call the check API or forward-auth (see server.check_from)",
    });
    (StatusCode::FORBIDDEN, Json(error)).into_response()
}

/// Adds a verdict's rate-limit headers to a response.
pub(crate) fn with_headers(mut response: Response, verdict: &Verdict) -> Response {
    for (name, value) in &verdict.headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(name), value);
        }
    }
    response
}

/// A refusal as a response: its status, headers and body.
pub(crate) fn refusal(verdict: Verdict) -> Response {
    let status = StatusCode::from_u16(verdict.status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
    let (content_type, body) = verdict
        .body
        .clone()
        .unwrap_or(("text/plain", String::new()));
    let response = (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
    with_headers(response, &verdict)
}

/// Every `X-Forwarded-For` line, in order, as one comma-separated chain.
pub(crate) fn forwarded_for(headers: &HeaderMap) -> Option<String> {
    let lines: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    (!lines.is_empty()).then(|| lines.join(", "))
}

/// A JSON object's entries in order, a name given twice kept twice (a map would keep one).
fn header_list<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<(String, String)>, D::Error> {
    struct Entries;
    impl<'de> serde::de::Visitor<'de> for Entries {
        type Value = Vec<(String, String)>;
        fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("an object of header names and string values")
        }
        fn visit_map<M: serde::de::MapAccess<'de>>(
            self,
            mut map: M,
        ) -> Result<Self::Value, M::Error> {
            let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
            while let Some(entry) = map.next_entry()? {
                entries.push(entry);
            }
            Ok(entries)
        }
    }
    deserializer.deserialize_map(Entries)
}
