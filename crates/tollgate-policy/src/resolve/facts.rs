//! What an adapter knows about a request: [`RequestFacts`], and its headers seen through one
//! lookup that says when a header cannot be read one way only.

use std::net::IpAddr;

use crate::path::Target;

/// What a request says in one header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderLookup<'a> {
    /// The header is not there.
    Absent,
    /// The header is there once, as text.
    One(&'a str),
    /// The header is there more than once.
    Repeated,
    /// The header is there once, but not as text (see [`is_header_text`]).
    NotText,
}

/// Whether a header value is text: visible ASCII, spaces and tabs.
#[must_use]
pub fn is_header_text(value: &[u8]) -> bool {
    value
        .iter()
        .all(|&byte| byte == b'\t' || (0x20..0x7F).contains(&byte))
}

/// Request headers, looked up by lower-case name.
pub trait Headers {
    /// The header `name` (given in lower case).
    fn lookup(&self, name: &str) -> HeaderLookup<'_>;

    /// The value of the header `name` (given in lower case) when it is there once, as text.
    fn get(&self, name: &str) -> Option<&str> {
        match self.lookup(name) {
            HeaderLookup::One(value) => Some(value),
            _ => None,
        }
    }
}

/// Whether a header called `sent` is the header `name` (lower case) to some server: the same
/// name in any case, or with `_` and `-` swapped (CGI and WSGI servers read both as one).
#[must_use]
pub fn same_header(sent: &str, name: &str) -> bool {
    sent.len() == name.len()
        && sent.bytes().zip(name.bytes()).all(|(sent, name)| {
            sent.to_ascii_lowercase() == name
                || (sent == b'_' && name == b'-')
                || (sent == b'-' && name == b'_')
        })
}

impl Headers for [(&str, &str)] {
    fn lookup(&self, name: &str) -> HeaderLookup<'_> {
        let mut found = self.iter().filter(|(key, _)| same_header(key, name));
        // Spelled with `_` for `-` (or back), it is this header to some servers only: never
        // read one way.
        let aliased = || {
            self.iter()
                .any(|(key, _)| !key.eq_ignore_ascii_case(name) && same_header(key, name))
        };
        match (found.next(), found.next()) {
            (None, _) => HeaderLookup::Absent,
            (Some(_), Some(_)) => HeaderLookup::Repeated,
            (Some(_), None) if aliased() => HeaderLookup::Repeated,
            (Some(&(_, value)), None) if is_header_text(value.as_bytes()) => {
                HeaderLookup::One(value)
            }
            (Some(_), None) => HeaderLookup::NotText,
        }
    }
}

/// What every adapter (gateway, check API, forward-auth, tower layer) knows about a request.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a, H: Headers + ?Sized> {
    /// The method, e.g. `GET`.
    pub method: &'a str,
    /// The path in its canonical form and the query as received (see [`Target`]).
    pub target: &'a Target<'a>,
    /// The request headers.
    pub headers: &'a H,
    /// The client's address, when known.
    pub client_ip: Option<IpAddr>,
    /// Units to take instead of the route's cost.
    pub cost: Option<u32>,
    /// Whether the request came from one of `identity.trusted_proxies` (the connection's peer,
    /// or the caller of the check API or forward-auth): headers that choose whose bucket is
    /// spent (`identity.company_header`) are believed only then.
    pub from_trusted_proxy: bool,
}
