//! The compiled policy: plain data and matchers, built once, read on every request.

use std::collections::HashMap;
use std::sync::Arc;

use tollgate_core::{Algorithm, KeySpace};

use crate::model::WrongSecret;

/// A name the policy defines (an api, a plan, an account, an app): shared, so that what a
/// request took can keep the names it was decided under without copying them.
pub type Name = Arc<str>;

/// A policy ready to decide requests: see [`Policy::load`](crate::Policy::load) and
/// [`Policy::resolve`](crate::Policy::resolve).
#[derive(Debug)]
pub struct Policy {
    /// Every header the policy reads to identify a request or key its limits: a request that
    /// sends one of them twice, or not as text, is refused rather than read one way of two.
    pub(crate) read_headers: Vec<String>,
    /// Whether some limit is written for unknown keys: then requests with a known key are
    /// refused like guesses while those limits would refuse a guess.
    pub(crate) guards_guesses: bool,
    pub(crate) server: Server,
    pub(crate) responses: Responses,
    pub(crate) identity: Identity,
    pub(crate) case_insensitive: bool,
    pub(crate) routes: Routes,
    pub(crate) apis: Vec<Name>,
    pub(crate) plans: Vec<Name>,
    /// Pack names and how long a purchase lasts.
    pub(crate) packs: Vec<(String, std::time::Duration)>,
    pub(crate) default_plan: Option<usize>,
    pub(crate) accounts: Vec<Account>,
    /// SHA-256 of each API key → account index.
    pub(crate) keys: HashMap<[u8; 32], usize>,
    /// App id → SHA-256 of its secret.
    pub(crate) apps: HashMap<Name, [u8; 32]>,
    pub(crate) limits: Vec<Limit>,
    pub(crate) key_space: KeySpace,
    /// What the store holding the limits can keep exactly, checked on every reload too.
    pub(crate) check: StoreCheck,
}

