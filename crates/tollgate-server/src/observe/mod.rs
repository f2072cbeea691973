//! What an operator sees of the server beyond the gate's figures (`tollgate_gate::Metrics`):
//! the shape of log lines (`logs.rs`), and the access log (`access.rs`).

pub(crate) mod access;
mod logs;

pub use logs::{LogFormat, init_logs};
