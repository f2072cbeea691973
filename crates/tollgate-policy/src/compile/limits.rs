//! Limits: one algorithm with its numbers per plan, api and account, and what partitions them.

use std::collections::HashMap;
use std::time::Duration;

use jiff::tz::TimeZone;
use tollgate_core::{
    Algorithm, CalendarUnit, Concurrency, Delay, Distinct, KeySpace, Rate, Schedule, SlidingWindow,
    TokenBucket, Window,
};
use toml::Spanned;

use super::read::Defined;
use super::{Compiler, known};
use crate::model::{Align, LimitConfig, NumbersConfig, PolicyFile, RouteConfig};
use crate::policy::{Dimension, Limit, Selector, When};
use crate::units::{Unit, parse_duration, parse_period, parse_rate};

impl Compiler<'_> {
    pub(super) fn limit(
        &mut self,
        spanned: &Spanned<LimitConfig>,
        file: &PolicyFile,
        plans: &[String],
        apis: &[String],
        key_space: &KeySpace,
    ) -> Limit {
        let config = spanned.get_ref();
        let name = config.name.get_ref().clone();
        let own = self.algorithm(spanned, None).unwrap_or_else(placeholder);
        let mut algorithms: Vec<Algorithm> = plans
            .iter()
            .map(|plan| {
                let numbers = file.plans[plan].get_ref().limits.get(&name);
                match numbers {
                    Some(numbers) => self
                        .algorithm(spanned, Some(numbers))
                        .unwrap_or_else(placeholder),
                    None => own.clone(),
                }
            })
            .collect();
        let identity = key_space
            .builder()
            .push(name.as_bytes())
            .push(format!("{own:?}").as_bytes())
            .finish()
            .get();
        algorithms.push(own);
        let mut special = HashMap::new();
        for (plan_index, plan) in plans.iter().enumerate() {
            for (api, limits) in &file.plans[plan].get_ref().apis {
                let (Some(numbers), Some(api_index)) = (
                    limits.get(&name),
                    apis.iter().position(|known| known == api),
                ) else {
                    continue;
                };
                if let Some(algorithm) = self.algorithm(spanned, Some(numbers)) {
                    special.insert(Selector::PlanApi(plan_index, api_index), algorithm);
                }
            }
        }
        for (pack_index, pack) in file.packs.values().enumerate() {
            if let Some(numbers) = pack.get_ref().limits.get(&name) {
                if let Some(algorithm) = self.algorithm(spanned, Some(numbers)) {
                    special.insert(Selector::Pack(pack_index), algorithm);
                }
            }
        }
        for (account_index, account) in file.accounts.iter().enumerate() {
            if let Some(numbers) = account.get_ref().overrides.get(&name) {
                if let Some(algorithm) = self.algorithm(spanned, Some(numbers)) {
                    special.insert(Selector::Account(account_index), algorithm);
                }
            }
        }
        self.check_delay(config);
        for method in &config.when.method {
            if method.get_ref().eq_ignore_ascii_case("HEAD") {
                self.fail(method.span(), "HEAD requests are GET requests to routes and limits (RFC 9110 §9.3.2): name GET");
            }
        }
        let (counted, noun) = self.counted(config, file);
        let per = config
            .per
            .iter()
            .filter_map(|dimension| self.dimension(dimension, config, file, Role::Partition))
            .collect();
        let mut resolve = |names: &[Spanned<String>],
                           known_names: &[String],
                           defined: Defined,
                           what: &str|
         -> Option<Vec<usize>> {
            (!names.is_empty()).then(|| {
                names
                    .iter()
                    .filter_map(|name| {
                        let found = known_names.iter().position(|known| known == name.get_ref());
                        if found.is_none() {
                            self.fail_undefined(
                                defined,
                                name.get_ref(),
                                name.span(),
                                format!(
                                    "`{}` is not {what}: {}",
                                    name.get_ref(),
                                    known(known_names)
                                ),
                            );
                        }
                        found
                    })
                    .collect()
            })
        };
        let plans_of = resolve(&config.plans, plans, Defined::Plan, "a plan");
        let apis_of = resolve(&config.apis, apis, Defined::Api, "an api (a route's `api`)");
        let status = config.status.as_ref().map_or(429, |status| {
            if !(400..=599).contains(status.get_ref()) {
                self.fail(
                    status.span(),
                    format!(
                        "a refusal's status must be 4xx or 5xx, not {}",
                        status.get_ref()
                    ),
                );
            }
            *status.get_ref()
        });
        Limit {
            name: name.into(),
            identity,
            algorithms,
            special,
            per,
            counted,
            noun,
            plans: plans_of,
            apis: apis_of,
            when: When {
                key: config.when.key,
                app: config
                    .when
                    .app
                    .map(|presence| presence == crate::model::Presence::Present),
                methods: config
                    .when
                    .method
                    .iter()
                    .map(|m| m.get_ref().to_ascii_uppercase())
                    .collect(),
                headers: config
                    .when
                    .header
                    .iter()
                    .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
                    .collect(),
            },
            shadow: config.shadow,
            status,
            code: config
                .code
                .as_deref()
                .unwrap_or(if config.distinct.is_some() {
                    DISTINCT_CODE
                } else {
                    "rate_limited"
                })
                .into(),
            refund: config
                .refund
                .iter()
                .filter_map(|status| {
                    let parsed = parse_statuses(status.get_ref());
                    if parsed.is_none() {
                        self.fail(
                            status.span(),
                            format!(
                                "`{}` is not a status or class such as 503 or 5xx",
                                status.get_ref()
                            ),
                        );
                    }
                    parsed
                })
                .collect(),
        }
    }

    /// What a distinct-value limit counts (its `of`) and calls it (its `noun`); refunds, which
    /// it cannot give, are refused.
    fn counted(
        &mut self,
        config: &LimitConfig,
        file: &PolicyFile,
    ) -> (Option<Dimension>, Option<std::sync::Arc<str>>) {
        let Some(distinct) = &config.distinct else {
            return (None, None);
        };
        for status in &config.refund {
            self.fail(
                status.span(),
                format!(
                    "limit `{}` counts distinct values, which stay counted once admitted: it refunds nothing",
                    config.name.get_ref()
                ),
            );
        }
        let distinct = distinct.get_ref();
        let noun = match &distinct.noun {
            None => "values",
            Some(noun) => {
                let text = noun.get_ref().as_str();
                if text.trim().is_empty() || text.chars().any(char::is_control) {
                    self.fail(
                        noun.span(),
                        format!(
                            "limit `{}`: a noun is a word such as \"machines\", not `{}`",
                            config.name.get_ref(),
                            text.escape_debug()
                        ),
                    );
                }
                text
            }
        };
        let counted = self.dimension(&distinct.of, config, file, Role::Counted);
        (counted, Some(noun.into()))
    }

    pub(super) fn dimension(
        &mut self,
        dimension: &Spanned<String>,
        limit: &LimitConfig,
        file: &PolicyFile,
        role: Role,
    ) -> Option<Dimension> {
        let text = dimension.get_ref();
        self.warn_of_spellings(dimension, limit, file, role);
        let parsed = match text.as_str() {
            "account" => Dimension::Account,
            "app" => Dimension::App,
            "company" => Dimension::Company,
            "ip" => Dimension::Ip,
            "api" => Dimension::Api,
            "method" => Dimension::Method,
            "path" => Dimension::Path,
            other => {
                match other.split_once(':') {
                    Some(("header", name)) if !name.is_empty() => {
                        Dimension::Header(name.to_ascii_lowercase())
                    }
                    Some(("param", name)) if !name.is_empty() => {
                        let placeholder = format!("{{{name}}}");
                        if !file.routes.iter().any(|route| {
                            route_params(route.get_ref()).any(|(param, _)| param == name)
                        }) {
                            self.fail_undefined(
                                Defined::Param,
                                name,
                                dimension.span(),
                                format!("no route has a path parameter `{placeholder}`"),
                            );
                            return None;
                        }
                        Dimension::Param(name.to_owned())
                    }
                    _ => {
                        self.fail(
                        dimension.span(),
                        format!("unknown dimension `{other}`: use account, app, company, ip, api, method, path, param:NAME or header:NAME"),
                    );
                        return None;
                    }
                }
            }
        };
        Some(parsed)
    }

    /// Warns when `dimension` partitions `limit` by something a client spells freely: a path
    /// parameter without a type, or the path where a route the limit meets has one (or a
    /// catch-all). Each spelling is a bucket of its own, which only a limit per account (or
    /// per client) bounds.
    fn warn_of_spellings(
        &mut self,
        dimension: &Spanned<String>,
        limit: &LimitConfig,
        file: &PolicyFile,
        role: Role,
    ) {
        let text = dimension.get_ref().as_str();
        let wanted = |route: &RouteConfig| {
            !route.exempt
                && (limit.apis.is_empty()
                    || limit
                        .apis
                        .iter()
                        .any(|api| api.get_ref() == route.api.get_ref()))
        };
        let untyped: Vec<String> = file
            .routes
            .iter()
            .map(Spanned::get_ref)
            .filter(|route| wanted(route))
            .flat_map(|route| {
                route_params(route)
                    .filter(|(name, typed)| !typed && !route.params.contains_key(*name))
                    .map(|(name, _)| name.to_owned())
                    .collect::<Vec<_>>()
            })
            .collect();
        let message = match text.split_once(':') {
            None if text == "path" && !untyped.is_empty() => format!(
                "{} `path`, where a route has untyped parameters ({}): every spelling of a value is {}; type them (`{{id:int}}`, `uuid`, `token`, or a pattern in `params`)",
                role.verb(),
                untyped.join(", "),
                role.apart(),
            ),
            Some(("param", name)) if untyped.iter().any(|param| param == name) => format!(
                "{} the untyped parameter `{name}`: every spelling of a value is {}; type it (`{{{name}:int}}`, `uuid`, `token`, or a pattern in `params`)",
                role.verb(),
                role.apart(),
            ),
            _ => return,
        };
        self.warn(dimension.span(), message);
    }

    /// Warns when requests without a key can make a partition per value they choose (a path, a
    /// parameter, a header) under a limit that no client dimension bounds, and no limit per
    /// `ip` guards such requests: one client could then fill the store's anonymous share.
    pub(super) fn warn_of_unguarded_anonymous(&mut self, file: &PolicyFile) {
        use crate::model::KeyState;
        let keyless = |limit: &LimitConfig| matches!(limit.when.key, None | Some(KeyState::Absent));
        let guarded = file.limits.iter().map(Spanned::get_ref).any(|limit| {
            keyless(limit)
                && limit
                    .per
                    .iter()
                    .any(|dimension| dimension.get_ref() == "ip")
        });
        if guarded {
            return;
        }
        for limit in file
            .limits
            .iter()
            .map(Spanned::get_ref)
            .filter(|limit| keyless(limit))
        {
            let per = |names: &[&str]| {
                limit.per.iter().any(|dimension| {
                    let text = dimension.get_ref().as_str();
                    names.contains(&text.split_once(':').map_or(text, |(kind, _)| kind))
                })
            };
            if per(&["ip", "account", "app"]) {
                continue;
            }
            let chosen = limit.per.iter().find(|dimension| {
                let text = dimension.get_ref().as_str();
                ["path", "param", "header"]
                    .contains(&text.split_once(':').map_or(text, |(kind, _)| kind))
            });
            if let Some(dimension) = chosen {
                self.warn(
                    dimension.span(),
                    format!(
                        "requests without a key make a partition per `{}` here, and no limit per `ip` guards them: add one, e.g. `per = [\"ip\"]` with `when = {{ key = \"absent\" }}`, so one client cannot fill the store's anonymous share",
                        dimension.get_ref()
                    ),
                );
            }
        }
    }

    /// A `delay` is a token bucket's, on a limit that refuses: a window's units come back all
    /// at once at its end and a slot when a request ends, so no turn comes to wait for; a
    /// shadow limit never refuses, so nothing waits for it; a limit on unknown keys sees only
    /// requests that are refused anyway; and a refund would give back a turn later ones follow.
    fn check_delay(&mut self, config: &LimitConfig) {
        let Some(delay) = &config.delay else {
            return;
        };
        let name = config.name.get_ref();
        let other = [
            (config.window.is_some(), "a window"),
            (config.sliding.is_some(), "a sliding window"),
            (config.concurrency.is_some(), "a concurrency limit"),
            (config.distinct.is_some(), "a distinct-value limit"),
        ];
        if let Some((_, algorithm)) = other.iter().find(|(given, _)| *given) {
            self.fail(
                delay.span(),
                format!("limit `{name}`: `delay` is for a token bucket, whose turns come one at a time; {algorithm} has no turn to wait for"),
            );
        } else if config.shadow {
            self.fail(
                delay.span(),
                format!("limit `{name}`: a shadow limit never refuses, so no request waits for it: drop `delay` or `shadow`"),
            );
        } else if config.when.key == Some(crate::model::KeyState::Unknown) {
            self.fail(
                delay.span(),
                format!("limit `{name}`: a request with an unknown key is refused whatever this limit says (401, or 429 once it is spent), so none waits for a turn: drop `delay`"),
            );
        } else if !config.refund.is_empty() {
            self.fail(
                delay.span(),
                format!("limit `{name}`: a refund would give a turn back after later ones were handed out, and two requests would start in one turn: drop `delay` or `refund`"),
            );
        }
    }

    /// The algorithm of a limit, with a plan's numbers applied when given.
    pub(super) fn algorithm(
        &mut self,
        spanned: &Spanned<LimitConfig>,
        numbers: Option<&Spanned<NumbersConfig>>,
    ) -> Option<Algorithm> {
        let config = spanned.get_ref();
        let given = [
            config.token_bucket.is_some(),
            config.window.is_some(),
            config.sliding.is_some(),
            config.concurrency.is_some(),
            config.distinct.is_some(),
        ];
        if given.iter().filter(|&&g| g).count() != 1 {
            if numbers.is_none() {
                self.fail(spanned.span(), format!("limit `{}` needs exactly one of token_bucket, window, sliding, concurrency or distinct", config.name.get_ref()));
            }
            return None;
        }
        let (max, rate, burst) = numbers.map_or((None, None, None), |n| {
            (
                n.get_ref().max,
                n.get_ref().rate.as_ref(),
                n.get_ref().burst,
            )
        });
        if let Some(numbers) = numbers {
            let fits = if config.token_bucket.is_some() {
                max.is_none()
            } else {
                rate.is_none() && burst.is_none()
            };
            if !fits {
                self.fail(numbers.span(), format!("these numbers do not fit limit `{}`: a token bucket takes rate and burst, the others max", config.name.get_ref()));
                return None;
            }
        }
        let built = if let Some(bucket) = &config.token_bucket {
            let rate_text = rate.unwrap_or(&bucket.get_ref().rate);
            let (count, period) = self.parse(rate_text, parse_rate)?;
            let burst = burst.or(bucket.get_ref().burst).unwrap_or(1);
            let delay = match &config.delay {
                Some(delay) => Some(Delay {
                    max: self.parse(&delay.get_ref().max, parse_duration)?,
                    queue: *delay.get_ref().queue.get_ref(),
                }),
                None => None,
            };
            TokenBucket::new(Rate::new(count, period), burst)
                .map_err(|e| (bucket.span(), e.to_string()))
                .and_then(|bucket| match (delay, &config.delay) {
                    (Some(delay), Some(given)) => bucket
                        .with_delay(delay)
                        .map_err(|e| (given.span(), e.to_string())),
                    _ => Ok(bucket),
                })
                .map(Algorithm::from)
        } else if let Some(window) = &config.window {
            let w = window.get_ref();
            self.schedule(&w.every, w.align, w.tz.as_ref())?
                .and_then(|schedule| Window::new(max.unwrap_or(w.max), schedule))
                .map(Algorithm::from)
                .map_err(|e| (window.span(), e.to_string()))
        } else if let Some(distinct) = &config.distinct {
            let d = distinct.get_ref();
            let period = match &d.every {
                Some(every) => Some(self.schedule(every, d.align, d.tz.as_ref())?),
                None => None,
            };
            period
                .transpose()
                .and_then(|period| Distinct::new(max.unwrap_or(d.max), period))
                .map(Algorithm::from)
                .map_err(|e| (distinct.span(), e.to_string()))
        } else if let Some(sliding) = &config.sliding {
            let every = self.parse(&sliding.get_ref().every, parse_duration)?;
            SlidingWindow::new(max.unwrap_or(sliding.get_ref().max), every)
                .map(Algorithm::from)
                .map_err(|e| (sliding.span(), e.to_string()))
        } else {
            let concurrency = config.concurrency.as_ref()?;
            let lease = match &concurrency.get_ref().lease {
                Some(lease) => self.parse(lease, parse_duration)?,
                None => Duration::from_secs(60),
            };
            Concurrency::new(max.unwrap_or(concurrency.get_ref().max), lease)
                .map(Algorithm::from)
                .map_err(|e| (concurrency.span(), e.to_string()))
        };
        let built = built.and_then(|algorithm| match (self.check)(&algorithm) {
            Ok(()) => Ok(algorithm),
            Err(unsupported) => Err((spanned.span(), unsupported.to_string())),
        });
        match built {
            Ok(algorithm) => Some(algorithm),
            Err((span, error)) => {
                let span = numbers.map_or(span, Spanned::span);
                self.fail(span, format!("limit `{}`: {error}", config.name.get_ref()));
                None
            }
        }
    }
}

