//! The decision path's side of alerts: crossings put on a bounded queue, never waited for.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc;
use tollgate_core::Clock;
use tollgate_gate::{AlertSink, Crossing};

use crate::App;

/// Crossings waiting to be recorded: at most this many. A crossing is rare (one per watched
/// quota, share and period); a full queue means the catalog stalls, and one more is dropped.
pub(crate) const QUEUE: usize = 4_096;

/// The gate's [`AlertSink`]: crossings onto the deliverer's queue; those dropped are counted
/// in `app`'s metrics.
#[derive(Debug)]
pub(crate) struct AlertQueue<C: Clock> {
    sender: mpsc::Sender<Crossing>,
    app: Arc<App<C>>,
}

impl<C: Clock> AlertQueue<C> {
    /// A sink feeding `sender`.
    pub(crate) fn new(sender: mpsc::Sender<Crossing>, app: Arc<App<C>>) -> Self {
        Self { sender, app }
    }
}

impl<C: Clock + 'static> AlertSink for AlertQueue<C> {
    fn crossed(&self, crossing: Crossing) {
        if self.sender.try_send(crossing).is_err() {
            let dropped = &self.app.gate.metrics().alerts().dropped;
            let dropped = dropped.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(dropped, "alert queue full: a quota alert was dropped");
        }
    }
}
