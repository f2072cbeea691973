//! The customer's own quotas at `GET /_tollgate/quota`: as JSON for programs, and for a browser
//! (`Accept: text/html`) a page — usage bars, limits and resets in words, the pack and what
//! packs replaced by others left, the last 30 days — behind a sign-in form (`POST /_tollgate/quota/sign-in`, `…/sign-out`) that keeps the
//! key in a cookie (see `cookie.rs`). Looking costs no quota; a wrong key costs what a guess
//! costs through the API, and gets the very answer a throttled right key gets.
//!
//! - `page.rs` — the page and the form, in HTML;
//! - `alerts.rs` — the account's alert settings, as the page shows them;
//! - `chart.rs` — the 30 days of an api, in SVG;
//! - `words.rs` — waits, allowances, days and counts in words;
//! - `cookie.rs` — reading and setting the sign-in cookie.

mod alerts;
mod chart;
mod cookie;
mod page;
mod words;

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use bytes::Bytes;
use tollgate_core::{Clock, NANOS_PER_SEC};
use tollgate_policy::{Headers, RequestFacts, Target};
// Text escaped for HTML: the replay report's escaping, shared.
use tollgate_replay::html::escape;

use super::body::{self, Unread};
use super::{HttpHeaders, forwarded_for};
use crate::app::App;
use crate::respond;
use tollgate_gate::{Refusal, Why};

/// The page.
pub(crate) const PAGE: &str = "/_tollgate/quota";
/// Where the form signs in.
pub(crate) const SIGN_IN: &str = "/_tollgate/quota/sign-in";
/// Where the page signs out.
pub(crate) const SIGN_OUT: &str = "/_tollgate/quota/sign-out";

/// The largest sign-in form read.
const MAX_FORM: usize = 4 * 1024;

/// What the pages may load and do: nothing from elsewhere, no script at all, forms to this
/// site only, never in a frame.
const CONTENT_SECURITY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
                                form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// `GET /_tollgate/quota`: the quotas of the account whose key the request (or the sign-in
/// cookie) carries, as JSON, or as the page for a browser.
pub(crate) async fn own_quota<C: Clock + 'static>(
    app: &App<C>,
    peer: SocketAddr,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response {
    let wants_page = HttpHeaders::new(headers)
        .get("accept")
        .is_some_and(|accept| accept.contains("text/html"));
    let lookup = HttpHeaders::new(headers);
    let policy = app.gate.policy();
    let raw = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let target = match policy.target("GET", raw) {
        Ok(target) => target,
        Err(refused) => return no_store(respond::refusal(Refusal::bad_path(&refused))),
    };
    let facts = facts(&policy, &target, &lookup, peer, headers);
    // The cookie is read only when the request carries no key of its own.
    let carries_key = policy.carries_key(&facts);
    let signed_in = match cookie::key(headers) {
        _ if carries_key => None,
        Ok(key) => key,
        Err(problem) if wants_page => {
            let mut response = html(StatusCode::BAD_REQUEST, page::sign_in(Some(problem)));
            response.headers_mut().insert(
                header::SET_COOKIE,
                cookie::sign_out(cookie::secure(headers)),
            );
            return response;
        }
        Err(problem) => {
            return no_store(respond::refusal(Refusal::bad_request(
                "bad_request",
                problem,
            )));
        }
    };
    if wants_page && signed_in.is_none() && !carries_key {
        return html(StatusCode::OK, page::sign_in(None));
    }
    let account = match app.gate.key_holder(&facts, signed_in.as_deref()).await {
        Ok(account) => account,
        Err(refusal) if wants_page => return refused(&refusal, signed_in.is_some(), headers),
        Err(refusal) => return no_store(respond::refusal(refusal)),
    };
    let Some(usage) = app.gate.usage(&account, None).await else {
        let error = serde_json::json!({ "error": "unknown_account" });
        return no_store(respond::json(StatusCode::NOT_FOUND, &error));
    };
    if !wants_page {
        return no_store(respond::json(StatusCode::OK, &usage));
    }
    let now = app.gate.limiter().clock().now();
    let zone = app
        .gate
        .account_zone(&account)
        .unwrap_or_else(|| app.gate.default_zone());
    let today = tollgate_gate::day_of(now, &zone);
    let history = match &app.catalog {
        None => Vec::new(),
        Some(catalog) => {
            // Read, never written: a page view costs the catalog one query.
            let counter = app.gate.usage_counter();
            let first = today - page::DAYS + 1;
            crate::history::peek(counter, catalog, &account, first, today)
                .await
                .unwrap_or_else(|error| {
                    tracing::warn!(%error, "usage history not read for the customer's page");
                    Vec::new()
                })
        }
    };
    let replaced = match &app.catalog {
        None => Vec::new(),
        Some(catalog) => catalog
            .pack_purchases(&account)
            .await
            .map(|ledger| ledger.into_iter().filter(|row| row.refund.is_some()))
            .map(Iterator::collect)
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "pack ledger not read for the customer's page");
                Vec::new()
            }),
    };
    let alerts = alerts::settings(app, &account, usage.plan.as_deref()).await;
    let seen = page::Seen {
        usage: &usage,
        history: &history,
        replaced: &replaced,
        alerts: alerts.as_ref(),
        now: now / NANOS_PER_SEC,
        today,
    };
    html(StatusCode::OK, page::quotas(&seen))
}

