//! `tollgate replay` and `tollgate diff` on generated logs with known answers: the server's own
//! gate ([`ReplayGate`]) on a manual clock, moved to each line's time. No sleep: a day of log
//! replays in microseconds.
//!
//! One file per subject: the binary's subcommands (`cli`), time (calendar days across DST,
//! clock-aligned windows, out-of-order lines, every hour of the span), logs (formats, malformed
//! lines and lines without a request, keys unknown and absent, refunds from statuses, shadow
//! limits), diffs, and the HTML report as headless Chromium lays it out (`page`, driven by
//! `chromium`).

#[path = "../support/chromium.rs"]
mod chromium;
mod cli;
mod diff;
mod logs;
mod page;
mod time;

use std::path::PathBuf;

use tollgate_policy::{Policy, Source};
use tollgate_replay::ReplayGate;
use tollgate_replay::{Format, LogReader, Reading, Replay, Summary};

/// A policy from TOML text; panics with its errors.
fn policy(text: &str) -> Policy {
    Policy::compile(&Source::new("policy.toml", text))
        .unwrap_or_else(|errors| panic!("an invalid test policy: {errors:?}"))
}

/// `log` replayed through `policy`, read as `reading` says.
async fn replay_with(policy_text: &str, log: &str, reading: Reading) -> Summary {
    let gate = ReplayGate::new(policy(policy_text));
    let mut replay = Replay::new(&gate, reading);
    replay
        .reader(LogReader::new("access.log".into(), log.as_bytes()))
        .await
        .expect("an in-memory log reads");
    replay.finish()
}

/// JSON lines `log` replayed through `policy`.
async fn replay(policy_text: &str, log: &str) -> Summary {
    replay_with(
        policy_text,
        log,
        Reading {
            format: Format::Json,
            key_header: None,
        },
    )
    .await
}

/// A JSON log line: `method path` at `time` (RFC 3339 or epoch seconds, as text) with the
/// API key `key` (none when empty) and the upstream's `status`, if any.
fn line(time: &str, path: &str, key: &str, status: Option<u16>) -> String {
    let headers = if key.is_empty() {
        serde_json::json!({})
    } else {
        serde_json::json!({ "X-Api-Key": key })
    };
    let mut line =
        serde_json::json!({ "time": time, "method": "GET", "path": path, "headers": headers });
    if let Some(status) = status {
        line["status"] = status.into();
    }
    format!("{line}\n")
}

/// `count` times the same line.
fn lines(count: usize, time: &str, key: &str) -> String {
    line(time, "/machines/1", key, None).repeat(count)
}

/// Accounts `acme` (plan free) and `globex` (plan pro), one api.
const ACCOUNTS: &str = r#"
    default_plan = "free"

    [identity]
    api_key = { header = "X-Api-Key" }

    [[accounts]]
    id = "acme"
    plan = "free"
    keys = ["acme-key"]

    [[accounts]]
    id = "globex"
    plan = "pro"
    keys = ["globex-key"]

    [[routes]]
    api = "machines"
    match = "* /machines/{*rest}"

    [plans.free]
    [plans.pro]
"#;

/// A directory of its own under the system's temporary one, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tollgate-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Self(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("written");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
