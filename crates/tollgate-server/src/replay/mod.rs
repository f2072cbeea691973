//! `tollgate replay` and `tollgate diff`: access logs decided by this server's own [`Gate`] on a
//! manual clock (the engine — parsing, the loop, reports — is the `tollgate-replay` crate).
//!
//! - `gate.rs` — [`ReplayGate`], the gate as a replay's pipeline;
//! - `command.rs` — the two subcommands' options and what they print.
//!
//! The engine lives in its own crate and this crate depends on it, not the other way round:
//! the binary (and so the subcommands) is here, and a crate cannot depend on the crate that
//! depends on it. The engine sees the gate only through `tollgate_replay::Pipeline`.
//!
//! [`Gate`]: crate::Gate

mod command;
mod gate;

pub use command::{DiffOptions, LogOptions, ReplayOptions, diff_command, replay_command};
pub use gate::ReplayGate;
