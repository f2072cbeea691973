//! The gateway: every path but the check API's and forward-auth's is decided and, when
//! admitted (after waiting for its turn, where a limit's `delay` gives it one), forwarded to
//! the upstream with its body streamed both ways.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::uri::PathAndQuery;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, Version, header};
use axum::response::Response;
use bytes::Bytes;
use tollgate_core::Clock;
use tollgate_policy::{Policy, Target};

use super::Head;
use super::upstream_body::UpstreamBody;
use crate::app::App;
use crate::observe::access::{Answered, Via};
use crate::respond;
use tollgate_gate::{Admission, Refusal, Why};

/// Decides a request and, when admitted, forwards it to the upstream.
pub(crate) async fn gateway<C: Clock + 'static>(
    app: Arc<App<C>>,
    peer: SocketAddr,
    mut parts: Parts,
    body: Body,
) -> Response {
    let started = Instant::now();
    let policy = app.gate.policy();
    let told = |target, refusal| refused_before(&parts, peer.ip(), started, target, refusal);
    // The one reading of the head: what is routed, counted, blocked and forwarded.
    let head = match Head::read(&policy, &parts, Some(peer.ip())) {
        Ok(head) => head,
        Err(refused) => {
            let refusal = Refusal::bad_path(&refused);
            app.answered(&told(None, &refusal));
            return respond::refusal(refusal);
        }
    };
    let admission = app.gate.admit_waiting(&head.facts()).await;
    let mut admission = match admission {
        Ok(admission) => admission,
        Err(refusal) => {
            app.answered(&told(Some(&head.target), &refusal));
            return respond::refusal(refusal);
        }
    };
    // A request whose turn is still to come (a token bucket's `delay`) waits for it here; a
    // client that leaves meanwhile drops this future, and the admission gives its turn back.
    admission.wait_for_turn().await;
    let Some(upstream) = app
        .upstream
        .as_ref()
        .and_then(|upstream| upstream_uri(upstream, &head.target))
    else {
        let error = Refusal::upstream(
            502,
            "no_upstream",
            "no upstream is configured, or the target cannot be forwarded",
        );
        app.answered(&Answered {
            report: admission.report(),
            ..told(Some(&head.target), &error)
        });
        // A request that never left is refunded as the limits say.
        drop(admission.settle(502).await);
        return respond::refusal(error);
    };
    // The counted path, for the line the exchange writes once the target is forwarded.
    let logged = Logged {
        path: app.access_log.is_some().then(|| counted_path(&head.target)),
        client_ip: peer.ip(),
        started,
    };
    // The head's reading is done: the chain goes on, extended, to the upstream.
    let chain = head.chain;
    // Kept (reference counts, not copies) to read the counted path again should the upstream
    // ask for a block.
    let asked = (parts.method.clone(), parts.uri.clone());
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
    if !admission.holds_slots() {
        return exchange(&app, &policy, admission, forwarded, &asked, logged).await;
    }
    // A slot bounds the upstream's work, not the client's patience: the exchange runs on a
    // task of its own, which a client hanging up (an HTTP/1 close, an HTTP/2 RST_STREAM) does
    // not cancel, and the slot goes back when the upstream is done.
    let task =
        tokio::spawn(
            async move { exchange(&app, &policy, admission, forwarded, &asked, logged).await },
        );
    task.await.unwrap_or_else(|_| {
        respond::refusal(Refusal::upstream(
            502,
            "bad_gateway",
            "the upstream exchange failed",
        ))
    })
}

/// Sends `forwarded` to the upstream and answers with its response, `admission` settled by its
/// status and held (its slots) until the response body is done — or, when the client leaves
/// first, until the upstream has sent the rest of it (see [`UpstreamBody`]).
async fn exchange<C: Clock + 'static>(
    app: &App<C>,
    policy: &Policy,
    admission: Admission,
    forwarded: axum::http::Request<Body>,
    asked: &(Method, Uri),
    logged: Logged,
) -> Response {
    let sent = Instant::now();
    let answer = tokio::time::timeout(app.upstream_timeout, app.client.request(forwarded)).await;
    let took = sent.elapsed();
    let tell = |report, why, answer, upstream| {
        app.answered(&Answered {
            via: Via::Gateway,
            method: asked.0.as_str(),
            target: None,
            raw_path: logged.path.as_deref().unwrap_or_else(|| asked.1.path()),
            client_ip: Some(logged.client_ip),
            report,
            why,
            answer,
            upstream,
            started: logged.started,
        });
    };
    // A status the upstream sent is refunded as the limits say; after a reset or a timeout
    // the upstream may have done the work, and a refund would make slow requests free: the
    // admission is dropped unsettled.
    match answer {
        Ok(Ok(response)) => {
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            block_on_hint(app, policy, &admission, asked, &parts.headers);
            respond::add_headers(&mut parts.headers, admission.report(), None, None);
            let status = parts.status.as_u16();
            tell(admission.report(), None, status, Some((status, took)));
            let held = admission.settle(status).await;
            let body = UpstreamBody::new(body, held, app.upstream_timeout);
            Response::from_parts(parts, Body::new(body))
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "upstream failed");
            tell(admission.report(), Some(Why::Upstream), 502, None);
            respond::refusal(Refusal::upstream(
                502,
                "bad_gateway",
                "the upstream could not be reached",
            ))
        }
        Err(_) => {
            tell(admission.report(), Some(Why::Upstream), 504, None);
            let message = "the upstream did not answer in time";
            respond::refusal(Refusal::upstream(504, "gateway_timeout", message))
        }
    }
}

