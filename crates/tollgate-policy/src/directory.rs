//! Who a request can come from: how the policy reads identity, the accounts of the file and
//! those kept outside it (the catalog's [`Directory`], which
//! [`Policy::directory`](crate::Policy::directory) binds to the policy's plans, packs and
//! limits).

use std::collections::HashMap;

use tollgate_core::Algorithm;

use crate::Name;
use crate::model::WrongSecret;

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
    /// `Authorization: Bearer`, and the `access_token` query parameter when it is read.
    Bearer {
        access_token: bool,
    },
}

#[derive(Debug)]
pub(crate) struct AppSource {
    /// Lower-case header names.
    pub(crate) id_header: String,
    pub(crate) secret_header: String,
    pub(crate) wrong_secret: WrongSecret,
}

/// Accounts and keys kept outside the policy file (the catalog), bound to a policy's plans:
/// see [`Policy::directory`](crate::Policy::directory). Keys in the file win over keys here.
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
    /// Keys kept outside the file for accounts of the file (a replay's stand-in keys):
    /// SHA-256 → account index in the file.
    pub(crate) file_keys: HashMap<[u8; 32], usize>,
}

impl Directory {
    /// Adds registered apps (id, SHA-256 of the secret in hex); the policy file's win.
    pub fn add_apps(&mut self, apps: impl IntoIterator<Item = (String, String)>) {
        for (id, hash) in apps {
            if let Some(hash) = crate::secret::parse_sha256(&hash) {
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
    /// The IANA zone its times are shown and its days counted in; `None`: the policy's.
    pub time_zone: Option<String>,
    /// A replay's stand-in key for an account of the policy file, bound to the file's account.
    /// A catalog key is never: the key of a catalog account that the file came to define later
    /// is left out (it would be unlisted and unrevocable).
    pub stand_in: bool,
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
    /// The zone its times are shown and its days counted in, if it names one.
    pub(crate) time_zone: Option<jiff::tz::TimeZone>,
}