/// `POST /_tollgate/quota/sign-in` with the form's `key`: a key the lookup accepts is kept in
/// the cookie and the browser sent to the page (303); any other gets the form again with the
/// status and words a wrong key gets from the page.
pub(crate) async fn sign_in<C, B>(
    app: &App<C>,
    peer: SocketAddr,
    uri: &Uri,
    headers: &HeaderMap,
    body: B,
) -> Response
where
    C: Clock + 'static,
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if !same_origin(uri, headers) {
        let problem = "sign in from this site's own page";
        return html(StatusCode::FORBIDDEN, page::sign_in(Some(problem)));
    }
    let policy = app.gate.policy();
    let form = match body::read(body, MAX_FORM, policy.server().header_read_timeout).await {
        Ok(form) => form,
        Err(Unread::TooLarge) => {
            let problem = "the form is larger than a key can be";
            return html(StatusCode::BAD_REQUEST, page::sign_in(Some(problem)));
        }
        Err(Unread::Late) => {
            let problem = "the form did not arrive in time";
            return html(StatusCode::REQUEST_TIMEOUT, page::sign_in(Some(problem)));
        }
    };
    let key = match form_key(&form) {
        Ok(key) => key,
        Err(problem) => return html(StatusCode::BAD_REQUEST, page::sign_in(Some(problem))),
    };
    let lookup = HttpHeaders::new(headers);
    let target = Target::default();
    let facts = facts(&policy, &target, &lookup, peer, headers);
    // The form's key is the one checked and kept: a request carrying another is refused.
    if policy.carries_key(&facts) {
        let problem = "sign in with the form's key alone";
        return html(StatusCode::BAD_REQUEST, page::sign_in(Some(problem)));
    }
    match app.gate.key_holder(&facts, Some(&key)).await {
        Ok(_) => {
            let mut response = see_page();
            response.headers_mut().insert(
                header::SET_COOKIE,
                cookie::sign_in(&key, cookie::secure(headers)),
            );
            response
        }
        Err(refusal) => refused(&refusal, false, headers),
    }
}

/// `POST /_tollgate/quota/sign-out`: forgets the cookie, back to the form.
pub(crate) fn sign_out(uri: &Uri, headers: &HeaderMap) -> Response {
    if !same_origin(uri, headers) {
        let problem = "sign out from this site's own page";
        return html(StatusCode::FORBIDDEN, page::sign_in(Some(problem)));
    }
    let mut response = see_page();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie::sign_out(cookie::secure(headers)),
    );
    response
}

/// The facts of a lookup: no api call, no cost, the client's address as the policy trusts it.
fn facts<'a>(
    policy: &tollgate_policy::Policy,
    target: &'a Target<'a>,
    lookup: &'a HttpHeaders<'a>,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> RequestFacts<'a, HttpHeaders<'a>> {
    RequestFacts {
        method: "GET",
        target,
        headers: lookup,
        client_ip: Some(policy.client_ip(peer.ip(), forwarded_for(headers).as_deref())),
        cost: Some(0),
        from_trusted_proxy: policy.trusts(peer.ip()),
    }
}

