//! Descriptor values with `*`: each `*` matches any run of characters, the empty one included.

/// A value pattern such as `files/*`, `/api/*/action` or `foo*bar*baz`, split on its `*`s when
/// the configuration is loaded so that matching allocates nothing.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    /// The literal runs between the `*`s: at least two, any of them possibly empty.
    parts: Box<[Box<str>]>,
    /// The characters the literal runs need together, in bytes.
    fixed: usize,
}

impl Pattern {
    /// The pattern of a value with at least one `*`; `None` for a literal value.
    pub(crate) fn new(value: &str) -> Option<Self> {
        if !value.contains('*') {
            return None;
        }
        let parts: Box<[Box<str>]> = value.split('*').map(Box::from).collect();
        let fixed = parts.iter().map(|part| part.len()).sum();
        Some(Self { parts, fixed })
    }

    /// Whether `value` starts with the first run, ends with the last, and holds the runs
    /// between them in order, without overlaps.
    pub(crate) fn matches(&self, value: &str) -> bool {
        let (Some(first), Some(last)) = (self.parts.first(), self.parts.last()) else {
            return false;
        };
        if value.len() < self.fixed {
            return false;
        }
        let Some(rest) = value.strip_prefix(&**first) else {
            return false;
        };
        // The length check keeps the last run clear of the first.
        let Some(mut middle) = rest.strip_suffix(&**last) else {
            return false;
        };
        for part in &self.parts[1..self.parts.len() - 1] {
            match middle.find(&**part) {
                Some(at) => middle = &middle[at + part.len()..],
                None => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, value: &str) -> bool {
        Pattern::new(pattern).unwrap().matches(value)
    }

    #[test]
    fn literal_values_are_not_patterns() {
        assert!(Pattern::new("users").is_none());
    }

    #[test]
    fn a_trailing_star_is_a_prefix() {
        assert!(matches("files/*", "files/a.pdf"));
        assert!(matches("files/*", "files/"));
        assert!(!matches("files/*", "file"));
        assert!(!matches("files/*", "xfiles/a"));
    }

    #[test]
    fn a_lone_star_matches_everything_even_empty() {
        assert!(matches("*", ""));
        assert!(matches("*", "anything"));
    }

    #[test]
    fn inner_stars_need_prefix_suffix_and_middles_in_order() {
        assert!(matches("/api/*/action", "/api/123/action"));
        assert!(matches("/api/*/action", "/api//action"));
        assert!(!matches("/api/*/action", "/api/123/other"));
        assert!(matches("foo*bar*baz", "foobarbaz"));
        assert!(matches("foo*bar*baz", "foo-1-bar-2-baz"));
        assert!(!matches("foo*bar*baz", "foo-baz-bar"));
        assert!(matches("*.*", "a.b"));
        assert!(!matches("*.*", "ab"));
    }

    #[test]
    fn runs_never_overlap() {
        // "aba" would need "ab" and "ba" to share the "b".
        assert!(!matches("ab*ba", "aba"));
        assert!(matches("ab*ba", "abba"));
        assert!(!matches("a*a*a", "aa"));
        assert!(matches("a*a*a", "aaa"));
    }

    #[test]
    fn multibyte_text_is_matched_on_characters() {
        assert!(matches("é*ü", "éxü"));
        assert!(!matches("é*ü", "éx"));
    }
}
