//! The `tollgate` binary: rate limits and quotas in front of an HTTP API, from one policy file.
//!
//! ```text
//! tollgate check-config FILE
//! tollgate check-config --ratelimit-config DIR      (or a directory, or a .yaml file, as FILE)
//! tollgate serve --config FILE [--listen ADDR] [--admin-listen ADDR] [--upstream URL]
//!                [--data-dir DIR] [--store URL] [--catalog URL]
//!                [--grpc-listen ADDR --ratelimit-config DIR] [--log-format text|json]
//! tollgate serve --ratelimit-config DIR --grpc-listen ADDR [--data-dir DIR] [--store URL]
//! tollgate replay --config FILE --log FILE... [--json] [--html OUT] [--key-header NAME]
//! tollgate diff OLD NEW --log FILE... [--json] [--key-header NAME]
//! tollgate admin [--url URL] [--token-file FILE] [--json] accounts|keys|packs|overrides|blocks|apps …
//! tollgate admin usage|history ACCOUNT, reload, shadow
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tollgate_core::KeySpace;
use tollgate_policy::{ConfigError, ConfigErrors, Policy};
use tollgate_ratelimit_config::RateLimitConfig;
use tollgate_server::{ServeOptions, init_logs, merge_domain_config, redis_check, serve};

/// `tollgate --version`: the version and the commit it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("TOLLGATE_COMMIT"),
    ")"
);

/// Rate limits and quotas in front of an HTTP API, from one policy file.
#[derive(Debug, Parser)]
#[command(name = "tollgate", version = VERSION)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a policy file, or envoyproxy/ratelimit YAML files: `FILE:LINE:COL: message`
    /// per error (every one found in one run), or a one-line summary.
    CheckConfig {
        /// The policy file (a directory, or a `.yaml` or `.yml` file, is read as
        /// envoyproxy/ratelimit's files).
        #[arg(required_unless_present = "ratelimit_config")]
        file: Option<PathBuf>,
        /// A directory of envoyproxy/ratelimit YAML files.
        #[arg(long, value_name = "DIR")]
        ratelimit_config: Option<PathBuf>,
    },
    /// Serve the check API, forward-auth and the gateway, and the admin API.
    Serve(ServeOptions),
    /// Replay access logs through a policy on a simulated clock and report what it refuses.
    Replay(tollgate_server::replay::ReplayOptions),
    /// Replay access logs through two policies: who gains and who loses refusals.
    Diff(tollgate_server::replay::DiffOptions),
    /// The admin API of a running tollgate: accounts, keys, packs, overrides, blocks, apps,
    /// usage and history, reloads and the shadow report.
    Admin(tollgate_server::admin_cli::AdminOptions),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::CheckConfig {
            file,
            ratelimit_config,
        } => {
            // A directory, or a `.yaml` or `.yml` file, is envoyproxy/ratelimit's.
            let yaml = |file: &Path| {
                file.extension().is_some_and(|extension| {
                    extension.eq_ignore_ascii_case("yaml") || extension.eq_ignore_ascii_case("yml")
                })
            };
            let (rules, policy) = match file {
                Some(file) if file.is_dir() || yaml(&file) => (Some(file), None),
                policy => (None, policy),
            };
            let mut code = policy.map_or(ExitCode::SUCCESS, |file| check_config(&file));
            for path in ratelimit_config.iter().chain(&rules) {
                if code == ExitCode::SUCCESS {
                    code = check_ratelimit_config(path);
                }
            }
            code
        }
        Command::Serve(options) => run(options),
        Command::Replay(options) => tollgate_server::replay::replay_command(&options),
        Command::Diff(options) => tollgate_server::replay::diff_command(&options),
        Command::Admin(options) => tollgate_server::admin_cli::admin_command(&options),
    }
}

fn load(file: &Path) -> Result<Policy, ExitCode> {
    reported(file, Policy::load(file))
}

/// The policy, or its errors printed and exit code 2.
fn reported(file: &Path, loaded: Result<Policy, ConfigErrors>) -> Result<Policy, ExitCode> {
    loaded.map_err(|errors| {
        eprintln!("{errors}");
        eprintln!("{}: {} error(s)", file.display(), errors.0.len());
        ExitCode::from(2)
    })
}

fn check_config(file: &Path) -> ExitCode {
    // A file that names a shared store is checked against what that store keeps exactly.
    let checked = load(file).and_then(|policy| match policy.server().store {
        None => Ok(policy),
        Some(_) => reported(
            file,
            Policy::load_for(file, KeySpace::random(), redis_check),
        ),
    });
    match checked {
        Ok(policy) => {
            for warning in policy.warnings() {
                let ConfigError {
                    file,
                    line,
                    column,
                    message,
                } = warning;
                eprintln!("{file}:{line}:{column}: warning: {message}");
            }
            println!("{}: ok: {}", file.display(), policy.summary());
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// Validates envoyproxy/ratelimit's files: those of the directory `path`, or the file `path`.
fn check_ratelimit_config(path: &Path) -> ExitCode {
    let merge_domains = match merge_domain_config() {
        Ok(merge) => merge,
        Err(error) => {
            eprintln!("tollgate: {error}");
            return ExitCode::from(2);
        }
    };
    let loaded = if path.is_dir() {
        RateLimitConfig::load_dir_merging(path, KeySpace::random(), merge_domains)
    } else {
        RateLimitConfig::load_file(path)
    };
    match loaded {
        Ok(config) => {
            println!("{}: ok: {}", path.display(), config.summary());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{}: {} error(s)", path.display(), errors.0.len());
            ExitCode::from(2)
        }
    }
}

fn run(options: ServeOptions) -> ExitCode {
    init_logs(options.log_format);
    if let Some(Err(code)) = options.config.as_deref().map(load) {
        return code;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("tollgate: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tollgate: {message}");
            ExitCode::from(2)
        }
    }
}
