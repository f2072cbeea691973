//! The access log: one JSON line per decision of the gateway, forward-auth, the check API and
//! Envoy's external authorization — when, how it came in, what was asked (the canonical path),
//! whose it was (the account and app, never a key), what was answered and why, and what the
//! upstream said and took. Off by default (`tollgate serve --access-log FILE`, `-` for standard
//! output).
//!
//! Lines are written by a thread of their own from a bounded queue: a decision never waits
//! for the disk; a line that finds the queue full is dropped and counted
//! (`tollgate_access_log_dropped_total`). `tollgate replay` reads the file as it is.

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::Duration;

use serde::Serialize;
use tollgate_gate::{Report, Why};
use tollgate_policy::Target;

/// Lines waiting to be written at most.
const QUEUE: usize = 64 * 1024;

/// How a request came in.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Via {
    /// The gateway.
    Gateway,
    /// Forward-auth, `GET /v1/auth`.
    ForwardAuth,
    /// The check API, `POST /v1/check`.
    Check,
    /// Envoy's external authorization, `envoy.service.auth.v3.Authorization/Check`.
    ExtAuthz,
}

/// One decision, as its line says it.
#[derive(Debug, Serialize)]
pub(crate) struct Line<'a> {
    /// When it was decided: RFC 3339 in UTC, to the microsecond.
    pub(crate) time: String,
    pub(crate) via: Via,
    pub(crate) method: &'a str,
    /// The path as it was counted (its canonical form) with the query as received; as
    /// received for a request refused before it could be read.
    pub(crate) path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) client_ip: Option<IpAddr>,
    pub(crate) api: Option<&'a str>,
    pub(crate) account: Option<&'a str>,
    pub(crate) app: Option<&'a str>,
    /// The answer's status (the check API's: the status it reports).
    pub(crate) answer: u16,
    /// What refused it, if refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) why: Option<&'static str>,
    /// The limits that refused it.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub(crate) refused_by: Vec<&'a str>,
    /// The upstream's status, when it answered: what refunds read on a replay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<u16>,
    /// Time to the upstream's response headers, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) upstream_ms: Option<f64>,
    /// Time from the request's head to its answer's head, in milliseconds.
    pub(crate) took_ms: f64,
}

impl<'a> Line<'a> {
    /// The parts of a line a report and a refusal tell.
    pub(crate) fn fill(&mut self, report: &'a Report, why: Option<Why>) {
        self.api = report.api.as_deref();
        self.account = report.account.as_deref();
        self.app = report.app.as_deref();
        self.why = why.map(why_word);
        self.refused_by = report
            .limits
            .iter()
            .filter(|limit| !limit.allowed && !limit.shadow)
            .map(|limit| &*limit.name)
            .collect();
    }
}

/// `why` as the log writes it.
fn why_word(why: Why) -> &'static str {
    match why {
        Why::Limited => "limited",
        Why::Blocked => "blocked",
        Why::Unauthenticated => "unauthenticated",
        Why::NoRoute => "no_route",
        Why::BadRequest => "bad_request",
        Why::StoreFault => "store_fault",
        Why::Upstream => "upstream",
    }
}

/// What one request came to, as an adapter tells it when answering.
#[derive(Debug)]
pub(crate) struct Answered<'a> {
    pub(crate) via: Via,
    pub(crate) method: &'a str,
    /// The target as counted, once read.
    pub(crate) target: Option<&'a Target<'a>>,
    /// The path and query as received.
    pub(crate) raw_path: &'a str,
    pub(crate) client_ip: Option<IpAddr>,
    /// What the limits said (an empty report for a request refused before them).
    pub(crate) report: &'a Report,
    /// What refused it, if refused.
    pub(crate) why: Option<Why>,
    /// The answer's status (the check API's: the status it reports).
    pub(crate) answer: u16,
    /// The upstream's status and the time to its response headers, when it answered.
    pub(crate) upstream: Option<(u16, Duration)>,
    /// When the request's head was read.
    pub(crate) started: std::time::Instant,
}

/// What stands in a line for the value of a query parameter that carries a secret.
pub(crate) const REDACTED: &str = "REDACTED";

/// Query parameters whose values are never written, whatever the policy reads: names that
/// usually carry a secret (compared without case, once percent-decoded).
const SECRET_PARAMETERS: [&str; 12] = [
    "api_key",
    "apikey",
    "api-key",
    "key",
    "access_token",
    "token",
    "secret",
    "client_secret",
    "password",
    "sig",
    "signature",
    "auth",
];

/// The longest path and query a line holds; longer ones are cut, marked with `…`.
const MAX_PATH: usize = 2_048;

