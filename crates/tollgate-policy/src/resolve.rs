//! From what an adapter knows about a request to the limits it must pass: identify, route,
//! select the limits, key their partitions. One straight line; no I/O.

use std::borrow::Cow;
use std::net::IpAddr;

use percent_encoding::percent_decode_str;
use smallvec::SmallVec;
use subtle::ConstantTimeEq;
use tollgate_core::{Algorithm, KeyBuilder, LimitRequest, Nanos};

use crate::compile::digest;
use crate::model::{KeyState, WrongSecret};
use crate::path::Target;
use crate::policy::{Dimension, Directory, KeySource, Limit, Policy, Selection};

/// What a request says in one header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderLookup<'a> {
    /// The header is not there.
    Absent,
    /// The header is there once, as text.
    One(&'a str),
    /// The header is there more than once.
    Repeated,
    /// The header is there once, but not as text (see [`is_header_text`]).
    NotText,
}

/// Whether a header value is text: visible ASCII, spaces and tabs.
#[must_use]
pub fn is_header_text(value: &[u8]) -> bool {
    value
        .iter()
        .all(|&byte| byte == b'\t' || (0x20..0x7F).contains(&byte))
}

/// Request headers, looked up by lower-case name.
pub trait Headers {
    /// The header `name` (given in lower case).
    fn lookup(&self, name: &str) -> HeaderLookup<'_>;

    /// The value of the header `name` (given in lower case) when it is there once, as text.
    fn get(&self, name: &str) -> Option<&str> {
        match self.lookup(name) {
            HeaderLookup::One(value) => Some(value),
            _ => None,
        }
    }
}

/// Whether a header called `sent` is the header `name` (lower case) to some server: the same
/// name in any case, or with `_` and `-` swapped (CGI and WSGI servers read both as one).
#[must_use]
pub fn same_header(sent: &str, name: &str) -> bool {
    sent.len() == name.len()
        && sent.bytes().zip(name.bytes()).all(|(sent, name)| {
            sent.to_ascii_lowercase() == name
                || (sent == b'_' && name == b'-')
                || (sent == b'-' && name == b'_')
        })
}

impl Headers for [(&str, &str)] {
    fn lookup(&self, name: &str) -> HeaderLookup<'_> {
        let mut found = self.iter().filter(|(key, _)| same_header(key, name));
        // Spelled with `_` for `-`, it is this header to some servers only: never read one way.
        // Spelled with `_` for `-` (or back), it is this header to some servers only.
        let aliased = || {
            self.iter()
                .any(|(key, _)| !key.eq_ignore_ascii_case(name) && same_header(key, name))
        };
        match (found.next(), found.next()) {
            (None, _) => HeaderLookup::Absent,
            (Some(_), Some(_)) => HeaderLookup::Repeated,
            (Some(_), None) if aliased() => HeaderLookup::Repeated,
            (Some(&(_, value)), None) if is_header_text(value.as_bytes()) => {
                HeaderLookup::One(value)
            }
            (Some(_), None) => HeaderLookup::NotText,
        }
    }
}

/// What every adapter (gateway, check API, forward-auth, tower layer) knows about a request.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a, H: Headers + ?Sized> {
    /// The method, e.g. `GET`.
    pub method: &'a str,
    /// The path in its canonical form and the query as received (see [`Target`]).
    pub target: &'a Target<'a>,
    /// The request headers.
    pub headers: &'a H,
    /// The client's address, when known.
    pub client_ip: Option<IpAddr>,
    /// Units to take instead of the route's cost.
    pub cost: Option<u32>,
}

