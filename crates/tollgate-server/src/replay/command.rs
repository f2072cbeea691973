//! `tollgate replay --config P.toml --log FILE... [--json] [--html OUT]` and
//! `tollgate diff OLD.toml NEW.toml --log FILE... [--json]`: options, the runs, and what they
//! print. A progress line goes to standard error: updated in place every 100,000 lines when it
//! is a terminal, a line every `--progress-every` lines (default 1,000,000) otherwise; so do
//! the report's warnings (e.g. keys left unread for want of `--key-header`), whatever the
//! output.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tollgate_policy::Policy;
use tollgate_replay::{Diff, Format, Progress, Reading, Replay, Summary, html, table, time};

use tollgate_replay::ReplayGate;

/// How to read the logs (both subcommands).
#[derive(Debug, Clone, clap::Args)]
pub struct LogOptions {
    /// Access logs to replay, in time order (JSON lines or nginx/Apache combined format).
    #[arg(long, required = true, num_args = 1..)]
    pub log: Vec<PathBuf>,
    /// The lines' format: `auto` (by each line's first character), `json` or `combined`.
    #[arg(long, default_value = "auto", value_parser = ["auto", "json", "combined"])]
    pub format: String,
    /// The header that the last quoted field of a combined-format line stands for, e.g.
    /// `X-Api-Key` for a `log_format` ending in `"$http_x_api_key"`.
    #[arg(long, value_name = "NAME")]
    pub key_header: Option<String>,
    /// Write a progress line to standard error every N lines (when it is not a terminal).
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub progress_every: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `tollgate replay`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayOptions {
    /// The policy file.
    #[arg(long)]
    pub config: PathBuf,
    /// Also write a self-contained HTML report (SVG charts, no script) to this file.
    #[arg(long, value_name = "OUT")]
    pub html: Option<PathBuf>,
    /// The logs and how to read them.
    #[command(flatten)]
    pub logs: LogOptions,
}

/// `tollgate diff`.
#[derive(Debug, Clone, clap::Args)]
pub struct DiffOptions {
    /// The policy in force.
    pub old: PathBuf,
    /// The policy considered.
    pub new: PathBuf,
    /// The logs and how to read them.
    #[command(flatten)]
    pub logs: LogOptions,
}

/// Runs `tollgate replay`: 0, 1 when a log cannot be read, 2 on an invalid policy.
#[must_use]
pub fn replay_command(options: &ReplayOptions) -> ExitCode {
    let result = load(&options.config).and_then(|policy| run(policy, &options.logs, "replay"));
    let summary = match result {
        Ok(summary) => summary,
        Err(code) => return code,
    };
    warn(&summary);
    if let Some(out) = &options.html {
        let title = format!("tollgate replay: {}", options.config.display());
        if let Err(error) = std::fs::write(out, html::summary(&summary, &title)) {
            eprintln!("tollgate: cannot write {}: {error}", out.display());
            return ExitCode::FAILURE;
        }
    }
    if options.logs.json {
        print_json(&summary)
    } else {
        print!("{}", table::summary(&summary));
        ExitCode::SUCCESS
    }
}

/// Runs `tollgate diff`: both policies over the same logs, then who gains and who loses.
#[must_use]
pub fn diff_command(options: &DiffOptions) -> ExitCode {
    let run_one = |file: &Path, what: &str| load(file).and_then(|p| run(p, &options.logs, what));
    let (old, new) = match (run_one(&options.old, "old"), run_one(&options.new, "new")) {
        (Ok(old), Ok(new)) => (old, new),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    // The same logs read the same way: the same warnings.
    warn(&new);
    let diff = Diff::of(&old, &new);
    if options.logs.json {
        print_json(&diff)
    } else {
        print!("{}", table::diff(&diff));
        ExitCode::SUCCESS
    }
}

/// The report's warnings, on standard error.
fn warn(summary: &Summary) {
    for warning in &summary.warnings {
        eprintln!("tollgate: warning: {warning}");
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match serde_json::to_writer_pretty(&mut out, value) {
        Ok(()) => {
            let _ = writeln!(out);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("tollgate: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The policy at `file`, or its errors printed and exit code 2.
fn load(file: &Path) -> Result<Policy, ExitCode> {
    Policy::load(file).map_err(|errors| {
        eprintln!("{errors}");
        eprintln!("{}: {} error(s)", file.display(), errors.0.len());
        ExitCode::from(2)
    })
}

/// Every log through a gate enforcing `policy`.
fn run(policy: Policy, logs: &LogOptions, what: &str) -> Result<Summary, ExitCode> {
    let reading = Reading {
        format: match &*logs.format {
            "json" => Format::Json,
            "combined" => Format::Combined,
            _ => Format::Auto,
        },
        key_header: logs.key_header.clone(),
    };
    let gate = ReplayGate::new(policy);
    let terminal = std::io::stderr().is_terminal();
    let every = if terminal {
        100_000
    } else {
        logs.progress_every
    };
    let progress = move |progress: Progress| {
        let line = format!(
            "{what}: {} lines, {} refused, at {}",
            progress.lines,
            progress.refused,
            time::rfc3339(progress.at)
        );
        if terminal {
            eprint!("\r{line}");
        } else {
            eprintln!("{line}");
        }
    };
    let mut replay = Replay::new(&gate, reading).with_progress(every, progress);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|error| {
            eprintln!("tollgate: cannot start the runtime: {error}");
            ExitCode::FAILURE
        })?;
    for file in &logs.log {
        if let Err(error) = runtime.block_on(replay.file(file)) {
            eprintln!("tollgate: {}: {error}", file.display());
            return Err(ExitCode::FAILURE);
        }
    }
    if terminal {
        eprintln!();
    }
    Ok(replay.finish())
}
