//! One rule for spelling a path, applied before matching and keying, so that no spelling of a
//! path escapes its limit.
//!
//! The rule: drop the query and fragment; percent-decode every escape except `%2F` (an encoded
//! slash stays inside its segment, written `%2F`); drop empty segments (`//`) and `.`; let `..`
//! remove the segment before it (never above the root); drop a trailing slash; with
//! `paths.case_insensitive`, lower-case ASCII letters. `/a//b/./c/../d/` and `/a/b/%64` are both
//! `/a/b/d`.

use percent_encoding::percent_decode_str;

/// The normalized form of a request path (see the module docs).
#[must_use]
pub fn normalize(raw: &str, case_insensitive: bool) -> String {
    let path = raw.split(['?', '#']).next().unwrap_or_default();
    let mut segments: Vec<String> = Vec::new();
    for segment in path.split('/') {
        // Decode around encoded slashes so they cannot create segments.
        let decoded = segment
            .split("%2F")
            .flat_map(|piece| piece.split("%2f"))
            .map(|piece| percent_decode_str(piece).decode_utf8_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("%2F");
        match decoded.as_str() {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            _ => segments.push(decoded),
        }
    }
    let mut normal = String::with_capacity(path.len().max(1));
    for segment in &segments {
        normal.push('/');
        normal.push_str(segment);
    }
    if normal.is_empty() {
        normal.push('/');
    }
    if case_insensitive {
        normal.make_ascii_lowercase();
    }
    normal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_path_agree() {
        for raw in [
            "/a/b/d",
            "/a//b/./c/../d/",
            "/a/b/%64",
            "//a/b/d?x=1",
            "/a/b/d#top",
        ] {
            assert_eq!(normalize(raw, false), "/a/b/d", "{raw}");
        }
    }

    #[test]
    fn never_climbs_above_the_root() {
        assert_eq!(normalize("/../../etc/passwd", false), "/etc/passwd");
        assert_eq!(normalize("", false), "/");
        assert_eq!(normalize("/./", false), "/");
    }

    #[test]
    fn encoded_slashes_stay_in_their_segment() {
        assert_eq!(normalize("/files/a%2Fb", false), "/files/a%2Fb");
        assert_eq!(normalize("/files/a%2fb", false), "/files/a%2Fb");
    }

    #[test]
    fn case_rule_is_a_choice() {
        assert_eq!(normalize("/Hvacs/1", false), "/Hvacs/1");
        assert_eq!(normalize("/Hvacs/1", true), "/hvacs/1");
    }
}