impl Policy {
    /// Where the server listens and forwards, as the file says.
    #[must_use]
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The canonical form of a request target (path and query) under this policy's path rules.
    ///
    /// # Errors
    /// Why the target is refused (a 400).
    pub fn target<'a>(&self, raw: &'a str) -> Result<crate::Target<'a>, crate::PathError> {
        crate::Target::parse(raw, self.case_insensitive)
    }

    /// The canonical form of a request target that is not forwarded (forward-auth, the check
    /// API): dot-segments are refused, not resolved (see [`crate::Target::parse_exact`]).
    ///
    /// # Errors
    /// Why the target is refused (a 400).
    pub fn target_exact<'a>(&self, raw: &'a str) -> Result<crate::Target<'a>, crate::PathError> {
        crate::Target::parse_exact(raw, self.case_insensitive)
    }

    /// The plan of anonymous callers and of accounts that name none, if the file sets one.
    #[must_use]
    pub fn default_plan(&self) -> Option<&Name> {
        self.default_plan.map(|plan| &self.plans[plan])
    }

    /// What responses carry.
    #[must_use]
    pub fn responses(&self) -> &Responses {
        &self.responses
    }

    /// Whether `peer` is one of `identity.trusted_proxies`.
    #[must_use]
    pub fn trusts(&self, peer: std::net::IpAddr) -> bool {
        self.identity
            .trusted_proxies
            .iter()
            .any(|net| net.contains(&peer))
    }

    /// The client's address: the peer's, or when the peer is a trusted proxy, the last address
    /// in `X-Forwarded-For` that is not one.
    #[must_use]
    pub fn client_ip(
        &self,
        peer: std::net::IpAddr,
        forwarded_for: Option<&str>,
    ) -> std::net::IpAddr {
        let trusted = |ip: &std::net::IpAddr| {
            self.identity
                .trusted_proxies
                .iter()
                .any(|net| net.contains(ip))
        };
        if !trusted(&peer) {
            return peer;
        }
        forwarded_for
            .into_iter()
            .flat_map(|chain| chain.rsplit(','))
            .map_while(|entry| {
                // Entries may carry a port ("1.2.3.4:5678", "[2001:db8::1]:80").
                let entry = entry.trim();
                entry
                    .parse::<std::net::IpAddr>()
                    .or_else(|_| entry.parse::<std::net::SocketAddr>().map(|at| at.ip()))
                    .ok()
            })
            .find(|ip| !trusted(ip))
            .unwrap_or(peer)
    }

    /// The status for an API key no account has.
    #[must_use]
    pub fn unknown_key_status(&self) -> u16 {
        self.identity.unknown_key_status
    }

    /// Binds accounts and keys kept elsewhere to this policy's plans, packs and limits. A plan,
    /// pack or override the policy cannot apply is ignored (the account stays on the default
    /// plan, without pack, on the limit's numbers); such names are returned to be logged.
    pub fn directory(
        &self,
        entries: impl IntoIterator<Item = DirectoryEntry>,
    ) -> (Directory, Vec<String>) {
        let mut directory = Directory::default();
        let mut unknown = Vec::new();
        let mut by_id: HashMap<String, usize> = HashMap::new();
        for entry in entries {
            // An entry without a key carries numbers for an account of the policy file.
            if entry.key_sha256.is_empty() {
                if let Some(index) = self
                    .accounts
                    .iter()
                    .position(|account| *account.id == *entry.account)
                {
                    let numbers = self.bind_overrides(&entry.overrides, &mut unknown);
                    directory.file_overrides.insert(index, numbers);
                    if let Some(pack) = self.bind_pack(entry.pack.as_ref(), &mut unknown) {
                        directory.file_packs.insert(index, pack);
                    }
                }
                continue;
            }
            let Some(hash) = crate::compile::parse_sha256(&entry.key_sha256) else {
                continue;
            };
            let index = *by_id.entry(entry.account.clone()).or_insert_with(|| {
                let plan = entry.plan.as_ref().and_then(|name| {
                    let found = self.plans.iter().position(|plan| **plan == **name);
                    if found.is_none() {
                        unknown.push(name.clone());
                    }
                    found
                });
                let pack = self.bind_pack(entry.pack.as_ref(), &mut unknown);
                let overrides = self.bind_overrides(&entry.overrides, &mut unknown);
                directory.accounts.push(Account {
                    id: Name::from(entry.account.as_str()),
                    plan,
                    company: entry.company.clone(),
                    pack,
                    overrides,
                });
                directory.accounts.len() - 1
            });
            directory.keys.insert(hash, index);
        }
        (directory, unknown)
    }

    /// Limit positions and algorithms for overrides given by limit name; what cannot be bound is
    /// added to `unknown`.
    fn bind_overrides(
        &self,
        overrides: &[(String, Numbers)],
        unknown: &mut Vec<String>,
    ) -> HashMap<usize, Algorithm> {
        overrides
            .iter()
            .filter_map(|(name, numbers)| {
                let position = self.limits.iter().position(|limit| *limit.name == **name);
                match position.map(|at| (at, self.numbers_of(&self.limits[at], numbers))) {
                    Some((at, Ok(algorithm))) => Some((at, algorithm)),
                    Some((_, Err(error))) => {
                        unknown.push(format!("{name} ({error})"));
                        None
                    }
                    None => {
                        unknown.push(name.clone());
                        None
                    }
                }
            })
            .collect()
    }

    /// `limit` with other `numbers`, if they fit it and the store the policy was compiled for.
    ///
    /// # Errors
    /// Numbers that do not fit the algorithm, or that it or the store refuses.
    pub fn numbers_of(&self, limit: &Limit, numbers: &Numbers) -> Result<Algorithm, String> {
        let algorithm = limit.with_numbers(numbers)?;
        (self.check)(&algorithm)?;
        Ok(algorithm)
    }

    /// The pack index and expiry for a pack given by name; an unknown name goes to `unknown`.
    fn bind_pack(
        &self,
        pack: Option<&(String, tollgate_core::Nanos)>,
        unknown: &mut Vec<String>,
    ) -> Option<(usize, tollgate_core::Nanos)> {
        let (name, until) = pack?;
        let found = self.packs.iter().position(|(pack, _)| pack == name);
        if found.is_none() {
            unknown.push(name.clone());
        }
        found.map(|index| (index, *until))
    }

    /// Whether the policy file defines account `id`.
    #[must_use]
    pub fn has_account(&self, id: &str) -> bool {
        self.accounts.iter().any(|account| &*account.id == id)
    }

    /// The key space its partitions are keyed in; reload in the same one to keep counters.
    #[must_use]
    pub fn key_space(&self) -> &KeySpace {
        &self.key_space
    }

    /// The store check the policy was compiled with.
    #[must_use]
    pub fn store_check(&self) -> StoreCheck {
        self.check
    }

    /// A pack by name: how long a purchase lasts, if the policy defines it.
    #[must_use]
    pub fn pack_period(&self, name: &str) -> Option<std::time::Duration> {
        self.packs
            .iter()
            .find(|(pack, _)| pack == name)
            .map(|&(_, period)| period)
    }

    /// The plan names.
    #[must_use]
    pub fn plans(&self) -> &[Name] {
        &self.plans
    }

    /// The limits, in file order.
    #[must_use]
    pub fn limits(&self) -> &[Limit] {
        &self.limits
    }

    /// A one-line account of what the policy holds.
    #[must_use]
    pub fn summary(&self) -> String {
        format!(
            "{} routes ({} apis), {} limits, {} plans, {} accounts, {} apps",
            self.routes.routes.len(),
            self.apis.len(),
            self.limits.len(),
            self.plans.len(),
            self.accounts.len(),
            self.apps.len(),
        )
    }
}

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
    /// The most connections open at once on each port.
    pub max_connections: usize,
    /// Bytes the journal may grow past twice its live state before it is compacted.
    pub journal_slack: u64,
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