/// What the policy says about a request before any limit is consulted.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "almost every request is `Limited`; boxing it would allocate on each"
)]
pub enum Resolution<'p> {
    /// No route matches: 404, never forwarded.
    NoRoute,
    /// The request cannot be read one way only (a header the policy reads sent twice or not as
    /// text, two API keys, a key that is not visible ASCII): 400.
    Ambiguous(&'static str),
    /// An API key that no account has, or a wrong app secret where the policy refuses them: 401.
    Unauthenticated(&'static str),
    /// The route counts nothing and is never refused.
    Exempt {
        /// The route's api.
        api: &'p str,
    },
    /// The limits to pass.
    Limited(Plan<'p>),
}

/// The limits a request must pass, with who it was found to come from.
#[derive(Debug)]
pub struct Plan<'p> {
    /// The route's api.
    pub api: &'p str,
    /// The account of the API key.
    pub account: Option<&'p str>,
    /// The verified app.
    pub app: Option<&'p str>,
    /// The account's plan (or the default plan).
    pub plan: Option<&'p str>,
    /// The concrete path in its normal form.
    pub path: String,
    /// The limits that refuse, and their requests, in the same order.
    pub enforced: Limits<'p>,
    /// Shadow limits: counted and reported, never refusing.
    pub shadow: Limits<'p>,
    /// For a request with a known key: the limits for unknown keys, in the partitions of the
    /// same request with a wrong key, as peeks (cost 0: they take nothing and answer as the
    /// one-unit guess would be answered). While they would refuse that guess, the request is
    /// refused as the guess would be, so that the answer never tells a right key from a wrong
    /// one.
    pub guards: Limits<'p>,
    /// Set when the API key is unknown: the limits are the `key = "unknown"` ones, and a
    /// request they admit is still refused as unauthenticated, with this reason.
    pub unauthenticated: Option<&'static str>,
}

impl Plan<'_> {
    /// What to keep, past the policy's lifetime, to refund this request's enforced limits once
    /// the upstream has answered; `None` when no limit refunds any status.
    #[must_use]
    pub fn refund_ticket(&self) -> Option<RefundTicket> {
        let charges: Vec<Charge> = self
            .enforced
            .limits
            .iter()
            .zip(&self.enforced.requests)
            .filter(|(limit, _)| !limit.refund.is_empty())
            .map(|(limit, request)| Charge {
                key: request.key,
                root: request.root,
                algorithm: request.algorithm.clone(),
                cost: request.cost,
                refund: limit.refund.clone(),
            })
            .collect();
        (!charges.is_empty()).then_some(RefundTicket { charges })
    }
}

/// What an admitted request charged in limits that refund some upstream statuses: enough to
/// give it back later, whatever policy is in force by then.
#[derive(Debug, Clone)]
pub struct RefundTicket {
    charges: Vec<Charge>,
}

#[derive(Debug, Clone)]
struct Charge {
    key: tollgate_core::Key,
    root: tollgate_core::Key,
    algorithm: Algorithm,
    cost: u32,
    refund: Vec<(u16, u16)>,
}

impl RefundTicket {
    /// The store requests that give back what the limits refunding `status` charged.
    #[must_use]
    pub fn refunds(&self, status: u16) -> Vec<LimitRequest<'_>> {
        self.charges
            .iter()
            .filter(|charge| {
                charge
                    .refund
                    .iter()
                    .any(|&(low, high)| (low..=high).contains(&status))
            })
            .map(|charge| {
                LimitRequest::new(charge.key, &charge.algorithm, charge.cost).with_root(charge.root)
            })
            .collect()
    }
}

/// Limits and the store requests for their partitions.
#[derive(Debug, Default)]
pub struct Limits<'p> {
    /// The limits.
    pub limits: SmallVec<[&'p Limit; 4]>,
    /// One request per limit, keyed by its partition.
    pub requests: SmallVec<[LimitRequest<'p>; 4]>,
}

impl Limits<'_> {
    /// Keeps the limits (and their requests) that `keep` accepts.
    pub fn retain(&mut self, keep: impl Fn(&Limit) -> bool) {
        for index in (0..self.limits.len()).rev() {
            if !keep(self.limits[index]) {
                self.limits.remove(index);
                self.requests.remove(index);
            }
        }
    }
}

impl<'p> Context<'p> {
    /// The numbers of `limit` (at `position` in the policy) for this request: the catalog
    /// account's own, else as [`Limit::algorithm_for`] chooses.
    pub(crate) fn numbers<'l>(&self, position: usize, limit: &'l Limit) -> &'l Algorithm
    where
        'p: 'l,
    {
        self.account
            .and_then(|account| account.overrides.get(&position))
            .or_else(|| {
                self.file_overrides
                    .and_then(|numbers| numbers.get(&position))
            })
            .unwrap_or_else(|| limit.algorithm_for(self.selection()))
    }

    /// What chooses the numbers of each limit for this request.
    pub(crate) fn selection(&self) -> Selection {
        Selection {
            account: self.account_index,
            pack: self.pack,
            plan: self.plan,
            api: self.api,
        }
    }
}

