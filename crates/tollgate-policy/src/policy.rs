//! The compiled policy: plain data and matchers, built once, read on every request.

use std::borrow::Cow;
use std::collections::HashMap;

use smallvec::SmallVec;

use tollgate_core::{Algorithm, KeySpace};

pub(crate) use crate::Name;
pub(crate) use crate::directory::{
    Account, AppSource, Directory, DirectoryEntry, Identity, KeySource, Numbers,
};
pub(crate) use crate::limit::{Dimension, Limit, Selection, Selector, When};
pub(crate) use crate::settings::{Responses, Server, StoreCheck};
use crate::{BadNumbers, Target};

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
    /// The packs, in file order.
    pub(crate) packs: Vec<Pack>,
    pub(crate) default_plan: Option<usize>,
    pub(crate) accounts: Vec<Account>,
    /// The zone of accounts that name none: the first calendar-aligned window's, else UTC.
    pub(crate) default_zone: jiff::tz::TimeZone,
    /// SHA-256 of each API key → account index.
    pub(crate) keys: HashMap<[u8; 32], usize>,
    /// App id → SHA-256 of its secret.
    pub(crate) apps: HashMap<Name, [u8; 32]>,
    pub(crate) limits: Vec<Limit>,
    pub(crate) key_space: KeySpace,
    /// What the store holding the limits can keep exactly, checked on every reload too.
    pub(crate) check: StoreCheck,
    /// What is valid but unsafe: see [`Policy::warnings`].
    pub(crate) warnings: Vec<crate::ConfigError>,
    /// `[alerts]`, if the file has it.
    pub(crate) alerts: Option<crate::Alerts>,
}

/// A pack of the policy (`[packs.NAME]`).
#[derive(Debug)]
pub(crate) struct Pack {
    pub(crate) name: String,
    /// How long a purchase lasts: a fixed length, whatever the account's zone.
    pub(crate) period: std::time::Duration,
    /// What a purchase costs, if the policy says.
    pub(crate) price: Option<tollgate_core::Price>,
}

impl Policy {
    /// The alerts the file asks for (`[alerts]`), if any.
    #[must_use]
    pub fn alerts(&self) -> Option<&crate::Alerts> {
        self.alerts.as_ref()
    }

