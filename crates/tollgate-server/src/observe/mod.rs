//! What an operator sees of the server: the figures `/metrics` writes (`metrics.rs`), the
//! Prometheus text it writes them in (`exposition.rs`), and the shape of log lines (`logs.rs`).

mod exposition;
mod logs;
mod metrics;

pub(crate) use exposition::Exposition;
pub use logs::{LogFormat, init_logs};
pub(crate) use metrics::{
    ConnectionGauge, Histogram, LimitSeen, Metrics, OpenConnection, STORE_ERROR_KINDS,
    store_error_kind,
};
