//! The gateway: every path but the check API's and forward-auth's is decided and, when
//! admitted, forwarded to the upstream with its body streamed both ways.

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Uri, Version, header};
use axum::response::Response;
use http_body_util::BodyExt;
use tollgate_core::Clock;
use tollgate_policy::{Policy, RequestFacts, Target};

use super::{HttpHeaders, forwarded_for};
use crate::app::App;
use crate::pipeline::{Admission, Refusal};
use crate::respond;

/// Decides a request and, when admitted, forwards it to the upstream.
pub(crate) async fn gateway<C: Clock + 'static>(
    app: &App<C>,
    peer: SocketAddr,
    mut parts: Parts,
    body: Body,
) -> Response {
    let policy = app.gate.policy();
    let raw = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    // The one reading of the path: what is routed, counted, blocked and forwarded.
    let target = match policy.target(raw) {
        Ok(target) => target,
        Err(refused) => {
            return respond::refusal(Refusal::error(400, "bad_path", &refused.to_string()));
        }
    };
    let chain = forwarded_for(&parts.headers);
    let client_ip = policy.client_ip(peer.ip(), chain.as_deref());
    let admission = app
        .gate
        .admit(&RequestFacts {
            method: parts.method.as_str(),
            target: &target,
            headers: &HttpHeaders::new(&parts.headers),
            client_ip: Some(client_ip),
            cost: None,
        })
        .await;
    let admission = match admission {
        Ok(admission) => admission,
        Err(refusal) => return respond::refusal(refusal),
    };
    let Some(upstream) = app
        .upstream
        .as_ref()
        .and_then(|upstream| upstream_uri(upstream, &target))
    else {
        let error = Refusal::error(
            502,
            "no_upstream",
            "no upstream is configured, or the target cannot be forwarded",
        );
        // A request that never left is refunded as the limits say.
        drop(admission.settle(502).await);
        return respond::refusal(error);
    };
    let path = target.path().to_owned();
    let host = parts.headers.get(header::HOST).cloned().or_else(|| {
        parts
            .uri
            .authority()
            .and_then(|authority| HeaderValue::from_str(authority.as_str()).ok())
    });
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(header::HOST);
    set_forwarded(&mut parts.headers, &policy, peer.ip(), chain, host);
    parts.uri = upstream;
    // The client to the upstream speaks HTTP/1.1, whatever the client to us spoke.
    parts.version = Version::HTTP_11;
    let forwarded = axum::http::Request::from_parts(parts, body);
    let answer = tokio::time::timeout(app.upstream_timeout, app.client.request(forwarded)).await;
    // A status the upstream sent is refunded as the limits say; after a reset or a timeout
    // the upstream may have done the work, and a refund would make slow requests free: the
    // admission is dropped unsettled.
    match answer {
        Ok(Ok(response)) => {
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            block_on_hint(app, &admission, &path, &parts.headers);
            respond::add_headers(&mut parts.headers, admission.report(), None);
            // The slots are held until the response body is done or dropped.
            let held = admission.settle(parts.status.as_u16()).await;
            let body = body.map_frame(move |frame| {
                let _held = &held;
                frame
            });
            Response::from_parts(parts, Body::new(body))
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "upstream failed");
            respond::refusal(Refusal::error(
                502,
                "bad_gateway",
                "the upstream could not be reached",
            ))
        }
        Err(_) => {
            let message = "the upstream did not answer in time";
            respond::refusal(Refusal::error(504, "gateway_timeout", message))
        }
    }
}

/// The response header by which an upstream asks that the function it served (this api on this
/// path) be refused for a number of seconds, to protect what is behind it.
pub(crate) const BLOCK_HINT: &str = "tollgate-block-for";

/// Honours an upstream's block hint.
fn block_on_hint<C: Clock>(app: &App<C>, admission: &Admission, path: &str, headers: &HeaderMap) {
    let seconds = headers
        .get(BLOCK_HINT)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    // Only a function whose requests are counted can be blocked: an exempt route's hint would
    // block the limited routes of its path, and fill the table of hints.
    let report = admission.report();
    let (Some(seconds), Some(api), true) = (seconds, report.api.as_deref(), report.counted) else {
        return;
    };
    if app.gate.block_for(api, path, seconds) {
        tracing::info!(api, path, seconds, "upstream asked for a block");
    } else {
        tracing::warn!(
            api,
            path,
            seconds,
            max = crate::MAX_HINTS,
            "upstream block dropped: too many held"
        );
    }
}

/// The upstream URI for a request: the canonical path, encoded so that the upstream decoding
/// it once reads the very path that was counted, and the query as received.
fn upstream_uri(upstream: &Uri, target: &Target<'_>) -> Option<Uri> {
    let base = upstream.to_string();
    let mut uri = format!("{}{}", base.trim_end_matches('/'), target.encoded_path());
    if let Some(query) = target.query() {
        uri.push('?');
        uri.push_str(query);
    }
    uri.parse().ok()
}

const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Removes hop-by-hop headers, those the `Connection` header names included.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect();
    for name in named.iter().map(String::as_str).chain(HOP_BY_HOP) {
        headers.remove(name);
    }
}

/// `X-Forwarded-For` gets the peer appended; `X-Forwarded-Proto` and `-Host` are kept only
/// from a trusted proxy, and set from this hop otherwise.
fn set_forwarded(
    headers: &mut HeaderMap,
    policy: &Policy,
    peer: IpAddr,
    chain: Option<String>,
    host: Option<HeaderValue>,
) {
    let chain = match chain {
        Some(earlier) => format!("{earlier}, {peer}"),
        None => peer.to_string(),
    };
    if let Ok(value) = HeaderValue::from_str(&chain) {
        headers.insert("x-forwarded-for", value);
    }
    if !policy.trusts(peer) {
        headers.remove("x-forwarded-proto");
        headers.remove("x-forwarded-host");
    }
    if !headers.contains_key("x-forwarded-proto") {
        headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    }
    if let (false, Some(host)) = (headers.contains_key("x-forwarded-host"), host) {
        headers.insert("x-forwarded-host", host);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_the_canonical_path_and_the_query_as_received() {
        let upstream: Uri = "http://127.0.0.1:9000".parse().unwrap();
        let forwarded = |raw| {
            let target = Target::parse(raw, false).unwrap();
            upstream_uri(&upstream, &target).unwrap().to_string()
        };
        assert_eq!(
            forwarded("/a/./b//c?x=%2F&y"),
            "http://127.0.0.1:9000/a/b/c?x=%2F&y"
        );
        assert_eq!(
            forwarded("/webhooks/../reports"),
            "http://127.0.0.1:9000/reports"
        );
        assert_eq!(
            forwarded("/files/a%20b"),
            "http://127.0.0.1:9000/files/a%20b"
        );
        // A `%` of the decoded path is escaped: the upstream decodes `/hvacs/%67%31`, as counted.
        assert_eq!(
            forwarded("/hvacs/%2567%2531"),
            "http://127.0.0.1:9000/hvacs/%2567%2531"
        );
    }

    #[test]
    fn hop_by_hop_headers_go_with_those_connection_names() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, X-Secret-Hop"),
        );
        headers.insert("x-secret-hop", HeaderValue::from_static("1"));
        headers.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(
            headers.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            ["x-kept"]
        );
    }
}