    /// Where the server listens and forwards, as the file says.
    #[must_use]
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The canonical form of a request target (path and query) for `method` under this
    /// policy's path rules, the values of its route's typed path parameters in their canonical
    /// form (`{id:int}`: `/circuits/007` is `/circuits/7`).
    ///
    /// # Errors
    /// Why the target is refused (a 400).
    pub fn target<'a>(
        &self,
        method: &str,
        raw: &'a str,
    ) -> Result<crate::Target<'a>, crate::PathError> {
        let target = crate::Target::parse(raw, self.case_insensitive)?;
        Ok(self.routes.canonical(&routed_method(method), target))
    }

    /// The canonical form of a request target that is not forwarded (forward-auth, the check
    /// API): dot-segments are refused, not resolved (see [`crate::Target::parse_exact`]).
    ///
    /// # Errors
    /// Why the target is refused (a 400).
    pub fn target_exact<'a>(
        &self,
        method: &str,
        raw: &'a str,
    ) -> Result<crate::Target<'a>, crate::PathError> {
        let target = crate::Target::parse_exact(raw, self.case_insensitive)?;
        Ok(self.routes.canonical(&routed_method(method), target))
    }

    /// The canonical form of a path that a block names, whatever the method: its typed
    /// parameters as the first route (by method name, then `*`) whose types rewrite it reads
    /// them, so that a block of `/hvacs/007/reboot` holds for the `PUT /hvacs/{id:int}/reboot`
    /// that counts `/hvacs/7/reboot`.
    ///
    /// # Errors
    /// Why the path is refused (a 400).
    pub fn block_target<'a>(&self, raw: &'a str) -> Result<crate::Target<'a>, crate::PathError> {
        let mut target = crate::Target::parse(raw, self.case_insensitive)?;
        let mut methods: Vec<&str> = self.routes.by_method.keys().map(String::as_str).collect();
        methods.sort_unstable();
        methods.push("*");
        for method in methods {
            let before = target.path().to_owned();
            target = self.routes.canonical(method, target);
            if target.path() != before {
                break;
            }
        }
        Ok(target)
    }

    /// What the policy file says that is valid but unsafe (a limit partitioned by what a
    /// client spells freely), each with its file, line and column: `check-config` prints them,
    /// `serve` logs them.
    #[must_use]
    pub fn warnings(&self) -> &[crate::ConfigError] {
        &self.warnings
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

    /// Whether `peer` is one of `identity.trusted_proxies` (an IPv4-mapped IPv6 address, as a
    /// dual-stack listener sees IPv4 peers, as its IPv4 address).
    #[must_use]
    pub fn trusts(&self, peer: std::net::IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.identity
            .trusted_proxies
            .iter()
            .any(|net| net.contains(&peer))
    }

    /// The client's address: the peer's, or when the peer is a trusted proxy, the last address
    /// in `X-Forwarded-For` that is not one; IPv4-mapped IPv6 addresses as IPv4 ones.
    #[must_use]
    pub fn client_ip(
        &self,
        peer: std::net::IpAddr,
        forwarded_for: Option<&str>,
    ) -> std::net::IpAddr {
        let peer = peer.to_canonical();
        let trusted = |ip: &std::net::IpAddr| self.trusts(*ip);
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
                    .map(|ip| ip.to_canonical())
            })
            .find(|ip| !trusted(ip))
            .unwrap_or(peer)
    }

    /// The zone account `id` (of the policy file, or of `directory`) sees its times and counts
    /// its days in: its own, else the policy's default (the zone of the first calendar-aligned
    /// window, else UTC); `None` for an account there is not.
    #[must_use]
    pub fn account_zone(
        &self,
        directory: Option<&Directory>,
        id: &str,
    ) -> Option<jiff::tz::TimeZone> {
        let account = self
            .accounts
            .iter()
            .chain(
                directory
                    .into_iter()
                    .flat_map(|directory| &directory.accounts),
            )
            .find(|account| &*account.id == id)?;
        Some(
            account
                .time_zone
                .clone()
                .unwrap_or_else(|| self.default_zone.clone()),
        )
    }

    /// The zone of accounts that name none: the first calendar-aligned window's, else UTC.
    #[must_use]
    pub fn default_zone(&self) -> &jiff::tz::TimeZone {
        &self.default_zone
    }

    /// Where this policy reads an API key `key` from, as a request would carry it: a header
    /// (`("x-api-key", key)`, `("authorization", "Bearer …")`) or, with `in_query`, the query
    /// parameter that carries keys (`?api_key=`, or `?access_token=` where a bearer token is
    /// also read there). `None` when the policy reads no keys. A replay presents an access
    /// log's accounts so.
    #[must_use]
    pub fn key_carrier(&self, key: &str, in_query: bool) -> Option<KeyCarrier> {
        match self.identity.api_key.as_ref()? {
            crate::directory::KeySource::Header(name) => {
                Some(KeyCarrier::Header(name.clone(), key.to_owned()))
            }
            crate::directory::KeySource::Bearer { access_token }
                if !(in_query && *access_token) =>
            {
                Some(KeyCarrier::Header(
                    "authorization".to_owned(),
                    format!("Bearer {key}"),
                ))
            }
            crate::directory::KeySource::Bearer { .. } => {
                Some(KeyCarrier::Query("access_token".to_owned(), key.to_owned()))
            }
            crate::directory::KeySource::Query(name) => {
                Some(KeyCarrier::Query(name.clone(), key.to_owned()))
            }
        }
    }

    /// The query parameter this policy reads API keys from, if any (`access_token` where a
    /// bearer token is also read there).
    #[must_use]
    pub fn key_parameter(&self) -> Option<&str> {
        match self.identity.api_key.as_ref()? {
            crate::directory::KeySource::Query(name) => Some(name),
            crate::directory::KeySource::Bearer { access_token: true } => Some("access_token"),
            _ => None,
        }
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
            let Some(hash) = crate::secret::parse_sha256(&entry.key_sha256) else {
                continue;
            };
            // A replay's stand-in key for an account of the file is that account's, on the
            // file's numbers; a catalog key for an account of the file is left out.
            if let Some(index) = self
                .accounts
                .iter()
                .position(|account| *account.id == *entry.account)
            {
                if entry.stand_in {
                    directory.file_keys.insert(hash, index);
                }
                continue;
            }
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
                    time_zone: entry
                        .time_zone
                        .as_deref()
                        .and_then(|name| jiff::tz::TimeZone::get(name).ok()),
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
    pub fn numbers_of(&self, limit: &Limit, numbers: &Numbers) -> Result<Algorithm, BadNumbers> {
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
        let found = self.packs.iter().position(|pack| pack.name == *name);
        if found.is_none() {
            unknown.push(name.clone());
        }
        found.map(|index| (index, *until))
    }

    /// The accounts the policy file defines, in order of id, as the admin API shows them.
    #[must_use]
    pub fn file_accounts(&self) -> Vec<FileAccount> {
        let mut accounts: Vec<FileAccount> = self
            .accounts
            .iter()
            .enumerate()
            .map(|(index, account)| {
                let mut key_sha256: Vec<String> = self
                    .keys
                    .iter()
                    .filter(|(_, owner)| **owner == index)
                    .map(|(digest, _)| digest.iter().map(|byte| format!("{byte:02x}")).collect())
                    .collect();
                key_sha256.sort_unstable();
                FileAccount {
                    id: account.id.to_string(),
                    plan: account.plan.map(|plan| self.plans[plan].to_string()),
                    company: account.company.clone(),
                    time_zone: account
                        .time_zone
                        .as_ref()
                        .and_then(|zone| zone.iana_name())
                        .map(str::to_owned),
                    key_sha256,
                }
            })
            .collect();
        accounts.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        accounts
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
        self.pack(name).map(|pack| pack.period)
    }

    /// A pack by name: what a purchase costs, if the policy defines the pack and gives it a
    /// `price`.
    #[must_use]
    pub fn pack_price(&self, name: &str) -> Option<tollgate_core::Price> {
        self.pack(name).and_then(|pack| pack.price)
    }

    fn pack(&self, name: &str) -> Option<&Pack> {
        self.packs.iter().find(|pack| pack.name == name)
    }

    /// The names of the packs, in file order.
    pub fn packs(&self) -> impl Iterator<Item = &str> {
        self.packs.iter().map(|pack| pack.name.as_str())
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

#[derive(Debug, Default)]
pub(crate) struct Routes {
    pub(crate) by_method: HashMap<String, matchit::Router<usize>>,
    pub(crate) any_method: matchit::Router<usize>,
    pub(crate) routes: Vec<Route>,
    /// Whether some route types a parameter.
    pub(crate) typed: bool,
}

impl Routes {
    /// The route for `method` (as [`routed_method`] gives it) and a canonical path, with the
    /// path's parameters, whatever their types say.
    pub(crate) fn matched<'r>(
        &'r self,
        method: &str,
        path: &'r str,
    ) -> Option<(usize, matchit::Params<'r, 'r>)> {
        let found = self
            .by_method
            .get(method)
            .and_then(|router| router.at(path).ok())
            .or_else(|| self.any_method.at(path).ok())?;
        Some((*found.value, found.params))
    }

    /// `target` with the values of its route's typed parameters in their canonical form
    /// (`/circuits/007` → `/circuits/7`); a value that is not of its type is left as it is,
    /// and the route does not match it.
    pub(crate) fn canonical<'a>(&self, method: &str, mut target: Target<'a>) -> Target<'a> {
        // Most policies type nothing: then no second lookup.
        if !self.typed {
            return target;
        }
        // With `paths.case_insensitive`, the forwarded path keeps the client's case: a typed
        // value is forwarded in its canonical form all the same.
        let cased = target.is_cased();
        let rewrites: SmallVec<[(usize, String); 2]> = {
            let path = target.path();
            let Some((index, params)) = self.matched(method, path) else {
                return target;
            };
            self.routes[index]
                .typed
                .iter()
                .filter_map(|(name, ty)| {
                    let value = params.get(name)?;
                    match ty.canonical(value)? {
                        Cow::Owned(canonical) => Some((segment_of(path, value), canonical)),
                        Cow::Borrowed(value) if cased => {
                            Some((segment_of(path, value), value.to_owned()))
                        }
                        Cow::Borrowed(_) => None,
                    }
                })
                .collect()
        };
        if !rewrites.is_empty() {
            target.rewrite_segments(&rewrites);
        }
        target
    }
}