/// `path` (with its query) as a line writes it: the values of `key_parameter` (the one the
/// policy reads keys from) and of [`SECRET_PARAMETERS`] replaced by [`REDACTED`], and cut at
/// [`MAX_PATH`] bytes.
pub(crate) fn written_path(path: &str, key_parameter: Option<&str>) -> String {
    let (path, query) = match path.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path, None),
    };
    let mut written = path.to_owned();
    if let Some(query) = query {
        written.push('?');
        for (at, pair) in query.split('&').enumerate() {
            if at > 0 {
                written.push('&');
            }
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded = percent_encoding::percent_decode_str(&name.replace('+', " "))
                .decode_utf8_lossy()
                .to_ascii_lowercase();
            let secret = key_parameter.is_some_and(|key| decoded == key.to_ascii_lowercase())
                || SECRET_PARAMETERS.contains(&decoded.as_str());
            written.push_str(name);
            if pair.contains('=') {
                written.push('=');
                written.push_str(if secret { REDACTED } else { value });
            }
        }
    }
    if written.len() > MAX_PATH {
        let mut cut = MAX_PATH;
        while !written.is_char_boundary(cut) {
            cut -= 1;
        }
        written.truncate(cut);
        written.push('…');
    }
    written
}

impl Answered<'_> {
    /// Its line, decided at `at` (ns since the epoch), no value of `key_parameter` (nor of a
    /// parameter that usually carries a secret) written.
    pub(crate) fn line(&self, at: tollgate_core::Nanos, key_parameter: Option<&str>) -> Line<'_> {
        let time = jiff::Timestamp::from_nanosecond(i128::from(at))
            .map(|instant| format!("{instant:.6}"))
            .unwrap_or_default();
        let mut line = Line {
            time,
            via: self.via,
            method: self.method,
            path: written_path(
                &self.target.map_or_else(
                    || self.raw_path.to_owned(),
                    |target| match target.query() {
                        Some(query) => format!("{}?{query}", target.path()),
                        None => target.path().to_owned(),
                    },
                ),
                key_parameter,
            ),
            client_ip: self.client_ip,
            api: None,
            account: None,
            app: None,
            answer: self.answer,
            why: None,
            refused_by: Vec::new(),
            status: self.upstream.map(|(status, _)| status),
            upstream_ms: self.upstream.map(|(_, took)| millis(took)),
            took_ms: millis(self.started.elapsed()),
        };
        line.fill(self.report, self.why);
        line
    }
}

/// Milliseconds of `took`.
pub(crate) fn millis(took: Duration) -> f64 {
    took.as_secs_f64() * 1_000.0
}

/// Where lines go, and how many were dropped.
#[derive(Debug)]
pub(crate) struct AccessLog {
    lines: SyncSender<String>,
    dropped: AtomicU64,
}

impl AccessLog {
    /// Opens `path` for appending (`-`: standard output) and starts the thread that writes.
    ///
    /// # Errors
    /// When the file cannot be opened.
    pub(crate) fn open(path: &Path) -> std::io::Result<Self> {
        let out: Box<dyn Write + Send> = if path.as_os_str() == "-" {
            Box::new(std::io::stdout())
        } else {
            Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            )
        };
        let (lines, queue) = std::sync::mpsc::sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("access-log".to_owned())
            .spawn(move || write_lines(&queue, out))?;
        Ok(Self {
            lines,
            dropped: AtomicU64::new(0),
        })
    }

    /// Queues `line`; dropped (and counted) when the queue is full.
    pub(crate) fn write(&self, line: &Line<'_>) {
        let Ok(text) = serde_json::to_string(line) else {
            return;
        };
        if let Err(TrySendError::Full(_)) = self.lines.try_send(text) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Lines dropped since the start.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Writes queued lines to `out`, flushing whenever the queue is empty; ends when the log is
/// dropped and its queue drained.
fn write_lines(queue: &Receiver<String>, out: Box<dyn Write + Send>) {
    let mut out = std::io::BufWriter::new(out);
    while let Ok(line) = queue.recv() {
        let mut written = writeln!(out, "{line}");
        while let Ok(more) = queue.try_recv() {
            written = written.and_then(|()| writeln!(out, "{more}"));
        }
        if let Err(error) = written.and_then(|()| out.flush()) {
            tracing::error!(%error, "access log lines not written");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_secret_in_a_written_path() {
        let written = |path| written_path(path, Some("x-key"));
        assert_eq!(written("/a"), "/a");
        assert_eq!(
            written("/a?x-key=s3cret&page=2"),
            "/a?x-key=REDACTED&page=2"
        );
        assert_eq!(written("/a?X%2DKey=s3cret"), "/a?X%2DKey=REDACTED");
        assert_eq!(
            written("/a?access_token=t&API_KEY=k&flag&q=1"),
            "/a?access_token=REDACTED&API_KEY=REDACTED&flag&q=1"
        );
        let long = format!("/{}", "é".repeat(2_000));
        let cut = written(&long);
        assert!(cut.len() <= MAX_PATH + '…'.len_utf8() && cut.ends_with('…'));
    }
}
