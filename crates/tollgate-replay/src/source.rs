//! Reading a log line by line, never whole: [`LogReader`] keeps one line's buffer, numbers the
//! lines, and parses each as [`Format`] says, into a request or a connection that sent none
//! ([`Entry`]). A line that cannot be read is the caller's to count (see [`Malformed`]); it
//! never stops the reading.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use serde::Serialize;

use crate::record::Record;
use crate::{combined, json};

/// The lines of a log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    /// Each line by its first character: `{` is JSON, anything else the combined format.
    #[default]
    Auto,
    /// JSON lines (see [`json::parse`]).
    Json,
    /// nginx/Apache combined format (see [`combined::parse`]).
    Combined,
}

/// How to read the lines of the logs.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    /// Their format.
    pub format: Format,
    /// The header the last quoted field of a combined-format line stands for
    /// (`--key-header X-Api-Key`); none: that field is ignored.
    pub key_header: Option<String>,
}

/// What a line that could be read holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// A request, read into the record.
    Request,
    /// A connection that sent no request: nginx's own `"-" 400` line (a client that connected
    /// and sent nothing), Apache's `"-" 408`. Counted apart, neither a request nor malformed.
    NoRequest,
}

impl Reading {
    /// Reads `line` into `record` (cleared first).
    ///
    /// # Errors
    /// What is wrong with the line, in words.
    pub fn parse(&self, line: &str, record: &mut Record) -> Result<Entry, String> {
        record.clear();
        let json = match self.format {
            Format::Auto => line.starts_with('{'),
            Format::Json => true,
            Format::Combined => false,
        };
        if json {
            json::parse(line, record).map(|()| Entry::Request)
        } else {
            combined::parse(line, self.key_header.as_deref(), record)
        }
    }
}

/// How many malformed lines are kept with their place and reason.
pub const FIRST_MALFORMED: usize = 10;

/// Lines that could not be read: how many, and the first few.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Malformed {
    /// Every malformed line.
    pub count: u64,
    /// The first [`FIRST_MALFORMED`] of them.
    pub first: Vec<BadLine>,
}

impl Malformed {
    /// Counts line `line` of `file`, wrong because of `reason`.
    pub fn add(&mut self, file: &str, line: u64, reason: String) {
        self.count += 1;
        if self.first.len() < FIRST_MALFORMED {
            let reason = reason.chars().take(200).collect();
            self.first.push(BadLine {
                file: file.to_owned(),
                line,
                reason,
            });
        }
    }
}

/// One line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadLine {
    /// The file it is in.
    pub file: String,
    /// Its number, from 1.
    pub line: u64,
    /// What is wrong with it.
    pub reason: String,
}

/// The lines of one log, one at a time.
#[derive(Debug)]
pub struct LogReader<R> {
    name: String,
    input: R,
    line: u64,
    buffer: Vec<u8>,
}

impl LogReader<BufReader<File>> {
    /// The log at `path`.
    ///
    /// # Errors
    /// It cannot be opened.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        Ok(Self::new(
            path.display().to_string(),
            BufReader::with_capacity(1 << 16, file),
        ))
    }
}

impl<R: BufRead> LogReader<R> {
    /// The lines of `input`, called `name` in reports.
    pub fn new(name: String, input: R) -> Self {
        Self {
            name,
            input,
            line: 0,
            buffer: Vec::with_capacity(512),
        }
    }

    /// The log's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The number of the line read last, from 1.
    #[must_use]
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The next line that is not blank, without its line end; `None` at the end. A line that
    /// is not UTF-8 is `Err` with the reason.
    ///
    /// # Errors
    /// The log cannot be read.
    pub fn next_line(&mut self) -> io::Result<Option<Result<&str, String>>> {
        loop {
            self.buffer.clear();
            if self.input.read_until(b'\n', &mut self.buffer)? == 0 {
                return Ok(None);
            }
            self.line += 1;
            let mut end = self.buffer.len();
            while end > 0 && matches!(self.buffer[end - 1], b'\n' | b'\r') {
                end -= 1;
            }
            if self.buffer[..end].iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Ok(Some(
                std::str::from_utf8(&self.buffer[..end]).map_err(|_| "not UTF-8".to_owned()),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_numbered_and_blank_ones_skipped() {
        let mut reader = LogReader::new("log".into(), &b"a\r\n\n  \nb\n\xff\nc"[..]);
        let mut seen = Vec::new();
        while let Some(line) = reader.next_line().unwrap() {
            let line = line.map(str::to_owned);
            seen.push((reader.line(), line));
        }
        assert_eq!(
            seen,
            [
                (1, Ok("a".to_owned())),
                (4, Ok("b".to_owned())),
                (5, Err("not UTF-8".to_owned())),
                (6, Ok("c".to_owned())),
            ]
        );
    }

    #[test]
    fn only_the_first_malformed_lines_are_kept() {
        let mut malformed = Malformed::default();
        for line in 1..=25 {
            malformed.add("log", line, "bad".into());
        }
        assert_eq!(malformed.count, 25);
        assert_eq!(malformed.first.len(), FIRST_MALFORMED);
        assert_eq!(malformed.first[9].line, 10);
    }
}
