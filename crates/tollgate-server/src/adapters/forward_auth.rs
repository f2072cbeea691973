//! Forward-auth, `GET /v1/auth`: a proxy (nginx `auth_request`, Traefik `forwardAuth`, Caddy
//! `forward_auth`) asks whether the request it holds may go on, naming it in headers.
//!
//! Which headers name it is `server.forward_auth`; a request whose two standard pairs
//! (`X-Forwarded-Method`/`-Uri` and `X-Original-Method`/`-URI`) both arrive and disagree, or
//! that repeats one, is a 400: a client behind the proxy may add the pair the proxy does not
//! set, and no choice between them is safe.

use std::net::SocketAddr;
use std::time::Instant;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;
use tollgate_core::Clock;
use tollgate_policy::{
    FORWARDED_PAIR, ForwardAuth, HeaderLookup, Headers, ORIGINAL_PAIR, RequestFacts,
};

use super::{HttpHeaders, forwarded_for};
use crate::app::App;
use crate::observe::access::{Answered, Via};
use crate::respond;
use tollgate_gate::{Refusal, as_a_proxy_asks};

/// The header that carries a refusal's body to a proxy that drops the body of its subrequest
/// (nginx `auth_request`: `auth_request_set $refusal $upstream_http_tollgate_refusal`).
pub(crate) const REFUSAL_HEADER: HeaderName = HeaderName::from_static("tollgate-refusal");

/// Answers whether the request the proxy names may go on.
pub(crate) async fn forward_auth<C: Clock + 'static>(
    app: &App<C>,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Response {
    let started = Instant::now();
    let policy = app.gate.policy();
    let server = policy.server();
    if !server.may_check(peer.ip()) {
        return respond::forbidden();
    }
    let lookup = HttpHeaders::new(headers);
    let (method, uri) = match original_request(&lookup, &server.forward_auth) {
        Ok(original) => original,
        Err(message) => return refused(Refusal::bad_request("bad_request", message)),
    };
    // Not forwarded: the proxy serves the original URI, so dot-segments are refused.
    let target = match policy.target_exact(method, uri) {
        Ok(target) => target,
        Err(path) => return refused(Refusal::bad_path(&path)),
    };
    let client_ip = policy.client_ip(peer.ip(), forwarded_for(headers).as_deref());
    let facts = RequestFacts {
        method,
        target: &target,
        headers: &lookup,
        client_ip: Some(client_ip),
        cost: None,
        from_trusted_proxy: policy.trusts(peer.ip()),
    };
    let told = |report, why, answer| Answered {
        via: Via::ForwardAuth,
        method,
        target: Some(&target),
        raw_path: uri,
        client_ip: Some(client_ip),
        report,
        why,
        answer,
        upstream: None,
        started,
    };
    // Forward-auth never learns when the request ends: the admission, and any slot it holds,
    // goes when this answer is made.
    match as_a_proxy_asks(app.gate.admit(&facts).await, server.unmatched) {
        Ok(admission) => {
            app.answered(&told(admission.report(), None, 200));
            let mut response = Response::new(axum::body::Body::empty());
            respond::add_headers(response.headers_mut(), admission.report(), None, None);
            response
        }
        Err(refusal) => {
            app.answered(&told(&refusal.report, Some(refusal.why), refusal.status));
            refused(refusal)
        }
    }
}

/// A refusal, its body also in [`REFUSAL_HEADER`] (line breaks as spaces).
fn refused(refusal: Refusal) -> Response {
    let body = refusal.body.1.replace(['\r', '\n'], " ");
    let mut response = respond::refusal(refusal);
    if let Ok(value) = HeaderValue::from_bytes(body.as_bytes()) {
        response.headers_mut().insert(REFUSAL_HEADER, value);
    }
    response
}

/// Why the original request cannot be read one way only.
const DISAGREE: &str = "X-Forwarded-Method/-Uri and X-Original-Method/-URI disagree: \
    have the proxy clear the pair it does not set, and name it in server.forward_auth";

