//! Typed path parameters: what a route's `{name:TYPE}` accepts, and the one canonical form each
//! value is reduced to before routing, partitioning, blocks and forwarding.
//!
//! An upstream framework reads `/circuits/007`, `/circuits/7` and `/circuits/+7` as circuit 7
//! (or refuses some of them); counted as text, each spelling would be a fresh bucket. A typed
//! parameter closes that: a value of its type is rewritten into its canonical form (`007` →
//! `7`), and any other spelling does not match the route, so it is never counted nor forwarded.
//!
//! | type | accepts | canonical form |
//! | --- | --- | --- |
//! | `int` | ASCII digits only, up to `u64::MAX` | no leading zeros (`0` for zero) |
//! | `uuid` | 32 hex digits, hyphenated 8-4-4-4-12 or not, any case | lower case, hyphenated |
//! | `token` | 1 to 128 ASCII letters, digits, `-` and `_` | lower case |
//! | a pattern (`params = { NAME = "REGEX" }`) | values the regex matches whole | the value as sent |

use std::borrow::Cow;

/// What a typed path parameter accepts.
#[derive(Debug, Clone)]
pub(crate) enum ParamType {
    /// An unsigned integer.
    Int,
    /// A UUID.
    Uuid,
    /// A case-insensitive identifier.
    Token,
    /// A regular expression the whole value must match.
    Pattern(regex::Regex),
}

/// The longest `token` value.
const MAX_TOKEN: usize = 128;

impl ParamType {
    /// The type named `name` in a template (`int`, `uuid`, `token`), if it is one.
    pub(crate) fn named(name: &str) -> Option<Self> {
        match name {
            "int" => Some(Self::Int),
            "uuid" => Some(Self::Uuid),
            "token" => Some(Self::Token),
            _ => None,
        }
    }

    /// A pattern type: `pattern` anchored at both ends; matching in any case when the policy's
    /// paths are (the value it sees is folded).
    ///
    /// # Errors
    /// Why `pattern` is not a regular expression.
    pub(crate) fn pattern(pattern: &str, case_insensitive: bool) -> Result<Self, regex::Error> {
        regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
            .case_insensitive(case_insensitive)
            .build()
            .map(Self::Pattern)
    }

    /// `value` in its canonical form, or `None` when it is not of this type.
    pub(crate) fn canonical<'v>(&self, value: &'v str) -> Option<Cow<'v, str>> {
        match self {
            Self::Int => {
                if value.is_empty() || !value.bytes().all(|byte| byte.is_ascii_digit()) {
                    return None;
                }
                let digits = value.trim_start_matches('0');
                let digits = if digits.is_empty() { "0" } else { digits };
                // Beyond u64 no framework reads the same number.
                digits.parse::<u64>().ok()?;
                Some(if digits.len() == value.len() {
                    Cow::Borrowed(value)
                } else {
                    Cow::Owned(digits.to_owned())
                })
            }
            Self::Uuid => {
                let hex: Vec<u8> = match value.len() {
                    32 => value.bytes().collect(),
                    36 => {
                        let bytes = value.as_bytes();
                        if [8, 13, 18, 23].iter().any(|&at| bytes[at] != b'-') {
                            return None;
                        }
                        value.bytes().filter(|&byte| byte != b'-').collect()
                    }
                    _ => return None,
                };
                if hex.len() != 32 || !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                let hex = String::from_utf8(hex).ok()?.to_ascii_lowercase();
                let canonical = format!(
                    "{}-{}-{}-{}-{}",
                    &hex[..8],
                    &hex[8..12],
                    &hex[12..16],
                    &hex[16..20],
                    &hex[20..]
                );
                Some(if canonical == value {
                    Cow::Borrowed(value)
                } else {
                    Cow::Owned(canonical)
                })
            }
            Self::Token => {
                let fits = (1..=MAX_TOKEN).contains(&value.len())
                    && value
                        .bytes()
                        .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_'));
                if !fits {
                    return None;
                }
                Some(if value.bytes().any(|byte| byte.is_ascii_uppercase()) {
                    Cow::Owned(value.to_ascii_lowercase())
                } else {
                    Cow::Borrowed(value)
                })
            }
            Self::Pattern(regex) => regex.is_match(value).then_some(Cow::Borrowed(value)),
        }
    }

    /// Whether `value` is of this type and already canonical.
    pub(crate) fn is_canonical(&self, value: &str) -> bool {
        matches!(self.canonical(value), Some(Cow::Borrowed(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(ty: &ParamType, value: &str) -> Option<String> {
        ty.canonical(value).map(Cow::into_owned)
    }

    #[test]
    fn an_int_has_one_spelling() {
        let int = ParamType::Int;
        for (sent, expected) in [("7", "7"), ("007", "7"), ("0", "0"), ("000", "0")] {
            assert_eq!(canonical(&int, sent).as_deref(), Some(expected), "{sent}");
        }
        assert!(int.is_canonical("7"));
        assert!(!int.is_canonical("07"));
        let max = u64::MAX.to_string();
        assert_eq!(canonical(&int, &max), Some(max.clone()));
        for refused in [
            "",
            "+7",
            "-7",
            " 7",
            "7 ",
            "7.0",
            "7e0",
            "0x7",
            "٧",
            "７",
            "7a",
            "18446744073709551616",
        ] {
            assert_eq!(canonical(&int, refused), None, "{refused:?}");
        }
    }

    #[test]
    fn a_uuid_has_one_spelling() {
        let uuid = ParamType::Uuid;
        let lower = "123e4567-e89b-12d3-a456-426614174000";
        for sent in [
            lower,
            "123E4567-E89B-12D3-A456-426614174000",
            "123e4567e89b12d3a456426614174000",
        ] {
            assert_eq!(canonical(&uuid, sent).as_deref(), Some(lower), "{sent}");
        }
        assert!(uuid.is_canonical(lower));
        for refused in [
            "{123e4567-e89b-12d3-a456-426614174000}",
            "urn:uuid:123e4567-e89b-12d3-a456-426614174000",
            "123e4567-e89b-12d3-a456-42661417400",
            "123e4567-e89b-12d3-a456-4266141740000",
            "123e4567-e89b12d3-a456-4266141740000",
            "1-1-1-1-1",
            "123e4567-e89b-12d3-a456-42661417400g",
        ] {
            assert_eq!(canonical(&uuid, refused), None, "{refused}");
        }
    }

    #[test]
    fn a_token_is_lower_case() {
        let token = ParamType::Token;
        assert_eq!(canonical(&token, "G7").as_deref(), Some("g7"));
        assert!(token.is_canonical("g7-a_b"));
        for refused in ["", "g.7", "g 7", "g%7", "ǵ7", &"a".repeat(MAX_TOKEN + 1)] {
            assert_eq!(canonical(&token, refused), None, "{refused}");
        }
    }

    #[test]
    fn a_pattern_matches_whole_values_only() {
        let sku = ParamType::pattern("[A-Z]{3}-[0-9]{4}", false).unwrap();
        assert!(sku.is_canonical("ABC-1234"));
        for refused in ["abc-1234", "ABC-12345", "xABC-1234", "ABC-1234\n"] {
            assert_eq!(canonical(&sku, refused), None, "{refused:?}");
        }
        // An alternation is anchored as a whole.
        let either = ParamType::pattern("a|b", false).unwrap();
        assert!(either.is_canonical("a"));
        assert!(!either.is_canonical("ab"));
        assert!(ParamType::pattern("(", false).is_err());
    }
}
