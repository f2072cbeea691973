//! The accept loop of both ports: HTTP/1 and HTTP/2 (h2c, prior knowledge) on hyper, with bounds
//! on what a client may hold, since every byte a client sends is hostile.
//!
//! - **Header read timeout** (`server.header_read_timeout`, 10 s): a connection's first request
//!   must have arrived whole within it of the accept, whatever the protocol (a client that
//!   sends nothing, half a request line or half the HTTP/2 preface is closed); on HTTP/1, every
//!   request head must arrive within it of the server starting to wait for it, which hyper
//!   starts as soon as a keep-alive connection goes idle: an idle HTTP/1 connection is closed
//!   after this timeout.
//! - **Idle timeout** (`server.idle_timeout`, 60 s): a connection with no request in flight for
//!   this long is shut down gracefully (HTTP/2: `GOAWAY`; a response still being sent is
//!   finished); one that then moves no byte for another idle timeout is closed.
//! - **Connection cap** (`server.max_connections`, 10,000 per port): at the cap the loop stops
//!   accepting, so new connections wait in the kernel's backlog while established clients keep
//!   being served; a warning says so, at most once a minute.
//! - **HTTP/2**: at most 100 concurrent streams per connection, header lists of at most 64 KiB
//!   (HTTP/1 heads too), a ping after 20 s of silence that must be answered within 20 s.
//!
//! On shutdown the loop stops accepting, every connection is shut down gracefully (requests in
//! flight are answered), and [`serve`] returns once all are closed.

use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use std::convert::Infallible;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tower_service::Service;

use crate::observe::{ConnectionGauge, OpenConnection};

/// The largest request head (HTTP/1) or header list (HTTP/2) taken, in bytes.
const MAX_HEAD: usize = 64 * 1024;
/// Concurrent streams an HTTP/2 client may open on one connection.
const MAX_STREAMS: u32 = 100;
/// Silence after which an HTTP/2 connection is pinged, and the time its answer may take.
const PING: Duration = Duration::from_secs(20);
/// How often the cap's warning may be logged.
const CAP_WARNING: Duration = Duration::from_secs(60);

/// What bounds the clients of one port.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Time for a request head (HTTP/1) and for a connection's first request (any protocol).
    pub(crate) header_read_timeout: Duration,
    /// Time a connection may stay with no request in flight.
    pub(crate) idle_timeout: Duration,
    /// Connections open at once on the port.
    pub(crate) max_connections: usize,
}

impl Limits {
    /// The limits `[server]` sets.
    pub(crate) fn of(server: &tollgate_policy::Server) -> Self {
        Self {
            header_read_timeout: server.header_read_timeout,
            idle_timeout: server.idle_timeout,
            max_connections: server.max_connections.max(1),
        }
    }
}

/// Raises the soft limit on open files to the hard one, and warns when it is still below what
/// `ports` ports full of connections need: past it, accepts fail instead of the cap engaging.
pub(crate) fn allow_open_files(limits: Limits, ports: u64) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let needed = u64::try_from(limits.max_connections)
        .unwrap_or(u64::MAX)
        .saturating_mul(ports)
        .saturating_add(256);
    let limit = getrlimit(Resource::Nofile);
    // `None` is unlimited: up to the hard limit, or what is needed under an unlimited one.
    let wanted = limit.maximum.unwrap_or(needed);
    if limit.current.is_some_and(|current| current < wanted) {
        let raised = Rlimit {
            current: Some(wanted),
            maximum: limit.maximum,
        };
        if let Err(error) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(%error, "cannot raise the open-file limit");
        }
    }
    let open_files = getrlimit(Resource::Nofile).current;
    if open_files.is_some_and(|open_files| open_files < needed) {
        tracing::warn!(
            open_files,
            needed,
            ports,
            "the open-file limit is below max_connections on every port: raise it (ulimit -n, LimitNOFILE=) or lower server.max_connections"
        );
    }
}

