//! One spelling of a request target, decided once: the route match, the exempt check, the
//! partition key, blocks and the path forwarded upstream all come from [`Target`].
//!
//! The rules (a table in `docs/policy.md`):
//! - the query starts at the first `?` and is kept as received; a fragment (`#…`) is dropped;
//! - every `%XX` escape is decoded once; a `%` not followed by two hex digits is refused;
//! - the decoded path must be UTF-8 (overlong and invalid sequences are refused), with no
//!   control character (NUL included);
//! - an encoded slash (`%2F`), a backslash (`\` or `%5C`) and a `;` (raw or `%3B`) are refused:
//!   servers disagree on what they mean, so no meaning is safe to count;
//! - empty segments (`//`) and `.` are dropped, `..` removes the segment before it (never above
//!   the root), encoded dots (`%2E`) included; a trailing slash is dropped;
//! - with `paths.case_insensitive`, the path is case-folded (lower case after upper case, so that
//!   `ſ` and `K` (Kelvin) fold as `s` and `k`, as `casefold` and `equalsIgnoreCase` have them).
//!
//! [`Target::parse_exact`], for the adapters that do not forward (forward-auth, the check API:
//! the proxy serves the original URI, and an upstream may not resolve dot-segments as Tollgate
//! does), refuses `.` and `..` segments, raw or encoded, instead of resolving them.
//!
//! `/a//b/./c/../d/` and `/a/b/%64` are both `/a/b/d`. The forwarded spelling,
//! [`Target::encoded_path`], percent-encodes every byte but the unreserved ones and a few
//! sub-delimiters, so that an upstream decoding it once reads exactly [`Target::path`]: a `%` of
//! the decoded path goes out as `%25`.

use std::borrow::Cow;
use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Why a request target is refused (400) rather than normalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// `%` not followed by two hexadecimal digits.
    #[error("the path has a malformed percent escape")]
    BadEscape,
    /// `%2F`: a slash inside a segment, which some servers decode into a separator.
    #[error("the path has an encoded slash (%2F), which servers read differently")]
    EncodedSlash,
    /// `\` or `%5C`, which some servers take for a slash.
    #[error("the path has a backslash, which servers read differently")]
    Backslash,
    /// `;` or `%3B`: path parameters, which some servers strip before routing.
    #[error("the path has a `;` (path parameters), which servers read differently")]
    Semicolon,
    /// A control character, NUL included.
    #[error("the path has a control character")]
    Control,
    /// Bytes that are not UTF-8 once decoded (overlong encodings included).
    #[error("the path is not UTF-8 once percent-decoded")]
    NotUtf8,
    /// Longer than [`MAX_PATH`] bytes.
    #[error("the path is longer than {MAX_PATH} bytes")]
    TooLong,
    /// A `.` or `..` segment where the path is not forwarded ([`Target::parse_exact`]).
    #[error("the path has a `.` or `..` segment, which upstreams resolve differently")]
    DotSegment,
}

/// The longest path accepted, in bytes as received.
pub const MAX_PATH: usize = 8192;

