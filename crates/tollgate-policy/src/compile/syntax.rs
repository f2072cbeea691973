//! TOML syntax errors, as many as one run can find: the `toml` parser stops at its first error
//! (what it reads after one is guesswork), so a broken file is cut into its tables, each
//! table read on its own, and the tables that are broken are blanked out.
//!
//! Found in one run: the first syntax error of every table (a table with a sub-table of an
//! array element, `[[limits]]` with `[limits.when]`, counts as one), then what only the whole
//! file shows (a table or key defined twice), one at a time. A second syntax error in a table
//! that already has one shows once the first is fixed: after an error, the parser's reading of
//! the rest of that table is no longer the author's.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::tables::{Table, groups, tables};
use crate::error::{ConfigError, Source};

/// What is left of a file once its broken tables are blanked out.
#[derive(Debug)]
pub(super) struct Readable {
    /// The text, with every broken table's bytes turned into spaces (lines and offsets kept).
    pub(super) text: String,
    /// The tables blanked out.
    pub(super) lost: Vec<Lost>,
}

/// A syntax error: where, and what.
type Found = (Range<usize>, String);

/// Keys and the text values they had.
type Texts = Vec<(String, String)>;

/// A table blanked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Lost {
    /// Its header's keys (empty for the keys before the first header, whose own keys follow
    /// as tables of one key).
    pub(super) path: Vec<String>,
    /// The keys of the table itself (of its array element) that were read as text before its
    /// error, with their text: a limit's `name`, a route's `api`.
    pub(super) read: Texts,
}

/// Whole-file parses at most, once every table reads alone: each finds one error of tables
/// that do not fit together.
const MOST_PASSES: usize = 100;

/// The readable part of `source`, with an error for every table that is not readable.
pub(super) fn readable(source: &Source, errors: &mut Vec<ConfigError>) -> Readable {
    let text = source.text();
    if DeTable::parse(text).is_ok() {
        return Readable {
            text: text.to_owned(),
            lost: Vec::new(),
        };
    }
    let tables = tables(text);
    let mut blank = Blanking {
        text: text.as_bytes().to_vec(),
        lost: Vec::new(),
        tables: &tables,
    };
    let groups = groups(&tables);
    let mut blanked = vec![false; groups.len()];
    let mut read = Vec::with_capacity(groups.len());
    for (group, tables_of) in groups.iter().enumerate() {
        let (error, texts) = alone(text, &tables, tables_of);
        if let Some((span, message)) = error {
            errors.push(source.error(span, message));
            blank.group(text, tables_of, &texts);
            blanked[group] = true;
        }
        read.push(texts);
    }
    for _ in 0..MOST_PASSES {
        let current = blank.current();
        let (_, found) = DeTable::parse_recoverable(&current);
        let Some((span, message)) = first_error(&current, &found) else {
            break;
        };
        errors.push(source.error(span.clone(), message));
        let at = span.start;
        let table = tables
            .iter()
            .rposition(|table| table.range.start <= at)
            .unwrap_or(0);
        match groups.iter().position(|group| group.contains(&table)) {
            Some(group) if !blanked[group] => {
                blanked[group] = true;
                blank.group(text, &groups[group], &read[group]);
            }
            // Nothing left to blank there: what remains is read as it is.
            _ => break,
        }
    }
    Readable {
        text: blank.current(),
        lost: blank.lost,
    }
}

/// The first error of a group of tables read alone, with its span in the whole text, and the
/// text values of its first table's keys read before it.
fn alone(text: &str, tables: &[Table], group: &[usize]) -> (Option<Found>, Texts) {
    let (Some(&first), Some(&last)) = (group.first(), group.last()) else {
        return (None, Vec::new());
    };
    let (start, end) = (tables[first].range.start, tables[last].range.end);
    // Only the group's tables, with what lies between them blanked: the text ends with the
    // group's last line, so that an unclosed value is reported where its table ends.
    let mut alone = text.as_bytes()[start..end].to_vec();
    for (index, table) in tables.iter().enumerate().take(last + 1).skip(first) {
        if !group.contains(&index) {
            blank_bytes(&mut alone[table.range.start - start..table.range.end - start]);
        }
    }
    let alone = String::from_utf8_lossy(&alone);
    let alone = alone.trim_end();
    let (document, errors) = DeTable::parse_recoverable(alone);
    let error = first_error(alone, &errors);
    // What ends on a line before the error's was read as written; on its line, perhaps not
    // (`name = "weekly` reads as `weekly`).
    let before = error.as_ref().map_or(usize::MAX, |(span, _)| {
        alone.as_bytes()[..span.start.min(alone.len())]
            .iter()
            .rposition(|&byte| byte == b'\n')
            .map_or(0, |newline| newline + 1)
    });
    let texts = texts_before(&document, &tables[first].path, before);
    let error = error.map(|(span, message)| (span.start + start..span.end + start, message));
    (error, texts)
}

/// The text values of the table at `path` in `document` (of the last element of an array)
/// that end before `before`.
fn texts_before(document: &Spanned<DeTable<'_>>, path: &[String], before: usize) -> Texts {
    let mut table = document.get_ref();
    for key in path {
        let inner = table.get(key.as_str()).map(Spanned::get_ref);
        let inner = match inner {
            Some(DeValue::Array(items)) => items.last().map(Spanned::get_ref),
            other => other,
        };
        match inner {
            Some(DeValue::Table(inner)) => table = inner,
            _ => return Vec::new(),
        }
    }
    table
        .iter()
        .filter(|(_, value)| value.span().end <= before)
        .filter_map(|(key, value)| {
            let text = value.get_ref().as_str()?;
            Some((key.get_ref().to_string(), text.to_owned()))
        })
        .collect()
}

