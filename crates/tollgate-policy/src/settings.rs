//! The settings of `[server]` and `[responses]`, compiled: where the server listens and what
//! it trusts, and what its answers carry.

use tollgate_core::Algorithm;

/// `[server]`, compiled.
#[derive(Debug, Clone)]
pub struct Server {
    /// The public address.
    pub listen: Option<String>,
    /// The address of Envoy's gRPC rate-limit service, if served.
    pub grpc_listen: Option<String>,
    /// The upstream base URL.
    pub upstream: Option<String>,
    /// How long the upstream may take to send its response headers.
    pub upstream_timeout: std::time::Duration,
    /// Peers allowed to call the check API and forward-auth.
    pub check_from: Vec<ipnet::IpNet>,
    /// Where forward-auth reads the original request.
    pub forward_auth: ForwardAuth,
    /// What forward-auth and the check API answer for a path no route matches.
    pub unmatched: Unmatched,
    /// The most partitions the embedded store holds.
    pub max_partitions: usize,
    /// The share of `max_partitions` that anonymous requests may fill with new partitions.
    pub anonymous_share: f64,
    /// What the embedded store does at `max_partitions`.
    pub when_full: tollgate_core::WhenFull,
    /// How often long-lived state is written down: `None` before every answer that counted it.
    pub durability_interval: Option<std::time::Duration>,
    /// Where limit state lives: `None` for the embedded memory store, else a `redis://` or
    /// `redis+cluster://` address.
    pub store: Option<String>,
    /// How long a shared store may take to decide.
    pub store_timeout: std::time::Duration,
    /// What to answer while the shared store cannot decide.
    pub on_store_error: OnStoreError,
    /// How many instances share the store (for [`OnStoreError::Local`]).
    pub instances: u64,
    /// The catalog database's URL, if the file names one.
    pub catalog: Option<String>,
    /// How long a client may take to send a request's head (and a connection its first request).
    pub header_read_timeout: std::time::Duration,
    /// How long a connection may stay open with no request in flight.
    pub idle_timeout: std::time::Duration,
    /// How long a shutdown waits for the connections still open.
    pub shutdown_timeout: std::time::Duration,
    /// The most connections open at once on each port, if the file sets it; unset, the server
    /// sizes it to the open-file limit of its host (10,000 where that allows).
    pub max_connections: Option<usize>,
    /// Bytes the journal may grow past twice its live state before it is compacted.
    pub journal_slack: u64,
    /// Whether `/metrics` labels decisions with the account.
    pub metrics_per_account: bool,
    /// Days of usage history kept per account.
    pub usage_history_days: u32,
}

/// Where forward-auth reads the original method and URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardAuth {
    /// Either pair (`X-Forwarded-*` or `X-Original-*`); both present and disagreeing is a 400.
    Either,
    /// Only these headers (lower case): method, URI. The other standard pair, present and
    /// disagreeing, is a 400.
    Headers(String, String),
}

/// The standard header pairs: Traefik's and Caddy's, then nginx's.
pub const FORWARDED_PAIR: (&str, &str) = ("x-forwarded-method", "x-forwarded-uri");
/// nginx's `auth_request` pair, as the README's configuration sets it.
pub const ORIGINAL_PAIR: (&str, &str) = ("x-original-method", "x-original-uri");

/// What forward-auth and the check API answer for a path no route matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmatched {
    /// Refused: 403 from forward-auth (a proxy passes it through), 404 in the check API.
    Refuse,
    /// Allowed, counting nothing.
    Pass,
}

/// Whether the store that will hold a limit can keep its numbers exactly.
pub type StoreCheck = fn(&Algorithm) -> Result<(), tollgate_core::Unsupported>;

/// The check of a store that keeps every algorithm exactly (the embedded one).
///
/// # Errors
/// Never.
pub fn any_algorithm(_: &Algorithm) -> Result<(), tollgate_core::Unsupported> {
    Ok(())
}

/// What to answer while a shared limit store cannot decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStoreError {
    /// Refuse with 503 `store_unavailable`: no request goes uncounted.
    Deny,
    /// Admit without counting: the API stays open, unlimited, until the store is back.
    Allow,
    /// Decide on this instance alone, with 1/instances of every limit.
    Local,
}

impl Server {
    /// Whether `peer` may call the check API and forward-auth.
    #[must_use]
    pub fn may_check(&self, peer: std::net::IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.check_from.iter().any(|net| net.contains(&peer))
    }
}

/// A family of rate-limit response headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderFamily {
    /// `RateLimit-Policy` and `RateLimit`, IETF httpapi draft 11.
    Ietf,
    /// `X-Rate-Limit-Remaining` and `X-Rate-Limit-Reset` (epoch seconds).
    XRateLimitDashed,
    /// `X-RateLimit-Limit`, `-Remaining`, `-Reset` (epoch seconds), `-Used`, `-Resource`.
    XRateLimit,
}

/// The format of a refusal's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `application/json`.
    Json,
    /// `application/xml`.
    Xml,
    /// XML when the request's `Accept` names XML, JSON otherwise.
    Accept,
}

/// `[responses]`, compiled.
#[derive(Debug, Clone)]
pub struct Responses {
    /// Header families added to every limited response.
    pub headers: Vec<HeaderFamily>,
    /// Refusal body format.
    pub format: BodyFormat,
    /// JSON template.
    pub json: crate::Template,
    /// XML template.
    pub xml: crate::Template,
}

impl Responses {
    /// Whether a refusal body explains itself (`{explanation}` in a template): then the
    /// refusing limit's partition is worked out for the body.
    #[must_use]
    pub fn explains(&self) -> bool {
        self.json.uses(crate::Field::Explanation) || self.xml.uses(crate::Field::Explanation)
    }
}

/// The default JSON refusal body.
pub const DEFAULT_JSON: &str = r#"{"error":"{code}","message":"Maximum number of requests ({quota}) reached. Try again in {retry_in}.","limit":"{name}","api":"{api}","retry_after":{retry_after}}"#;

/// The default XML refusal body.
pub const DEFAULT_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><errors><error>Maximum number of requests ({quota}) reached. Try again in {retry_in}.</error></errors>"#;
