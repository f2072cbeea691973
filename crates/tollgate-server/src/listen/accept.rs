//! The accept loop: connections up to the cap, each served by its own task, until the stop.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use tollgate_gate::ConnectionGauge;

use super::connection::{connection, stopped};
use super::{Limits, Port};

/// The largest request head (HTTP/1) or header list (HTTP/2) taken, in bytes.
const MAX_HEAD: usize = 64 * 1024;
/// Concurrent streams an HTTP/2 client may open on one connection.
const MAX_STREAMS: u32 = 100;
/// Silence after which an HTTP/2 connection is pinged, and the time its answer may take.
const PING: Duration = Duration::from_secs(20);
/// How often the cap's warning may be logged.
const CAP_WARNING: Duration = Duration::from_secs(60);

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
pub(super) fn builder(limits: Limits) -> Builder<TokioExecutor> {
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

/// Errors of one connection (the client went away before its accept): the next accept is fine.
fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
