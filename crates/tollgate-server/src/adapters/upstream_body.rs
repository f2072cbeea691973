//! An upstream's response body on its way to the client, holding the request's concurrency
//! slots until the upstream has sent all of it. A client that leaves early drops this body:
//! the rest is then read and thrown away on a task of its own, for at most `upstream_timeout`,
//! so that the slot bounds the upstream's work rather than the client's patience.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use tollgate_gate::Held;

/// A response body from the upstream, and the slots its request holds.
#[derive(Debug)]
pub(crate) struct UpstreamBody {
    /// `None` only while being dropped.
    body: Option<Incoming>,
    /// Given back at the body's end, or after the rest is drained.
    held: Option<Held>,
    /// How long the rest may take once the client has gone.
    drain_for: Duration,
}

impl UpstreamBody {
    /// `body`, holding `held` until its end.
    pub(crate) fn new(body: Incoming, held: Held, drain_for: Duration) -> Self {
        Self {
            body: Some(body),
            held: (!held.is_empty()).then_some(held),
            drain_for,
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = Pin::new(body).poll_frame(cx);
        if matches!(frame, Poll::Ready(None | Some(Err(_)))) {
            // The upstream is done (or its connection failed): the slots go back now.
            self.held = None;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for UpstreamBody {
    fn drop(&mut self) {
        let (Some(held), Some(mut body)) = (self.held.take(), self.body.take()) else {
            return;
        };
        if body.is_end_stream() {
            return;
        }
        // Without a runtime (a process shutting down) the slots go back at once.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let drain_for = self.drain_for;
        runtime.spawn(async move {
            let rest = async { while let Some(Ok(_)) = body.frame().await {} };
            // Past the deadline the connection is closed, and the slots go back.
            let _ = tokio::time::timeout(drain_for, rest).await;
            drop(held);
        });
    }
}
