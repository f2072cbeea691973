//! The check API, `POST /v1/check`: a request described as JSON, decided as if it had come,
//! answered as JSON with HTTP 200 whether it would be admitted or refused.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use serde::Deserialize;
use tollgate_core::Clock;
use tollgate_policy::{RequestFacts, Unmatched};

use super::body::{self, Unread};
use crate::app::App;
use crate::observe::access::{Answered, Via};
use crate::respond::{self, CheckAnswer};
use tollgate_gate::{Admission, Refusal, Report, Why};

/// The largest check request body read.
const MAX_CHECK_BODY: usize = 64 * 1024;

/// `POST /v1/check` body: a request described.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckRequest<'a> {
    /// Its method.
    #[serde(borrow)]
    #[schema(value_type = String)]
    method: Cow<'a, str>,
    /// Its path and query, as the client sent them.
    #[serde(borrow)]
    #[schema(value_type = String)]
    path: Cow<'a, str>,
    /// Its headers. Kept in order, a name given twice included: the policy refuses an identity
    /// read two ways.
    #[serde(default, borrow, deserialize_with = "header_list")]
    #[schema(value_type = std::collections::HashMap<String, String>)]
    headers: Vec<HeaderEntry<'a>>,
    /// The client's address, for limits per ip.
    #[schema(value_type = Option<String>)]
    client_ip: Option<IpAddr>,
    /// Units it costs (default 1; 0 looks without counting).
    #[schema(value_type = Option<u64>, maximum = 4_294_967_295_u64)]
    cost: Option<u32>,
    /// Add each limit's partition to the answer.
    #[serde(default)]
    explain: bool,
}

/// An error of the check request itself.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct CheckError<'a> {
    /// A stable code: `bad_request`, `request_timeout`, `forbidden`.
    error: &'a str,
    /// What went wrong, in words.
    message: &'a str,
}

/// A header name and value, borrowed from the body where they have no escapes.
type HeaderEntry<'a> = (Cow<'a, str>, Cow<'a, str>);

/// Decides the request a check body describes, as if it had come (it counts), and answers 200
/// whether it would be admitted or refused. Served on the public port (`--listen`).
#[utoipa::path(
    post,
    path = "/v1/check",
    tag = "check",
    security(()),
    request_body = CheckRequest<'_>,
    responses(
        (status = 200, description = "The decision", body = CheckAnswer<'_>),
        (status = 400, description = "Not such a body", body = CheckError<'_>),
        (status = 403, description = "This peer may not ask (server.check_from)", body = CheckError<'_>),
        (status = 408, description = "The body did not arrive in time", body = CheckError<'_>),
    )
)]
pub(crate) async fn check<C, B>(app: &App<C>, peer: SocketAddr, body: B) -> Response
where
    C: Clock + 'static,
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let started = Instant::now();
    let policy = app.gate.policy();
    // Who may ask is decided before a byte of the body is read; the body is bounded in size
    // and in time, so that a client cannot hold a connection by never finishing it.
    if !policy.server().may_check(peer.ip()) {
        return respond::forbidden();
    }
    // A body still on its way is given the header read timeout.
    let body = match body::read(body, MAX_CHECK_BODY, policy.server().header_read_timeout).await {
        Ok(body) => body,
        Err(Unread::TooLarge) => {
            let message = format!(
                "the check request's body is not read: larger than {MAX_CHECK_BODY} bytes, or cut short"
            );
            return error(StatusCode::BAD_REQUEST, "bad_request", &message);
        }
        Err(Unread::Late) => {
            let message = "the check request's body did not arrive in time";
            return error(StatusCode::REQUEST_TIMEOUT, "request_timeout", message);
        }
    };
    // Read as JSON whatever the Content-Type says (`curl -d` sends a form type).
    let request: CheckRequest<'_> = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(problem) => {
            let message = format!("invalid check request: {problem}");
            return error(StatusCode::BAD_REQUEST, "bad_request", &message);
        }
    };
    // The policy in force now: one may have been loaded while the body arrived.
    let policy = app.gate.policy();
    let headers: Vec<(&str, &str)> = request
        .headers
        .iter()
        .map(|(name, value)| (&**name, &**value))
        .collect();
    let target = match policy.target_exact(&request.method, &request.path) {
        Ok(target) => target,
        // What the gateway would answer.
        Err(refused) => {
            let refusal = Refusal::bad_path(&refused);
            return respond::json(StatusCode::OK, &CheckAnswer::refused(&refusal));
        }
    };
    let facts = RequestFacts {
        method: &request.method,
        target: &target,
        headers: headers.as_slice(),
        client_ip: request.client_ip,
        cost: request.cost,
        // The caller writes the headers; the company among them is believed only from a
        // caller that is a trusted proxy.
        from_trusted_proxy: policy.trusts(peer.ip()),
    };
    // A check holds no concurrency slot: nothing tells when its request ends. The admission
    // goes (and its slots with it) once answered.
    let decided = match app.gate.admit(&facts).await {
        Err(refusal)
            if refusal.why == Why::NoRoute && policy.server().unmatched == Unmatched::Pass =>
        {
            Ok(Admission::uncounted(Report::default()))
        }
        decided => decided,
    };
    let (report, why, status) = match &decided {
        Ok(admission) => (admission.report(), None, 200),
        Err(refusal) => (&refusal.report, Some(refusal.why), refusal.status),
    };
    app.answered(&Answered {
        via: Via::Check,
        method: &request.method,
        target: Some(&target),
        raw_path: &request.path,
        client_ip: request.client_ip,
        report,
        why,
        answer: status,
        upstream: None,
        started,
    });
    let answer = match &decided {
        Ok(admission) => CheckAnswer::admitted(admission),
        Err(refusal) => CheckAnswer::refused(refusal),
    };
    let answer = if request.explain {
        answer.with_partitions(app.gate.explain(&facts))
    } else {
        answer
    };
    respond::json(StatusCode::OK, &answer)
}

/// An error of the check request itself.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    respond::json(
        status,
        &CheckError {
            error: code,
            message,
        },
    )
}

/// A JSON object's entries in order, a name given twice kept twice (a map would keep one).
fn header_list<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<HeaderEntry<'de>>, D::Error> {
    struct Entries;
    impl<'de> serde::de::Visitor<'de> for Entries {
        type Value = Vec<HeaderEntry<'de>>;
        fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("an object of header names and string values")
        }
        fn visit_map<M: serde::de::MapAccess<'de>>(
            self,
            mut map: M,
        ) -> Result<Self::Value, M::Error> {
            let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
            while let Some((name, value)) = map.next_entry::<Borrowed<'de>, Borrowed<'de>>()? {
                entries.push((name.0, value.0));
            }
            Ok(entries)
        }
    }
    deserializer.deserialize_map(Entries)
}

/// A string borrowed from the body where it has no escapes.
struct Borrowed<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Borrowed<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Text<'a>(#[serde(borrow)] Cow<'a, str>);
        Text::deserialize(deserializer).map(|text| Self(text.0))
    }
}
