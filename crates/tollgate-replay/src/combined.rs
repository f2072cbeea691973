//! nginx's and Apache's combined log format, with the API key as an extra quoted field:
//!
//! ```text
//! log_format tollgate '$remote_addr - $remote_user [$time_local] "$request" $status '
//!                     '$body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_api_key"';
//! ```
//!
//! (Apache: `LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"
//! \"%{X-Api-Key}i\"" tollgate`.) With `key_header` set (`--key-header X-Api-Key`), the last
//! quoted field after the user agent is that header's value; `-` or an empty field means the
//! request had none; without `key_header`, a last field with a value is noted
//! ([`Record::unread_key_field`]) so that the report can say the keys went unread. The user
//! agent and referer are given as headers too. Escapes inside quoted fields (`\"`, nginx's
//! `\x22`) are kept as written, never decoded.
//!
//! A request line of `-` (or empty) is a connection that sent no request: nginx's own
//! `"-" 400` for a client that connected and sent nothing (or too little), Apache's `"-" 408`
//! for one that timed out. Such a line is [`Entry::NoRequest`], not malformed.

use crate::record::Record;
use crate::source::Entry;
use crate::time;

/// Reads one combined-format line into `record`, the last extra quoted field as the header
/// `key_header` when set.
///
/// # Errors
/// What is wrong with the line, in words.
pub fn parse(line: &str, key_header: Option<&str>, record: &mut Record) -> Result<Entry, String> {
    let (address, rest) = line
        .split_once(' ')
        .ok_or("not a combined log line: no client address")?;
    record.client_ip = address.parse().ok();
    let open = rest.find('[').ok_or("no [time]")?;
    let close = rest[open..].find(']').ok_or("no end to [time]")? + open;
    let when = &rest[open + 1..close];
    record.at = time::parse_clf(when).ok_or_else(|| format!("`{when}` is not a log time"))?;
    let mut fields = Fields(rest[close + 1..].trim_start());
    let request = fields.quoted().ok_or("no quoted request")?;
    if request.is_empty() || request == "-" {
        let status = fields.word().ok_or("no status")?;
        status
            .parse::<u16>()
            .map_err(|_| format!("`{status}` is not a status"))?;
        return Ok(Entry::NoRequest);
    }
    let mut words = request.split(' ');
    let (Some(method), Some(target)) = (words.next(), words.next()) else {
        return Err(format!("`{request}` is not a request line"));
    };
    if method.is_empty() || !target.starts_with('/') {
        return Err(format!("`{request}` is not a request line"));
    }
    record.method.push_str(method);
    record.path.push_str(target);
    let status = fields.word().ok_or("no status")?;
    record.status = Some(
        status
            .parse()
            .map_err(|_| format!("`{status}` is not a status"))?,
    );
    fields.word().ok_or("no byte count")?;
    let mut quoted: [Option<&str>; 8] = [None; 8];
    let mut count = 0;
    while let Some(field) = fields.quoted() {
        if count == quoted.len() {
            return Err("too many quoted fields".to_owned());
        }
        quoted[count] = Some(field);
        count += 1;
    }
    if !fields.0.trim().is_empty() {
        return Err(format!(
            "unexpected `{}` after the quoted fields",
            fields.0.trim()
        ));
    }
    if let Some(referer) = present(quoted[0]) {
        record.headers.push("Referer", referer);
    }
    if let Some(agent) = present(quoted[1]) {
        record.headers.push("User-Agent", agent);
    }
    match key_header {
        Some(name) => {
            if count < 3 {
                return Err(format!("no field after the user agent for {name}"));
            }
            if let Some(key) = present(quoted[count - 1]) {
                record.headers.push(name, key);
            }
        }
        None => record.unread_key_field = count >= 3 && present(quoted[count - 1]).is_some(),
    }
    Ok(Entry::Request)
}

/// A field's value, unless empty or `-`.
fn present(value: Option<&str>) -> Option<&str> {
    value.filter(|value| !value.is_empty() && *value != "-")
}

/// What is left of a line: words and quoted fields, separated by spaces.
struct Fields<'a>(&'a str);

impl<'a> Fields<'a> {
    /// The next field if it is quoted, without its quotes (a `\"` inside does not end it).
    fn quoted(&mut self) -> Option<&'a str> {
        let rest = self.0.strip_prefix('"')?;
        let bytes = rest.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            match bytes[at] {
                b'\\' => at += 2,
                b'"' => {
                    self.0 = rest[at + 1..].trim_start();
                    return Some(&rest[..at]);
                }
                _ => at += 1,
            }
        }
        None
    }

    /// The next unquoted word.
    fn word(&mut self) -> Option<&'a str> {
        if self.0.is_empty() || self.0.starts_with('"') {
            return None;
        }
        let (word, rest) = self.0.split_once(' ').unwrap_or((self.0, ""));
        self.0 = rest.trim_start();
        Some(word)
    }
}

