//! From a policy file to a [`Policy`]: every check, every error with its position.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::time::Duration;

use jiff::tz::TimeZone;
use sha2::{Digest, Sha256};
use tollgate_core::{
    Algorithm, CalendarUnit, Concurrency, KeySpace, Rate, Schedule, SlidingWindow, TokenBucket,
    Window,
};
use toml::Spanned;

use crate::error::{ConfigError, ConfigErrors, Source};
use crate::model::{Align, LimitConfig, NumbersConfig, PolicyFile, ResponsesConfig, RouteConfig};
use crate::policy::{
    Account, AppSource, BodyFormat, DEFAULT_JSON, DEFAULT_XML, Dimension, HeaderFamily, Identity,
    KeySource, Limit, Policy, Responses, Route, Routes, Selector, Server, When,
};
use crate::units::{in_words, parse_duration, parse_rate};

/// Compiles a policy file's text, collecting every error rather than stopping at the first.
///
/// # Errors
/// Every problem found, each with its file, line and column.
pub(crate) fn compile(source: &Source, key_space: KeySpace) -> Result<Policy, ConfigErrors> {
    let file: PolicyFile = toml::from_str(source.text()).map_err(|error| {
        let span = error.span().unwrap_or(0..0);
        ConfigErrors(vec![source.error(span, error.message().trim_end())])
    })?;
    let mut compiler = Compiler {
        source,
        errors: Vec::new(),
    };
    let policy = compiler.policy(file, key_space);
    if compiler.errors.is_empty() {
        Ok(policy)
    } else {
        compiler
            .errors
            .sort_by_key(|error| (error.line, error.column));
        Err(ConfigErrors(compiler.errors))
    }
}

struct Compiler<'a> {
    source: &'a Source,
    errors: Vec<ConfigError>,
}

/// SHA-256 of a secret: how keys and app secrets are held.
pub(crate) fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