impl Compiler<'_> {
    /// The windows of a window's (or a distinct-value limit's) `every`, `align` and `tz`;
    /// `None` once a failure is reported.
    fn schedule(
        &mut self,
        every: &Spanned<String>,
        align: Align,
        tz: Option<&Spanned<String>>,
    ) -> Option<Result<Schedule, tollgate_core::LimitError>> {
        let schedule = match align {
            Align::Clock => Schedule::clock(self.parse(every, parse_duration)?),
            Align::Calendar => {
                let Some(unit) = calendar_unit(every.get_ref()) else {
                    let other = every.get_ref();
                    self.fail(
                        every.span(),
                        format!("a calendar window is a `day`, `week` or `month`, not `{other}`"),
                    );
                    return None;
                };
                let tz = match tz {
                    None => TimeZone::UTC,
                    Some(name) => match TimeZone::get(name.get_ref()) {
                        Ok(tz) => tz,
                        Err(_) => {
                            self.fail(name.span(), format!("`{}` is not an IANA time zone (e.g. Europe/Berlin, Asia/Shanghai)", name.get_ref()));
                            return None;
                        }
                    },
                };
                Ok(Schedule::calendar(unit, tz))
            }
        };
        Some(schedule)
    }
}

/// The calendar unit a window's `every` names, if any: one day, week or month, in any spelling
/// of the unit (`day`, `1d`, `1 day`; `wk`; `months`).
fn calendar_unit(every: &str) -> Option<CalendarUnit> {
    match parse_period(every) {
        Ok((1, Unit::Day)) => Some(CalendarUnit::Day),
        Ok((1, Unit::Week)) => Some(CalendarUnit::Week),
        Ok((1, Unit::Month)) => Some(CalendarUnit::Month),
        _ => None,
    }
}

