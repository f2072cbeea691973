//! A forwarded request's head, read once: what is routed, counted, blocked and forwarded.

use std::net::IpAddr;

use axum::http::request::Parts;
use tollgate_policy::{PathError, Policy, RequestFacts, Target};

use crate::headers::{HttpHeaders, forwarded_for};

/// A forwarded request's head as the limits read it, once: its canonical target (what is
/// routed, counted, blocked and forwarded), the `X-Forwarded-For` chain, and the client address
/// read from it as `identity.trusted_proxies` says. The gateway and an embedder read it so.
#[derive(Debug)]
pub struct Head<'a> {
    /// The canonical target: what is routed, counted, blocked and forwarded.
    pub target: Target<'a>,
    /// Every `X-Forwarded-For` line, in order, as one chain.
    pub chain: Option<String>,
    /// The client's address, read from the chain as `identity.trusted_proxies` says.
    pub client_ip: Option<IpAddr>,
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
    pub fn read(
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
    pub fn facts(&self) -> RequestFacts<'_, HttpHeaders<'a>> {
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
