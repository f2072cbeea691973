//! The layer: what wraps a service in [`RateLimit`].

use std::sync::Arc;

use tollgate_core::{Clock, SystemClock};
use tollgate_gate::Gate;

use crate::RateLimit;

/// Applies a [`Gate`]'s policy to the services it wraps.
#[derive(Debug)]
pub struct RateLimitLayer<C: Clock = SystemClock> {
    gate: Arc<Gate<C>>,
}

impl<C: Clock> RateLimitLayer<C> {
    /// A layer deciding requests with `gate` (shared by every service it wraps).
    pub fn new(gate: Arc<Gate<C>>) -> Self {
        Self { gate }
    }
}

impl<C: Clock> Clone for RateLimitLayer<C> {
    fn clone(&self) -> Self {
        Self {
            gate: Arc::clone(&self.gate),
        }
    }
}

impl<S, C: Clock> tower_layer::Layer<S> for RateLimitLayer<C> {
    type Service = RateLimit<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit::new(inner, Arc::clone(&self.gate))
    }
}
