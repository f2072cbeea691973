//! Who a request comes from, read one way only: the API key (header, bearer token or query
//! parameter), the app and its secret, the company, and method overrides. A request that can
//! be read two ways is refused, never read one way of two.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;
use subtle::ConstantTimeEq;

use super::facts::{HeaderLookup, Headers, RequestFacts};
use crate::model::WrongSecret;
use crate::policy::{Account, Directory, KeySource, Policy};
use crate::secret::digest;

/// Headers by which frameworks let a request claim another method than its own.
pub(crate) const METHOD_OVERRIDES: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Why a request with two API keys is refused.
const REPEATED_KEY: &str = "the API key is sent more than once";

/// The query parameter of a bearer token (RFC 6750 §2.3).
const ACCESS_TOKEN: &str = "access_token";

/// Why a request with a bearer token in its query is refused where the policy does not read it.
const QUERY_TOKEN: &str = "the bearer token is read from Authorization only: an access_token query parameter is refused (identity.api_key.access_token = true reads it)";

/// Why a request with a bearer token in its header and its query is refused.
const TWO_TOKENS: &str =
    "the bearer token is sent both in Authorization and as the access_token query parameter";

/// The method a query claims with `_method` (Express, Symfony, Laravel), if any.
pub(crate) fn query_method(query: Option<&str>) -> Option<Cow<'_, str>> {
    query?.split(['&', ';']).find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(name) == "_method").then(|| form_decode(value))
    })
}

/// A query name or value as a form decodes it: `+` is a space, `%XX` a byte (lossy UTF-8).
fn form_decode(text: &str) -> Cow<'_, str> {
    if !text.contains(['+', '%']) {
        return Cow::Borrowed(text);
    }
    let spaced = text.replace('+', " ");
    Cow::Owned(percent_decode_str(&spaced).decode_utf8_lossy().into_owned())
}

impl Policy {
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
    ) -> Option<(Option<usize>, &'p Account)> {
        if let Some(&index) = self.keys.get(hash) {
            return Some((Some(index), &self.accounts[index]));
        }
        let directory = directory?;
        if let Some(&index) = directory.file_keys.get(hash) {
            return Some((Some(index), &self.accounts[index]));
        }
        Some((None, &directory.accounts[*directory.keys.get(hash)?]))
    }

    /// The company a request names in `identity.company_header`, if the policy reads one and
    /// the request came from a trusted proxy: from anyone else the header would let a client
    /// split its own buckets or spend another customer's.
    pub(crate) fn header_company<'a, H: Headers + ?Sized>(
        &self,
        facts: &RequestFacts<'a, H>,
    ) -> Option<&'a str> {
        let header = self.identity.company_header.as_ref()?;
        if !facts.from_trusted_proxy {
            return None;
        }
        facts.headers.get(header)
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
            KeySource::Bearer { access_token } => {
                let header =
                    facts.headers.get("authorization").and_then(
                        |authorization| match authorization.trim().split_once([' ', '\t']) {
                            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                                Some(Cow::Borrowed(token))
                            }
                            _ => None,
                        },
                    );
                // RFC 6750 §2.3: the token may come as the `access_token` query parameter,
                // which an upstream reads too: read where the policy says so, else refused.
                match (header, query_key(facts.target.query(), ACCESS_TOKEN)?) {
                    (_, Some(_)) if !access_token => return Err(QUERY_TOKEN),
                    (Some(_), Some(_)) => return Err(TWO_TOKENS),
                    (Some(token), None) | (None, Some(token)) => token,
                    (None, None) => return Ok(None),
                }
            }
            KeySource::Query(name) => match query_key(facts.target.query(), name)? {
                Some(key) => key,
                None => return Ok(None),
            },
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
    pub(crate) fn app<'p, H: Headers + ?Sized>(
        &'p self,
        directory: Option<&'p Directory>,
        facts: &RequestFacts<'_, H>,
    ) -> Result<Option<&'p crate::Name>, &'static str> {
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
            (Some(id), _) => Ok(Some(id)),
            (None, WrongSecret::Ignore) => Ok(None),
            (None, WrongSecret::Refuse) => Err("unknown app or wrong app secret"),
        }
    }
}

/// The API key in query parameter `name`, or why it cannot be read one way only.
fn query_key<'r>(query: Option<&'r str>, name: &str) -> Result<Option<Cow<'r, str>>, &'static str> {
    // Some parsers also split on `;`, or read `name[]` as `name`: a key found one of those
    // ways is refused, not read one way of two.
    let query = query.unwrap_or_default();
    let name_of = |pair: &'r str| form_decode(pair.split_once('=').map_or(pair, |(key, _)| key));
    // PHP also reads `api.key`, `api key` and `api[key` as `api_key`, and ASP.NET reads names
    // in any case.
    let spelled = |sent: &str| {
        sent != name
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
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('['))
    });
    let in_parameter = query
        .split('&')
        .flat_map(|pair| pair.split(';').skip(1))
        .any(|piece| name_of(piece) == name);
    if aliased || in_parameter {
        return Err(REPEATED_KEY);
    }
    let mut values = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .filter(|(key, _)| form_decode(key) == name)
        .map(|(_, value)| value);
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(_), Some(_)) => Err(REPEATED_KEY),
        (Some(value), None) => Ok(Some(form_decode(value))),
    }
}