/// Whether the store that will hold a limit can keep its numbers exactly; why not, in words.
pub type StoreCheck = fn(&Algorithm) -> Result<(), String>;

/// The check of a store that keeps every algorithm exactly (the embedded one).
pub fn any_algorithm(_: &Algorithm) -> Result<(), String> {
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

/// The default JSON refusal body.
pub const DEFAULT_JSON: &str = r#"{"error":"{code}","message":"Maximum number of requests ({quota}) reached. Try again in {retry_after} seconds.","limit":"{name}","api":"{api}","retry_after":{retry_after}}"#;

/// The default XML refusal body.
pub const DEFAULT_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><errors><error>Maximum number of requests ({quota}) reached. Try again in {retry_after} seconds.</error></errors>"#;

#[derive(Debug)]
pub(crate) struct Identity {
    pub(crate) api_key: Option<KeySource>,
    pub(crate) app: Option<AppSource>,
    /// Lower-case header name.
    pub(crate) company_header: Option<String>,
    pub(crate) trusted_proxies: Vec<ipnet::IpNet>,
    pub(crate) unknown_key_status: u16,
}

#[derive(Debug)]
pub(crate) enum KeySource {
    /// Lower-case header name.
    Header(String),
    Query(String),
    Bearer,
}

#[derive(Debug)]
pub(crate) struct AppSource {
    /// Lower-case header names.
    pub(crate) id_header: String,
    pub(crate) secret_header: String,
    pub(crate) wrong_secret: WrongSecret,
}

/// Accounts and keys kept outside the policy file (the catalog), bound to a policy's plans:
/// see [`Policy::directory`]. Keys in the file win over keys here.
#[derive(Debug, Default)]
pub struct Directory {
    pub(crate) keys: HashMap<[u8; 32], usize>,
    pub(crate) accounts: Vec<Account>,
    /// App id → SHA-256 of its secret.
    pub(crate) apps: HashMap<Name, [u8; 32]>,
    /// Numbers kept outside the file for accounts of the file: account index → limit position.
    pub(crate) file_overrides: HashMap<usize, HashMap<usize, Algorithm>>,
    /// Packs bought by accounts of the file: account index → (pack index, expiry).
    pub(crate) file_packs: HashMap<usize, (usize, tollgate_core::Nanos)>,
}

impl Directory {
    /// Adds registered apps (id, SHA-256 of the secret in hex); the policy file's win.
    pub fn add_apps(&mut self, apps: impl IntoIterator<Item = (String, String)>) {
        for (id, hash) in apps {
            if let Some(hash) = crate::compile::parse_sha256(&hash) {
                self.apps.insert(Name::from(id), hash);
            }
        }
    }
}

/// One API key of an account kept outside the policy file; with an empty `key_sha256`, the
/// numbers kept outside the file for an account of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntry {
    /// SHA-256 of the key, in hex.
    pub key_sha256: String,
    /// The account's id.
    pub account: String,
    /// The account's plan, by name.
    pub plan: Option<String>,
    /// The account's company.
    pub company: Option<String>,
    /// The pack it holds, by name, and when that stops applying.
    pub pack: Option<(String, tollgate_core::Nanos)>,
    /// Its own numbers for some limits ("talk to us" deals): limit name → numbers.
    pub overrides: Vec<(String, Numbers)>,
}