/// A request target in its one canonical form: the decoded, normalized path, and the query as
/// received. Made only by [`Target::parse`] and [`Target::parse_exact`], so whatever holds one
/// holds the canonical path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target<'a> {
    /// Borrowed from the request when it was canonical as received (the usual case).
    path: Cow<'a, str>,
    /// With `paths.case_insensitive`, the canonical path in the case it came in, when folding
    /// changed it: what is forwarded (an upstream that folds reads the counted path, and one
    /// that keeps case for its identifiers is served what the client asked for).
    cased: Option<String>,
    query: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// Parses `raw` (a path with an optional query, as in a request line) by the module's rules.
    ///
    /// # Errors
    /// The rule that refuses it.
    pub fn parse(raw: &'a str, case_insensitive: bool) -> Result<Self, PathError> {
        Self::read(raw, case_insensitive, false)
    }

    /// Like [`parse`](Self::parse), refusing `.` and `..` segments (raw or encoded) instead of
    /// resolving them: for a path that is not forwarded, so that what the upstream is served,
    /// decoded once, is what was counted.
    ///
    /// # Errors
    /// The rule that refuses it.
    pub fn parse_exact(raw: &'a str, case_insensitive: bool) -> Result<Self, PathError> {
        Self::read(raw, case_insensitive, true)
    }

    fn read(raw: &'a str, case_insensitive: bool, exact: bool) -> Result<Self, PathError> {
        let raw = raw.split_once('#').map_or(raw, |(before, _)| before);
        let (path, query) = match raw.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (raw, None),
        };
        if path.len() > MAX_PATH {
            return Err(PathError::TooLong);
        }
        if is_canonical(path, case_insensitive) {
            return Ok(Self {
                path: Cow::Borrowed(path),
                cased: None,
                query,
            });
        }
        // Decoded in place, one segment after another, into the one buffer the path lives in.
        let mut out: Vec<u8> = Vec::with_capacity(path.len().max(1));
        for raw_segment in path.split('/') {
            let start = out.len();
            out.push(b'/');
            decode_into(raw_segment.as_bytes(), &mut out)?;
            let segment = std::str::from_utf8(&out[start + 1..]).map_err(|_| PathError::NotUtf8)?;
            match segment {
                "." | ".." if exact => return Err(PathError::DotSegment),
                "" | "." => out.truncate(start),
                ".." => {
                    out.truncate(start);
                    let parent = out.iter().rposition(|&byte| byte == b'/').unwrap_or(0);
                    out.truncate(parent);
                }
                _ => {}
            }
        }
        if out.is_empty() {
            out.push(b'/');
        }
        // Every segment was checked as UTF-8 and joined by `/`.
        let mut canonical = String::from_utf8(out).map_err(|_| PathError::NotUtf8)?;
        let mut cased = None;
        let foldable =
            |path: &str| !path.is_ascii() || path.bytes().any(|b| b.is_ascii_uppercase());
        if case_insensitive && foldable(&canonical) {
            let folded = fold_case(&canonical);
            if folded != canonical {
                cased = Some(std::mem::replace(&mut canonical, folded));
            }
        }
        Ok(Self {
            path: Cow::Owned(canonical),
            cased,
            query,
        })
    }

    /// The canonical path: what routes match and limits count.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query as received, without its `?`.
    #[must_use]
    pub fn query(&self) -> Option<&'a str> {
        self.query
    }

    /// Whether the forwarded path keeps a case that the counted one folds.
    pub(crate) fn is_cased(&self) -> bool {
        self.cased.is_some()
    }

    /// Replaces whole segments (by index, 1 for the first after the root) of the path, and of
    /// the cased path forwarded with `paths.case_insensitive`: typed path parameters in their
    /// canonical form.
    pub(crate) fn rewrite_segments(&mut self, rewrites: &[(usize, String)]) {
        let rewrite = |path: &str| {
            let mut segments: Vec<&str> = path.split('/').collect();
            for (index, value) in rewrites {
                if let Some(segment) = segments.get_mut(*index) {
                    *segment = value;
                }
            }
            segments.join("/")
        };
        self.cased = self.cased.as_deref().map(rewrite);
        self.path = Cow::Owned(rewrite(&self.path));
    }

    /// The path as forwarded: percent-encoded so that decoding it once gives [`path`](Self::path)
    /// — in the case it came in, with `paths.case_insensitive`, which the counted path folds.
    #[must_use]
    pub fn encoded_path(&self) -> impl fmt::Display + '_ {
        utf8_percent_encode(self.cased.as_deref().unwrap_or(&self.path), FORWARDED)
    }
}

