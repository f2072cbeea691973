//! The cookie that keeps a customer signed in to its page: `tollgate_key`, holding the API key
//! percent-encoded, `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page
//! sends it), `Path=/_tollgate` (only Tollgate's own paths get it), `Secure` unless the page is
//! served on a loopback host. The key never travels in a URL.

use axum::http::{HeaderMap, HeaderValue, header};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// The cookie's name.
const NAME: &str = "tollgate_key";

/// The longest cookie value read (an API key is far shorter).
const MAX_VALUE: usize = 1_024;

/// What stays as it is in the value: letters, digits and `-._~`.
const ENCODED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The key a request's cookie holds: `Ok(None)` without one, `Err` when it cannot be read one
/// way (sent twice, too long, not percent-encoded UTF-8). Other cookies (the API's own, in
/// whatever bytes) are passed over.
pub(super) fn key(headers: &HeaderMap) -> Result<Option<String>, &'static str> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        for pair in value.as_bytes().split(|&byte| byte == b';') {
            let pair = pair.trim_ascii();
            let Some(at) = pair.iter().position(|&byte| byte == b'=') else {
                continue;
            };
            let (name, value) = (pair[..at].trim_ascii(), pair[at + 1..].trim_ascii());
            if name != NAME.as_bytes() {
                continue;
            }
            if found.is_some() {
                return Err("the sign-in cookie is sent twice");
            }
            if value.len() > MAX_VALUE {
                return Err("the sign-in cookie is too long");
            }
            let decoded = std::str::from_utf8(value)
                .ok()
                .and_then(|value| percent_decode_str(value).decode_utf8().ok())
                .ok_or("the sign-in cookie is not readable")?;
            found = Some(decoded.into_owned());
        }
    }
    Ok(found.filter(|key| !key.is_empty()))
}

/// The `Set-Cookie` that signs in with `key` for 30 days; `secure` adds `Secure`.
pub(super) fn sign_in(key: &str, secure: bool) -> HeaderValue {
    let value = utf8_percent_encode(key, ENCODED);
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{NAME}={value}; Path=/_tollgate; Max-Age=2592000; HttpOnly; SameSite=Strict{secure}"
    );
    // Percent-encoded: always a valid header value.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Set-Cookie` that signs out.
pub(super) fn sign_out(secure: bool) -> HeaderValue {
    if secure {
        HeaderValue::from_static(
            "tollgate_key=; Path=/_tollgate; Max-Age=0; HttpOnly; SameSite=Strict; Secure",
        )
    } else {
        HeaderValue::from_static(
            "tollgate_key=; Path=/_tollgate; Max-Age=0; HttpOnly; SameSite=Strict",
        )
    }
}

/// Whether the page is served on a loopback host (`localhost`, `127.0.0.1`, `[::1]`), where a
/// try-out runs on plain HTTP: everywhere else the cookie is `Secure`.
pub(super) fn secure(headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or_default();
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !port.contains(']') => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    let loopback = name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !loopback
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookies(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::COOKIE, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn the_key_round_trips_through_the_cookie() {
        let key = "tg_ab;c=d e\"f";
        let set = sign_in(key, true);
        let text = set.to_str().unwrap();
        assert!(text.starts_with("tollgate_key=tg_ab%3Bc%3Dd%20e%22f; Path=/_tollgate;"));
        assert!(text.contains("HttpOnly") && text.contains("SameSite=Strict"));
        assert!(text.ends_with("; Secure"));
        let sent = text.split(';').next().unwrap();
        let headers = with_cookies(&[&format!("theme=dark; {sent}")]);
        assert_eq!(self::key(&headers), Ok(Some(key.to_owned())));
    }

    #[test]
    fn a_cookie_read_two_ways_is_refused() {
        assert_eq!(key(&with_cookies(&[])), Ok(None));
        assert_eq!(key(&with_cookies(&["tollgate_key="])), Ok(None));
        assert!(key(&with_cookies(&["tollgate_key=a; tollgate_key=b"])).is_err());
        assert!(key(&with_cookies(&["tollgate_key=a", "tollgate_key=a"])).is_err());
        assert!(key(&with_cookies(&["tollgate_key=%FF"])).is_err());
        // Another cookie in raw bytes is none of the page's business.
        let mut headers = with_cookies(&[]);
        headers.insert(
            header::COOKIE,
            HeaderValue::from_bytes(b"pref=caf\xc3\xa9; tollgate_key=k").unwrap(),
        );
        assert_eq!(key(&headers), Ok(Some("k".to_owned())));
        let long = format!("tollgate_key={}", "a".repeat(2_000));
        assert!(key(&with_cookies(&[&long])).is_err());
    }

    #[test]
    fn secure_except_on_loopback() {
        let host = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_str(value).unwrap());
            secure(&headers)
        };
        assert!(!host("localhost:8080"));
        assert!(!host("127.0.0.1:8080"));
        assert!(!host("[::1]:8080"));
        assert!(host("api.example.com"));
        assert!(host("api.example.com:443"));
        assert!(host("[2001:db8::1]:443"));
    }
}
