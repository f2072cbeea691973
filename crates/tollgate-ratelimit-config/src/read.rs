//! From a YAML tree to the fields of envoyproxy/ratelimit's format, checking every key and the
//! type of every value.
//!
//! Scalars are read as `gopkg.in/yaml.v2` reads them into envoyproxy/ratelimit's structs: a
//! text field takes any scalar's text (`value: 2061234567` is the text `2061234567`), a
//! boolean is one of YAML 1.1's plain words (`true`, `yes`, `on`, …), a number is a plain YAML
//! 1.1 integer (`0x1F`, `1_000`, and `010`, which is octal), and null is the same as leaving the
//! key out. Unlike the original, a known key in the wrong place is an error too: theirs accepts
//! any of its keys at any level and ignores the misplaced ones.

use tollgate_policy::ConfigError;

use crate::yaml::{Entry, Node, Pos, Value, is_null_text};

/// Text and where it is written.
#[derive(Debug, Clone)]
pub(crate) struct Text {
    pub(crate) text: String,
    pub(crate) at: Pos,
}

/// One file: a domain and its descriptors.
#[derive(Debug)]
pub(crate) struct FileModel {
    pub(crate) at: Pos,
    pub(crate) domain: Option<Text>,
    pub(crate) descriptors: Vec<DescriptorModel>,
    /// Not a mapping, or `domain` could not be read (already reported).
    pub(crate) damaged: bool,
}

/// One entry of a `descriptors` list.
#[derive(Debug, Default)]
pub(crate) struct DescriptorModel {
    pub(crate) at: Pos,
    pub(crate) key: Option<Text>,
    /// Left out, null or empty: a key-only descriptor.
    pub(crate) value: Option<Text>,
    pub(crate) rate_limit: Option<RateLimitModel>,
    pub(crate) descriptors: Vec<DescriptorModel>,
    pub(crate) shadow_mode: bool,
    pub(crate) quota_mode: bool,
    pub(crate) detailed_metric: bool,
    /// Where `share_threshold: true` is written.
    pub(crate) share_threshold: Option<Pos>,
    /// Something of the descriptor itself (not of its `descriptors`) could not be read
    /// (already reported): what seems missing may be what was misspelled.
    pub(crate) damaged: bool,
}

/// A `rate_limit` block.
#[derive(Debug, Default)]
pub(crate) struct RateLimitModel {
    /// Where its `rate_limit` key is written.
    pub(crate) at: Pos,
    pub(crate) unit: Option<Text>,
    pub(crate) requests_per_unit: Option<(u32, Pos)>,
    pub(crate) unlimited: bool,
    pub(crate) name: Option<Text>,
    pub(crate) replaces: Vec<Text>,
    /// Something of the block could not be read (already reported): what seems missing may be
    /// what was misspelled.
    pub(crate) damaged: bool,
}

/// Where each key of the format belongs, for unknown-key messages.
const FILE_KEYS: &[&str] = &["domain", "descriptors"];
const DESCRIPTOR_KEYS: &[&str] = &[
    "key",
    "value",
    "rate_limit",
    "descriptors",
    "shadow_mode",
    "quota_mode",
    "detailed_metric",
    "value_to_metric",
    "share_threshold",
    "metadata",
];
const RATE_LIMIT_KEYS: &[&str] = &["unit", "requests_per_unit", "unlimited", "name", "replaces"];
const REPLACES_KEYS: &[&str] = &["name"];

/// Reads one file's tree, adding what is wrong to `errors`.
pub(crate) struct Reader<'e> {
    pub(crate) file: &'e str,
    pub(crate) errors: &'e mut Vec<ConfigError>,
}

