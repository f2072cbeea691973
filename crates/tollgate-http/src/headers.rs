//! Request headers as the policy reads them: one lookup that says when a header cannot be read
//! one way only, and the `X-Forwarded-For` chain.

use axum::http::HeaderMap;
use tollgate_policy::{HeaderLookup, Headers, lookup_header};

/// Request headers seen through the policy's lookup.
#[derive(Debug)]
pub struct HttpHeaders<'a> {
    map: &'a HeaderMap,
}

impl<'a> HttpHeaders<'a> {
    /// The headers of `map`.
    #[must_use]
    pub fn new(map: &'a HeaderMap) -> Self {
        Self { map }
    }
}

impl Headers for HttpHeaders<'_> {
    /// The policy's one rule ([`lookup_header`]) over the request's few headers, compared
    /// without hashing: cheaper than the map's lookup for the handful a request has.
    fn lookup(&self, name: &str) -> HeaderLookup<'_> {
        lookup_header(
            self.map
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_bytes())),
            name,
        )
    }
}

/// Every `X-Forwarded-For` line, in order, as one comma-separated chain.
pub fn forwarded_for(headers: &HeaderMap) -> Option<String> {
    let mut lines = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok());
    let first = lines.next()?;
    let mut chain = first.to_owned();
    for line in lines {
        chain.push_str(", ");
        chain.push_str(line);
    }
    Some(chain)
}