#[cfg(test)]
mod tests {
    use tollgate_policy::{HeaderLookup, Headers};

    use super::*;

    const LINE: &str = r#"203.0.113.9 - - [29/Mar/2026:01:59:59 +0100] "GET /hello/bob?x=1 HTTP/1.1" 200 12 "-" "curl/8 \"x\"" "alice-key""#;

    #[test]
    fn the_key_is_the_last_quoted_field() {
        let mut record = Record::default();
        parse(LINE, Some("X-Api-Key"), &mut record).unwrap();
        assert_eq!(record.at, 1_774_745_999_000_000_000);
        assert_eq!((&*record.method, &*record.path), ("GET", "/hello/bob?x=1"));
        assert_eq!(record.status, Some(200));
        assert_eq!(record.client_ip, Some("203.0.113.9".parse().unwrap()));
        assert_eq!(
            record.headers.lookup("x-api-key"),
            HeaderLookup::One("alice-key")
        );
        assert_eq!(
            record.headers.lookup("user-agent"),
            HeaderLookup::One(r#"curl/8 \"x\""#)
        );
        assert_eq!(record.headers.lookup("referer"), HeaderLookup::Absent);
    }

    #[test]
    fn without_the_flag_the_field_is_ignored_and_a_dash_is_no_key() {
        let mut record = Record::default();
        parse(LINE, None, &mut record).unwrap();
        assert_eq!(record.headers.lookup("x-api-key"), HeaderLookup::Absent);
        assert!(record.unread_key_field);
        let anonymous = LINE.replace("\"alice-key\"", "\"-\"");
        let mut record = Record::default();
        parse(&anonymous, Some("X-Api-Key"), &mut record).unwrap();
        assert_eq!(record.headers.lookup("x-api-key"), HeaderLookup::Absent);
        let mut record = Record::default();
        parse(&anonymous, None, &mut record).unwrap();
        assert!(!record.unread_key_field, "a `-` is no key to miss");
        let plain = LINE.replace(" \"alice-key\"", "");
        let mut record = Record::default();
        parse(&plain, None, &mut record).unwrap();
        assert!(!record.unread_key_field, "the user agent is no key");
    }

    #[test]
    fn a_connection_that_sent_no_request_is_no_request() {
        for line in [
            r#"198.51.100.4 - - [29/Mar/2026:01:59:59 +0100] "-" 400 0 "-" "-""#,
            r#"198.51.100.4 - - [29/Mar/2026:01:59:59 +0100] "-" 400 0 "-" "-" "-""#,
            r#"198.51.100.4 - - [29/Mar/2026:01:59:59 +0100] "" 400 150 "-" "-""#,
            r#"198.51.100.4 - - [29/Mar/2026:01:59:59 +0100] "-" 408 - "-" "-""#,
        ] {
            let mut record = Record::default();
            assert_eq!(
                parse(line, Some("X-Api-Key"), &mut record),
                Ok(Entry::NoRequest),
                "{line}"
            );
        }
        let mut record = Record::default();
        let no_time = r#"198.51.100.4 - - [someday] "-" 400 0 "-" "-""#;
        assert!(parse(no_time, None, &mut record).is_err());
        let no_status = r#"198.51.100.4 - - [29/Mar/2026:01:59:59 +0100] "-" bad 0"#;
        assert!(parse(no_status, None, &mut record).is_err());
    }

    #[test]
    fn broken_lines_say_why() {
        let mut record = Record::default();
        let plain = r#"1.2.3.4 - - [29/Mar/2026:01:59:59 +0100] "GET / HTTP/1.1" 200 12 "-" "ua""#;
        assert!(parse(plain, Some("X-Api-Key"), &mut record).is_err());
        for broken in [
            "",
            "1.2.3.4 - - [yesterday] \"GET / HTTP/1.1\" 200 1",
            "1.2.3.4 - - [29/Mar/2026:01:59:59 +0100] \"GET\" 200 1",
            "1.2.3.4 - - [29/Mar/2026:01:59:59 +0100] \"GET / HTTP/1.1\" OK 1",
            "1.2.3.4 - - [29/Mar/2026:01:59:59 +0100] \"GET / HTTP/1.1\" 200 1 \"unterminated",
        ] {
            let mut record = Record::default();
            assert!(parse(broken, None, &mut record).is_err(), "{broken}");
        }
    }
}