/// Headers by which frameworks let a request claim another method than its own.
const METHOD_OVERRIDES: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// The method a query claims with `_method` (Express, Symfony, Laravel), if any.
fn query_method(query: Option<&str>) -> Option<Cow<'_, str>> {
    query?.split(['&', ';']).find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(name) == "_method").then(|| form_decode(value))
    })
}

/// Why a request with two API keys is refused.
const REPEATED_KEY: &str = "the API key is sent more than once";

/// A query name or value as a form decodes it: `+` is a space, `%XX` a byte (lossy UTF-8).
fn form_decode(text: &str) -> Cow<'_, str> {
    if !text.contains(['+', '%']) {
        return Cow::Borrowed(text);
    }
    let spaced = text.replace('+', " ");
    Cow::Owned(percent_decode_str(&spaced).decode_utf8_lossy().into_owned())
}

/// Why a request with an unknown key is refused.
const UNKNOWN_KEY: &str = "unknown API key";

/// An absent dimension value keys differently from every present one (even an empty string).
const ABSENT: u64 = u64::MAX;

/// The dimensions that root a partition, first found first.
const ROOTS: [Dimension; 3] = [Dimension::Account, Dimension::Company, Dimension::App];

/// The first part of a root's key, apart from every limit's identity.
const ROOT: u64 = u64::MAX - 1;

/// Why a request goes no further than routing and identification.
enum Stop<'p> {
    NoRoute,
    Ambiguous(&'static str),
    Unauthenticated(&'static str),
    Exempt(&'p str),
}

impl<'p> From<Stop<'p>> for Resolution<'p> {
    fn from(stop: Stop<'p>) -> Self {
        match stop {
            Stop::NoRoute => Self::NoRoute,
            Stop::Ambiguous(reason) => Self::Ambiguous(reason),
            Stop::Unauthenticated(reason) => Self::Unauthenticated(reason),
            Stop::Exempt(api) => Self::Exempt { api },
        }
    }
}

/// Who a request comes from and where it goes: what the limits' dimensions are read from.
pub(crate) struct Context<'p> {
    pub(crate) key: KeyState,
    pub(crate) path: String,
    pub(crate) method: String,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) api: usize,
    pub(crate) cost: u32,
    pub(crate) account: Option<&'p crate::policy::Account>,
    pub(crate) account_index: Option<usize>,
    /// The pack in force, by index.
    pub(crate) pack: Option<usize>,
    /// Numbers kept outside the file for this account of the file, by limit position.
    pub(crate) file_overrides: Option<&'p std::collections::HashMap<usize, Algorithm>>,
    pub(crate) app: Option<&'p str>,
    pub(crate) plan: Option<usize>,
    pub(crate) company: Option<String>,
    pub(crate) ip: Option<String>,
}

