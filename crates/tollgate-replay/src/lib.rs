//! Safe policy changes: access logs replayed through a Tollgate policy on a simulated clock,
//! at full speed.
//!
//! - `record.rs` — one request read from a line ([`Record`]);
//! - `json.rs`, `combined.rs` — the two line formats: JSON lines, and nginx/Apache combined
//!   with the API key as an extra quoted field; `time.rs` — the times they write;
//! - `source.rs` — reading a log line by line ([`LogReader`], [`Reading`]) into requests and
//!   connections that sent none ([`Entry`]), malformed lines counted with their numbers
//!   ([`Malformed`]);
//! - `replay.rs` — the loop ([`Replay`]) over a [`Pipeline`]; `gate.rs` — [`ReplayGate`], the
//!   server's own gate (`tollgate-gate`) on a manual clock, so that the replay decides exactly
//!   as the server would; `verdict.rs` — what a pipeline decided ([`Verdict`]);
//! - `tally.rs`, `summary.rs` — counting verdicts and the report ([`Summary`]): per limit,
//!   per account (requests without one by [`Caller`]: no key, unknown key, not identified),
//!   top offenders, an hourly profile of every hour of the span;
//! - `diff.rs` — two policies compared: who gains and who loses refusals ([`Diff`]);
//! - `table.rs`, `html.rs` — the terminal's tables and a self-contained HTML page with SVG
//!   charts over one true time axis (`chart.rs`: every hour of the span, labels that never
//!   overlap); JSON is the [`Summary`] serialized.
//!
//! The crate does no I/O beyond reading the logs and needs no runtime: the loop is `async`
//! only because the pipeline is.
//!
//! ```
//! use futures_util::FutureExt;
//! use tollgate_core::Nanos;
//! use tollgate_policy::{Headers, PathError, Policy, RequestFacts, Source, Target};
//! use tollgate_replay::{LimitOutcome, LogReader, Pipeline, Reading, Replay, Verdict};
//!
//! /// Refuses every POST by a limit called `no-posts`.
//! struct NoPosts(Policy);
//!
//! impl Pipeline for NoPosts {
//!     fn target<'a>(&self, method: &str, raw: &'a str) -> Result<Target<'a>, PathError> {
//!         self.0.target(method, raw)
//!     }
//!     async fn decide<H: Headers + Sync + ?Sized>(
//!         &self, _at: Nanos, facts: &RequestFacts<'_, H>, _status: Option<u16>, verdict: &mut Verdict,
//!     ) {
//!         let allowed = facts.method != "POST";
//!         verdict.refused = (!allowed).then_some(429);
//!         verdict.limits.push(LimitOutcome { name: "no-posts".into(), allowed, shadow: false });
//!     }
//! }
//!
//! let policy = Policy::compile(&Source::new("p.toml", "")).unwrap();
//! let log = br#"{"time": "2026-01-01T00:00:00Z", "method": "GET", "path": "/a"}
//! {"time": 1767225601, "method": "POST", "path": "/a"}
//! not a log line
//! "#;
//! let pipeline = NoPosts(policy);
//! let mut replay = Replay::new(&pipeline, Reading::default());
//! replay.reader(LogReader::new("log".into(), &log[..])).now_or_never().unwrap().unwrap();
//! let summary = replay.finish();
//! assert_eq!((summary.requests, summary.refused), (2, 1));
//! assert_eq!(summary.limit("no-posts").unwrap().refused, 1);
//! assert_eq!((summary.malformed.count, summary.malformed.first[0].line), (1, 3));
//! ```

#![forbid(unsafe_code)]

mod chart;
pub mod combined;
mod diff;
mod gate;
pub mod html;
pub mod json;
mod record;
mod replay;
mod source;
mod summary;
pub mod table;
mod tally;
pub mod time;
mod verdict;

pub use diff::{Change, Diff};
pub use gate::ReplayGate;
pub use record::{LogHeaders, Record};
pub use replay::{Pipeline, Progress, Replay};
pub use source::{BadLine, Entry, FIRST_MALFORMED, Format, LogReader, Malformed, Reading};
pub use summary::{
    AccountSummary, HourCount, HourSummary, LimitSummary, Offender, Refusals, Summary,
};
pub use tally::{TOP_OFFENDERS, Tally};
pub use verdict::{Caller, LimitOutcome, Verdict};
