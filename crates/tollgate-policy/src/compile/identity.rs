//! Identities: where keys and apps come from, the accounts and apps of the file.

use std::collections::{HashMap, HashSet};

use toml::Spanned;

use super::read::Defined;
use super::{Compiler, known};
use crate::model::PolicyFile;
use crate::policy::{Account, AppSource, Identity, KeySource};
use crate::secret::{digest, parse_sha256};

impl Compiler<'_> {
    pub(super) fn identity(&mut self, file: &PolicyFile) -> Identity {
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
                given.push(KeySource::Bearer {
                    access_token: config.access_token,
                });
            } else if config.access_token {
                self.fail(
                    source.span(),
                    "identity.api_key.access_token reads a bearer token: it needs `bearer = true`",
                );
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

    pub(super) fn accounts(
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
                    self.fail_undefined(
                        Defined::Plan,
                        plan.get_ref(),
                        plan.span(),
                        format!("`{}` is not a plan: {}", plan.get_ref(), known(plans)),
                    );
                }
                found
            });
            if account
                .keys
                .iter()
                .any(|key| key.is_empty() || !key.bytes().all(|byte| byte.is_ascii_graphic()))
            {
                self.fail(
                    spanned.span(),
                    format!(
                        "account `{}` has a key that is not visible ASCII (or is empty): requests could never send it",
                        account.id.get_ref()
                    ),
                );
            }
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
            let time_zone = account.time_zone.as_ref().and_then(|name| {
                let zone = jiff::tz::TimeZone::get(name.get_ref()).ok();
                if zone.is_none() {
                    self.fail(
                        name.span(),
                        format!(
                            "`{}` is not an IANA time zone (e.g. Europe/Berlin, Asia/Shanghai)",
                            name.get_ref()
                        ),
                    );
                }
                zone
            });
            accounts.push(Account {
                id: account.id.get_ref().as_str().into(),
                plan,
                company: account.company.clone(),
                pack: None,
                overrides: HashMap::new(),
                time_zone,
            });
        }
        (accounts, keys)
    }

    pub(super) fn apps(&mut self, file: &PolicyFile) -> HashMap<String, [u8; 32]> {
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

    /// An address or CIDR.
    pub(super) fn network(&mut self, text: &Spanned<String>) -> Option<ipnet::IpNet> {
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
}
