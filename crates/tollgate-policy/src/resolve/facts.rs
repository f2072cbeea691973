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

/// The header `name` (lower case) among `headers` (each a name as sent and its raw value), read
/// by the one rule every reader of requests follows (the server's HTTP edge, the check API,
/// Envoy's descriptors, a replayed log): absent; there once, as text; there once but not as
/// text; or there more than once — under the same name in any case, or under a spelling with
/// `_` for `-` (or back), which CGI-style servers read as the same header and which is so
/// never read one way of two.
pub fn lookup_header<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    name: &str,
) -> HeaderLookup<'a> {
    let mut found = None;
    let mut count = 0_usize;
    for (key, value) in headers {
        if key.eq_ignore_ascii_case(name) {
            found = Some(value);
            count += 1;
        } else if same_header(key, name) {
            count += 2;
        }
    }
    match (found, count) {
        (None, 0) => HeaderLookup::Absent,
        (Some(value), 1) => match std::str::from_utf8(value) {
            Ok(text) if is_header_text(value) => HeaderLookup::One(text),
            _ => HeaderLookup::NotText,
        },
        _ => HeaderLookup::Repeated,
    }
}

impl Headers for [(&str, &str)] {
    fn lookup(&self, name: &str) -> HeaderLookup<'_> {
        lookup_header(
            self.iter().map(|&(key, value)| (key, value.as_bytes())),
            name,
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_is_read_one_way_or_not_at_all() {
        fn look<'a>(headers: &[(&'a str, &'a [u8])], name: &str) -> HeaderLookup<'a> {
            lookup_header(headers.iter().copied(), name)
        }
        assert_eq!(look(&[], "x-api-key"), HeaderLookup::Absent);
        assert_eq!(
            look(&[("X-Api-Key", b"k")], "x-api-key"),
            HeaderLookup::One("k")
        );
        for twice in [
            &[("x-api-key", &b"a"[..]), ("X-API-KEY", b"b")][..],
            &[("x-api-key", b"a"), ("x_api_key", b"b")],
            &[("X_Api_Key", b"a")],
            &[("x-api-key", b""), ("x-api-key", b"a")],
        ] {
            assert_eq!(
                look(twice, "x-api-key"),
                HeaderLookup::Repeated,
                "{twice:?}"
            );
        }
        assert_eq!(
            look(&[("x-api-key", b"caf\xc3\xa9")], "x-api-key"),
            HeaderLookup::NotText
        );
        assert_eq!(
            look(&[("x-api-key", b"a\tb")], "x-api-key"),
            HeaderLookup::One("a\tb")
        );
    }
}