impl Compiler<'_> {
    fn fail(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.errors.push(self.source.error(span, message));
    }

    fn policy(&mut self, file: PolicyFile, key_space: KeySpace) -> Policy {
        let plans: Vec<String> = file.plans.keys().cloned().collect();
        let plan_index = |name: &str| plans.iter().position(|plan| plan == name);
        let default_plan = file.default_plan.as_ref().and_then(|name| {
            let found = plan_index(name.get_ref());
            if found.is_none() {
                self.fail(
                    name.span(),
                    format!(
                        "default_plan `{}` is not a plan: {}",
                        name.get_ref(),
                        known(&plans)
                    ),
                );
            }
            found
        });
        let identity = self.identity(&file);
        let (routes, apis) = self.routes(&file.routes, file.paths.case_insensitive);
        let limits: Vec<Limit> = file
            .limits
            .iter()
            .enumerate()
            .map(|(index, limit)| self.limit(index, limit, &file, &plans, &apis, &key_space))
            .collect();
        let mut names = HashSet::new();
        for limit in &file.limits {
            let name = &limit.get_ref().name;
            if !names.insert(name.get_ref().as_str()) {
                self.fail(
                    name.span(),
                    format!("a limit named `{}` is already defined", name.get_ref()),
                );
            }
        }
        for account in &file.accounts {
            for (limit, numbers) in &account.get_ref().overrides {
                if !names.contains(limit.as_str()) {
                    let id = account.get_ref().id.get_ref();
                    self.fail(
                        numbers.span(),
                        format!("account `{id}` overrides `{limit}`, which is not a limit"),
                    );
                }
            }
        }
        for (plan, config) in &file.plans {
            for (api, limits) in &config.get_ref().apis {
                for (limit, numbers) in limits {
                    if !apis.contains(api) {
                        self.fail(
                            numbers.span(),
                            format!(
                                "plan `{plan}` sets numbers for api `{api}`, which no route names"
                            ),
                        );
                    } else if !names.contains(limit.as_str()) {
                        self.fail(
                            numbers.span(),
                            format!(
                                "plan `{plan}` sets numbers for `{limit}`, which is not a limit"
                            ),
                        );
                    }
                }
            }
            for (limit, numbers) in &config.get_ref().limits {
                if !names.contains(limit.as_str()) {
                    self.fail(
                        numbers.span(),
                        format!("plan `{plan}` sets numbers for `{limit}`, which is not a limit"),
                    );
                }
            }
        }
        let (accounts, keys) = self.accounts(&file, &plans);
        let apps = self.apps(&file);
        let server = Server {
            listen: file.server.listen.as_ref().map(|listen| {
                if listen.get_ref().parse::<std::net::SocketAddr>().is_err() {
                    self.fail(listen.span(), format!("`{}` is not an address such as 127.0.0.1:8080", listen.get_ref()));
                }
                listen.get_ref().clone()
            }),
            upstream: file.server.upstream.as_ref().map(|upstream| {
                let url = upstream.get_ref();
                if !url.starts_with("http://") || url.len() <= "http://".len() {
                    self.fail(upstream.span(), format!("the upstream `{url}` must be an http:// URL, e.g. http://127.0.0.1:9000"));
                }
                url.trim_end_matches('/').to_owned()
            }),
            upstream_timeout: file
                .server
                .upstream_timeout
                .as_ref()
                .and_then(|timeout| self.parse(timeout, parse_duration))
                .unwrap_or(Duration::from_secs(30)),
            check_from: match &file.server.check_from {
                Some(peers) => peers.iter().filter_map(|peer| self.network(peer)).collect(),
                None => vec!["127.0.0.0/8".parse().expect("valid"), "::1/128".parse().expect("valid")],
            },
            max_partitions: file.server.max_partitions.unwrap_or(10_000_000),
        };
        let responses = self.responses(&file.responses);
        Policy {
            server,
            responses,
            identity,
            case_insensitive: file.paths.case_insensitive,
            routes,
            apis,
            plans,
            default_plan,
            accounts,
            keys,
            apps,
            limits,
            key_space,
        }
    }

    /// An address or CIDR.
    fn network(&mut self, text: &Spanned<String>) -> Option<ipnet::IpNet> {
        let value = text.get_ref();
        value
            .parse::<ipnet::IpNet>()
            .or_else(|_| value.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| {
                self.fail(
                    text.span(),
                    format!("`{value}` is not an address or CIDR such as 10.0.0.0/8"),
                );
            })
            .ok()
    }

    fn responses(&mut self, config: &ResponsesConfig) -> Responses {
        let mut headers: Vec<HeaderFamily> = config
            .headers
            .iter()
            .filter_map(|family| match family.get_ref().as_str() {
                "ietf" => Some(HeaderFamily::Ietf),
                "x-rate-limit" => Some(HeaderFamily::XRateLimitDashed),
                "x-ratelimit" => Some(HeaderFamily::XRateLimit),
                other => {
                    self.fail(
                        family.span(),
                        format!(
                            "unknown header family `{other}`: use ietf, x-rate-limit or x-ratelimit"
                        ),
                    );
                    None
                }
            })
            .collect();
        if config.headers.is_empty() {
            headers.push(HeaderFamily::Ietf);
        }
        let format = match config.format.as_ref().map(|f| (f, f.get_ref().as_str())) {
            None | Some((_, "json")) => BodyFormat::Json,
            Some((_, "xml")) => BodyFormat::Xml,
            Some((_, "accept")) => BodyFormat::Accept,
            Some((span, other)) => {
                self.fail(
                    span.span(),
                    format!("unknown body format `{other}`: use json, xml or accept"),
                );
                BodyFormat::Json
            }
        };
        Responses {
            headers,
            format,
            json: config
                .json
                .clone()
                .unwrap_or_else(|| DEFAULT_JSON.to_owned()),
            xml: config.xml.clone().unwrap_or_else(|| DEFAULT_XML.to_owned()),
        }
    }

    fn identity(&mut self, file: &PolicyFile) -> Identity {
        let api_key = file.identity.api_key.as_ref().and_then(|source| {
            let config = source.get_ref();
            let mut given = Vec::new();
            if let Some(header) = &config.header {
                given.push(KeySource::Header(header.to_ascii_lowercase()));
            }
            if let Some(query) = &config.query {
                given.push(KeySource::Query(query.clone()));
            }
            if config.bearer {
                given.push(KeySource::Bearer);
            }
            if given.len() != 1 {
                self.fail(
                    source.span(),
                    "identity.api_key takes exactly one of `header`, `query` or `bearer = true`",
                );
            }
            given.pop()
        });
        Identity {
            api_key,
            app: file.identity.app.as_ref().map(|app| AppSource {
                id_header: app.id_header.to_ascii_lowercase(),
                secret_header: app.secret_header.to_ascii_lowercase(),
                wrong_secret: app.wrong_secret,
            }),
            trusted_proxies: file
                .identity
                .trusted_proxies
                .iter()
                .filter_map(|cidr| self.network(cidr))
                .collect(),
            unknown_key_status: file
                .identity
                .unknown_key_status
                .as_ref()
                .map_or(401, |status| {
                    if !(400..=499).contains(status.get_ref()) {
                        self.fail(
                            status.span(),
                            format!("unknown_key_status must be 4xx, not {}", status.get_ref()),
                        );
                    }
                    *status.get_ref()
                }),
            company_header: file
                .identity
                .company_header
                .as_ref()
                .map(|h| h.to_ascii_lowercase()),
        }
    }

    fn routes(
        &mut self,
        configs: &[Spanned<RouteConfig>],
        case_insensitive: bool,
    ) -> (Routes, Vec<String>) {
        let mut routes = Routes::default();
        let mut apis: Vec<String> = Vec::new();
        for config in configs {
            let route = config.get_ref();
            let pattern = &route.pattern;
            let Some((method, template)) = pattern.get_ref().trim().split_once(' ') else {
                self.fail(pattern.span(), "a route matches `METHOD /path`, e.g. `GET /hvacs/{gatewayId}` or `* /webhooks/{*rest}`");
                continue;
            };
            let template = template.trim();
            let method = method.to_ascii_uppercase();
            if method != "*" && !method.bytes().all(|b| b.is_ascii_uppercase()) {
                self.fail(pattern.span(), format!("`{method}` is not an HTTP method"));
                continue;
            }
            let normal = crate::path::normalize(template, false);
            if normal != template {
                self.fail(
                    pattern.span(),
                    format!("the path `{template}` can never match: requests are matched in their normal form `{normal}`"),
                );
                continue;
            }
            let api = match apis.iter().position(|name| name == route.api.get_ref()) {
                Some(index) => index,
                None => {
                    apis.push(route.api.get_ref().clone());
                    apis.len() - 1
                }
            };
            let router = if method == "*" {
                &mut routes.any_method
            } else {
                routes.by_method.entry(method.clone()).or_default()
            };
            let normal = if case_insensitive {
                fold_template(&normal)
            } else {
                normal
            };
            if let Err(conflict) = router.insert(normal, routes.routes.len()) {
                self.fail(
                    pattern.span(),
                    format!("route `{}` can never match: {conflict}", pattern.get_ref()),
                );
                continue;
            }
            routes.routes.push(Route {
                api,
                cost: route.cost.unwrap_or(1),
                exempt: route.exempt,
            });
        }
        (routes, apis)
    }

    fn limit(
        &mut self,
        index: usize,
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
        for (account_index, account) in file.accounts.iter().enumerate() {
            if let Some(numbers) = account.get_ref().overrides.get(&name) {
                if let Some(algorithm) = self.algorithm(spanned, Some(numbers)) {
                    special.insert(Selector::Account(account_index), algorithm);
                }
            }
        }
        let per = config
            .per
            .iter()
            .filter_map(|dimension| self.dimension(dimension, file))
            .collect();
        let mut resolve =
            |names: &[Spanned<String>], known_names: &[String], what: &str| -> Option<Vec<usize>> {
                (!names.is_empty()).then(|| {
                    names
                        .iter()
                        .filter_map(|name| {
                            let found =
                                known_names.iter().position(|known| known == name.get_ref());
                            if found.is_none() {
                                self.fail(
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
        let plans_of = resolve(&config.plans, plans, "a plan");
        let apis_of = resolve(&config.apis, apis, "an api (a route's `api`)");
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
            name,
            identity,
            algorithms,
            special,
            per,
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
                .clone()
                .unwrap_or_else(|| "rate_limited".to_owned()),
            period: period_words(config),
            index,
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
            rate_count: config
                .token_bucket
                .as_ref()
                .and_then(|bucket| parse_rate(bucket.get_ref().rate.get_ref()).ok())
                .map(|(count, _)| count),
        }
    }

    fn dimension(&mut self, dimension: &Spanned<String>, file: &PolicyFile) -> Option<Dimension> {
        let text = dimension.get_ref();
        let parsed = match text.as_str() {
            "account" => Dimension::Account,
            "app" => Dimension::App,
            "company" => Dimension::Company,
            "ip" => Dimension::Ip,
            "api" => Dimension::Api,
            "method" => Dimension::Method,
            "path" => Dimension::Path,
            other => match other.split_once(':') {
                Some(("header", name)) if !name.is_empty() => {
                    Dimension::Header(name.to_ascii_lowercase())
                }
                Some(("param", name)) if !name.is_empty() => {
                    let placeholder = format!("{{{name}}}");
                    let catch_all = format!("{{*{name}}}");
                    if !file.routes.iter().any(|route| {
                        let pattern = route.get_ref().pattern.get_ref();
                        pattern.contains(&placeholder) || pattern.contains(&catch_all)
                    }) {
                        self.fail(
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
            },
        };
        Some(parsed)
    }

    /// The algorithm of a limit, with a plan's numbers applied when given.
    fn algorithm(
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
        ];
        if given.iter().filter(|&&g| g).count() != 1 {
            if numbers.is_none() {
                self.fail(spanned.span(), format!("limit `{}` needs exactly one of token_bucket, window, sliding or concurrency", config.name.get_ref()));
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
            TokenBucket::new(Rate::new(count, period), burst)
                .map(Algorithm::from)
                .map_err(|e| (bucket.span(), e))
        } else if let Some(window) = &config.window {
            let w = window.get_ref();
            let schedule = match w.align {
                Align::Clock => Schedule::clock(self.parse(&w.every, parse_duration)?),
                Align::Calendar => {
                    let unit = match calendar_unit(w.every.get_ref()) {
                        Some(unit) => unit,
                        None => {
                            let other = w.every.get_ref();
                            self.fail(
                                w.every.span(),
                                format!(
                                    "a calendar window is a `day`, `week` or `month`, not `{other}`"
                                ),
                            );
                            return None;
                        }
                    };
                    let tz = match &w.tz {
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
            schedule
                .and_then(|schedule| Window::new(max.unwrap_or(w.max), schedule))
                .map(Algorithm::from)
                .map_err(|e| (window.span(), e))
        } else if let Some(sliding) = &config.sliding {
            let every = self.parse(&sliding.get_ref().every, parse_duration)?;
            SlidingWindow::new(max.unwrap_or(sliding.get_ref().max), every)
                .map(Algorithm::from)
                .map_err(|e| (sliding.span(), e))
        } else {
            let concurrency = config.concurrency.as_ref()?;
            let lease = match &concurrency.get_ref().lease {
                Some(lease) => self.parse(lease, parse_duration)?,
                None => Duration::from_secs(60),
            };
            Concurrency::new(max.unwrap_or(concurrency.get_ref().max), lease)
                .map(Algorithm::from)
                .map_err(|e| (concurrency.span(), e))
        };
        match built {
            Ok(algorithm) => Some(algorithm),
            Err((span, error)) => {
                let span = numbers.map_or(span, Spanned::span);
                self.fail(span, format!("limit `{}`: {error}", config.name.get_ref()));
                None
            }
        }
    }

    fn parse<T>(
        &mut self,
        text: &Spanned<String>,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        parse(text.get_ref())
            .map_err(|message| self.fail(text.span(), message))
            .ok()
    }

    fn accounts(
        &mut self,
        file: &PolicyFile,
        plans: &[String],
    ) -> (Vec<Account>, HashMap<[u8; 32], usize>) {
        let mut accounts = Vec::new();
        let mut keys = HashMap::new();
        let mut ids = HashSet::new();
        for spanned in &file.accounts {
            let account = spanned.get_ref();
            if !ids.insert(account.id.get_ref().clone()) {
                self.fail(
                    account.id.span(),
                    format!("account `{}` is already defined", account.id.get_ref()),
                );
            }
            let plan = account.plan.as_ref().and_then(|plan| {
                let found = plans.iter().position(|name| name == plan.get_ref());
                if found.is_none() {
                    self.fail(
                        plan.span(),
                        format!("`{}` is not a plan: {}", plan.get_ref(), known(plans)),
                    );
                }
                found
            });
            let index = accounts.len();
            let hashes = account.keys.iter().map(|key| Some(digest(key))).chain(
                account.key_sha256.iter().map(|hex| {
                    let parsed = parse_sha256(hex.get_ref());
                    if parsed.is_none() {
                        self.fail(
                            hex.span(),
                            "key_sha256 takes 64 hexadecimal digits (the SHA-256 of the key)",
                        );
                    }
                    parsed
                }),
            );
            for hash in hashes.collect::<Vec<_>>().into_iter().flatten() {
                if keys.insert(hash, index).is_some() {
                    self.fail(
                        spanned.span(),
                        format!(
                            "account `{}` has a key that another account already has",
                            account.id.get_ref()
                        ),
                    );
                }
            }
            accounts.push(Account {
                id: account.id.get_ref().clone(),
                plan,
                company: account.company.clone(),
            });
        }
        (accounts, keys)
    }

    fn apps(&mut self, file: &PolicyFile) -> HashMap<String, [u8; 32]> {
        let mut apps = HashMap::new();
        for spanned in &file.apps {
            let app = spanned.get_ref();
            let secret = match (&app.secret, &app.secret_sha256) {
                (Some(secret), None) => Some(digest(secret)),
                (None, Some(hex)) => {
                    let parsed = parse_sha256(hex.get_ref());
                    if parsed.is_none() {
                        self.fail(
                            hex.span(),
                            "secret_sha256 takes 64 hexadecimal digits (the SHA-256 of the secret)",
                        );
                    }
                    parsed
                }
                _ => {
                    self.fail(
                        spanned.span(),
                        format!(
                            "app `{}` takes exactly one of `secret` or `secret_sha256`",
                            app.id.get_ref()
                        ),
                    );
                    None
                }
            };
            if let Some(secret) = secret {
                if apps.insert(app.id.get_ref().clone(), secret).is_some() {
                    self.fail(
                        app.id.span(),
                        format!("app `{}` is already defined", app.id.get_ref()),
                    );
                }
            }
        }
        apps
    }
}

/// A limit's period in words, for refusal messages.
fn period_words(config: &LimitConfig) -> String {
    let duration = |text: &Spanned<String>| {
        parse_duration(text.get_ref())
            .map(in_words)
            .unwrap_or_default()
    };
    if let Some(bucket) = &config.token_bucket {
        parse_rate(bucket.get_ref().rate.get_ref())
            .map(|(_, period)| in_words(period))
            .unwrap_or_default()
    } else if let Some(window) = &config.window {
        match window.get_ref().align {
            Align::Clock => duration(&window.get_ref().every),
            Align::Calendar => match calendar_unit(window.get_ref().every.get_ref()) {
                Some(CalendarUnit::Day) => "day".to_owned(),
                Some(CalendarUnit::Week) => "week".to_owned(),
                Some(CalendarUnit::Month) => "month".to_owned(),
                None => String::new(),
            },
        }
    } else if let Some(sliding) = &config.sliding {
        duration(&sliding.get_ref().every)
    } else {
        String::new()
    }
}

/// The calendar unit a window's `every` names, if any.
fn calendar_unit(every: &str) -> Option<CalendarUnit> {
    match every.trim() {
        "day" | "1d" => Some(CalendarUnit::Day),
        "week" | "1w" => Some(CalendarUnit::Week),
        "month" => Some(CalendarUnit::Month),
        _ => None,
    }
}

/// A route template with its literal segments lower-cased and its `{parameter}` names kept.
fn fold_template(template: &str) -> String {
    template
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                segment.to_owned()
            } else {
                segment.to_ascii_lowercase()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Stands in for an algorithm whose numbers were wrong; the policy is never used then.
fn placeholder() -> Algorithm {
    Concurrency::new(1, Duration::from_secs(1))
        .expect("valid")
        .into()
}

fn known(names: &[String]) -> String {
    if names.is_empty() {
        "none is defined".to_owned()
    } else {
        format!("defined are {}", names.join(", "))
    }
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

fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(index * 2..index * 2 + 2)?, 16).ok()?;
    }
    Some(bytes)
}
