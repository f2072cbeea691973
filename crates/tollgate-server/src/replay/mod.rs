//! `tollgate replay` and `tollgate diff`: the two subcommands' options and what they print. The
//! engine — parsing, the loop, reports, and `ReplayGate`, the server's own gate on a manual
//! clock — is the `tollgate-replay` crate.

mod command;

pub use command::{DiffOptions, LogOptions, ReplayOptions, diff_command, replay_command};
