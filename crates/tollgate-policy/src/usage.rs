//! An account's quotas as they stand: the store requests that peek at every limit an account
//! meets on every api, for the admin API's usage and the customer's own quota view.

use tollgate_core::{LimitRequest, Nanos};

use crate::model::KeyState;
use crate::policy::{Dimension, Directory, Limit, Policy};
use crate::resolve::{Context, Limits, RequestFacts};

/// Whose key a lookup carries: see [`Policy::key_lookup`].
#[derive(Debug)]
pub enum KeyLookup<'p> {
    /// No key.
    Absent,
    /// The key cannot be read one way only: 400.
    Ambiguous(&'static str),
    /// A known key, the account's, and the limits for unknown keys the same lookup with a wrong
    /// key would meet: while they would refuse it, the lookup is refused like it.
    Account(&'p str, Limits<'p>),
    /// An unknown key: the limits that throttle guesses, to be charged before the 401.
    Unknown(Limits<'p>),
}

/// The limits an account meets on one api, with peeks at their partitions.
#[derive(Debug)]
pub struct ApiUsage<'p> {
    /// The api.
    pub api: &'p str,
    /// Limits partitioned by the account alone (or by account, api and company): a peek each.
    pub limits: Vec<(&'p Limit, LimitRequest<'p>)>,
    /// Limits partitioned per request too (path, ip, header…): no single figure to show.
    pub per_request: Vec<&'p Limit>,
}

/// An account's standing: its plan, its pack in force, and every api's limits.
#[derive(Debug)]
pub struct AccountUsage<'p> {
    /// The plan whose numbers apply.
    pub plan: Option<&'p str>,
    /// The pack in force and its expiry.
    pub pack: Option<(&'p str, Nanos)>,
    /// Per api, in the policy's order.
    pub apis: Vec<ApiUsage<'p>>,
    /// The zone its times are shown in: the account's own (`time_zone` in the policy file or
    /// the catalog), else the policy's (see [`Policy::account_zone`]).
    pub time_zone: jiff::tz::TimeZone,
}

impl Policy {
    /// Whether a request carries an API key of its own (a key it sends twice or cannot spell
    /// counts: the lookup says what is wrong with it).
    pub fn carries_key<H: crate::Headers + ?Sized>(&self, facts: &RequestFacts<'_, H>) -> bool {
        self.unreadable_header(facts).is_some() || !matches!(self.api_key(facts), Ok(None))
    }

