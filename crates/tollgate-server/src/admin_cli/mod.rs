//! `tollgate admin …`: the admin API from a terminal. Each subcommand (`commands.rs`) is one
//! request to the admin port (`request.rs` says which); the answer is shown as a table for
//! people, or as the API's own JSON with `--json` (`show.rs`); the URL and the token come from
//! flags, the environment or the token file (`client.rs`).
//!
//! Exit codes: 0 done; 1 the API refused (a 4xx: its code and message are printed); 2 the
//! command line is wrong; 3 the admin port cannot be reached, or answered a 5xx.

mod client;
mod commands;
mod request;
mod show;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

pub use commands::{
    AccountCommand, AlertCommand, AppCommand, BlockCommand, KeyCommand, OverrideCommand,
    PackCommand, Resource,
};

/// `tollgate admin`'s options.
#[derive(Debug, Args)]
pub struct AdminOptions {
    /// The admin port's URL (or TOLLGATE_ADMIN_URL; default http://127.0.0.1:8081).
    #[arg(long, global = true, env = "TOLLGATE_ADMIN_URL", value_name = "URL")]
    pub url: Option<String>,
    /// A file holding the admin token (or TOLLGATE_ADMIN_TOKEN_FILE; default
    /// ./tollgate-data/admin-token). TOLLGATE_ADMIN_TOKEN, when set, is the token itself.
    #[arg(
        long,
        global = true,
        env = "TOLLGATE_ADMIN_TOKEN_FILE",
        value_name = "FILE"
    )]
    pub token_file: Option<PathBuf>,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub resource: Resource,
}

/// Runs `tollgate admin` and says how it went.
#[must_use]
pub fn admin_command(options: &AdminOptions) -> ExitCode {
    let token = match client::token(options.token_file.as_deref()) {
        Ok(token) => token,
        Err(message) => {
            eprintln!("tollgate admin: {message}");
            return ExitCode::from(2);
        }
    };
    let url = options
        .url
        .clone()
        .unwrap_or_else(|| "http://127.0.0.1:8081".to_owned());
    let asked = request::of(&options.resource);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("tollgate admin: cannot start the runtime: {error}");
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(client::send(&url, &token, &asked)) {
        Ok(answer) if answer.status < 400 => {
            show::answer(&asked, &answer, options.json);
            ExitCode::SUCCESS
        }
        Ok(answer) => {
            show::error(&answer);
            ExitCode::from(if answer.status >= 500 { 3 } else { 1 })
        }
        Err(message) => {
            eprintln!("tollgate admin: {message}");
            ExitCode::from(3)
        }
    }
}