/// The form again after a refused key, with the refusal's status (and `Retry-After`); the
/// cookie is forgotten when it held a key no account has.
fn refused(refusal: &Refusal, from_cookie: bool, headers: &HeaderMap) -> Response {
    let problem = match (refusal.status, refusal.retry_after) {
        (429, Some(seconds)) => format!(
            "Too many tries with unknown keys from your address: try again {}.",
            words::wait(seconds)
        ),
        (400, _) => "That key cannot be read: paste it exactly as it was given to you.".to_owned(),
        (_, _) if refusal.why == Why::StoreFault => {
            "Your quotas cannot be looked up just now: try again in a moment.".to_owned()
        }
        _ => "That API key is not known.".to_owned(),
    };
    let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::UNAUTHORIZED);
    let mut response = html(status, page::sign_in(Some(&problem)));
    if let Some(seconds) = refusal.retry_after {
        if let Some(value) = respond::header_value(format_args!("{seconds}")) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    if from_cookie && refusal.status != 429 && refusal.why != Why::StoreFault {
        response.headers_mut().insert(
            header::SET_COOKIE,
            cookie::sign_out(cookie::secure(headers)),
        );
    }
    response
}

/// The form's one `key`, trimmed.
fn form_key(form: &[u8]) -> Result<String, &'static str> {
    let mut keys = form_urlencoded::parse(form).filter(|(name, _)| name == "key");
    match (keys.next(), keys.next()) {
        (Some((_, key)), None) if !key.trim().is_empty() => Ok(key.trim().to_owned()),
        (Some(_), Some(_)) => Err("the form gives the key twice"),
        _ => Err("paste your API key to sign in"),
    }
}

/// Whether a form was sent from this site's own page: a browser that says where the request
/// comes from (`Sec-Fetch-Site`) says this site, and its `Origin`, when it sends one, names the
/// host the request went to (`Host`, or HTTP/2's authority).
fn same_origin(uri: &Uri, headers: &HeaderMap) -> bool {
    let site = headers.get("sec-fetch-site").map(|site| site.as_bytes());
    if !matches!(site, None | Some(b"same-origin" | b"none")) {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| uri.authority().map(axum::http::uri::Authority::as_str));
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|origin| origin.split_once("://"))
        .map(|(_, host)| host);
    matches!((origin_host, host), (Some(origin), Some(host)) if origin.eq_ignore_ascii_case(host))
}

/// `response`, never cached: it is one account's, at an address every account shares.
fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 303 to the page.
fn see_page() -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SEE_OTHER;
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, HeaderValue::from_static(PAGE));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An HTML page, never cached, never framed, with no script. The referrer goes to this site
/// only (`same-origin`; with `no-referrer` a browser sends its forms with `Origin: null`).
fn html(status: StatusCode, page: String) -> Response {
    let mut response = Response::new(Body::from(page));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_gives_one_key() {
        assert_eq!(form_key(b"key=tg_abc%2B1"), Ok("tg_abc+1".to_owned()));
        assert_eq!(form_key(b"key=+tg+"), Ok("tg".to_owned()));
        assert!(form_key(b"key=a&key=b").is_err());
        assert!(form_key(b"key=").is_err());
        assert!(form_key(b"other=a").is_err());
        assert!(form_key(b"\xff\xfe").is_err());
    }

    #[test]
    fn a_form_from_another_site_is_refused() {
        let uri = Uri::from_static("/_tollgate/quota/sign-in");
        let headers = |pairs: &[(&str, &str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(
                    header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_str(value).unwrap(),
                );
            }
            map
        };
        let same = |pairs: &[(&str, &str)]| same_origin(&uri, &headers(pairs));
        let host = ("host", "api.example.com");
        assert!(same(&[host]));
        assert!(same(&[host, ("origin", "https://api.example.com")]));
        assert!(same(&[
            host,
            ("origin", "https://api.example.com"),
            ("sec-fetch-site", "same-origin")
        ]));
        assert!(!same(&[host, ("origin", "https://evil.example")]));
        assert!(!same(&[host, ("origin", "null")]));
        assert!(!same(&[host, ("sec-fetch-site", "cross-site")]));
        assert!(!same(&[host, ("sec-fetch-site", "same-site")]));
        // HTTP/2 has no Host: its authority stands for it.
        let h2 = Uri::from_static("https://api.example.com/_tollgate/quota/sign-in");
        assert!(same_origin(
            &h2,
            &headers(&[("origin", "https://api.example.com")])
        ));
    }

    #[test]
    fn escapes_what_html_reads() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
