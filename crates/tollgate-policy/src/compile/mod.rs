//! From a policy file to a [`Policy`]: every check, every error with its position.
//!
//! One [`Compiler`] collects the errors; its methods are spread by subject: identities,
//! routes, limits, and the server's and responses' settings. Before it, the text is read as
//! far as it can be ([`syntax`], [`read`]): one run reports every error it can find.

mod alerts;
mod identity;

mod limits;
mod read;
mod routes;
mod server;
mod syntax;
mod tables;

use std::collections::HashSet;
use std::ops::Range;

use toml::Spanned;

use tollgate_core::KeySpace;

use crate::error::{ConfigError, ConfigErrors, Source};
use crate::model::PolicyFile;
use crate::policy::{Dimension, Identity, KeySource, Limit, Policy, StoreCheck};
pub use alerts::is_receiver;
use read::{Defined, Unread};

/// Compiles a policy file's text, collecting every error rather than stopping at the first.
///
/// # Errors
/// Every problem found, each with its file, line and column.
pub(crate) fn compile(
    source: &Source,
    key_space: KeySpace,
    check: StoreCheck,
) -> Result<Policy, ConfigErrors> {
    let mut errors = Vec::new();
    let readable = syntax::readable(source, &mut errors);
    let (file, unread) = read::read(source, &readable.text, &readable.lost, &mut errors);
    let mut compiler = Compiler {
        source,
        errors,
        warnings: Vec::new(),
        check,
        unread,
    };
    let mut policy = compiler.policy(file, key_space);
    if compiler.errors.is_empty() {
        compiler
            .warnings
            .sort_by_key(|warning| (warning.line, warning.column));
        policy.warnings = compiler.warnings;
        Ok(policy)
    } else {
        compiler
            .errors
            .sort_by_key(|error| (error.line, error.column));
        // A limit's numbers are read again for each plan that changes some of them.
        compiler.errors.dedup();
        Err(ConfigErrors(compiler.errors))
    }
}

struct Compiler<'a> {
    source: &'a Source,
    errors: Vec<ConfigError>,
    /// What is valid but unsafe, for `check-config` and the start-up log.
    warnings: Vec<ConfigError>,
    /// What the store that will hold the limits can keep exactly.
    check: StoreCheck,
    /// What the parts of the file that could not be read may define.
    unread: Unread,
}

