//! The replay loop: each line of each log, in order, decided by a [`Pipeline`] at the line's
//! time, and counted in a [`Tally`].
//!
//! Time never goes back: a line older than one already replayed is replayed at the latest time
//! seen (and counted as `late`), as a server that received it then would have decided it. The
//! logs are read one line at a time; memory follows the live partitions of the pipeline's store
//! and the accounts seen, not the size of the logs.

use std::future::Future;
use std::io::{self, BufRead};
use std::path::Path;

use tollgate_core::Nanos;
use tollgate_policy::{Headers, KeyCarrier, PathError, RequestFacts, Target};

use crate::record::Record;
use crate::source::{Entry, LogReader, Reading};
use crate::summary::Summary;
use crate::tally::Tally;
use crate::verdict::Caller;
use crate::verdict::Verdict;

/// What decides a request: in `tollgate replay`, the server's own gate on a manual clock
/// ([`ReplayGate`](crate::ReplayGate)), so that the replay runs the very pipeline that
/// serves.
pub trait Pipeline {
    /// The canonical form of a request target, as the policy reads it.
    ///
    /// # Errors
    /// A target the policy's path rules refuse (answered 400).
    fn target<'a>(&self, method: &str, raw: &'a str) -> Result<Target<'a>, PathError>;

    /// Decides `facts` at `at` (never earlier than the time of the call before), and, when
    /// admitted with an upstream `status`, settles the admission with it so that refunds
    /// apply. Writes what happened into `verdict` (cleared by the caller).
    fn decide<H: Headers + Sync + ?Sized>(
        &self,
        at: Nanos,
        facts: &RequestFacts<'_, H>,
        status: Option<u16>,
        verdict: &mut Verdict,
    ) -> impl Future<Output = ()>;

    /// Where a request to `path` presents `account` (`None`: a key no account has) when the
    /// log names accounts instead of keys (Tollgate's own access log): a header, or the query
    /// parameter the log redacted; `None` where the pipeline cannot (the default).
    fn stand_in_key(&self, account: Option<&str>, path: &str) -> Option<KeyCarrier> {
        let _ = (account, path);
        None
    }
}

/// `path` with query parameter `name` set to `value` (in place of what the log wrote there, or
/// added).
fn with_parameter(path: &str, name: &str, value: &str) -> String {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut pairs: Vec<String> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| pair.split_once('=').map_or(*pair, |(key, _)| key) != name)
        .map(str::to_owned)
        .collect();
    // A stand-in key is letters, digits and dashes: nothing to encode.
    pairs.push(format!("{name}={value}"));
    format!("{path}?{}", pairs.join("&"))
}

/// Where a replay is, for a progress line.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Lines read so far.
    pub lines: u64,
    /// Requests refused so far.
    pub refused: u64,
    /// The latest time replayed.
    pub at: Nanos,
}

/// Logs replayed through one pipeline.
pub struct Replay<'p, P> {
    pipeline: &'p P,
    reading: Reading,
    tally: Tally,
    latest: Nanos,
    record: Record,
    verdict: Verdict,
    every: u64,
    progress: Option<Box<dyn FnMut(Progress) + 'p>>,
}

impl<P> std::fmt::Debug for Replay<'_, P> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Replay")
            .field("latest", &self.latest)
            .field("lines", &self.tally.lines)
            .finish_non_exhaustive()
    }
}

impl<'p, P: Pipeline> Replay<'p, P> {
    /// A replay through `pipeline`, reading lines as `reading` says.
    pub fn new(pipeline: &'p P, reading: Reading) -> Self {
        Self {
            pipeline,
            reading,
            tally: Tally::default(),
            latest: 0,
            record: Record::default(),
            verdict: Verdict::default(),
            every: 0,
            progress: None,
        }
    }

    /// Calls `report` every `every` lines.
    #[must_use]
    pub fn with_progress(mut self, every: u64, report: impl FnMut(Progress) + 'p) -> Self {
        self.every = every.max(1);
        self.progress = Some(Box::new(report));
        self
    }

    /// Replays the log at `path`.
    ///
    /// # Errors
    /// It cannot be opened or read (malformed lines are counted, never an error).
    pub async fn file(&mut self, path: &Path) -> io::Result<()> {
        self.reader(LogReader::open(path)?).await
    }

    /// Replays the lines of `reader`.
    ///
    /// # Errors
    /// It cannot be read.
    pub async fn reader<R: BufRead>(&mut self, mut reader: LogReader<R>) -> io::Result<()> {
        self.tally.files.push(reader.name().to_owned());
        while let Some(line) = reader.next_line()? {
            self.tally.lines += 1;
            let parsed = line.and_then(|line| self.reading.parse(line, &mut self.record));
            match parsed {
                Ok(Entry::Request) => {
                    self.tally.unread_key_fields += u64::from(self.record.unread_key_field);
                    self.one().await;
                }
                Ok(Entry::NoRequest) => self.tally.no_request += 1,
                Err(reason) => {
                    let (name, number) = (reader.name().to_owned(), reader.line());
                    self.tally.malformed.add(&name, number, reason);
                }
            }
            if self.every > 0 && self.tally.lines % self.every == 0 {
                let progress = Progress {
                    lines: self.tally.lines,
                    refused: self.tally.refused,
                    at: self.latest,
                };
                if let Some(report) = &mut self.progress {
                    report(progress);
                }
            }
        }
        Ok(())
    }

    /// Decides the request in `self.record`.
    async fn one(&mut self) {
        let at = if self.record.at < self.latest {
            self.tally.late += 1;
            self.latest
        } else {
            self.latest = self.record.at;
            self.record.at
        };
        self.verdict.clear();
        // An access log names the account, never its key: a stand-in key presents it.
        let stand_in = match (&self.record.account, self.record.unknown_key) {
            (Some(account), _) => self.pipeline.stand_in_key(Some(account), &self.record.path),
            (None, true) => self.pipeline.stand_in_key(None, &self.record.path),
            (None, false) => None,
        };
        match stand_in {
            Some(KeyCarrier::Header(name, value)) => self.record.headers.push(&name, &value),
            Some(KeyCarrier::Query(name, value)) => {
                self.record.path = with_parameter(&self.record.path, &name, &value);
            }
            None => {}
        }
        match self.pipeline.target(&self.record.method, &self.record.path) {
            Ok(target) => {
                let facts = RequestFacts {
                    method: &self.record.method,
                    target: &target,
                    headers: &self.record.headers,
                    client_ip: self.record.client_ip,
                    cost: None,
                    // A log holds what reached the service, through the proxies it trusts.
                    from_trusted_proxy: true,
                };
                self.pipeline
                    .decide(at, &facts, self.record.status, &mut self.verdict)
                    .await;
            }
            // The server answers it 400 before any limit, or any key.
            Err(_) => {
                self.verdict.refused = Some(400);
                self.verdict.caller = Caller::Unidentified;
            }
        }
        self.tally.add(at, &self.verdict);
    }

    /// What the replay found.
    #[must_use]
    pub fn finish(self) -> Summary {
        self.tally.summary()
    }
}
