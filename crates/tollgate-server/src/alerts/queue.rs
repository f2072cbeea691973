//! The decision path's side of alerts: crossings put on a bounded queue, never waited for.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;
use tollgate_gate::{AlertSink, Crossing};

/// Crossings waiting to be recorded: at most this many. A crossing is rare (one per watched
/// quota, share and period); a full queue means the catalog stalls, and one more is dropped.
pub(crate) const QUEUE: usize = 4_096;

/// The gate's [`AlertSink`]: crossings onto the deliverer's queue.
#[derive(Debug)]
pub(crate) struct AlertQueue {
    sender: mpsc::Sender<Crossing>,
    dropped: AtomicU64,
}

impl AlertQueue {
    /// A sink feeding `sender`.
    pub(crate) fn new(sender: mpsc::Sender<Crossing>) -> Self {
        Self {
            sender,
            dropped: AtomicU64::new(0),
        }
    }
}

impl AlertSink for AlertQueue {
    fn crossed(&self, crossing: Crossing) {
        if self.sender.try_send(crossing).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(dropped, "alert queue full: a quota alert was dropped");
        }
    }
}