/// What a refusal before the exchange tells the access log and `/metrics`.
fn refused_before<'a>(
    parts: &'a Parts,
    client_ip: IpAddr,
    started: Instant,
    target: Option<&'a Target<'a>>,
    refusal: &'a Refusal,
) -> Answered<'a> {
    Answered {
        via: Via::Gateway,
        method: parts.method.as_str(),
        target,
        raw_path: parts.uri.path_and_query().map_or("/", PathAndQuery::as_str),
        client_ip: Some(client_ip),
        report: &refusal.report,
        why: Some(refusal.why),
        answer: refusal.status,
        upstream: None,
        started,
    }
}

/// What the line of an exchange needs once the request is forwarded.
#[derive(Debug)]
struct Logged {
    /// The counted path and query, when an access log is written.
    path: Option<String>,
    client_ip: IpAddr,
    started: Instant,
}

/// `target` as the access log writes it: the counted path with the query as received.
fn counted_path(target: &Target<'_>) -> String {
    match target.query() {
        Some(query) => format!("{}?{query}", target.path()),
        None => target.path().to_owned(),
    }
}

/// The response header by which an upstream asks that the function it served (this api on this
/// path) be refused for a number of seconds, to protect what is behind it.
pub(crate) const BLOCK_HINT: &str = "tollgate-block-for";

/// Honours an upstream's block hint, on the path as `policy` counted it.
fn block_on_hint<C: Clock>(
    app: &App<C>,
    policy: &Policy,
    admission: &Admission,
    (method, asked): &(Method, Uri),
    headers: &HeaderMap,
) {
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
    // The path as counted: the one reading of the target, made again from what was asked.
    let raw = asked.path_and_query().map_or("/", |pq| pq.as_str());
    let Ok(target) = policy.target(method.as_str(), raw) else {
        return;
    };
    let path = target.path();
    if app.gate.block_for(api, path, seconds) {
        tracing::info!(api, path, seconds, "upstream asked for a block");
    } else {
        tracing::warn!(
            api,
            path,
            seconds,
            max = tollgate_gate::MAX_HINTS,
            "upstream block dropped: too many held"
        );
    }
}

/// The upstream URI for a request: the canonical path, encoded so that the upstream decoding
/// it once reads the very path that was counted, and the query as received, after the
/// upstream's own path (its trailing slash dropped).
fn upstream_uri(upstream: &Uri, target: &Target<'_>) -> Option<Uri> {
    use std::fmt::Write;
    let prefix = upstream.path().trim_end_matches('/');
    let query = target.query();
    let capacity = prefix.len() + target.path().len() * 3 + query.map_or(0, |q| q.len() + 1);
    let mut path = String::with_capacity(capacity);
    path.push_str(prefix);
    write!(path, "{}", target.encoded_path()).ok()?;
    if let Some(query) = query {
        path.push('?');
        path.push_str(query);
    }
    let mut parts = upstream.clone().into_parts();
    parts.path_and_query = Some(PathAndQuery::from_maybe_shared(Bytes::from(path)).ok()?);
    Uri::from_parts(parts).ok()
}

/// Headers of one hop only, never forwarded.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Removes hop-by-hop headers, those the `Connection` header names included.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<String> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(|name| name.trim().to_ascii_lowercase())
            .filter(|name| !name.is_empty())
            .collect();
        for name in &named {
            headers.remove(name.as_str());
        }
    }
    for name in &HOP_BY_HOP {
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
        Some(earlier) => respond::header_value(format_args!("{earlier}, {peer}")),
        None => respond::header_value(format_args!("{peer}")),
    };
    if let Some(chain) = chain {
        headers.insert(X_FORWARDED_FOR, chain);
    }
    if !policy.trusts(peer) {
        headers.remove(X_FORWARDED_PROTO);
        headers.remove(X_FORWARDED_HOST);
    }
    if !headers.contains_key(X_FORWARDED_PROTO) {
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    }
    if let (false, Some(host)) = (headers.contains_key(X_FORWARDED_HOST), host) {
        headers.insert(X_FORWARDED_HOST, host);
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
    fn an_upstream_path_is_kept_before_the_forwarded_one() {
        let target = Target::parse("/x/y?q=1", false).unwrap();
        for (upstream, expected) in [
            (
                "http://127.0.0.1:9000/api/",
                "http://127.0.0.1:9000/api/x/y?q=1",
            ),
            (
                "http://127.0.0.1:9000/api",
                "http://127.0.0.1:9000/api/x/y?q=1",
            ),
            ("http://upstream:80", "http://upstream:80/x/y?q=1"),
        ] {
            let upstream: Uri = upstream.parse().unwrap();
            assert_eq!(
                upstream_uri(&upstream, &target).unwrap().to_string(),
                expected
            );
        }
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