impl Policy {
    /// Identifies, routes and selects the limits of a request.
    pub fn resolve<'p, H: Headers + ?Sized>(
        &'p self,
        facts: &RequestFacts<'_, H>,
    ) -> Resolution<'p> {
        self.resolve_in(None, 0, facts)
    }

    /// [`resolve`](Self::resolve), finding API keys also in `directory` (the catalog's), whose
    /// packs apply until their expiry, compared with `now`.
    pub fn resolve_in<'p, H: Headers + ?Sized>(
        &'p self,
        directory: Option<&'p Directory>,
        now: Nanos,
        facts: &RequestFacts<'_, H>,
    ) -> Resolution<'p> {
        let context = match self.context(directory, now, facts) {
            Ok(context) => context,
            Err(stop) => return stop.into(),
        };
        let mut resolved = Plan {
            api: &self.apis[context.api],
            account: context.account.map(|account| account.id.as_str()),
            app: context.app,
            plan: context.plan.map(|plan| self.plans[plan].as_str()),
            path: String::new(),
            enforced: Limits::default(),
            shadow: Limits::default(),
            guards: Limits::default(),
            unauthenticated: (context.key == KeyState::Unknown).then_some(UNKNOWN_KEY),
        };
        let applicable = self
            .limits
            .iter()
            .enumerate()
            .filter(|(_, limit)| Self::applies(limit, &context, facts));
        for (position, limit) in applicable {
            let algorithm = context.numbers(position, limit);
            // A guess costs one unit whatever the route costs: never free, never unaffordable.
            let cost = if context.key == KeyState::Unknown {
                1
            } else {
                context.cost
            };
            let request = self.partition(limit, algorithm, &context, facts, cost);
            let target = if limit.shadow {
                &mut resolved.shadow
            } else {
                &mut resolved.enforced
            };
            target.limits.push(limit);
            target.requests.push(request);
        }
        if context.key == KeyState::Present && self.guards_guesses {
            resolved.guards = self.guess_limits(&self.guess_of(&context, facts), facts);
        }
        // The keys are made: the normalized path moves into the plan instead of being copied.
        resolved.path = context.path;
        if resolved.unauthenticated.is_some() && resolved.enforced.limits.is_empty() {
            return Resolution::Unauthenticated(UNKNOWN_KEY);
        }
        Resolution::Limited(resolved)
    }

    /// Each applicable limit's name and partition in words (`account=acme api=circuits
    /// path=/hvacs/1`), header values masked: for logs and `explain`. Empty when the request
    /// resolves to no limits.
    pub fn explain<H: Headers + ?Sized>(
        &self,
        directory: Option<&Directory>,
        now: Nanos,
        facts: &RequestFacts<'_, H>,
    ) -> Vec<(String, String)> {
        let Ok(context) = self.context(directory, now, facts) else {
            return Vec::new();
        };
        self.limits
            .iter()
            .filter(|limit| Self::applies(limit, &context, facts))
            .map(|limit| {
                let partition = limit
                    .per
                    .iter()
                    .map(|dimension| {
                        let value = self.value(&context, facts, dimension).unwrap_or("-");
                        match dimension {
                            Dimension::Header(name) => format!("header:{name}={}", mask(value)),
                            Dimension::Param(name) => format!("param:{name}={value}"),
                            other => format!("{}={value}", format!("{other:?}").to_lowercase()),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                (limit.name.to_string(), partition)
            })
            .collect()
    }

    /// Routes and identifies a request, or says why it goes no further.
    fn context<'p, H: Headers + ?Sized>(
        &'p self,
        directory: Option<&'p Directory>,
        now: Nanos,
        facts: &RequestFacts<'_, H>,
    ) -> Result<Context<'p>, Stop<'p>> {
        let path = facts.target.path().to_owned();
        let method = facts.method.to_ascii_uppercase();
        // Before routing and the exempt check: a free GET that claims to be a PUT is no free PUT,
        // and a GET no route has cannot pass as a routed DELETE.
        if let Some(claimed) = query_method(facts.target.query()) {
            if !claimed.eq_ignore_ascii_case(&method) {
                return Err(Stop::Ambiguous(
                    "a `_method` query parameter names another method than the request's",
                ));
            }
        }
        for name in METHOD_OVERRIDES {
            match facts.headers.lookup(name) {
                HeaderLookup::Absent => {}
                HeaderLookup::One(claimed) if claimed.trim().eq_ignore_ascii_case(&method) => {}
                _ => {
                    return Err(Stop::Ambiguous(
                        "a method-override header names another method than the request's",
                    ));
                }
            }
        }
        let Some((route_index, params)) = self.route(&method, &path) else {
            return Err(Stop::NoRoute);
        };
        let route = &self.routes.routes[route_index];
        if route.exempt {
            return Err(Stop::Exempt(&self.apis[route.api]));
        }
        if let Some(reason) = self.unreadable_header(facts) {
            return Err(Stop::Ambiguous(reason));
        }
        let key = self.api_key(facts).map_err(Stop::Ambiguous)?;
        let (key, account_index, account) = match key.map(|key| digest(&key)) {
            None => (KeyState::Absent, None, None),
            Some(hash) => match self.account_by_key(directory, &hash) {
                Some((index, account)) => (KeyState::Present, index, Some(account)),
                None => (KeyState::Unknown, None, None),
            },
        };
        let app = self.app(directory, facts).map_err(Stop::Unauthenticated)?;
        let company = match &self.identity.company_header {
            Some(_) => self.header_company(facts),
            None => account.and_then(|account| account.company.clone()),
        };
        Ok(Context {
            key,
            path,
            method,
            params,
            api: route.api,
            cost: facts.cost.unwrap_or(route.cost),
            account,
            account_index,
            file_overrides: account_index.and_then(|index| {
                directory.and_then(|directory| directory.file_overrides.get(&index))
            }),
            pack: account
                .and_then(|account| account.pack)
                .or_else(|| {
                    let index = account_index?;
                    directory?.file_packs.get(&index).copied()
                })
                .and_then(|(pack, until)| (now < until).then_some(pack)),
            app,
            plan: account
                .and_then(|account| account.plan)
                .or(self.default_plan),
            company,
            ip: facts.client_ip.map(partition_address),
        })
    }

    /// The store request for the partition a request falls in for `limit`, whose numbers are
    /// `algorithm`: its key, and its root (the first of account, company and app that the limit
    /// is partitioned by, so that a shared store keeps an account's partitions together).
    pub(crate) fn partition<'a, H: Headers + ?Sized>(
        &self,
        limit: &Limit,
        algorithm: &'a Algorithm,
        context: &Context<'_>,
        facts: &RequestFacts<'_, H>,
        cost: u32,
    ) -> LimitRequest<'a> {
        let mut key = self.key_space.builder();
        key.push_u64(limit.identity);
        if let Algorithm::Sliding(sliding) = algorithm {
            // Its state packs two counts in base max + 1: other numbers, other state.
            key.push_u64(sliding.max());
        }
        for dimension in &limit.per {
            push(&mut key, self.value(context, facts, dimension));
        }
        let key = key.finish();
        let root = ROOTS
            .iter()
            .zip(1..)
            .find(|(dimension, _)| limit.per.contains(dimension))
            .map_or(key, |(dimension, tag)| {
                let mut root = self.key_space.builder();
                root.push_u64(ROOT).push_u64(tag);
                push(&mut root, self.value(context, facts, dimension));
                root.finish()
            });
        LimitRequest::new(key, algorithm, cost).with_root(root)
    }

    /// Why a header the policy reads to identify or partition cannot be read one way only: sent
    /// more than once (`_` for `-` in its name counts), or not as text.
    pub(crate) fn unreadable_header<H: Headers + ?Sized>(
        &self,
        facts: &RequestFacts<'_, H>,
    ) -> Option<&'static str> {
        self.read_headers
            .iter()
            .find_map(|name| match facts.headers.lookup(name) {
                HeaderLookup::Repeated => Some("a header that identifies or partitions requests is sent more than once (`_` counts as `-` in its name)"),
                HeaderLookup::NotText => Some("a header that identifies or partitions requests is not visible ASCII text"),
                HeaderLookup::Absent | HeaderLookup::One(_) => None,
            })
    }

    /// The account whose key hashes to `hash`, in the file (with its index) or in `directory`.
    pub(crate) fn account_by_key<'p>(
        &'p self,
        directory: Option<&'p Directory>,
        hash: &[u8; 32],
    ) -> Option<(Option<usize>, &'p crate::policy::Account)> {
        if let Some(&index) = self.keys.get(hash) {
            return Some((Some(index), &self.accounts[index]));
        }
        let directory = directory?;
        Some((None, &directory.accounts[*directory.keys.get(hash)?]))
    }

    /// Who the request of `context` would be with a wrong key: no account, the default plan, the
    /// company only from its header; the same route, path, app and address.
    fn guess_of<'p, H: Headers + ?Sized>(
        &self,
        context: &Context<'p>,
        facts: &RequestFacts<'_, H>,
    ) -> Context<'p> {
        Context {
            key: KeyState::Unknown,
            path: context.path.clone(),
            method: context.method.clone(),
            params: context.params.clone(),
            api: context.api,
            // A peek: it takes nothing and answers as a one-unit guess would be answered.
            cost: 0,
            account: None,
            account_index: None,
            pack: None,
            file_overrides: None,
            app: context.app,
            plan: self.default_plan,
            company: self.header_company(facts),
            ip: context.ip.clone(),
        }
    }

    /// The company a request names in `identity.company_header`, if the policy reads one.
    pub(crate) fn header_company<H: Headers + ?Sized>(
        &self,
        facts: &RequestFacts<'_, H>,
    ) -> Option<String> {
        let header = self.identity.company_header.as_ref()?;
        facts.headers.get(header).map(str::to_owned)
    }

    /// The limits written for unknown keys (`when = { key = "unknown" }`) that `guess` meets,
    /// in its partitions, at its cost.
    pub(crate) fn guess_limits<'p, H: Headers + ?Sized>(
        &'p self,
        guess: &Context<'_>,
        facts: &RequestFacts<'_, H>,
    ) -> Limits<'p> {
        let mut limits = Limits::default();
        for limit in &self.limits {
            // Shadow limits never refuse a guess, so they never refuse a right key either.
            let refuses = limit.when.key == Some(KeyState::Unknown) && !limit.shadow;
            if refuses && Self::applies(limit, guess, facts) {
                let algorithm = limit.algorithm_for(guess.selection());
                limits.limits.push(limit);
                limits
                    .requests
                    .push(self.partition(limit, algorithm, guess, facts, guess.cost));
            }
        }
        limits
    }

    /// Whether a limit's plans, apis and conditions hold for a request.
    pub(crate) fn applies<H: Headers + ?Sized>(
        limit: &Limit,
        context: &Context<'_>,
        facts: &RequestFacts<'_, H>,
    ) -> bool {
        let plan = context.plan;
        // Requests with an unknown key meet only the limits written for them.
        let key_fits = match limit.when.key {
            None => context.key != KeyState::Unknown,
            Some(state) => state == context.key,
        };
        key_fits
            && limit
                .plans
                .as_ref()
                .is_none_or(|plans| plan.is_some_and(|p| plans.contains(&p)))
            && limit
                .apis
                .as_ref()
                .is_none_or(|apis| apis.contains(&context.api))
            && limit
                .when
                .app
                .is_none_or(|present| present == context.app.is_some())
            && (limit.when.methods.is_empty() || limit.when.methods.contains(&context.method))
            && limit
                .when
                .headers
                .iter()
                .all(|(name, value)| facts.headers.get(name) == Some(value))
    }

    /// The value of one dimension for a request.
    pub(crate) fn value<'c, H: Headers + ?Sized>(
        &'c self,
        context: &'c Context<'_>,
        facts: &'c RequestFacts<'_, H>,
        dimension: &Dimension,
    ) -> Option<&'c str> {
        match dimension {
            Dimension::Account => context.account.map(|account| account.id.as_str()),
            Dimension::App => context.app,
            Dimension::Company => context.company.as_deref(),
            Dimension::Ip => context.ip.as_deref(),
            Dimension::Api => Some(&self.apis[context.api]),
            Dimension::Method => Some(&context.method),
            Dimension::Path => Some(&context.path),
            Dimension::Param(name) => context
                .params
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str()),
            Dimension::Header(name) => facts.headers.get(name),
        }
    }

    /// The route for a method and normalized path, and the path parameters.
    fn route(&self, method: &str, path: &str) -> Option<(usize, Vec<(String, String)>)> {
        let by_method = |method: &str| {
            self.routes
                .by_method
                .get(method)
                .and_then(|router| router.at(path).ok())
        };
        // HEAD is served by GET routes unless a route names HEAD.
        let found = by_method(method)
            .or_else(|| (method == "HEAD").then(|| by_method("GET")).flatten())
            .or_else(|| self.routes.any_method.at(path).ok())?;
        let params = found
            .params
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Some((*found.value, params))
    }

    /// The API key of a request, trimmed; a query parameter decoded as a form field (`%XX`
    /// and `+`). Absent when not sent or blank.
    ///
    /// # Errors
    /// Why the key cannot be read one way only: a query parameter given twice (an empty one
    /// beside a real one included; a header given twice is refused before), or a key that is
    /// not visible ASCII.
    pub(crate) fn api_key<'r, H: Headers + ?Sized>(
        &self,
        facts: &RequestFacts<'r, H>,
    ) -> Result<Option<Cow<'r, str>>, &'static str> {
        let Some(source) = self.identity.api_key.as_ref() else {
            return Ok(None);
        };
        let key: Cow<'r, str> = match source {
            KeySource::Header(name) => match facts.headers.get(name) {
                Some(value) => Cow::Borrowed(value),
                None => return Ok(None),
            },
            KeySource::Bearer => {
                let Some(authorization) = facts.headers.get("authorization") else {
                    return Ok(None);
                };
                match authorization.trim().split_once([' ', '\t']) {
                    Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                        Cow::Borrowed(token)
                    }
                    _ => return Ok(None),
                }
            }
            KeySource::Query(name) => {
                // Some parsers also split on `;`, or read `name[]` as `name`: a key found one
                // of those ways is refused, not read one way of two.
                let query = facts.target.query().unwrap_or_default();
                let name_of =
                    |pair: &'r str| form_decode(pair.split_once('=').map_or(pair, |(key, _)| key));
                // PHP also reads `api.key`, `api key` and `api[key` as `api_key`, and ASP.NET
                // reads names in any case.
                let spelled = |sent: &str| {
                    sent != name.as_str()
                        && sent.len() == name.len()
                        && sent.bytes().zip(name.bytes()).all(|(sent, name)| {
                            let sent = match sent.to_ascii_lowercase() {
                                b'.' | b' ' | b'[' => b'_',
                                other => other,
                            };
                            sent == name
                        })
                };
                let aliased = query.split(['&', ';']).any(|pair| {
                    let sent = name_of(pair);
                    spelled(&sent)
                        || sent
                            .strip_prefix(name.as_str())
                            .is_some_and(|rest| rest.starts_with('['))
                });
                let in_parameter = query
                    .split('&')
                    .flat_map(|pair| pair.split(';').skip(1))
                    .any(|piece| name_of(piece) == name.as_str());
                if aliased || in_parameter {
                    return Err(REPEATED_KEY);
                }
                let mut values = query
                    .split('&')
                    .filter(|pair| !pair.is_empty())
                    .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
                    .filter(|(key, _)| form_decode(key) == name.as_str())
                    .map(|(_, value)| value);
                match (values.next(), values.next()) {
                    (None, _) => return Ok(None),
                    (Some(_), Some(_)) => return Err(REPEATED_KEY),
                    (Some(value), None) => form_decode(value),
                }
            }
        };
        let trimmed = key.trim_matches([' ', '\t']);
        if trimmed.is_empty() {
            return Ok(None);
        }
        if !trimmed.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err("the API key must be visible ASCII");
        }
        Ok(Some(match key {
            Cow::Borrowed(key) => Cow::Borrowed(key.trim_matches([' ', '\t'])),
            Cow::Owned(key) => Cow::Owned(key.trim_matches([' ', '\t']).to_owned()),
        }))
    }

    /// The verified app, `Ok(None)` when there is none or its secret is wrong and ignored.
    fn app<'p, H: Headers + ?Sized>(
        &'p self,
        directory: Option<&'p Directory>,
        facts: &RequestFacts<'_, H>,
    ) -> Result<Option<&'p str>, &'static str> {
        let Some(source) = &self.identity.app else {
            return Ok(None);
        };
        let Some(id) = facts.headers.get(&source.id_header) else {
            return Ok(None);
        };
        let secret = digest(facts.headers.get(&source.secret_header).unwrap_or_default());
        // Hash and compare whether or not the id exists, so timing tells nothing about ids.
        let known = self
            .apps
            .get_key_value(id)
            .or_else(|| directory.and_then(|directory| directory.apps.get_key_value(id)));
        let (id, expected) = match known {
            Some((id, hash)) => (Some(id), hash),
            None => (None, &[0u8; 32]),
        };
        let verified = id.filter(|_| bool::from(secret.ct_eq(expected)));
        match (verified, source.wrong_secret) {
            (Some(id), _) => Ok(Some(id.as_str())),
            (None, WrongSecret::Ignore) => Ok(None),
            (None, WrongSecret::Refuse) => Err("unknown app or wrong app secret"),
        }
    }
}

/// The address a client is partitioned by: IPv4 whole, IPv6 by its /64 (one subscriber's
/// network, within which addresses are free to rotate).
pub(crate) fn partition_address(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(prefix))
            }
        },
    }
}

/// A header value for a log: its first two characters, the rest hidden.
fn mask(value: &str) -> String {
    let shown: String = value.chars().take(2).collect();
    format!("{shown}***")
}

fn push(key: &mut KeyBuilder<'_>, value: Option<&str>) {
    match value {
        Some(value) => key.push(value.as_bytes()),
        None => key.push_u64(ABSENT),
    };
}