impl Compiler<'_> {
    fn fail(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.errors.push(self.source.error(span, message));
    }

    /// An error about `name`, which nothing defines as `what` — unless a part of the file
    /// that could not be read may (that part's own error is reported).
    fn fail_undefined(
        &mut self,
        what: Defined,
        name: &str,
        span: Range<usize>,
        message: impl Into<String>,
    ) {
        if !self.unread.may_define(what, name) {
            self.fail(span, message);
        }
    }

    fn warn(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.warnings.push(self.source.error(span, message));
    }

    fn policy(&mut self, file: PolicyFile, key_space: KeySpace) -> Policy {
        let plans: Vec<String> = file.plans.keys().cloned().collect();
        let plan_index = |name: &str| plans.iter().position(|plan| plan == name);
        let default_plan = file.default_plan.as_ref().and_then(|name| {
            let found = plan_index(name.get_ref());
            if found.is_none() {
                self.fail_undefined(
                    Defined::Plan,
                    name.get_ref(),
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
            .map(|limit| self.limit(limit, &file, &plans, &apis, &key_space))
            .collect();
        self.warn_of_unguarded_anonymous(&file);
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
                    self.fail_undefined(
                        Defined::Limit,
                        limit,
                        numbers.span(),
                        format!("account `{id}` overrides `{limit}`, which is not a limit"),
                    );
                }
            }
        }
        for (pack, config) in &file.packs {
            for (limit, numbers) in &config.get_ref().limits {
                if !names.contains(limit.as_str()) {
                    self.fail_undefined(
                        Defined::Limit,
                        limit,
                        numbers.span(),
                        format!("pack `{pack}` sets numbers for `{limit}`, which is not a limit"),
                    );
                }
            }
        }
        let packs = file
            .packs
            .iter()
            .map(|(name, config)| {
                let period = config
                    .get_ref()
                    .period
                    .as_ref()
                    .and_then(|period| self.parse(period, crate::units::parse_duration))
                    .unwrap_or(std::time::Duration::from_secs(365 * 86_400));
                let price = config.get_ref().price.as_ref().and_then(|price| {
                    self.parse(price, |text| {
                        text.parse().map_err(|error| format!("{error}"))
                    })
                });
                crate::policy::Pack {
                    name: name.clone(),
                    period,
                    price,
                }
            })
            .collect();
        for (plan, config) in &file.plans {
            for (api, limits) in &config.get_ref().apis {
                for (limit, numbers) in limits {
                    if !apis.contains(api) {
                        self.fail_undefined(
                            Defined::Api,
                            api,
                            numbers.span(),
                            format!(
                                "plan `{plan}` sets numbers for api `{api}`, which no route names"
                            ),
                        );
                    } else if !names.contains(limit.as_str()) {
                        self.fail_undefined(
                            Defined::Limit,
                            limit,
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
                    self.fail_undefined(
                        Defined::Limit,
                        limit,
                        numbers.span(),
                        format!("plan `{plan}` sets numbers for `{limit}`, which is not a limit"),
                    );
                }
            }
        }
        let (accounts, keys) = self.accounts(&file, &plans);
        let apps = self.apps(&file);
        let server = self.server(&file);
        let responses = self.responses(&file.responses);
        let read_headers = read_headers(&identity, &limits);
        let guards_guesses = limits
            .iter()
            .any(|limit| limit.when.key == Some(crate::model::KeyState::Unknown));
        let default_zone = default_zone(&limits);
        let alerts = file
            .alerts
            .as_ref()
            .map(|config| self.alerts(config, &limits, &plans));
        Policy {
            default_zone,
            read_headers,
            guards_guesses,
            server,
            responses,
            identity,
            case_insensitive: file.paths.case_insensitive,
            routes,
            apis: apis.into_iter().map(crate::Name::from).collect(),
            plans: plans.into_iter().map(crate::Name::from).collect(),
            packs,
            default_plan,
            accounts,
            keys,
            apps: apps
                .into_iter()
                .map(|(id, hash)| (crate::Name::from(id), hash))
                .collect(),
            limits,
            key_space,
            check: self.check,
            warnings: Vec::new(),
            alerts,
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
}

/// Every header the policy reads to identify a request or to choose and key its limits.
fn read_headers(identity: &Identity, limits: &[Limit]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    if let Some(KeySource::Header(name)) = &identity.api_key {
        names.push(name.clone());
    }
    if let Some(KeySource::Bearer { .. }) = &identity.api_key {
        names.push("authorization".to_owned());
    }
    if let Some(app) = &identity.app {
        names.push(app.id_header.clone());
        names.push(app.secret_header.clone());
    }
    names.extend(identity.company_header.iter().cloned());
    for limit in limits {
        names.extend(limit.per.iter().filter_map(|dimension| match dimension {
            Dimension::Header(name) => Some(name.clone()),
            _ => None,
        }));
        names.extend(limit.when.headers.iter().map(|(name, _)| name.clone()));
    }
    names.sort();
    names.dedup();
    names
}

fn known(names: &[String]) -> String {
    if names.is_empty() {
        "none is defined".to_owned()
    } else {
        format!("defined are {}", names.join(", "))
    }
}

/// The zone of the first calendar-aligned window (or distinct-value period) of `limits` (any
/// plan's numbers), else UTC: where accounts that name no zone see their times and count their
/// days.
fn default_zone(limits: &[crate::Limit]) -> jiff::tz::TimeZone {
    limits
        .iter()
        .flat_map(|limit| limit.algorithms.iter())
        .filter_map(|algorithm| match algorithm {
            tollgate_core::Algorithm::Window(window) => Some(window.schedule()),
            tollgate_core::Algorithm::Distinct(distinct) => distinct.period(),
            _ => None,
        })
        .find_map(|schedule| match schedule {
            tollgate_core::Schedule::Calendar(calendar) => Some(calendar.time_zone().clone()),
            tollgate_core::Schedule::Clock(_) => None,
        })
        .unwrap_or(jiff::tz::TimeZone::UTC)
}