impl Reader<'_> {
    pub(crate) fn fail(&mut self, at: Pos, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.file.to_owned(),
            line: at.line,
            column: at.column,
            message: message.into(),
        });
    }

    /// The file's domain and descriptors; `root` is `None` for a file with no document.
    pub(crate) fn file(&mut self, root: Option<Node>) -> FileModel {
        let mut model = FileModel {
            at: root.as_ref().map_or_else(Pos::default, |node| node.at),
            domain: None,
            descriptors: Vec::new(),
            damaged: false,
        };
        let Some(root) = root.filter(|node| !node.is_null()) else {
            return model;
        };
        let Some(entries) = self.mapping(root, "the file") else {
            model.damaged = true;
            return model;
        };
        for Entry { key, key_at, value } in entries {
            match key.as_str() {
                "domain" => {
                    model.domain = self.text(value, "domain");
                    model.damaged |= model.domain.is_none();
                }
                "descriptors" => model.descriptors = self.descriptors(value),
                _ => self.unknown(&key, key_at, "at the top of a file", FILE_KEYS),
            }
        }
        model
    }

    fn descriptors(&mut self, node: Node) -> Vec<DescriptorModel> {
        self.list(node, "descriptors")
            .into_iter()
            .filter_map(|item| self.descriptor(item))
            .collect()
    }

    fn descriptor(&mut self, node: Node) -> Option<DescriptorModel> {
        let at = node.at;
        if node.is_null() {
            self.fail(at, "a descriptor must be a mapping with at least a `key`");
            return None;
        }
        let entries = self.mapping(node, "a descriptor")?;
        let mut model = DescriptorModel {
            at,
            ..DescriptorModel::default()
        };
        let errors_before = self.errors.len();
        let (mut limit, mut nested) = (None, None);
        for Entry { key, key_at, value } in entries {
            match key.as_str() {
                "key" => model.key = self.text(value, "key"),
                "value" => model.value = self.text(value, "value"),
                "rate_limit" => limit = Some((value, key_at)),
                "descriptors" => nested = Some(value),
                "shadow_mode" => model.shadow_mode = self.flag(value, "shadow_mode"),
                "quota_mode" => model.quota_mode = self.flag(value, "quota_mode"),
                "detailed_metric" => model.detailed_metric = self.flag(value, "detailed_metric"),
                "value_to_metric" => {
                    self.flag(value, "value_to_metric");
                }
                "share_threshold" => {
                    let at = value.at;
                    model.share_threshold = self.flag(value, "share_threshold").then_some(at);
                }
                // Free-form; envoyproxy/ratelimit returns it in the response's dynamic metadata.
                "metadata" => {}
                _ => self.unknown(&key, key_at, "in a descriptor", DESCRIPTOR_KEYS),
            }
        }
        model.damaged = self.errors.len() > errors_before;
        if let Some((limit, key_at)) = limit {
            model.rate_limit = self.rate_limit(limit, key_at);
        }
        if let Some(nested) = nested {
            model.descriptors = self.descriptors(nested);
        }
        model.value = model.value.filter(|value| !value.text.is_empty());
        Some(model)
    }

    fn rate_limit(&mut self, node: Node, key_at: Pos) -> Option<RateLimitModel> {
        if node.is_null() {
            return None;
        }
        let entries = self.mapping(node, "rate_limit")?;
        let mut model = RateLimitModel {
            at: key_at,
            ..RateLimitModel::default()
        };
        let errors_before = self.errors.len();
        for Entry { key, key_at, value } in entries {
            match key.as_str() {
                "unit" => model.unit = self.text(value, "unit"),
                "requests_per_unit" => {
                    let at = value.at;
                    model.requests_per_unit = self.count(value).map(|count| (count, at));
                }
                "unlimited" => model.unlimited = self.flag(value, "unlimited"),
                "name" => model.name = self.text(value, "name"),
                "replaces" => model.replaces = self.replaces(value),
                _ => self.unknown(&key, key_at, "in a rate_limit", RATE_LIMIT_KEYS),
            }
        }
        model.damaged = self.errors.len() > errors_before;
        Some(model)
    }

    fn replaces(&mut self, node: Node) -> Vec<Text> {
        let mut names = Vec::new();
        for item in self.list(node, "replaces") {
            let at = item.at;
            let Value::Map(entries) = item.value else {
                self.fail(
                    at,
                    "an entry of `replaces` must be a mapping such as `- name: other_limit`",
                );
                continue;
            };
            let mut name = None;
            for Entry { key, key_at, value } in entries {
                if key == "name" {
                    name = self.text(value, "name");
                } else {
                    self.unknown(&key, key_at, "in an entry of replaces", REPLACES_KEYS);
                }
            }
            names.push(name.unwrap_or(Text {
                text: String::new(),
                at,
            }));
        }
        names
    }

    /// A mapping's entries; null reads as an empty mapping.
    fn mapping(&mut self, node: Node, what: &str) -> Option<Vec<Entry>> {
        match node.value {
            Value::Map(entries) => Some(entries),
            _ if node.is_null() => Some(Vec::new()),
            _ => {
                self.fail(
                    node.at,
                    format!("{what} must be a mapping, not {}", kind(&node)),
                );
                None
            }
        }
    }

    /// A list's items; null reads as an empty list.
    fn list(&mut self, node: Node, what: &str) -> Vec<Node> {
        match node.value {
            Value::Seq(items) => items,
            _ if node.is_null() => Vec::new(),
            _ => {
                self.fail(
                    node.at,
                    format!("`{what}` must be a list, not {}", kind(&node)),
                );
                Vec::new()
            }
        }
    }

    /// Any scalar's text; null reads as empty text.
    fn text(&mut self, node: Node, what: &str) -> Option<Text> {
        let at = node.at;
        match node.value {
            Value::Scalar { text, plain } => Some(Text {
                text: if plain && is_null_text(&text) {
                    String::new()
                } else {
                    text
                },
                at,
            }),
            _ => {
                self.fail(at, format!("`{what}` must be text, not {}", kind(&node)));
                None
            }
        }
    }

    /// A YAML 1.1 boolean; null reads as false.
    fn flag(&mut self, node: Node, what: &str) -> bool {
        if let Value::Scalar { text, plain: true } = &node.value {
            match text.as_str() {
                "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On"
                | "ON" => return true,
                "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off"
                | "OFF" => return false,
                text if is_null_text(text) => return false,
                _ => {}
            }
        }
        self.fail(
            node.at,
            format!("`{what}` must be true or false, not {}", shown(&node)),
        );
        false
    }

    /// A YAML 1.1 integer from 0 to `u32::MAX`; `None` for null (as if left out) or an error.
    fn count(&mut self, node: Node) -> Option<u32> {
        if node.is_null() {
            return None;
        }
        let parsed = match &node.value {
            Value::Scalar { text, plain: true } => yaml11_integer(text),
            _ => None,
        };
        match parsed.map(u32::try_from) {
            Some(Ok(count)) => Some(count),
            _ => {
                self.fail(
                    node.at,
                    format!(
                        "`requests_per_unit` must be a whole number from 0 to {}, not {}",
                        u32::MAX,
                        shown(&node)
                    ),
                );
                None
            }
        }
    }

    fn unknown(&mut self, key: &str, at: Pos, place: &str, expected: &[&str]) {
        let home = [
            ("in a descriptor", DESCRIPTOR_KEYS),
            ("in a rate_limit", RATE_LIMIT_KEYS),
            ("at the top of a file", FILE_KEYS),
        ]
        .into_iter()
        .find(|(_, keys)| keys.contains(&key));
        let message = match home {
            Some((right, _)) => format!("`{key}` belongs {right}, not {place}"),
            None => format!("unknown key `{key}` {place}: expected {}", one_of(expected)),
        };
        self.fail(at, message);
    }
}

