//! One connection: served by hyper until it closes, runs past a limit, or the shutdown has
//! finished it, with a watchdog over what it did.

use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit, watch};
use tokio::time::Instant;
use tower_service::Service;

use tollgate_gate::OpenConnection;

use super::{Limits, Port};

/// Serves one connection until it closes, it runs past a limit, or the shutdown has finished it.
pub(super) async fn connection<S>(
    builder: Arc<Builder<TokioExecutor>>,
    stream: TcpStream,
    peer: SocketAddr,
    router: S,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
    _held: (OwnedSemaphorePermit, OpenConnection),
) where
    S: Port,
{
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        stream,
        activity: Arc::clone(&activity),
    });
    let requests = Arc::clone(&activity);
    let router = router.for_peer(peer);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let busy = Activity::begin(&requests);
        // Both ports' services are always ready: no `poll_ready` to wait for.
        let answer = router.clone().call(request);
        async move {
            let response = answer.await;
            drop(busy);
            response
        }
    });
    let mut connection = pin!(builder.serve_connection_with_upgrades(io, service));
    // Once shut down gracefully: when to look whether anything still moves.
    let mut stall_check: Option<Instant> = None;
    // Once the server stops: when the connection is closed, whatever still moves.
    let mut closing: Option<Instant> = None;
    loop {
        let deadline = stall_check.unwrap_or_else(|| activity.deadline(limits));
        let deadline = closing.map_or(deadline, |closing| deadline.min(closing));
        tokio::select! {
            _ = connection.as_mut() => break,
            () = activity.changed.notified() => {}
            () = stopped(&mut stop), if closing.is_none() => {
                let now = Instant::now();
                closing = Some(now + limits.shutdown_timeout);
                if stall_check.is_none() {
                    connection.as_mut().graceful_shutdown();
                    activity.moved.store(false, Ordering::Relaxed);
                    stall_check = Some(now + limits.idle_timeout);
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                let now = Instant::now();
                if closing.is_some_and(|closing| now >= closing) {
                    break;
                }
                if stall_check.is_some() {
                    let moved = activity.moved.swap(false, Ordering::Relaxed);
                    if !moved && activity.in_flight.load(Ordering::SeqCst) == 0 {
                        break;
                    }
                    stall_check = Some(now + limits.idle_timeout);
                    continue;
                }
                match activity.state(now, limits) {
                    State::Busy => {}
                    State::NoRequest => break,
                    State::Idle => {
                        connection.as_mut().graceful_shutdown();
                        activity.moved.store(false, Ordering::Relaxed);
                        stall_check = Some(now + limits.idle_timeout);
                    }
                }
            }
        }
    }
}

/// What a connection did, as its watchdog needs it.
#[derive(Debug)]
struct Activity {
    accepted: Instant,
    /// Requests begun on it.
    requests: AtomicU64,
    /// Requests whose handler has not answered yet.
    in_flight: AtomicUsize,
    /// When the last request in flight was answered, in nanoseconds after `accepted`.
    last_answered: AtomicU64,
    /// Whether a byte was read or written since the flag was last cleared.
    moved: AtomicBool,
    /// Wakes the watchdog when the first request begins.
    changed: Notify,
}

/// Where a connection stands against its limits.
#[derive(Debug, PartialEq, Eq)]
enum State {
    /// A request is in flight, or a limit is yet to run out.
    Busy,
    /// No request arrived within the header read timeout of the accept.
    NoRequest,
    /// No request was in flight for the idle timeout.
    Idle,
}

impl Activity {
    fn new() -> Self {
        Self {
            accepted: Instant::now(),
            requests: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            last_answered: AtomicU64::new(0),
            moved: AtomicBool::new(false),
            changed: Notify::new(),
        }
    }

    /// Counts a request in flight until the guard is dropped.
    fn begin(this: &Arc<Self>) -> InFlight {
        this.in_flight.fetch_add(1, Ordering::SeqCst);
        if this.requests.fetch_add(1, Ordering::SeqCst) == 0 {
            this.changed.notify_one();
        }
        InFlight(Arc::clone(this))
    }

    /// When a limit may run out next (a time to look again while a request is in flight).
    fn deadline(&self, limits: Limits) -> Instant {
        if self.requests.load(Ordering::SeqCst) == 0 {
            self.accepted + limits.header_read_timeout
        } else if self.in_flight.load(Ordering::SeqCst) > 0 {
            Instant::now() + limits.idle_timeout
        } else {
            self.accepted
                + Duration::from_nanos(self.last_answered.load(Ordering::SeqCst))
                + limits.idle_timeout
        }
    }

    fn state(&self, now: Instant, limits: Limits) -> State {
        if self.requests.load(Ordering::SeqCst) == 0 {
            if now >= self.accepted + limits.header_read_timeout {
                return State::NoRequest;
            }
        } else if self.in_flight.load(Ordering::SeqCst) == 0 && now >= self.deadline(limits) {
            return State::Idle;
        }
        State::Busy
    }
}

/// A request in flight on a connection, until dropped.
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        let since = activity.accepted.elapsed().as_nanos();
        activity
            .last_answered
            .fetch_max(u64::try_from(since).unwrap_or(u64::MAX), Ordering::SeqCst);
        // No wake-up: the watchdog looks again an idle timeout after it last saw a request in
        // flight, and then waits for the rest of the idle timeout from this answer.
        activity.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A connection's socket, noting that bytes moved.
#[derive(Debug)]
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl Watched {
    fn note(&self, moved: usize) {
        if moved > 0 {
            self.activity.moved.store(true, Ordering::Relaxed);
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        self.note(buf.filled().len() - before);
        read
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(count)) = written {
            self.note(count);
        }
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(count)) = written {
            self.note(count);
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Resolves once `stop` is true (never if its sender is gone without saying so).
pub(super) async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|&stop| stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        header_read_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        max_connections: 10,
        shutdown_timeout: Duration::from_secs(30),
    };

    #[tokio::test(start_paused = true)]
    async fn a_connection_without_a_request_runs_out_at_the_header_timeout() {
        let activity = Arc::new(Activity::new());
        let start = activity.accepted;
        assert_eq!(
            activity.deadline(LIMITS),
            start + LIMITS.header_read_timeout
        );
        assert_eq!(
            activity.state(start + Duration::from_secs(9), LIMITS),
            State::Busy
        );
        assert_eq!(
            activity.state(start + LIMITS.header_read_timeout, LIMITS),
            State::NoRequest
        );
    }

    #[tokio::test(start_paused = true)]
    async fn idleness_counts_from_the_last_answer_and_never_during_a_request() {
        let activity = Arc::new(Activity::new());
        let start = activity.accepted;
        let first = Activity::begin(&activity);
        tokio::time::advance(Duration::from_secs(100)).await;
        assert_eq!(activity.state(Instant::now(), LIMITS), State::Busy);
        let second = Activity::begin(&activity);
        drop(first);
        assert_eq!(
            activity.state(Instant::now() + Duration::from_secs(600), LIMITS),
            State::Busy,
            "one request is still in flight"
        );
        tokio::time::advance(Duration::from_secs(5)).await;
        drop(second);
        let answered = start + Duration::from_secs(105);
        assert_eq!(activity.deadline(LIMITS), answered + LIMITS.idle_timeout);
        assert_eq!(
            activity.state(answered + Duration::from_secs(59), LIMITS),
            State::Busy
        );
        assert_eq!(
            activity.state(answered + LIMITS.idle_timeout, LIMITS),
            State::Idle
        );
    }
}
