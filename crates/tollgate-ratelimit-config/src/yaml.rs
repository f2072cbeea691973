//! A YAML document as a small tree whose every node knows its line and column.
//!
//! The tree is built from `saphyr_parser`'s events. Scalars keep their text as written and
//! whether they were plain: envoyproxy/ratelimit reads its files with `gopkg.in/yaml.v2`, whose
//! YAML 1.1 rules decide what is a number, a boolean or null, and [`crate::read`] applies those
//! rules to the text. Anchors, aliases and merge keys (`<<`) are resolved here, as yaml.v2 does;
//! a key given twice in one mapping is an error (yaml.v2 would keep the last one silently).

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, StrInput};

/// A 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

impl Default for Pos {
    /// The start of a file.
    fn default() -> Self {
        Self { line: 1, column: 1 }
    }
}

impl Pos {
    fn of(span: Span) -> Self {
        Self {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
}

/// One node of the document and where it starts.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) at: Pos,
    pub(crate) value: Value,
}

/// What a node holds.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// A scalar's text; `plain` unless it was quoted, a block scalar or tagged `!!str` (only a
    /// plain scalar can be read as a number, a boolean or null).
    Scalar { text: String, plain: bool },
    /// A sequence's items in order.
    Seq(Vec<Node>),
    /// A mapping's entries in file order, then the entries merged in with `<<` that it does not
    /// give itself.
    Map(Vec<Entry>),
}

/// One key and its value in a mapping.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) key_at: Pos,
    pub(crate) value: Node,
}

impl Node {
    /// Whether the node is YAML 1.1's null: empty, `~` or `null` written plain.
    pub(crate) fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true } if is_null_text(text))
    }
}

/// yaml.v2's spellings of null.
pub(crate) fn is_null_text(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// A document that cannot be read as YAML, and where.
#[derive(Debug)]
pub(crate) struct Syntax {
    pub(crate) at: Pos,
    pub(crate) message: String,
}

/// Deeper nesting is refused rather than risking the stack (a descriptor level takes two).
const MAX_DEPTH: usize = 200;
/// Nodes in one file, aliases expanded: a bound on "billion laughs" documents.
const MAX_NODES: usize = 1_000_000;

/// The first document of `text`; `None` for a file with no document (empty, or comments only).
///
/// # Errors
/// The text is not YAML, nests too deep, expands past [`MAX_NODES`], gives a key twice in one
/// mapping, or holds a second document that is not empty.
pub(crate) fn parse(text: &str) -> Result<Option<Node>, Syntax> {
    let mut builder = Builder {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        budget: MAX_NODES,
    };
    let mut document = None;
    loop {
        let (event, span) = builder.next()?;
        match event {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => return Ok(document),
            Event::DocumentStart(_) => {
                builder.anchors.clear();
                let (event, span) = builder.next()?;
                let node = builder.node(event, span, 0)?;
                if document.is_none() {
                    document = Some(node);
                } else if !node.is_null() {
                    return Err(Syntax {
                        at: node.at,
                        message: "a second YAML document: envoyproxy/ratelimit reads only the \
                                  first one of a file, so put each domain in a file of its own"
                            .to_owned(),
                    });
                }
            }
            _ => return Err(unexpected(span)),
        }
    }
}

struct Builder<'a> {
    parser: Parser<'a, StrInput<'a>>,
    anchors: HashMap<usize, Node>,
    budget: usize,
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), Syntax> {
        match self.parser.next_event() {
            Some(Ok(event)) => Ok(event),
            Some(Err(error)) => Err(Syntax {
                at: Pos {
                    line: error.marker().line(),
                    column: error.marker().col() + 1,
                },
                message: format!("invalid YAML: {}", error.info()),
            }),
            None => Err(Syntax {
                at: Pos { line: 1, column: 1 },
                message: "the YAML ends unexpectedly".to_owned(),
            }),
        }
    }

    fn spend(&mut self, nodes: usize, at: Pos) -> Result<(), Syntax> {
        self.budget = self.budget.checked_sub(nodes).ok_or_else(|| Syntax {
            at,
            message: format!("more than {MAX_NODES} YAML nodes once aliases are expanded"),
        })?;
        Ok(())
    }

    fn node(&mut self, event: Event<'a>, span: Span, depth: usize) -> Result<Node, Syntax> {
        let at = Pos::of(span);
        if depth > MAX_DEPTH {
            return Err(Syntax {
                at,
                message: format!("nested deeper than {MAX_DEPTH} levels"),
            });
        }
        self.spend(1, at)?;
        let (node, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                let tagged_str = tag
                    .as_ref()
                    .is_some_and(|tag| tag.is_yaml_core_schema() && tag.suffix == "str");
                let plain = style == ScalarStyle::Plain && !tagged_str;
                let value = Value::Scalar {
                    text: text.into_owned(),
                    plain,
                };
                (Node { at, value }, anchor)
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(event, span, depth + 1)?);
                }
                let value = Value::Seq(items);
                (Node { at, value }, anchor)
            }
            Event::MappingStart(anchor, _) => (self.mapping(at, depth)?, anchor),
            Event::Alias(anchor) => {
                let Some(target) = self.anchors.get(&anchor) else {
                    return Err(Syntax {
                        at,
                        message: "an alias to an unknown anchor".to_owned(),
                    });
                };
                let mut copy = target.clone();
                self.spend(size(&copy), at)?;
                copy.at = at;
                return Ok(copy);
            }
            _ => return Err(unexpected(span)),
        };
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }

    fn mapping(&mut self, at: Pos, depth: usize) -> Result<Node, Syntax> {
        let mut entries: Vec<Entry> = Vec::new();
        let mut given: HashMap<String, Pos> = HashMap::new();
        let mut merged: Vec<Entry> = Vec::new();
        loop {
            let (event, span) = self.next()?;
            if matches!(event, Event::MappingEnd) {
                break;
            }
            let key = self.node(event, span, depth + 1)?;
            let Value::Scalar { text, plain } = key.value else {
                return Err(Syntax {
                    at: key.at,
                    message: "a mapping key must be a scalar, not a list or a mapping".to_owned(),
                });
            };
            let (event, span) = self.next()?;
            let value = self.node(event, span, depth + 1)?;
            if plain && text == "<<" {
                merge_into(&mut merged, value)?;
                continue;
            }
            if let Some(first) = given.get(&text) {
                return Err(Syntax {
                    at: key.at,
                    message: format!(
                        "`{text}` is given twice in this mapping (first at line {})",
                        first.line
                    ),
                });
            }
            given.insert(text.clone(), key.at);
            entries.push(Entry {
                key: text,
                key_at: key.at,
                value,
            });
        }
        for entry in merged {
            if !given.contains_key(&entry.key) {
                entries.push(entry);
            }
        }
        Ok(Node {
            at,
            value: Value::Map(entries),
        })
    }
}