/// `text` case-folded, stably (folding twice is folding once): ASCII lower-cased; anything
/// else lower-cased, upper-cased and lower-cased again (`ẞ`, `ß` and `ss` all fold as `ss`,
/// `ſ` as `s`, the Kelvin sign as `k`), and the `i` with a combining dot that `İ` gives as `i`.
pub(crate) fn fold_case(text: &str) -> String {
    if text.is_ascii() {
        text.to_ascii_lowercase()
    } else {
        text.to_lowercase()
            .to_uppercase()
            .to_lowercase()
            .replace("i\u{307}", "i")
    }
}

impl Default for Target<'_> {
    /// The root, `/`, with no query.
    fn default() -> Self {
        Self {
            path: Cow::Borrowed("/"),
            cased: None,
            query: None,
        }
    }
}

/// Bytes escaped in a forwarded path: all but the unreserved ones, `/`, and the sub-delimiters
/// that no server decodes (`+` is escaped: some read it as a space).
const FORWARDED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b',')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// Whether `path` is already what decoding and normalizing would make of it: rooted, no empty,
/// `.` or `..` segment, no trailing slash, only visible ASCII that decodes to itself (no `%`) and
/// that no rule refuses, and nothing to fold. Such a path is borrowed, not copied.
fn is_canonical(path: &str, case_insensitive: bool) -> bool {
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/') || (bytes.len() > 1 && bytes.ends_with(b"/")) {
        return false;
    }
    let plain = bytes.iter().all(|&byte| {
        byte.is_ascii_graphic()
            && !matches!(byte, b'%' | b'\\' | b';')
            && !(case_insensitive && byte.is_ascii_uppercase())
    });
    plain
        && (path == "/"
            || path[1..]
                .split('/')
                .all(|segment| !matches!(segment, "" | "." | "..")))
}

