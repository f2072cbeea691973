//! A TOML text cut into its tables by their header lines, without parsing it: where a file's
//! syntax is broken, each table can then be read on its own.
//!
//! A header is a line that starts with `[` outside any string and any value. Where a value is
//! left open (an array or inline table missing its `]` or `}`), a line that can only be a header
//! — `[[limits]]`, `[plans.pro]`: keys that are no value, such as a bare word — still starts
//! a table, so that one unclosed bracket does not swallow the rest of the file.

use std::ops::Range;

/// One table of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Table {
    /// From the start of its header line to the start of the next header line (the keys before
    /// the first header are a table with an empty path).
    pub(super) range: Range<usize>,
    /// Its header's keys as written, read leniently (`[plans."pro"` gives `plans`, `pro`).
    pub(super) path: Vec<String>,
    /// An array-of-tables header, `[[…]]`.
    pub(super) array: bool,
}

/// Where the scan is at the start of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inside {
    Code,
    /// A `"""` string.
    Basic,
    /// A `'''` string.
    Literal,
}

/// The tables of `text`, in order; the first is the keys before the first header (perhaps
/// empty).
pub(super) fn tables(text: &str) -> Vec<Table> {
    let mut tables = vec![Table {
        range: 0..text.len(),
        path: Vec::new(),
        array: false,
    }];
    let mut inside = Inside::Code;
    let mut depth = 0usize;
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let at = start;
        start += line.len();
        if inside == Inside::Code {
            let code = line.trim_start();
            if code.starts_with('[') && (depth == 0 || only_a_header(code)) {
                if let Some(last) = tables.last_mut() {
                    last.range.end = at;
                }
                let (path, array) = header_path(code);
                tables.push(Table {
                    range: at..text.len(),
                    path,
                    array,
                });
                depth = 0;
                continue;
            }
        }
        inside = scan(line, &text[start..], inside, &mut depth);
    }
    tables
}

