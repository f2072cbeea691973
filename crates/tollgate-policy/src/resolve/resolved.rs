//! A request resolved: routed and identified ([`Context`]), then the limits it meets selected
//! and keyed ([`Resolved`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;

use smallvec::SmallVec;
use tollgate_core::{Algorithm, LimitRequest, Nanos};

use super::facts::{HeaderLookup, Headers, RequestFacts};
use super::identify::{METHOD_OVERRIDES, query_method};
use crate::Name;
use crate::model::KeyState;
use crate::policy::{Account, Directory, Limit, Policy, Selection};
use crate::secret::digest;

/// What the policy says about a request before any limit is consulted.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "almost every request is `Limited`; boxing it would allocate on each"
)]
pub enum Resolution<'a> {
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
        api: &'a Name,
    },
    /// The limits to pass.
    Limited(Resolved<'a>),
}

/// A request resolved: who it was found to come from, where it goes, and the limits it must
/// pass, keyed by its partitions. Borrows the policy and the request.
#[derive(Debug)]
pub struct Resolved<'a> {
    /// The route's api.
    pub api: &'a Name,
    /// The account of the API key.
    pub account: Option<&'a Name>,
    /// The zone the account counts its days in (see [`Policy::account_zone`]).
    pub time_zone: &'a jiff::tz::TimeZone,
    /// The verified app.
    pub app: Option<&'a Name>,
    /// The account's pricing plan (or the default plan).
    pub plan: Option<&'a Name>,
    /// The concrete path in its canonical form.
    pub path: &'a str,
    /// The limits that refuse, and their requests, in the same order.
    pub enforced: Limits<'a>,
    /// Shadow limits: counted and reported, never refusing.
    pub shadow: Limits<'a>,
    /// For a request with a known key: the limits for unknown keys, in the partitions of the
    /// same request with a wrong key, as peeks (cost 0: they take nothing and answer as the
    /// one-unit guess would be answered). While they would refuse that guess, the request is
    /// refused as the guess would be, so that the answer never tells a right key from a wrong
    /// one.
    pub guards: Limits<'a>,
    /// Set when the API key is unknown: the limits are the `key = "unknown"` ones, and a
    /// request they admit is still refused as unauthenticated, with this reason.
    pub unauthenticated: Option<&'static str>,
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

/// Route parameters, name and value, borrowed from the policy and the path.
pub(crate) type Params<'a> = SmallVec<[(&'a str, &'a str); 4]>;

/// Why a request whose typed path parameter has another value is refused.
const NOT_OF_ITS_TYPE: &str = "a path parameter is not a value of its type (the route's `{name:int}`, `uuid`, `token` or pattern)";

/// Why a request with an unknown key is refused.
const UNKNOWN_KEY: &str = "unknown API key";

/// Why a request goes no further than routing and identification.
pub(crate) enum Stop<'a> {
    NoRoute,
    Ambiguous(&'static str),
    Unauthenticated(&'static str),
    Exempt(&'a Name),
}

impl<'a> From<Stop<'a>> for Resolution<'a> {
    fn from(stop: Stop<'a>) -> Self {
        match stop {
            Stop::NoRoute => Self::NoRoute,
            Stop::Ambiguous(reason) => Self::Ambiguous(reason),
            Stop::Unauthenticated(reason) => Self::Unauthenticated(reason),
            Stop::Exempt(api) => Self::Exempt { api },
        }
    }
}

/// Who a request comes from and where it goes: what the limits' dimensions are read from.
/// Borrows the policy and the request; cloned for a guess without copying either.
#[derive(Clone)]
pub(crate) struct Context<'a> {
    pub(crate) key: KeyState,
    pub(crate) path: &'a str,
    /// Upper case, HEAD as GET: borrowed unless the request spelled it otherwise.
    pub(crate) method: Cow<'a, str>,
    pub(crate) params: Params<'a>,
    pub(crate) api: usize,
    pub(crate) cost: u32,
    pub(crate) account: Option<&'a Account>,
    pub(crate) account_index: Option<usize>,
    /// The pack in force, by index.
    pub(crate) pack: Option<usize>,
    /// Numbers kept outside the file for this account of the file, by limit position.
    pub(crate) file_overrides: Option<&'a HashMap<usize, Algorithm>>,
    pub(crate) app: Option<&'a Name>,
    pub(crate) plan: Option<usize>,
    pub(crate) company: Option<&'a str>,
    pub(crate) ip: Option<IpAddr>,
}

impl Context<'_> {
    /// The numbers of `limit` (at `position` in the policy) for this request: the catalog
    /// account's own, else as [`Limit::algorithm_for`] chooses.
    pub(crate) fn numbers<'l>(&self, position: usize, limit: &'l Limit) -> &'l Algorithm
    where
        Self: 'l,
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