/// The index of the `/`-separated segment of `path` that `value` (a whole segment, borrowed
/// from `path`) is: 1 for the first after the root.
fn segment_of(path: &str, value: &str) -> usize {
    let offset = (value.as_ptr() as usize).saturating_sub(path.as_ptr() as usize);
    debug_assert!(
        offset > 0 && offset + value.len() <= path.len(),
        "a route parameter is a slice of the path it was matched in"
    );
    path.as_bytes()[..offset.min(path.len())]
        .iter()
        .filter(|&&byte| byte == b'/')
        .count()
}

/// The method routes and limits see: upper case, and `HEAD` as `GET` (RFC 9110 §9.3.2: a
/// server answers HEAD with its GET handler, so HEAD spends what GET spends).
pub(crate) fn routed_method(method: &str) -> Cow<'_, str> {
    if method.eq_ignore_ascii_case("HEAD") {
        Cow::Borrowed("GET")
    } else if method.bytes().any(|byte| byte.is_ascii_lowercase()) {
        Cow::Owned(method.to_ascii_uppercase())
    } else {
        Cow::Borrowed(method)
    }
}

#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) api: usize,
    pub(crate) cost: u32,
    pub(crate) exempt: bool,
    /// Typed path parameters, by name: a value not in its canonical form does not match.
    pub(crate) typed: Vec<(String, crate::param::ParamType)>,
}

/// An account the policy file defines (see [`Policy::file_accounts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileAccount {
    /// Its id.
    pub id: String,
    /// Its plan, by name, if it names one.
    pub plan: Option<String>,
    /// Its company, if it names one.
    pub company: Option<String>,
    /// Its IANA time zone, if it names one.
    pub time_zone: Option<String>,
    /// The SHA-256 of each of its keys, in hex, in order.
    pub key_sha256: Vec<String>,
}

/// Where a request carries an API key (see [`Policy::key_carrier`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCarrier {
    /// A header: its name and value.
    Header(String, String),
    /// A query parameter: its name and value.
    Query(String, String),
}
