//! Request headers as the policy reads them: one lookup that says when a header cannot be read
//! one way only, and the `X-Forwarded-For` chain.

use axum::http::HeaderMap;
use tollgate_policy::{HeaderLookup, Headers, is_header_text, same_header};

/// Request headers seen through the policy's lookup.
#[derive(Debug)]
pub struct HttpHeaders<'a> {
    map: &'a HeaderMap,
    /// Whether some header name has a `_`: only then are names compared with `_` for `-`.
    underscored: bool,
}

impl<'a> HttpHeaders<'a> {
    /// The headers of `map`.
    #[must_use]
    pub fn new(map: &'a HeaderMap) -> Self {
        let underscored = map.keys().any(|name| name.as_str().contains('_'));
        Self { map, underscored }
    }
}

impl Headers for HttpHeaders<'_> {
    /// One pass over the request's few headers, comparing names (lower case in a `HeaderMap`)
    /// without hashing them: cheaper than the map's lookup for the handful a request has.
    fn lookup(&self, name: &str) -> HeaderLookup<'_> {
        // The same header with `_` for `-` is this one to a CGI-style server: two values then.
        let aliases = self.underscored || name.contains('_');
        let mut found = None;
        let mut count = 0;
        for (key, value) in self.map {
            let key = key.as_str();
            if key == name {
                found = Some(value);
                count += 1;
            } else if aliases && same_header(key, name) {
                count += 2;
            }
        }
        match (found, count) {
            (None, 0) => HeaderLookup::Absent,
            (Some(value), 1) => match value.to_str() {
                Ok(text) if is_header_text(value.as_bytes()) => HeaderLookup::One(text),
                _ => HeaderLookup::NotText,
            },
            _ => HeaderLookup::Repeated,
        }
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
