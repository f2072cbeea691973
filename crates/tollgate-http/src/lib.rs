//! Tollgate's HTTP edge: a request read once as the limits read it — its canonical target,
//! its headers through one lookup that refuses what can be read two ways, the client address
//! as `identity.trusted_proxies` says — and an admission or a refusal written back as rate-limit
//! headers and a refusal response. The server's gateway, forward-auth and check API, and the
//! `tollgate-tower` layer, all read and answer through it, over the one pipeline of
//! `tollgate-gate`.
//!
//! ```
//! use axum::http::Request;
//! use tollgate_core::ManualClock;
//! use tollgate_gate::Gate;
//! use tollgate_policy::{Policy, Source};
//!
//! let policy = Policy::compile(&Source::new("p.toml", r#"
//!     [[routes]]
//!     api = "items"
//!     match = "GET /items/{id:int}"
//!
//!     [[limits]]
//!     name = "global"
//!     window = { max = 1, every = "1m" }
//! "#)).unwrap();
//! let gate = Gate::new(policy, ManualClock::new(0));
//! let (parts, ()) = Request::get("/items/007").body(()).unwrap().into_parts();
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let admission = tollgate_http::edge::admit(&gate, &parts, None).await.unwrap();
//! let mut headers = axum::http::HeaderMap::new();
//! tollgate_http::edge::add_headers(&admission, &mut headers);
//! assert_eq!(headers["ratelimit"], "\"global\";r=0;t=60");
//! // `/items/7`, however it is spelled, is spent.
//! let (parts, ()) = Request::get("/items/7").body(()).unwrap().into_parts();
//! let refused = tollgate_http::edge::admit(&gate, &parts, None).await.unwrap_err();
//! assert_eq!(refused.status(), 429);
//! # });
//! ```

#![forbid(unsafe_code)]

pub mod edge;
mod head;
mod headers;
mod rate_headers;
mod values;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
pub use head::Head;
pub use headers::{HttpHeaders, forwarded_for};
pub use rate_headers::{add_headers, header_fields};
use tollgate_gate::Refusal;
pub use values::header_value;

/// A refusal as a response: its status, headers and body.
#[must_use]
pub fn refusal(refusal: Refusal) -> Response {
    let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
    let (content_type, body) = refusal.body;
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    add_headers(
        headers,
        &refusal.report,
        refusal.retry_after,
        refusal.retry_after_ms,
    );
    response
}
