//! A concurrency limit bounds the upstream's work, not the client's patience: clients that send
//! a request and hang up (an HTTP/1 close, an HTTP/2 RST_STREAM) leave their slots held until
//! the upstream is done, so the upstream never serves more than `max` at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::watch;

use crate::support::{Tollgate, send};

/// Two requests in flight at most; the upstream may take an hour.
const POLICY: &str = r#"
    [server]
    upstream_timeout = "1h"

    [[routes]]
    api = "work"
    match = "GET /work/{n:int}"

    [[limits]]
    name = "in-flight"
    concurrency = { max = 2, lease = "1h" }
"#;

/// An upstream whose work goes on after the connection that asked for it is closed, as a
/// server's worker does, until the test lets it finish; it counts the work in hand.
struct SlowUpstream {
    address: SocketAddr,
    arrived: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
    finish: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl SlowUpstream {
    async fn start() -> Self {
        let arrived = Arc::new(AtomicUsize::new(0));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (finish, finished) = watch::channel(false);
        let counters = (
            Arc::clone(&arrived),
            Arc::clone(&in_flight),
            Arc::clone(&most),
        );
        let app = Router::new().fallback(move || {
            let (arrived, in_flight, most) = counters.clone();
            let mut finished = finished.clone();
            // The work runs on a task of its own: a closed connection does not stop it.
            let work = tokio::spawn(async move {
                arrived.fetch_add(1, Ordering::SeqCst);
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let _ = finished.wait_for(|done| *done).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
            });
            async move {
                let _ = work.await;
                "done"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            address,
            arrived,
            in_flight,
            most,
            finish,
            task,
        }
    }

    fn arrived(&self) -> usize {
        self.arrived.load(Ordering::SeqCst)
    }
}

impl Drop for SlowUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits (polling, bounded) until `ready` holds.
async fn until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Ten clients, each sending one request through `ask` and hanging up once it reached the
/// upstream (or answered, refused); then the upstream finishes its work.
async fn ten_clients_hang_up<F, A>(upstream: &SlowUpstream, tollgate: &Tollgate, ask: A)
where
    A: Fn(u32) -> F,
    F: Future<Output = u16> + Send + 'static,
{
    let mut refused = 0;
    for n in 0..10 {
        let before = upstream.arrived();
        let client = tokio::spawn(ask(n));
        until("the request reached the upstream or was answered", || {
            client.is_finished() || upstream.arrived() > before
        })
        .await;
        if client.is_finished() {
            assert_eq!(client.await.unwrap(), 429, "request {n}");
            refused += 1;
        } else {
            // The client hangs up while the upstream works.
            client.abort();
            let _ = client.await;
        }
    }
    assert_eq!(
        upstream.arrived(),
        2,
        "only two requests reached the upstream"
    );
    assert_eq!(refused, 8);
    assert!(upstream.most.load(Ordering::SeqCst) <= 2);
    // The clients are gone, the work is not: the slots are still held.
    let reply = send(tollgate.address, "GET", "/work/99", &[], "").await;
    assert_eq!(reply.status, 429, "{}", reply.body);
    // Once the upstream is done, they come back.
    upstream.finish.send_replace(true);
    until("the upstream finished", || {
        upstream.in_flight.load(Ordering::SeqCst) == 0
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = send(tollgate.address, "GET", "/work/100", &[], "")
            .await
            .status;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the slots never came back");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(upstream.most.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn http1_clients_that_hang_up_keep_the_upstream_within_its_slots() {
    let upstream = SlowUpstream::start().await;
    let tollgate = Tollgate::start(POLICY, Some(upstream.address));
    let address = tollgate.address;
    ten_clients_hang_up(&upstream, &tollgate, |n| async move {
        send(address, "GET", &format!("/work/{n}"), &[], "")
            .await
            .status
    })
    .await;
}

#[tokio::test]
async fn http2_streams_reset_keep_the_upstream_within_its_slots() {
    let upstream = SlowUpstream::start().await;
    let tollgate = Tollgate::start(POLICY, Some(upstream.address));
    // One HTTP/2 connection; each request is a stream, reset when its client task is aborted.
    let stream = tokio::net::TcpStream::connect(tollgate.address)
        .await
        .unwrap();
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    let connection = tokio::spawn(connection);
    let address = tollgate.address;
    ten_clients_hang_up(&upstream, &tollgate, |n| {
        let mut sender = sender.clone();
        async move {
            let request = axum::http::Request::get(format!("http://{address}/work/{n}"))
                .body(Body::empty())
                .unwrap();
            sender.ready().await.unwrap();
            sender
                .send_request(request)
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    })
    .await;
    connection.abort();
}
