//! From what an adapter knows about a request to the limits it must pass: identify, route,
//! select the limits, key their partitions. One straight line; no I/O.

use std::net::IpAddr;

use smallvec::SmallVec;
use subtle::ConstantTimeEq;
use tollgate_core::{KeyBuilder, LimitRequest};

use crate::compile::digest;
use crate::model::WrongSecret;
use crate::policy::{Dimension, KeySource, Limit, Policy};

/// Request headers, looked up by lower-case name.
pub trait Headers {
    /// The first value of the header `name` (given in lower case), if any.
    fn get(&self, name: &str) -> Option<&str>;
}

impl Headers for [(&str, &str)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|&(_, value)| value)
    }
}

/// What every adapter (gateway, check API, forward-auth, tower layer) knows about a request.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a, H: Headers + ?Sized> {
    /// The method, e.g. `GET`.
    pub method: &'a str,
    /// The path and query as received, e.g. `/hvacs/1/heatingCircuits/2?x=1`.
    pub uri: &'a str,
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
    /// The limits that refuse, and their requests, in the same order.
    pub enforced: Limits<'p>,
    /// Shadow limits: counted and reported, never refusing.
    pub shadow: Limits<'p>,
}

/// Limits and the store requests for their partitions.
#[derive(Debug, Default)]
pub struct Limits<'p> {
    /// The limits.
    pub limits: SmallVec<[&'p Limit; 4]>,
    /// One request per limit, keyed by its partition.
    pub requests: SmallVec<[LimitRequest<'p>; 4]>,
}

/// An absent dimension value keys differently from every present one (even an empty string).
const ABSENT: u64 = u64::MAX;

impl Policy {
    /// Identifies, routes and selects the limits of a request.
    pub fn resolve<'p, H: Headers + ?Sized>(
        &'p self,
        facts: &RequestFacts<'_, H>,
    ) -> Resolution<'p> {
        let path = crate::path::normalize(facts.uri, self.case_insensitive);
        let method = facts.method.to_ascii_uppercase();
        let Some((route_index, params)) = self.route(&method, &path) else {
            return Resolution::NoRoute;
        };
        let route = &self.routes.routes[route_index];
        let api = route.api;
        if route.exempt {
            return Resolution::Exempt {
                api: &self.apis[api],
            };
        }
        let account = match self.api_key(facts) {
            None => None,
            Some(key) => match self.keys.get(&digest(key)) {
                Some(&index) => Some(&self.accounts[index]),
                None => return Resolution::Unauthenticated("unknown API key"),
            },
        };
        let app = match self.app(facts) {
            Ok(app) => app,
            Err(reason) => return Resolution::Unauthenticated(reason),
        };
        let plan = account
            .and_then(|account| account.plan)
            .or(self.default_plan);
        let company = match &self.identity.company_header {
            Some(header) => facts.headers.get(header),
            None => account.and_then(|account| account.company.as_deref()),
        };
        let ip = facts.client_ip.map(|ip| ip.to_string());
        let cost = facts.cost.unwrap_or(route.cost);
        let mut resolved = Plan {
            api: &self.apis[api],
            account: account.map(|account| account.id.as_str()),
            app,
            plan: plan.map(|plan| self.plans[plan].as_str()),
            enforced: Limits::default(),
            shadow: Limits::default(),
        };
        for limit in &self.limits {
            let applies = limit
                .plans
                .as_ref()
                .is_none_or(|plans| plan.is_some_and(|p| plans.contains(&p)))
                && limit.apis.as_ref().is_none_or(|apis| apis.contains(&api))
                && limit
                    .when
                    .app
                    .is_none_or(|present| present == app.is_some())
                && (limit.when.methods.is_empty() || limit.when.methods.contains(&method))
                && limit
                    .when
                    .headers
                    .iter()
                    .all(|(name, value)| facts.headers.get(name) == Some(value));
            if !applies {
                continue;
            }
            let mut key = self.key_space.builder();
            key.push_u64(limit.identity);
            for dimension in &limit.per {
                let value = match dimension {
                    Dimension::Account => resolved.account,
                    Dimension::App => app,
                    Dimension::Company => company,
                    Dimension::Ip => ip.as_deref(),
                    Dimension::Api => Some(resolved.api),
                    Dimension::Method => Some(method.as_str()),
                    Dimension::Path => Some(path.as_str()),
                    Dimension::Param(name) => params
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.as_str()),
                    Dimension::Header(name) => facts.headers.get(name),
                };
                push(&mut key, value);
            }
            let target = if limit.shadow {
                &mut resolved.shadow
            } else {
                &mut resolved.enforced
            };
            target.limits.push(limit);
            target
                .requests
                .push(LimitRequest::new(key.finish(), limit.algorithm(plan), cost));
        }
        Resolution::Limited(resolved)
    }

    /// The route for a method and normalized path, and the path parameters.
    fn route(&self, method: &str, path: &str) -> Option<(usize, Vec<(String, String)>)> {
        let found = self
            .routes
            .by_method
            .get(method)
            .and_then(|router| router.at(path).ok())
            .or_else(|| self.routes.any_method.at(path).ok())?;
        let params = found
            .params
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Some((*found.value, params))
    }

    fn api_key<'r, H: Headers + ?Sized>(&self, facts: &RequestFacts<'r, H>) -> Option<&'r str> {
        match self.identity.api_key.as_ref()? {
            KeySource::Header(name) => facts.headers.get(name),
            KeySource::Bearer => facts.headers.get("authorization").and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            }),
            KeySource::Query(name) => facts.uri.split_once('?').and_then(|(_, query)| {
                query.split('&').find_map(|pair| {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (key == name).then_some(value)
                })
            }),
        }
        .map(str::trim)
        .filter(|key| !key.is_empty())
    }

    /// The verified app, `Ok(None)` when there is none or its secret is wrong and ignored.
    fn app<H: Headers + ?Sized>(
        &self,
        facts: &RequestFacts<'_, H>,
    ) -> Result<Option<&str>, &'static str> {
        let Some(source) = &self.identity.app else {
            return Ok(None);
        };
        let Some(id) = facts.headers.get(&source.id_header) else {
            return Ok(None);
        };
        let secret = facts.headers.get(&source.secret_header).unwrap_or_default();
        let verified = self
            .apps
            .get_key_value(id)
            .filter(|(_, hash)| bool::from(digest(secret).ct_eq(*hash)));
        match (verified, source.wrong_secret) {
            (Some((id, _)), _) => Ok(Some(id.as_str())),
            (None, WrongSecret::Ignore) => Ok(None),
            (None, WrongSecret::Refuse) => Err("unknown app or wrong app secret"),
        }
    }
}

fn push(key: &mut KeyBuilder<'_>, value: Option<&str>) {
    match value {
        Some(value) => key.push(value.as_bytes()),
        None => key.push_u64(ABSENT),
    };
}