/// A YAML 1.1 integer as yaml.v2 resolves a plain scalar: underscores ignored, an optional
/// sign, then `0x` (hex), `0o` or a leading `0` (octal), `0b` (binary) or decimal digits.
fn yaml11_integer(text: &str) -> Option<i128> {
    let digits: String = text.chars().filter(|&c| c != '_').collect();
    let (negative, digits) = match digits.as_bytes().first() {
        Some(b'-') => (true, &digits[1..]),
        Some(b'+') => (false, &digits[1..]),
        _ => (false, digits.as_str()),
    };
    let (radix, digits) = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, hex)
    } else if let Some(octal) = digits
        .strip_prefix("0o")
        .or_else(|| digits.strip_prefix("0O"))
    {
        (8, octal)
    } else if let Some(binary) = digits
        .strip_prefix("0b")
        .or_else(|| digits.strip_prefix("0B"))
    {
        (2, binary)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    // At most 128 bits of digits fit; longer numbers are out of range anyway.
    let value = i128::from_str_radix(digits, radix).unwrap_or(i128::MAX);
    Some(if negative { -value } else { value })
}

fn kind(node: &Node) -> &'static str {
    match node.value {
        Value::Scalar { .. } => "a scalar",
        Value::Seq(_) => "a list",
        Value::Map(_) => "a mapping",
    }
}

fn shown(node: &Node) -> String {
    match &node.value {
        Value::Scalar { text, plain: true } => format!("`{text}`"),
        Value::Scalar { text, plain: false } => format!("the quoted text `{text}`"),
        _ => kind(node).to_owned(),
    }
}

/// `a, b or c`.
pub(crate) fn one_of(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_read_as_yaml_1_1_does() {
        assert_eq!(yaml11_integer("100"), Some(100));
        assert_eq!(yaml11_integer("+7"), Some(7));
        assert_eq!(yaml11_integer("1_000"), Some(1_000));
        assert_eq!(yaml11_integer("0x1F"), Some(31));
        assert_eq!(yaml11_integer("0o17"), Some(15));
        assert_eq!(yaml11_integer("010"), Some(8));
        assert_eq!(yaml11_integer("0b101"), Some(5));
        assert_eq!(yaml11_integer("0"), Some(0));
        assert_eq!(yaml11_integer("-3"), Some(-3));
        assert_eq!(yaml11_integer("1.5"), None);
        assert_eq!(yaml11_integer("08"), None);
        assert_eq!(yaml11_integer("ten"), None);
        assert_eq!(yaml11_integer(""), None);
        assert_eq!(yaml11_integer("-"), None);
    }

    #[test]
    fn lists_in_words() {
        assert_eq!(one_of(&["a"]), "a");
        assert_eq!(one_of(&["a", "b", "c"]), "a, b or c");
    }
}