/// The error code of a distinct-value limit's refusal unless the limit names one.
const DISTINCT_CODE: &str = "distinct_limit_exceeded";

/// Stands in for an algorithm whose numbers were wrong; the policy is never used then.
fn placeholder() -> Algorithm {
    Concurrency::new(1, Duration::from_secs(1))
        .expect("valid")
        .into()
}

/// `503` → (503, 503); `5xx` → (500, 599).
fn parse_statuses(text: &str) -> Option<(u16, u16)> {
    let text = text.trim().to_ascii_lowercase();
    if let Some(class) = text.strip_suffix("xx") {
        let class: u16 = class.parse().ok().filter(|c| (1..=5).contains(c))?;
        return Some((class * 100, class * 100 + 99));
    }
    let status: u16 = text.parse().ok().filter(|s| (100..=599).contains(s))?;
    Some((status, status))
}

/// A route's parameters, named as in its template (a catch-all without its `*`), each with
/// whether the template types it.
fn route_params(route: &RouteConfig) -> impl Iterator<Item = (&str, bool)> {
    route
        .pattern
        .get_ref()
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|inner| {
            let (name, typed) = inner
                .split_once(':')
                .map_or((inner, false), |(name, _)| (name, true));
            (name.trim_start_matches('*'), typed)
        })
}

/// What a limit does with a dimension: partitions by it (`per`), or counts its distinct values
/// (`distinct`'s `of`); the warnings say which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Partition,
    Counted,
}

impl Role {
    fn verb(self) -> &'static str {
        match self {
            Self::Partition => "partitioned by",
            Self::Counted => "counting the distinct values of",
        }
    }

    fn apart(self) -> &'static str {
        match self {
            Self::Partition => "a bucket of its own",
            Self::Counted => "a value of its own (`M1` and `m1` two of them)",
        }
    }
}