    /// Whose API key a request carries (in the policy file or `directory`), for a lookup that
    /// is no api call (the customer's quota page): an unknown key meets the limits written for
    /// unknown keys (`when = { key = "unknown" }`) that name no api, in the partitions the same
    /// guess would take through the API, so that guessing keys costs the same there.
    /// `signed_in` is the key a browser keeps for the customer's page (its cookie): read only
    /// when the request carries no key of its own, and held to the same rules.
    pub fn key_lookup<'p, H: crate::Headers + ?Sized>(
        &'p self,
        directory: Option<&'p Directory>,
        facts: &RequestFacts<'_, H>,
        signed_in: Option<&str>,
    ) -> KeyLookup<'p> {
        if let Some(reason) = self.unreadable_header(facts) {
            return KeyLookup::Ambiguous(reason);
        }
        let key = match self.api_key(facts) {
            Ok(Some(key)) => key,
            Ok(None) => match signed_in.map(|key| key.trim_matches([' ', '\t'])) {
                Some("") | None => return KeyLookup::Absent,
                Some(key) if key.bytes().all(|byte| byte.is_ascii_graphic()) => {
                    std::borrow::Cow::Borrowed(key)
                }
                Some(_) => return KeyLookup::Ambiguous("the API key must be visible ASCII"),
            },
            Err(reason) => return KeyLookup::Ambiguous(reason),
        };
        let account = self.account_by_key(directory, &crate::secret::digest(&key));
        let guess = Context {
            key: KeyState::Unknown,
            path: facts.target.path(),
            method: crate::policy::routed_method(facts.method),
            params: smallvec::SmallVec::new(),
            api: 0,
            // A known key's lookup peeks (cost 0) where a wrong key's guess takes its unit.
            cost: u32::from(account.is_none()),
            account: None,
            account_index: None,
            file_overrides: None,
            pack: None,
            app: None,
            plan: self.default_plan,
            company: self.header_company(facts),
            ip: facts.client_ip,
        };
        // Limits for guesses that name an api, a method or a header are met through the API;
        // when every one of them does, the lookup meets them all (their conditions aside), so
        // that guessing is never free here.
        let unconditional = |limit: &crate::Limit| {
            limit.apis.is_none() && limit.when.methods.is_empty() && limit.when.headers.is_empty()
        };
        let mut limits = self.guess_limits(&guess, facts);
        limits.retain(unconditional);
        if limits.limits.is_empty() {
            limits = self.guess_limits_where(&guess, facts, |_| true);
        }
        match account {
            Some((_, account)) => KeyLookup::Account(&account.id, limits),
            None => KeyLookup::Unknown(limits),
        }
    }

    /// The peeks that show account `id`'s standing at `now` (`None`: no such account).
    /// Limits that only apply with an app, a method or a header are left out.
    pub fn usage<'p>(
        &'p self,
        directory: Option<&'p Directory>,
        id: &str,
        now: Nanos,
    ) -> Option<AccountUsage<'p>> {
        let (account_index, account) =
            match self.accounts.iter().position(|account| &*account.id == id) {
                Some(index) => (Some(index), &self.accounts[index]),
                None => (
                    None,
                    directory?
                        .accounts
                        .iter()
                        .find(|account| &*account.id == id)?,
                ),
            };
        let file_pack = account_index.and_then(|index| directory?.file_packs.get(&index).copied());
        let pack = account.pack.or(file_pack).filter(|&(_, until)| now < until);
        let root = crate::Target::default();
        let facts = RequestFacts {
            method: "",
            target: &root,
            headers: &[][..],
            client_ip: None,
            cost: Some(0),
            from_trusted_proxy: false,
        };
        // An api whose every route is exempt is never limited: it has nothing to show.
        let limited = |api: &usize| {
            self.routes
                .routes
                .iter()
                .any(|route| route.api == *api && !route.exempt)
        };
        let apis = (0..self.apis.len())
            .filter(limited)
            .map(|api| {
                let context = Context {
                    key: KeyState::Present,
                    path: "",
                    method: std::borrow::Cow::Borrowed(""),
                    params: smallvec::SmallVec::new(),
                    api,
                    cost: 0,
                    account: Some(account),
                    account_index,
                    file_overrides: account_index.and_then(|index| {
                        directory.and_then(|directory| directory.file_overrides.get(&index))
                    }),
                    pack: pack.map(|(pack, _)| pack),
                    app: None,
                    plan: account.plan.or(self.default_plan),
                    company: account.company.as_deref(),
                    ip: None,
                };
                let mut usage = ApiUsage {
                    api: &self.apis[api],
                    limits: Vec::new(),
                    per_request: Vec::new(),
                };
                let unconditional = |(_, limit): &(usize, &Limit)| {
                    limit.when.methods.is_empty()
                        && limit.when.headers.is_empty()
                        && limit.when.app != Some(true)
                };
                for (position, limit) in self
                    .limits
                    .iter()
                    .enumerate()
                    .filter(|(_, limit)| Self::applies(limit, &context, &facts))
                    .filter(unconditional)
                {
                    let per_account = limit.per.iter().all(|dimension| {
                        matches!(
                            dimension,
                            Dimension::Account | Dimension::Api | Dimension::Company
                        )
                    });
                    if !per_account {
                        usage.per_request.push(limit);
                        continue;
                    }
                    let algorithm = context.numbers(position, limit);
                    let request = self.partition(limit, algorithm, &context, &facts, 0);
                    usage.limits.push((limit, request));
                }
                usage
            })
            .collect::<Vec<ApiUsage<'p>>>();
        let time_zone = account
            .time_zone
            .clone()
            .unwrap_or_else(|| self.default_zone.clone());
        Some(AccountUsage {
            time_zone,
            plan: account
                .plan
                .or(self.default_plan)
                .map(|plan| &*self.plans[plan]),
            pack: pack.map(|(pack, until)| (self.packs[pack].name.as_str(), until)),
            apis,
        })
    }
}