/// A port's service, made for each connection from its peer's address.
pub(crate) trait Port: Clone + Send + 'static {
    /// The service of one connection.
    type Connection: Service<
            hyper::Request<Incoming>,
            Response = axum::response::Response,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static;

    /// The service for a connection from `peer`.
    fn for_peer(&self, peer: SocketAddr) -> Self::Connection;
}

impl<C: tollgate_core::Clock + 'static> Port for crate::PublicPort<C> {
    type Connection = Self;

    fn for_peer(&self, peer: SocketAddr) -> Self {
        self.serving(peer)
    }
}

impl Port for axum::Router {
    type Connection = WithPeer;

    fn for_peer(&self, peer: SocketAddr) -> WithPeer {
        WithPeer(self.clone(), peer)
    }
}

/// A router whose requests carry their peer's address as axum's `ConnectInfo` reads it.
#[derive(Debug, Clone)]
pub(crate) struct WithPeer(axum::Router, SocketAddr);

impl Service<hyper::Request<Incoming>> for WithPeer {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = <axum::Router as Service<hyper::Request<Incoming>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<hyper::Request<Incoming>>::poll_ready(&mut self.0, cx)
    }

    fn call(&mut self, mut request: hyper::Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.1));
        self.0.call(request)
    }
}

/// Serves `router` on `listener` (`port` names it in the log) until `stop` turns true, then
/// finishes what is in flight and returns once every connection is closed.
pub(crate) async fn serve<S>(
    listener: TcpListener,
    router: S,
    limits: Limits,
    port: &'static str,
    open: ConnectionGauge,
    mut stop: watch::Receiver<bool>,
) where
    S: Port,
{
    let builder = Arc::new(builder(limits));
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut warned: Option<Instant> = None;
    loop {
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if warned.is_none_or(|at| at.elapsed() >= CAP_WARNING) {
                    warned = Some(Instant::now());
                    tracing::warn!(
                        port,
                        max_connections = limits.max_connections,
                        "connection cap reached: new connections wait until one closes"
                    );
                }
                tokio::select! {
                    slot = Arc::clone(&slots).acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                    () = stopped(&mut stop) => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    if !is_connection_error(&error) {
                        // Out of file descriptors and the like: the next accept would fail too.
                        tracing::error!(port, %error, "cannot accept connections; trying again in 1 s");
                        tokio::select! {
                            () = tokio::time::sleep(Duration::from_secs(1)) => {}
                            () = stopped(&mut stop) => break,
                        }
                    }
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            Arc::clone(&builder),
            stream,
            peer,
            router.clone(),
            limits,
            stop.clone(),
            (slot, open.open()),
        ));
    }
    drop(listener);
    // Each connection holds a slot until it is closed: all slots back, all closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

/// hyper's server for one port: HTTP/1 and HTTP/2, with the limits above.
fn builder(limits: Limits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEAD);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_STREAMS)
        .max_header_list_size(u32::try_from(MAX_HEAD).unwrap_or(u32::MAX))
        .keep_alive_interval(PING)
        .keep_alive_timeout(PING);
    builder
}

/// Resolves once `stop` is true (never if its sender is gone without saying so).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|&stop| stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Errors of one connection (the client went away before its accept): the next accept is fine.
fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection until it closes, it runs past a limit, or the shutdown has finished it.
async fn connection<S>(
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
    loop {
        let deadline = stall_check.unwrap_or_else(|| activity.deadline(limits));
        tokio::select! {
            _ = connection.as_mut() => break,
            () = activity.changed.notified() => {}
            () = stopped(&mut stop), if stall_check.is_none() => {
                connection.as_mut().graceful_shutdown();
                activity.moved.store(false, Ordering::Relaxed);
                stall_check = Some(Instant::now() + limits.idle_timeout);
            }
            () = tokio::time::sleep_until(deadline) => {
                let now = Instant::now();
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

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        header_read_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        max_connections: 10,
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
