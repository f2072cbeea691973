//! The adapters of the public port (and of the gRPC port): each turns what its caller sends into
//! [`RequestFacts`](tollgate_policy::RequestFacts), and an admission or a refusal into its own
//! reply.
//!
//! - `forward_auth.rs` — `GET /v1/auth`, for nginx, Traefik and Caddy;
//! - `check.rs` — `POST /v1/check`, the decision as JSON;
//! - `gateway.rs` — every other path, forwarded to the upstream when admitted;
//! - `portal/` — a customer's own quotas, as JSON or a page with a sign-in form;
//! - `edge.rs` — the same reading of a request for an embedder (the tower layer);
//! - `envoy/` — Envoy's gRPC rate-limit service and gRPC health, on their own port, decided by
//!   the policy file or by envoyproxy/ratelimit's files;
//! - `body.rs` — a request body read whole, bounded in size and time;
//! - `upstream_body.rs` — an upstream's response body, holding the request's slots until the
//!   upstream has sent it all.

mod body;
pub(crate) mod check;
pub mod edge;
pub(crate) mod envoy;
pub(crate) mod forward_auth;
pub(crate) mod gateway;
pub(crate) mod portal;
mod upstream_body;

use std::net::IpAddr;

use axum::http::HeaderMap;
use axum::http::request::Parts;
use tollgate_policy::{
    HeaderLookup, Headers, PathError, Policy, RequestFacts, Target, is_header_text, same_header,
};

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
    /// One pass over the request's few headers, comparing names (lower case in a `HeaderMap`)
    /// without hashing them: cheaper than the map's lookup for the handful a request has.
    fn lookup(&self, name: &str) -> HeaderLookup<'_> {
        // The same header with `_` for `-` is this one to a CGI-style server: two values then.
        let aliases = self.underscored || name.contains('_');
        let mut found = None;
        let mut count = 0;
        for (key, value) in self.map {
            let key = key.as_str();
            if key == name {
                found = Some(value);
                count += 1;
            } else if aliases && same_header(key, name) {
                count += 2;
            }
        }
        match (found, count) {
            (None, 0) => HeaderLookup::Absent,
            (Some(value), 1) => match value.to_str() {
                Ok(text) if is_header_text(value.as_bytes()) => HeaderLookup::One(text),
                _ => HeaderLookup::NotText,
            },
            _ => HeaderLookup::Repeated,
        }
    }
}

/// Every `X-Forwarded-For` line, in order, as one comma-separated chain.
pub(crate) fn forwarded_for(headers: &HeaderMap) -> Option<String> {
    let mut lines = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok());
    let first = lines.next()?;
    let mut chain = first.to_owned();
    for line in lines {
        chain.push_str(", ");
        chain.push_str(line);
    }
    Some(chain)
}

/// A forwarded request's head as the limits read it, once: its canonical target (what is
/// routed, counted, blocked and forwarded), the `X-Forwarded-For` chain, and the client address
/// read from it as `identity.trusted_proxies` says. The gateway and an embedder read it so.
pub(crate) struct Head<'a> {
    pub(crate) target: Target<'a>,
    pub(crate) chain: Option<String>,
    pub(crate) client_ip: Option<IpAddr>,
    /// Whether the peer is one of `identity.trusted_proxies`.
    from_trusted_proxy: bool,
    headers: HttpHeaders<'a>,
    method: &'a str,
}

impl<'a> Head<'a> {
    /// Reads `parts` from `peer` (when known) under `policy`'s path rules.
    ///
    /// # Errors
    /// The rule that refuses the target (a 400: `Refusal::bad_path`).
    pub(crate) fn read(
        policy: &Policy,
        parts: &'a Parts,
        peer: Option<IpAddr>,
    ) -> Result<Self, PathError> {
        let raw = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let target = policy.target(parts.method.as_str(), raw)?;
        let chain = forwarded_for(&parts.headers);
        let client_ip = peer.map(|peer| policy.client_ip(peer, chain.as_deref()));
        Ok(Self {
            target,
            chain,
            client_ip,
            from_trusted_proxy: peer.is_some_and(|peer| policy.trusts(peer)),
            headers: HttpHeaders::new(&parts.headers),
            method: parts.method.as_str(),
        })
    }

    /// What the pipeline decides on.
    pub(crate) fn facts(&self) -> RequestFacts<'_, HttpHeaders<'a>> {
        RequestFacts {
            method: self.method,
            target: &self.target,
            headers: &self.headers,
            client_ip: self.client_ip,
            cost: None,
            from_trusted_proxy: self.from_trusted_proxy,
        }
    }
}