/// Numbers that replace a limit's own: a window's or a concurrency limit's `max`, a bucket's
/// `rate` (`COUNT/PERIOD`) and `burst`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Numbers {
    /// A maximum.
    pub max: Option<u64>,
    /// A rate, `COUNT/PERIOD`.
    pub rate: Option<String>,
    /// A burst.
    pub burst: Option<u64>,
}

#[derive(Debug)]
pub(crate) struct Account {
    pub(crate) id: Name,
    pub(crate) plan: Option<usize>,
    pub(crate) company: Option<String>,
    /// A pack held (index) and its expiry.
    pub(crate) pack: Option<(usize, tollgate_core::Nanos)>,
    /// Numbers of its own for limits (by position), for accounts kept outside the file.
    pub(crate) overrides: HashMap<usize, Algorithm>,
}

#[derive(Debug, Default)]
pub(crate) struct Routes {
    pub(crate) by_method: HashMap<String, matchit::Router<usize>>,
    pub(crate) any_method: matchit::Router<usize>,
    pub(crate) routes: Vec<Route>,
}

#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) api: usize,
    pub(crate) cost: u32,
    pub(crate) exempt: bool,
}

/// What partitions a limit: each dimension's value is part of the partition's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dimension {
    /// The account of the API key.
    Account,
    /// The verified app, if any.
    App,
    /// The company (tenant).
    Company,
    /// The client's IP address.
    Ip,
    /// The api the route belongs to.
    Api,
    /// The request method.
    Method,
    /// The concrete, normalized path.
    Path,
    /// A path parameter of the route, by name.
    Param(String),
    /// A request header, by lower-case name.
    Header(String),
}

/// A compiled limit.
#[derive(Debug)]
pub struct Limit {
    pub(crate) name: std::sync::Arc<str>,
    /// A hash of the name and the limit's own numbers: the first part of its partition keys, so
    /// that a reload keeps the counters of limits whose name and numbers did not change.
    pub(crate) identity: u64,
    /// One algorithm per plan (index = plan index), then the limit's own numbers last.
    pub(crate) algorithms: Vec<Algorithm>,
    /// Numbers for one api of one plan, and for one account, which win over the plan's.
    pub(crate) special: HashMap<Selector, Algorithm>,
    pub(crate) per: Vec<Dimension>,
    /// Plans it applies to (`None`: all).
    pub(crate) plans: Option<Vec<usize>>,
    /// Apis it applies to (`None`: all).
    pub(crate) apis: Option<Vec<usize>>,
    pub(crate) when: When,
    pub(crate) shadow: bool,
    pub(crate) status: u16,
    pub(crate) code: std::sync::Arc<str>,
    /// The period in words, for messages: `15 minutes`, `day`, `2 seconds`; empty for a
    /// concurrency limit.
    pub(crate) period: std::sync::Arc<str>,
    /// A token bucket's rate count, which messages show over `period` (`2 per second`).
    pub(crate) rate_count: Option<u64>,
    /// Inclusive ranges of upstream statuses that give the units back.
    pub(crate) refund: Vec<(u16, u16)>,
}

impl Limit {
    /// The period in words, e.g. `15 minutes`.
    #[must_use]
    pub fn period(&self) -> &str {
        &self.period
    }

    /// Whether an upstream answer with `status` gives this limit's units back.
    #[must_use]
    pub fn refunds(&self, status: u16) -> bool {
        self.refund
            .iter()
            .any(|&(low, high)| (low..=high).contains(&status))
    }

    /// What messages show as the number per [`period`](Self::period): a token bucket's rate
    /// count, or `None` for the limit's own capacity.
    #[must_use]
    pub fn rate_count(&self) -> Option<u64> {
        self.rate_count
    }

    /// Its name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name, the error code and the period in words, shared: each clone counts a
    /// reference, never copies, so a decision's report costs no allocation.
    #[must_use]
    pub fn labels(&self) -> [std::sync::Arc<str>; 3] {
        [
            std::sync::Arc::clone(&self.name),
            std::sync::Arc::clone(&self.code),
            std::sync::Arc::clone(&self.period),
        ]
    }