impl Policy {
    /// Identifies, routes and selects the limits of a request.
    pub fn resolve<'a, H: Headers + ?Sized>(
        &'a self,
        facts: &RequestFacts<'a, H>,
    ) -> Resolution<'a> {
        self.resolve_in(None, 0, facts)
    }

    /// [`resolve`](Self::resolve), finding API keys also in `directory` (the catalog's), whose
    /// packs apply until their expiry, compared with `now`.
    pub fn resolve_in<'a, H: Headers + ?Sized>(
        &'a self,
        directory: Option<&'a Directory>,
        now: Nanos,
        facts: &RequestFacts<'a, H>,
    ) -> Resolution<'a> {
        let context = match self.context(directory, now, facts) {
            Ok(context) => context,
            Err(stop) => return stop.into(),
        };
        let mut resolved = Resolved {
            api: &self.apis[context.api],
            account: context.account.map(|account| &account.id),
            time_zone: context
                .account
                .and_then(|account| account.time_zone.as_ref())
                .unwrap_or(&self.default_zone),
            app: context.app,
            plan: context.plan.map(|plan| &self.plans[plan]),
            path: context.path,
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
        if resolved.unauthenticated.is_some() && resolved.enforced.limits.is_empty() {
            return Resolution::Unauthenticated(UNKNOWN_KEY);
        }
        Resolution::Limited(resolved)
    }

    /// Routes and identifies a request, or says why it goes no further.
    pub(crate) fn context<'a, H: Headers + ?Sized>(
        &'a self,
        directory: Option<&'a Directory>,
        now: Nanos,
        facts: &RequestFacts<'a, H>,
    ) -> Result<Context<'a>, Stop<'a>> {
        let path = facts.target.path();
        // Before routing and the exempt check: a free GET that claims to be a PUT is no free PUT,
        // and a GET no route has cannot pass as a routed DELETE.
        if let Some(claimed) = query_method(facts.target.query()) {
            if !claimed.eq_ignore_ascii_case(facts.method) {
                return Err(Stop::Ambiguous(
                    "a `_method` query parameter names another method than the request's",
                ));
            }
        }
        for name in METHOD_OVERRIDES {
            match facts.headers.lookup(name) {
                HeaderLookup::Absent => {}
                HeaderLookup::One(claimed) if claimed.trim().eq_ignore_ascii_case(facts.method) => {
                }
                _ => {
                    return Err(Stop::Ambiguous(
                        "a method-override header names another method than the request's",
                    ));
                }
            }
        }
        // HEAD is GET from here on: for routes, `when.method` and the `method` dimension.
        let method = crate::policy::routed_method(facts.method);
        let (route_index, params) = self.route(&method, path)?;
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
        // A company header is believed from a trusted proxy only; else the account's own.
        let company = self
            .header_company(facts)
            .or_else(|| account.and_then(|account| account.company.as_deref()));
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
            ip: facts.client_ip,
        })
    }

    /// Who the request of `context` would be with a wrong key: no account, the default plan, the
    /// company only from its header; the same route, path, app and address.
    fn guess_of<'a, H: Headers + ?Sized>(
        &self,
        context: &Context<'a>,
        facts: &RequestFacts<'a, H>,
    ) -> Context<'a> {
        Context {
            key: KeyState::Unknown,
            // A peek: it takes nothing and answers as a one-unit guess would be answered.
            cost: 0,
            account: None,
            account_index: None,
            pack: None,
            file_overrides: None,
            plan: self.default_plan,
            company: self.header_company(facts),
            ..context.clone()
        }
    }

    /// The limits written for unknown keys (`when = { key = "unknown" }`) that `guess` meets,
    /// in its partitions, at its cost.
    pub(crate) fn guess_limits<'p, H: Headers + ?Sized>(
        &'p self,
        guess: &Context<'_>,
        facts: &RequestFacts<'_, H>,
    ) -> Limits<'p> {
        self.guess_limits_where(guess, facts, |limit| Self::applies(limit, guess, facts))
    }

    /// The limits written for unknown keys that `meets` accepts, in `guess`'s partitions, at
    /// its cost.
    pub(crate) fn guess_limits_where<'p, H: Headers + ?Sized>(
        &'p self,
        guess: &Context<'_>,
        facts: &RequestFacts<'_, H>,
        meets: impl Fn(&Limit) -> bool,
    ) -> Limits<'p> {
        let mut limits = Limits::default();
        for limit in &self.limits {
            // Shadow limits never refuse a guess, so they never refuse a right key either.
            let refuses = limit.when.key == Some(KeyState::Unknown) && !limit.shadow;
            if refuses && meets(limit) {
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
            && (limit.when.methods.is_empty()
                || limit
                    .when
                    .methods
                    .iter()
                    .any(|method| *method == *context.method))
            && limit
                .when
                .headers
                .iter()
                .all(|(name, value)| facts.headers.get(name) == Some(value))
    }

    /// The route for a method (HEAD as GET) and canonical path, and the path parameters,
    /// borrowed. A typed parameter whose value is not of its type (or not in its canonical
    /// form) is refused as ambiguous, whatever `server.unmatched` says of unrouted paths: the
    /// upstream may well read `+7` as `7`.
    fn route<'a>(&'a self, method: &str, path: &'a str) -> Result<(usize, Params<'a>), Stop<'a>> {
        let (index, params) = self.routes.matched(method, path).ok_or(Stop::NoRoute)?;
        let typed_fit = self.routes.routes[index]
            .typed
            .iter()
            .all(|(name, ty)| params.get(name).is_some_and(|value| ty.is_canonical(value)));
        if !typed_fit {
            return Err(Stop::Ambiguous(NOT_OF_ITS_TYPE));
        }
        Ok((index, params.iter().collect()))
    }
}