/// Of the `errors` of `text`, the one that comes first.
fn first_error(text: &str, errors: &[toml::de::Error]) -> Option<Found> {
    // After its first error the parser recovers as best it can, and what it reports next may
    // be a consequence; an error on the first line with one is none. On that line, the one
    // reported first reads best (`1000 every` lacks a comma before it is an unquoted string).
    let line = |error: &toml::de::Error| {
        error.span().map_or(usize::MAX, |span| {
            text.as_bytes()[..span.start.min(text.len())]
                .iter()
                .filter(|&&byte| byte == b'\n')
                .count()
        })
    };
    errors
        .iter()
        .enumerate()
        .min_by_key(|(index, error)| (line(error), *index))
        .map(|(_, error)| {
            let span = error.span().unwrap_or(text.len()..text.len());
            (span, error.message().trim_end().to_owned())
        })
}

/// The text as its tables are blanked out.
struct Blanking<'t> {
    text: Vec<u8>,
    lost: Vec<Lost>,
    tables: &'t [Table],
}

impl Blanking<'_> {
    /// Blanks the tables of `group` (one table, or an array element with its sub-tables,
    /// which define nothing of their own); `read` are the texts its first table's keys had.
    fn group(&mut self, original: &str, group: &[usize], read: &[(String, String)]) {
        let Some(&first) = group.first() else {
            return;
        };
        let table = &self.tables[first];
        self.lost.push(Lost {
            path: table.path.clone(),
            read: read.to_vec(),
        });
        if table.path.is_empty() {
            let keys = top_keys(&original[table.range.clone()]);
            self.lost.extend(keys.map(|key| Lost {
                path: vec![key],
                read: Vec::new(),
            }));
        }
        for &index in group {
            blank_bytes(&mut self.text[self.tables[index].range.clone()]);
        }
    }

    fn current(&self) -> String {
        // Only whole lines are blanked, so the text stays UTF-8.
        String::from_utf8_lossy(&self.text).into_owned()
    }
}

/// Every byte but line ends turned into a space.
fn blank_bytes(bytes: &mut [u8]) {
    for byte in bytes {
        if *byte != b'\n' && *byte != b'\r' {
            *byte = b' ';
        }
    }
}

/// The keys that lines of keys before the first header start with (`default_plan`, `limits` of
/// `limits = [...]`), read leniently.
fn top_keys(text: &str) -> impl Iterator<Item = String> + '_ {
    text.lines().filter_map(|line| {
        let line = line.trim_start();
        let end = line.find(['=', '.', ' ', '\t'])?;
        let key = line[..end].trim_matches(['"', '\'']);
        (!key.is_empty() && !key.starts_with('#')).then(|| key.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Vec<String>, Readable) {
        let source = Source::new("p.toml", text);
        let mut errors = Vec::new();
        let readable = readable(&source, &mut errors);
        (errors.iter().map(ToString::to_string).collect(), readable)
    }

    #[test]
    fn a_readable_file_is_kept_whole() {
        let (errors, readable) = read("a = 1\n[b]\nc = 2\n");
        assert!(errors.is_empty());
        assert_eq!(readable.text, "a = 1\n[b]\nc = 2\n");
        assert!(readable.lost.is_empty());
    }

    #[test]
    fn each_broken_table_is_reported_and_blanked() {
        let text = "x = \"open\n[a]\nk = 1\n[[b]]\nk = [1,\n[c]\nk = 3\n";
        let (errors, readable) = read(text);
        assert_eq!(
            errors,
            [
                "p.toml:1:10: invalid basic string, expected `\"`",
                "p.toml:5:8: unclosed array, expected `]`",
            ]
        );
        assert_eq!(
            readable.text,
            "         \n[a]\nk = 1\n     \n       \n[c]\nk = 3\n"
        );
        let paths: Vec<&[String]> = readable.lost.iter().map(|lost| &lost.path[..]).collect();
        assert_eq!(paths, [&[][..], &["x".to_owned()], &["b".to_owned()]]);
    }

    #[test]
    fn tables_that_clash_are_reported_one_pass_each() {
        let text = "[a]\nk = 1\n[a]\nk = 2\n[b]\nk = \"x\nk = 1\n[b]\n";
        let (errors, readable) = read(text);
        assert_eq!(
            errors,
            [
                "p.toml:6:7: invalid basic string, expected `\"`",
                "p.toml:3:2: duplicate key",
            ]
        );
        assert_eq!(
            readable.text,
            "[a]\nk = 1\n   \n     \n   \n      \n     \n[b]\n"
        );
    }

    #[test]
    fn what_a_broken_table_read_before_its_error_is_kept() {
        let text = "[[limits]]\nname = \"daily\"\nshadow = true\nper = [1,\ncode = \"x\"\n[[limits]]\nname = \"weekly\n";
        let (errors, readable) = read(text);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(
            readable.lost,
            [
                Lost {
                    path: vec!["limits".to_owned()],
                    read: vec![("name".to_owned(), "daily".to_owned())],
                },
                Lost {
                    path: vec!["limits".to_owned()],
                    read: Vec::new(),
                },
            ]
        );
    }
}