/// The original method and URI, read as `source` says.
fn original_request<'h>(
    headers: &'h HttpHeaders<'_>,
    source: &ForwardAuth,
) -> Result<(&'h str, &'h str), &'static str> {
    let pair = |(method, uri): (&str, &str)| {
        Ok::<_, &'static str>((read(headers, method)?, read(headers, uri)?))
    };
    let forwarded = pair(FORWARDED_PAIR)?;
    let original = pair(ORIGINAL_PAIR)?;
    let chosen = match source {
        ForwardAuth::Either => match (forwarded, original) {
            ((None, None), only) | (only, (None, None)) => only,
            (forwarded, original) if forwarded == original => forwarded,
            _ => return Err(DISAGREE),
        },
        ForwardAuth::Headers(method, uri) => {
            let chosen = pair((method, uri))?;
            if [forwarded, original]
                .iter()
                .any(|other| *other != (None, None) && *other != chosen)
            {
                return Err(DISAGREE);
            }
            chosen
        }
    };
    match chosen {
        (Some(method), Some(uri)) => Ok((method, uri)),
        _ => Err(
            "forward-auth needs the original method and URI: X-Forwarded-Method and \
             X-Forwarded-Uri (Traefik, Caddy) or X-Original-Method and X-Original-URI (nginx), \
             as server.forward_auth names",
        ),
    }
}

/// One header of the original request: absent, or there once as text.
fn read<'h>(headers: &'h HttpHeaders<'_>, name: &str) -> Result<Option<&'h str>, &'static str> {
    match headers.lookup(name) {
        HeaderLookup::Absent => Ok(None),
        HeaderLookup::One(value) => Ok(Some(value)),
        HeaderLookup::Repeated => {
            Err("a header naming the original request is sent more than once")
        }
        HeaderLookup::NotText => Err("a header naming the original request is not text"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_with(
        pairs: &[(&'static str, &'static str)],
        source: &ForwardAuth,
    ) -> Result<(String, String), &'static str> {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        let headers = HttpHeaders::new(&map);
        original_request(&headers, source).map(|(m, u)| (m.to_owned(), u.to_owned()))
    }

    #[test]
    fn a_spoofed_pair_is_never_chosen() {
        let nginx = ForwardAuth::Headers(ORIGINAL_PAIR.0.into(), ORIGINAL_PAIR.1.into());
        let sent = [
            ("x-original-method", "GET"),
            ("x-original-uri", "/machines/1"),
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "/healthz"),
        ];
        assert_eq!(read_with(&sent, &nginx), Err(DISAGREE));
        assert_eq!(read_with(&sent, &ForwardAuth::Either), Err(DISAGREE));
        // Half a pair is a pair that disagrees.
        assert_eq!(
            read_with(&[sent[0], sent[1], sent[2]], &ForwardAuth::Either),
            Err(DISAGREE)
        );
        assert_eq!(
            read_with(&sent[..2], &nginx),
            Ok(("GET".into(), "/machines/1".into()))
        );
        assert_eq!(
            read_with(&sent[2..], &ForwardAuth::Either),
            Ok(("GET".into(), "/healthz".into()))
        );
        // nginx named: the Traefik pair alone is not enough.
        assert!(read_with(&sent[2..], &nginx).is_err());
        // The same request named twice the same way is one request.
        let same = [
            sent[0],
            sent[1],
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "/machines/1"),
        ];
        assert_eq!(
            read_with(&same, &ForwardAuth::Either),
            Ok(("GET".into(), "/machines/1".into()))
        );
    }

    #[test]
    fn a_repeated_header_is_refused() {
        let sent = [
            ("x-original-method", "GET"),
            ("x-original-uri", "/machines/1"),
            ("x-original-uri", "/healthz"),
        ];
        assert!(
            read_with(&sent, &ForwardAuth::Either)
                .unwrap_err()
                .contains("more than once")
        );
    }
}
