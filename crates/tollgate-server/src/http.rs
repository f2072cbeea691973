//! The public port: the check API, forward-auth, and the gateway, over one [`Gate`].

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use tollgate_core::{Clock, SystemClock};
use tollgate_policy::{Headers, RequestFacts};

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
    client: Client<HttpConnector, Body>,
}

impl<C: Clock> App<C> {
    /// Handlers over `gate`, forwarding to `upstream` when given.
    pub fn new(gate: Gate<C>, upstream: Option<Uri>, upstream_timeout: Duration) -> Self {
        Self {
            gate,
            upstream,
            upstream_timeout,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }
}

/// The public port's routes.
pub fn router<C: Clock + 'static>(app: Arc<App<C>>) -> Router {
    Router::new()
        .route("/v1/check", post(check::<C>))
        .route("/v1/auth", get(forward_auth::<C>))
        .fallback(gateway::<C>)
        .with_state(app)
}

/// Request headers seen through the policy's lookup.
struct HttpHeaders<'a>(&'a HeaderMap);

impl Headers for HttpHeaders<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|value| value.to_str().ok())
    }
}

/// `POST /v1/check` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckRequest {
    method: String,
    path: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    client_ip: Option<IpAddr>,
    cost: Option<u32>,
    /// Add each limit's partition to the answer.
    #[serde(default)]
    explain: bool,
}

async fn check<C: Clock>(State(app): State<Arc<App<C>>>, body: Bytes) -> Response {
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
    let facts = RequestFacts {
        method: &request.method,
        uri: &request.path,
        headers: headers.as_slice(),
        client_ip: request.client_ip,
        cost: request.cost,
    };
    let verdict = app.gate.decide(&facts);
    let headers: BTreeMap<&str, &str> = verdict
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut answer = serde_json::to_value(&verdict).unwrap_or_default();
    answer["headers"] = serde_json::json!(headers);
    if request.explain {
        let partitions: BTreeMap<String, String> = app.gate.explain(&facts).into_iter().collect();
        answer["partitions"] = serde_json::json!(partitions);
    }
    Json(answer).into_response()
}

async fn forward_auth<C: Clock>(
    State(app): State<Arc<App<C>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let lookup = HttpHeaders(&headers);
    let method = lookup
        .get("x-forwarded-method")
        .or_else(|| lookup.get("x-original-method"));
    let uri = lookup
        .get("x-forwarded-uri")
        .or_else(|| lookup.get("x-original-uri"));
    let (Some(method), Some(uri)) = (method, uri) else {
        let error = serde_json::json!({
            "error": "bad_request",
            "message": "forward-auth needs X-Forwarded-Method and X-Forwarded-Uri (or X-Original-Method and X-Original-URI)",
        });
        return (StatusCode::BAD_REQUEST, Json(error)).into_response();
    };
    let client_ip = app.gate.client_ip(peer.ip(), lookup.get("x-forwarded-for"));
    let verdict = app.gate.decide(&RequestFacts {
        method,
        uri,
        headers: &lookup,
        client_ip: Some(client_ip),
        cost: None,
    });
    if verdict.allowed {
        with_headers(StatusCode::OK.into_response(), &verdict)
    } else {
        refusal(verdict)
    }
}

async fn gateway<C: Clock>(
    State(app): State<Arc<App<C>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let uri = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let headers = HttpHeaders(&parts.headers);
    let client_ip = app
        .gate
        .client_ip(peer.ip(), headers.get("x-forwarded-for"));
    let verdict = app.gate.decide(&RequestFacts {
        method: parts.method.as_str(),
        uri: &uri,
        headers: &headers,
        client_ip: Some(client_ip),
        cost: None,
    });
    if !verdict.allowed {
        return refusal(verdict);
    }
    let Some(upstream) = &app.upstream else {
        return refusal(Verdict::error(
            502,
            "no_upstream",
            "no upstream is configured for the gateway",
        ));
    };
    let Ok(target) =
        format!("{}{}", upstream.to_string().trim_end_matches('/'), uri).parse::<Uri>()
    else {
        return refusal(Verdict::error(
            400,
            "bad_request",
            "the request target cannot be forwarded",
        ));
    };
    let host = parts.headers.get(header::HOST).cloned();
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(header::HOST);
    add_forwarded(&mut parts.headers, peer.ip(), host);
    parts.uri = target;
    let forwarded = Request::from_parts(parts, body);
    let upstream = tokio::time::timeout(app.upstream_timeout, app.client.request(forwarded)).await;
    let response = match upstream {
        Ok(Ok(response)) => {
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            with_headers(Response::from_parts(parts, Body::new(body)), &verdict)
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "upstream failed");
            refusal(Verdict::error(
                502,
                "bad_gateway",
                "the upstream could not be reached",
            ))
        }
        Err(_) => {
            let message = "the upstream did not answer in time";
            refusal(Verdict::error(504, "gateway_timeout", message))
        }
    };
    if let Some(refund) = &verdict.refund {
        app.gate.settle(refund, response.status().as_u16());
    }
    response
}

const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

fn add_forwarded(headers: &mut HeaderMap, client: IpAddr, host: Option<HeaderValue>) {
    let chain = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(earlier) => format!("{earlier}, {client}"),
        None => client.to_string(),
    };
    if let Ok(value) = HeaderValue::from_str(&chain) {
        headers.insert("x-forwarded-for", value);
    }
    headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    if let Some(host) = host {
        headers.insert("x-forwarded-host", host);
    }
}

/// Adds a verdict's rate-limit headers to a response.
fn with_headers(mut response: Response, verdict: &Verdict) -> Response {
    for (name, value) in &verdict.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// A refusal as a response: its status, headers and body.
fn refusal(verdict: Verdict) -> Response {
    let status = StatusCode::from_u16(verdict.status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
    let (content_type, body) = verdict
        .body
        .clone()
        .unwrap_or(("text/plain", String::new()));
    let response = (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
    with_headers(response, &verdict)
}