    /// What partitions it.
    #[must_use]
    pub fn per(&self) -> &[Dimension] {
        &self.per
    }

    /// Whether it is counted and reported but never refuses.
    #[must_use]
    pub fn shadow(&self) -> bool {
        self.shadow
    }

    /// The status of a refusal.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The error code of a refusal.
    #[must_use]
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The algorithm for a plan (by index), or the limit's own numbers.
    #[must_use]
    pub fn algorithm(&self, plan: Option<usize>) -> &Algorithm {
        let own = self.algorithms.len() - 1;
        &self.algorithms[plan.unwrap_or(own).min(own)]
    }

    /// The same limit with other numbers.
    ///
    /// # Errors
    /// Numbers that do not fit the algorithm, or that it refuses.
    pub fn with_numbers(&self, numbers: &Numbers) -> Result<Algorithm, String> {
        let own = self.algorithm(None);
        let refuse = |what: &str| {
            Err(format!(
                "a {what} takes {}",
                match what {
                    "token bucket" => "rate and burst",
                    _ => "max",
                }
            ))
        };
        let built = match own {
            Algorithm::TokenBucket(bucket) => {
                if numbers.max.is_some() {
                    return refuse("token bucket");
                }
                let rate = match &numbers.rate {
                    Some(text) => {
                        let (count, period) = crate::units::parse_rate(text)?;
                        tollgate_core::Rate::new(count, period)
                    }
                    None => tollgate_core::Rate::new(
                        1,
                        std::time::Duration::from_nanos(bucket.interval()),
                    ),
                };
                tollgate_core::TokenBucket::new(rate, numbers.burst.unwrap_or(bucket.burst()))
                    .map(Algorithm::from)
            }
            _ if numbers.rate.is_some() || numbers.burst.is_some() => return refuse("window"),
            Algorithm::Window(window) => tollgate_core::Window::new(
                numbers.max.unwrap_or(window.max()),
                window.schedule().clone(),
            )
            .map(Algorithm::from),
            Algorithm::Sliding(sliding) => tollgate_core::SlidingWindow::new(
                numbers.max.unwrap_or(sliding.max()),
                std::time::Duration::from_nanos(sliding.period()),
            )
            .map(Algorithm::from),
            Algorithm::Concurrency(limit) => tollgate_core::Concurrency::new(
                numbers.max.unwrap_or(limit.max()),
                std::time::Duration::from_nanos(limit.lease_ttl()),
            )
            .map(Algorithm::from),
        };
        built.map_err(|error| error.to_string())
    }

    /// The numbers that apply to a request: the account's override, else its pack's, else its
    /// plan's numbers for the api, else the plan's, else the limit's own.
    pub(crate) fn algorithm_for(&self, chosen: Selection) -> &Algorithm {
        if self.special.is_empty() {
            return self.algorithm(chosen.plan);
        }
        let special = |selector| self.special.get(&selector);
        chosen
            .account
            .and_then(|account| special(Selector::Account(account)))
            .or_else(|| chosen.pack.and_then(|pack| special(Selector::Pack(pack))))
            .or_else(|| {
                chosen
                    .plan
                    .and_then(|plan| special(Selector::PlanApi(plan, chosen.api)))
            })
            .unwrap_or_else(|| self.algorithm(chosen.plan))
    }
}

/// Whose special numbers: one api of one plan, a pack, or one account (by index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Selector {
    PlanApi(usize, usize),
    Pack(usize),
    Account(usize),
}

/// What chooses a limit's numbers for a request: the policy account (for overrides), the pack
/// in force, the plan and the api (indices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Selection {
    pub(crate) account: Option<usize>,
    pub(crate) pack: Option<usize>,
    pub(crate) plan: Option<usize>,
    pub(crate) api: usize,
}

/// `when` conditions, compiled.
#[derive(Debug, Default)]
pub(crate) struct When {
    pub(crate) key: Option<crate::model::KeyState>,
    pub(crate) app: Option<bool>,
    /// Upper-case methods.
    pub(crate) methods: Vec<String>,
    /// Lower-case header name → value.
    pub(crate) headers: Vec<(String, String)>,
}
