//! What an operator sees of the server: the figures `/metrics` writes (`metrics.rs`), the
//! Prometheus text it writes them in (`exposition.rs`), the shape of log lines (`logs.rs`), and
//! how many refusals are logged (`refusal_lines.rs`).

mod exposition;
mod logs;
mod metrics;
mod refusal_lines;

pub(crate) use exposition::Exposition;
pub use logs::{LogFormat, init_logs};
pub(crate) use metrics::{
    ConnectionGauge, Histogram, LimitSeen, Metrics, OpenConnection, STORE_ERROR_KINDS,
    store_error_kind,
};
pub(crate) use refusal_lines::RefusalLines;
