//! What an operator sees of the server: the figures `/metrics` writes (`metrics.rs`) and the
//! Prometheus text it writes them in (`exposition.rs`).

mod exposition;
mod metrics;

pub(crate) use exposition::Exposition;
pub(crate) use metrics::{
    ConnectionGauge, Histogram, Metrics, OpenConnection, STORE_ERROR_KINDS, store_error_kind,
};
