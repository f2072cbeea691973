//! What an operator sees of the server beyond the gate's figures (`tollgate_gate::Metrics`):
//! the shape of log lines (`logs.rs`).

mod logs;

pub use logs::{LogFormat, init_logs};
