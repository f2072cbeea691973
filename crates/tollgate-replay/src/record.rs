//! One request read from a log line: [`Record`], reused from line to line so that reading a
//! log allocates only when a line is longer than any before it, and its headers
//! ([`LogHeaders`]) seen through the policy's one [`Headers`] lookup.

use std::net::IpAddr;

use tollgate_core::Nanos;
use tollgate_policy::{HeaderLookup, Headers, lookup_header};

/// A request as a log line tells it.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// When it was received, by the log, ns since the epoch.
    pub at: Nanos,
    /// The method, e.g. `GET`.
    pub method: String,
    /// The request target as received: path and query.
    pub path: String,
    /// The request headers the log kept.
    pub headers: LogHeaders,
    /// The client's address, when the log has one.
    pub client_ip: Option<IpAddr>,
    /// The upstream's status, when the log has one: refunds are applied for it.
    pub status: Option<u16>,
    /// Whose request it was, where the log names the account instead of a key (Tollgate's own
    /// access log): the replay presents a stand-in key for it.
    pub account: Option<String>,
    /// The log says the request carried a key no account has (Tollgate's access log).
    pub unknown_key: bool,
    /// A combined-format line ends in one more quoted field after the user agent, not `-`,
    /// and no `--key-header` says which header it stands for: most likely the API key, unread.
    pub unread_key_field: bool,
}

impl Record {
    /// Empties the record for the next line, keeping its buffers.
    pub fn clear(&mut self) {
        self.at = 0;
        self.method.clear();
        self.path.clear();
        self.headers.clear();
        self.client_ip = None;
        self.status = None;
        self.account = None;
        self.unknown_key = false;
        self.unread_key_field = false;
    }
}

/// Header names and values, their buffers kept for the next line.
#[derive(Debug, Clone, Default)]
pub struct LogHeaders {
    pairs: Vec<(String, String)>,
    used: usize,
}

impl LogHeaders {
    /// Forgets every header, keeping the buffers.
    pub fn clear(&mut self) {
        self.used = 0;
    }

    /// Adds the header `name` with `value`.
    pub fn push(&mut self, name: &str, value: &str) {
        if self.used == self.pairs.len() {
            self.pairs.push((String::new(), String::new()));
        }
        let (slot_name, slot_value) = &mut self.pairs[self.used];
        slot_name.clear();
        slot_name.push_str(name);
        slot_value.clear();
        slot_value.push_str(value);
        self.used += 1;
    }

    /// The headers, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs[..self.used]
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }
}

/// The server's one rule ([`lookup_header`]): a header sent twice, or under a name with `_`
/// for `-` beside the other spelling, is never read one way.
impl Headers for LogHeaders {
    fn lookup(&self, name: &str) -> HeaderLookup<'_> {
        lookup_header(
            self.iter().map(|(key, value)| (key, value.as_bytes())),
            name,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_read_as_the_server_reads_them() {
        let mut headers = LogHeaders::default();
        headers.push("X-Api-Key", "k1");
        assert_eq!(headers.lookup("x-api-key"), HeaderLookup::One("k1"));
        headers.push("X_Api_Key", "k2");
        assert_eq!(headers.lookup("x-api-key"), HeaderLookup::Repeated);
        headers.clear();
        assert_eq!(headers.lookup("x-api-key"), HeaderLookup::Absent);
        headers.push("x-api-key", "k3");
        assert_eq!(headers.lookup("x-api-key"), HeaderLookup::One("k3"));
        assert_eq!(headers.iter().count(), 1);
    }
}