/// Decodes one raw segment into `out`, refusing what the module's rules refuse.
fn decode_into(raw: &[u8], out: &mut Vec<u8>) -> Result<(), PathError> {
    let mut bytes = raw.iter().copied();
    while let Some(byte) = bytes.next() {
        let decoded = if byte == b'%' {
            let high = bytes.next().and_then(hex).ok_or(PathError::BadEscape)?;
            let low = bytes.next().and_then(hex).ok_or(PathError::BadEscape)?;
            let decoded = high << 4 | low;
            if decoded == b'/' {
                return Err(PathError::EncodedSlash);
            }
            decoded
        } else {
            byte
        };
        match decoded {
            b'\\' => return Err(PathError::Backslash),
            b';' => return Err(PathError::Semicolon),
            0..=0x1F | 0x7F => return Err(PathError::Control),
            _ => out.push(decoded),
        }
    }
    Ok(())
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(raw: &str) -> Result<String, PathError> {
        Target::parse(raw, false).map(|target| target.path.into_owned())
    }

    #[test]
    fn a_canonical_path_is_borrowed_and_any_other_is_not() {
        for raw in ["/", "/a/b", "/hello/world?x=1", "/a.b/c~d"] {
            let target = Target::parse(raw, false).unwrap();
            assert!(matches!(target.path, Cow::Borrowed(_)), "{raw}");
        }
        for raw in ["/a/", "//a", "/a/./b", "/a/../b", "/a%41", "a", "/A"] {
            let target = Target::parse(raw, true).unwrap();
            assert!(matches!(target.path, Cow::Owned(_)), "{raw}");
        }
    }

    #[test]
    fn spellings_of_one_path_agree() {
        for raw in [
            "/a/b/d",
            "/a//b/./c/../d/",
            "/a/b/%64",
            "//a/b/d?x=1",
            "/a/b/d#top",
            "/a/b/%2e/d",
            "/a/b/c/%2E%2e/d",
            "a/b/d",
        ] {
            assert_eq!(canonical(raw).as_deref(), Ok("/a/b/d"), "{raw}");
        }
    }

    #[test]
    fn never_climbs_above_the_root() {
        assert_eq!(canonical("/../../etc/passwd").unwrap(), "/etc/passwd");
        assert_eq!(canonical("").unwrap(), "/");
        assert_eq!(canonical("/./").unwrap(), "/");
        assert_eq!(canonical("/%2e%2e/x").unwrap(), "/x");
    }

    #[test]
    fn ambiguous_spellings_are_refused() {
        for (raw, error) in [
            ("/files/a%2Fb", PathError::EncodedSlash),
            ("/files/a%2fb", PathError::EncodedSlash),
            ("/files/..%2F..%2Fadmin", PathError::EncodedSlash),
            ("/a\\b", PathError::Backslash),
            ("/a%5Cb", PathError::Backslash),
            ("/a;jsessionid=1", PathError::Semicolon),
            ("/a%3Bx", PathError::Semicolon),
            ("/a%00b", PathError::Control),
            ("/a%0Ab", PathError::Control),
            ("/a%7F", PathError::Control),
            ("/a%C0%AF", PathError::NotUtf8),
            ("/a%FF", PathError::NotUtf8),
            ("/a%zz", PathError::BadEscape),
            ("/a%4", PathError::BadEscape),
        ] {
            assert_eq!(canonical(raw), Err(error), "{raw}");
        }
        assert_eq!(canonical(&"/a".repeat(MAX_PATH)), Err(PathError::TooLong));
    }

    #[test]
    fn decoding_happens_once() {
        // A double-encoded dot is a literal `%2e` segment, forwarded as `%252e`.
        let target = Target::parse("/a/%252e%252e/b", false).unwrap();
        assert_eq!(target.path(), "/a/%2e%2e/b");
        assert_eq!(target.encoded_path().to_string(), "/a/%252e%252e/b");
    }

    #[test]
    fn the_forwarded_path_decodes_to_the_counted_one() {
        let target = Target::parse("/files/a%20b+c/%C3%A9t%C3%A9?x=%2F&y", false).unwrap();
        assert_eq!(target.path(), "/files/a b+c/été");
        assert_eq!(target.query(), Some("x=%2F&y"));
        assert_eq!(
            target.encoded_path().to_string(),
            "/files/a%20b%2Bc/%C3%A9t%C3%A9"
        );
    }

    #[test]
    fn case_rule_is_a_choice() {
        assert_eq!(Target::parse("/Hvacs/1", false).unwrap().path(), "/Hvacs/1");
        assert_eq!(Target::parse("/Hvacs/1", true).unwrap().path(), "/hvacs/1");
        assert_eq!(
            Target::parse("/%48vacs/É", true).unwrap().path(),
            "/hvacs/é"
        );
        // Folding is stable, and spellings that upstreams fold as one fold as one.
        for (a, b) in [
            ("/stra\u{1E9E}e", "/straße"),
            ("/straße", "/strasse"),
            ("/ad\u{130}n", "/adin"),
        ] {
            let fold = |raw| Target::parse(raw, true).unwrap().path().to_owned();
            assert_eq!(fold(a), fold(b), "{a} {b}");
            assert_eq!(fold(&fold(a)), fold(a));
        }
        // Characters whose upper case is ASCII fold as that letter.
        assert_eq!(
            Target::parse("/hvac%C5%BF/1", true).unwrap().path(),
            "/hvacs/1"
        );
        assert_eq!(Target::parse("/\u{212A}ey", true).unwrap().path(), "/key");
    }

    #[test]
    fn where_nothing_is_forwarded_dot_segments_are_refused() {
        for raw in [
            "/a/../b",
            "/a/./b",
            "/a/%2e%2e/b",
            "/a/.%2E/b",
            "/..",
            "/a/.",
        ] {
            assert_eq!(
                Target::parse_exact(raw, false),
                Err(PathError::DotSegment),
                "{raw}"
            );
        }
        assert_eq!(Target::parse_exact("//a/b/", false).unwrap().path(), "/a/b");
        assert_eq!(
            Target::parse_exact("/a/%2E%2Ex/b", false).unwrap().path(),
            "/a/..x/b"
        );
    }
}