/// Adds the entries of a merge key's value (a mapping, or a list of mappings where the earlier
/// ones win) that `merged` does not hold yet.
fn merge_into(merged: &mut Vec<Entry>, source: Node) -> Result<(), Syntax> {
    let maps = match source.value {
        Value::Map(entries) => vec![entries],
        Value::Seq(items) => items
            .into_iter()
            .map(|item| match item.value {
                Value::Map(entries) => Ok(entries),
                _ => Err(item.at),
            })
            .collect::<Result<_, _>>()
            .map_err(not_mergeable)?,
        Value::Scalar { .. } => return Err(not_mergeable(source.at)),
    };
    for entries in maps {
        for entry in entries {
            if !merged.iter().any(|known| known.key == entry.key) {
                merged.push(entry);
            }
        }
    }
    Ok(())
}

fn not_mergeable(at: Pos) -> Syntax {
    Syntax {
        at,
        message: "`<<` merges a mapping or a list of mappings".to_owned(),
    }
}

fn unexpected(span: Span) -> Syntax {
    Syntax {
        at: Pos::of(span),
        message: "unexpected YAML event".to_owned(),
    }
}

/// The number of nodes in a tree (mapping keys included).
fn size(node: &Node) -> usize {
    match &node.value {
        Value::Scalar { .. } => 1,
        Value::Seq(items) => 1 + items.iter().map(size).sum::<usize>(),
        Value::Map(entries) => {
            1 + entries
                .iter()
                .map(|entry| 1 + size(&entry.value))
                .sum::<usize>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(text: &str) -> Vec<Entry> {
        match parse(text).unwrap().unwrap().value {
            Value::Map(entries) => entries,
            other => panic!("not a mapping: {other:?}"),
        }
    }

    #[test]
    fn scalars_keep_their_text_and_plainness() {
        let entries = map("a: 010\nb: '010'\nc: ~\n");
        let scalars: Vec<_> = entries
            .iter()
            .map(|entry| match &entry.value.value {
                Value::Scalar { text, plain } => (text.as_str(), *plain),
                _ => panic!("a scalar"),
            })
            .collect();
        assert_eq!(scalars, [("010", true), ("010", false), ("~", true)]);
        assert_eq!(entries[1].key_at, Pos { line: 2, column: 1 });
        assert_eq!(entries[1].value.at, Pos { line: 2, column: 4 });
    }

    #[test]
    fn aliases_and_merge_keys_resolve_and_explicit_keys_win() {
        let entries = map("base: &b {x: 1, y: 2}\ncopy: *b\nmerged:\n  <<: *b\n  y: 3\n");
        let Value::Map(copy) = &entries[1].value.value else {
            panic!("a mapping");
        };
        assert_eq!(copy.len(), 2);
        assert_eq!(entries[1].value.at, Pos { line: 2, column: 7 });
        let Value::Map(merged) = &entries[2].value.value else {
            panic!("a mapping");
        };
        let keys: Vec<_> = merged.iter().map(|entry| entry.key.as_str()).collect();
        assert_eq!(keys, ["y", "x"]);
        assert!(matches!(&merged[0].value.value, Value::Scalar { text, .. } if text == "3"));
    }

    #[test]
    fn a_key_given_twice_is_an_error_at_the_second() {
        let error = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(error.at, Pos { line: 3, column: 1 });
        assert_eq!(
            error.message,
            "`a` is given twice in this mapping (first at line 1)"
        );
    }

    #[test]
    fn empty_files_and_empty_second_documents() {
        assert!(parse("").unwrap().is_none());
        assert!(parse("# only a comment\n").unwrap().is_none());
        assert!(parse("a: 1\n---\n").unwrap().is_some());
        let error = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(error.at, Pos { line: 3, column: 1 });
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..8 {
            let previous = level - 1;
            text.push_str(&format!(
                "a{level}: &a{level} [*a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}]\n"
            ));
        }
        let error = parse(&text).unwrap_err();
        assert!(error.message.starts_with("more than 1000000 YAML nodes"));
    }

    #[test]
    fn deep_nesting_is_refused() {
        // Block nesting has no limit in the parser (flow nesting stops at 255).
        let text = format!("{}x\n", "- ".repeat(300));
        let error = parse(&text).unwrap_err();
        assert_eq!(error.message, "nested deeper than 200 levels");
    }
}