/// Follows strings, comments and brackets through one line; `rest` is the text after it.
fn scan(line: &str, rest: &str, mut inside: Inside, depth: &mut usize) -> Inside {
    let bytes = line.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let tail = &bytes[at..];
        match inside {
            Inside::Basic if tail.starts_with(b"\\") => at += 1,
            Inside::Basic if tail.starts_with(b"\"\"\"") => {
                inside = Inside::Code;
                at += 2;
            }
            Inside::Literal if tail.starts_with(b"'''") => {
                inside = Inside::Code;
                at += 2;
            }
            Inside::Basic | Inside::Literal => {}
            Inside::Code => match bytes[at] {
                b'#' => break,
                quote @ (b'"' | b'\'') => {
                    let triple = [quote; 3];
                    // A multi-line string that is never closed is read as one that ends with
                    // its line, so that the headers after it still count.
                    if tail.starts_with(&triple)
                        && (contains(&tail[3..], &triple) || contains(rest.as_bytes(), &triple))
                    {
                        inside = if quote == b'"' {
                            Inside::Basic
                        } else {
                            Inside::Literal
                        };
                        at += 2;
                    } else {
                        at = closing_quote(bytes, at + 1, quote);
                    }
                }
                b'[' | b'{' => *depth += 1,
                b']' | b'}' => *depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        at += 1;
    }
    inside
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// The index of the quote that closes a one-line string opened before `from`, or the line's
/// end.
fn closing_quote(bytes: &[u8], mut from: usize, quote: u8) -> usize {
    while from < bytes.len() {
        match bytes[from] {
            b'\\' if quote == b'"' => from += 1,
            b'\n' => return from,
            byte if byte == quote => return from,
            _ => {}
        }
        from += 1;
    }
    from
}

/// A header's keys and whether it is `[[…]]`, read leniently: up to its `]`, its comment or
/// the end of its line, whatever the keys are.
fn header_path(line: &str) -> (Vec<String>, bool) {
    let array = line.starts_with("[[");
    let keys = line.trim_start_matches('[');
    let end = keys.find([']', '#', '\n']).unwrap_or(keys.len());
    let path = keys[..end]
        .split('.')
        .map(|key| key.trim().trim_matches(['"', '\'']).to_owned())
        .collect();
    (path, array)
}

/// Whether `line` (in an open value) can only be a table header: `[keys]` or `[[keys]]` alone
/// on its line, where some key is a bare word that no value is (a nested array such as
/// `["a"]` or `[1]` is a value).
fn only_a_header(line: &str) -> bool {
    let line = line.trim_end();
    let line = match line.find('#') {
        Some(comment) => line[..comment].trim_end(),
        None => line,
    };
    let inner = if let Some(inner) = line.strip_prefix("[[") {
        inner.strip_suffix("]]")
    } else {
        line.strip_prefix('[')
            .and_then(|inner| inner.strip_suffix(']'))
    };
    let Some(inner) = inner else {
        return false;
    };
    let keys: Vec<&str> = inner.split('.').map(str::trim).collect();
    let bare = |key: &str| {
        !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    let quoted = |key: &str| {
        key.len() >= 2
            && ((key.starts_with('"') && key.ends_with('"'))
                || (key.starts_with('\'') && key.ends_with('\'')))
    };
    keys.iter().all(|key| bare(key) || quoted(key))
        && keys.iter().any(|key| {
            bare(key)
                && key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && !["true", "false", "inf", "nan"].contains(key)
        })
}

/// The tables of `tables` grouped into what can be read alone: a table whose header extends an
/// array-of-tables header before it (`[limits.when]` after `[[limits]]`) belongs to that
/// array's last element. Each group lists table indices, in order.
pub(super) fn groups(tables: &[Table]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    // Array-of-tables paths and the group of their last element.
    let mut arrays: Vec<(&[String], usize)> = Vec::new();
    for (index, table) in tables.iter().enumerate() {
        let parent = arrays
            .iter()
            .filter(|(path, _)| path.len() < table.path.len() && table.path.starts_with(path))
            .max_by_key(|(path, _)| path.len())
            .map(|&(_, group)| group);
        match parent {
            Some(group) => groups[group].push(index),
            None => {
                groups.push(vec![index]);
                if table.array {
                    let group = groups.len() - 1;
                    arrays.retain(|(path, _)| *path != table.path.as_slice());
                    arrays.push((&table.path, group));
                }
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(text: &str) -> Vec<(usize, Vec<String>)> {
        tables(text)
            .into_iter()
            .map(|table| (table.range.start, table.path))
            .collect()
    }

    fn path(keys: &[&str]) -> Vec<String> {
        keys.iter().map(|&key| key.to_owned()).collect()
    }

    #[test]
    fn headers_start_tables() {
        let text = "a = 1\n[server]\nx = 2\n  [[limits]] # one\n[plans.\"pro\".limits]\n";
        assert_eq!(
            headers(text),
            [
                (0, path(&[])),
                (text.find("[server]").unwrap(), path(&["server"])),
                (text.find("  [[limits]]").unwrap(), path(&["limits"])),
                (
                    text.find("[plans").unwrap(),
                    path(&["plans", "pro", "limits"])
                ),
            ]
        );
        let tables = tables(text);
        assert_eq!(tables[1].range, 6..text.find("  [[").unwrap());
        assert!(tables[2].array && !tables[1].array);
        assert_eq!(tables[3].range.end, text.len());
    }

    #[test]
    fn brackets_in_values_strings_and_comments_are_no_headers() {
        let text = "a = [\n  [1, 2],\n  [\"b\"]\n]\nb = \"\"\"\n[server]\n\"\"\"\nc = '''\n[x]'''\nd = \"[\" # [\n[t]\n";
        assert_eq!(
            headers(text),
            [(0, path(&[])), (text.len() - 4, path(&["t"]))]
        );
    }

    #[test]
    fn a_header_after_an_open_value_still_starts_a_table() {
        let text = "[[limits]]\nper = [\"a\",\n\n[[limits]]\nname = \"b\"\n";
        assert_eq!(
            headers(text),
            [
                (0, path(&[])),
                (0, path(&["limits"])),
                (text.rfind("[[").unwrap(), path(&["limits"]))
            ]
        );
        // An unclosed string ends with its line; an unclosed multi-line one too.
        let text = "[a]\nx = \"open\n[b]\ny = \"\"\"never closed\n[c]\n";
        let starts: Vec<usize> = tables(text).iter().map(|t| t.range.start).collect();
        assert_eq!(
            starts,
            [0, 0, text.find("[b]").unwrap(), text.find("[c]").unwrap()]
        );
        // A broken header is a header all the same.
        assert_eq!(header_path("[identity\n"), (path(&["identity"]), false));
    }

    #[test]
    fn sub_tables_of_an_array_element_read_with_it() {
        let text = "[[limits]]\n[limits.when]\n[server]\n[[limits]]\n[limits.window]\n[limitsx]\n";
        let tables = tables(text);
        assert_eq!(
            groups(&tables),
            [vec![0], vec![1, 2], vec![3], vec![4, 5], vec![6]]
        );
    }
}
