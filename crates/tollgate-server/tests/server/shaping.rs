//! Shaping beside nginx, and across instances sharing Redis.
//!
//! The same trace of arrivals sent to nginx's `limit_req … delay=` and to
//! Tollgate's gateway with the bucket it is equivalent to (see docs/policy.md, "Waiting for a
//! turn"), each in front of an upstream that records the order requests reach it. Both must
//! admit the same requests, forward them in the same order, and hold each for the same time.
//!
//! nginx reads the real clock (in milliseconds, once per turn of its event loop), so the trace
//! is played in real time, over loopback. It is made so that timing cannot change an answer: a
//! bucket's decisions flip only where the time since the arrival that last found it full (its
//! first one, here, for each client) crosses a multiple of the emission interval (200 ms), and
//! every burst arrives 100 ms off that lattice, its requests 10 ms apart (in order: which
//! request gets which turn depends on it) — a request may arrive tens of milliseconds late
//! without changing any decision, on either side. The trace is checked against the bucket's
//! answers worked out by hand, for each side; a side that misses is played again on a fresh
//! process, up to three times, since a machine busy with other tests can stall one request
//! past any margin (the real-time tests here run one at a time).
//!
//! Instances sharing Redis: twenty requests at once through two gateways, exactly the burst
//! and the queue admitted, and no waiting request let through before its turn. And the
//! recipes of docs/proxies.md, which pass forward-auth's `Retry-After-Ms` on to the client.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use tokio::time::Instant;

use crate::recipes::{Kind, Proxy, installed};
use crate::redis_server::RedisServer;
use crate::support::{TempDir, Tollgate, send};

/// "5 requests a second; 3 at once, up to 3 more held for their turn": nginx's `burst = 5`
/// with `delay = 2` lets `2 + 1` through at once and holds `5 − 2`.
const NGINX_LIMIT: &str = "rate=5r/s";
const NGINX_BURST: &str = "burst=5 delay=2";

/// The same bucket in Tollgate: burst `delay + 1`, and `burst − delay` waiting for up to
/// `(burst − delay)` intervals of 200 ms.
const POLICY: &str = r#"
[[routes]]
api = "partner"
match = "GET /r/{client}/{id}"

[[limits]]
name = "partner"
token_bucket = { rate = "5/s", burst = 3 }
delay = { max = "600ms", queue = 3 }
per = ["header:X-Client"]
"#;

/// The trace: bursts of requests 10 ms apart, `(client, start in ms, requests)`.
const TRACE: [(&str, u64, u64); 7] = [
    ("a", 0, 8),
    ("a", 500, 4),
    ("b", 700, 1),
    ("a", 1_500, 6),
    ("b", 1_900, 2),
    ("a", 2_500, 1),
    ("a", 2_700, 3),
];

/// One request of the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Arrival {
    path: String,
    client: &'static str,
    at: Duration,
}

fn arrivals() -> Vec<Arrival> {
    let mut id = 0;
    let mut all = Vec::new();
    for (client, start, count) in TRACE {
        for k in 0..count {
            all.push(Arrival {
                path: format!("/r/{client}/{id}"),
                client,
                at: Duration::from_millis(start + 10 * k),
            });
            id += 1;
        }
    }
    all
}

/// An upstream recording each path it is asked, and when, in the order asked.
struct Recorder {
    address: SocketAddr,
    seen: Arc<Mutex<Vec<(String, Instant)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    async fn start() -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let app = Router::new().fallback(move |request: Request| {
            let log = Arc::clone(&log);
            async move {
                let path = request.uri().path().to_owned();
                log.lock().unwrap().push((path, Instant::now()));
                "ok"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            address,
            seen,
            task,
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What one run of the trace gave: each request's status in trace order, and the requests the
/// upstream saw in the order it saw them, each with how long after its arrival.
#[derive(Debug)]
struct Run {
    statuses: Vec<u16>,
    forwarded: Vec<(String, Duration)>,
}

/// Plays the trace against `proxy`, which forwards to `upstream`.
async fn play(proxy: SocketAddr, upstream: &Recorder) -> Run {
    // A warm-up request on another client, so that neither side pays a first connection's
    // costs inside the trace.
    assert_eq!(warm_up(proxy).await, 200);
    upstream.seen.lock().unwrap().clear();
    let started = Instant::now() + Duration::from_millis(50);
    let sent: Vec<_> = arrivals()
        .into_iter()
        .map(|arrival| {
            tokio::spawn(async move {
                tokio::time::sleep_until(started + arrival.at).await;
                send(
                    proxy,
                    "GET",
                    &arrival.path,
                    &[("X-Client", arrival.client)],
                    "",
                )
                .await
                .status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for request in sent {
        statuses.push(request.await.unwrap());
    }
    let by_path: Vec<Arrival> = arrivals();
    let forwarded = upstream
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(path, at)| {
            let arrival = by_path.iter().find(|a| &a.path == path).unwrap();
            (path.clone(), at.duration_since(started + arrival.at))
        })
        .collect();
    Run {
        statuses,
        forwarded,
    }
}

async fn warm_up(proxy: SocketAddr) -> u16 {
    send(proxy, "GET", "/r/warm-up/0", &[("X-Client", "warm-up")], "")
        .await
        .status
}

/// nginx with one `limit_req` in front of `upstream`, stopped on drop.
struct Nginx {
    child: Child,
    address: SocketAddr,
    _dir: TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    fn start(upstream: SocketAddr) -> Self {
        let dir = TempDir::new();
        let address = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let folder = dir.0.display();
        let config = format!(
            "error_log {folder}/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    limit_req_zone $http_x_client zone=partner:1m {NGINX_LIMIT};
    server {{
        listen {address};
        location / {{
            limit_req zone=partner {NGINX_BURST};
            limit_req_status 429;
            proxy_pass http://{upstream};
        }}
    }}
}}
"
        );
        let path = dir.0.join("nginx.conf");
        std::fs::write(&path, config).unwrap();
        let child = Command::new(installed("nginx", &["/usr/sbin/nginx", "/usr/bin/nginx"]))
            .arg("-p")
            .arg(&dir.0)
            .arg("-c")
            .arg(&path)
            .arg("-g")
            .arg(format!(
                "daemon off; master_process off; pid {folder}/nginx.pid;"
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts");
        let mut nginx = Self {
            child,
            address,
            _dir: dir,
        };
        for _ in 0..500 {
            if TcpStream::connect(address).is_ok() {
                return nginx;
            }
            assert!(
                matches!(nginx.child.try_wait(), Ok(None)),
                "nginx exited: {}",
                std::fs::read_to_string(nginx._dir.0.join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("nginx did not listen on {address}");
    }
}

/// What the bucket says of the trace, worked out by hand (docs/policy.md): the statuses in
/// trace order, and the forwarded requests in the order their turns come, each with the time
/// it is held, in ms.
fn expected() -> (Vec<u16>, Vec<(&'static str, u64)>) {
    let statuses = [
        // a at 0: 3 at once, 3 held (170, 360, 550 ms), 2 refused.
        &[200, 200, 200, 200, 200, 200, 429, 429][..],
        // a at 500: 2 held (300, 490 ms), 2 refused.
        &[200, 200, 429, 429],
        // b at 700: at once, its own bucket.
        &[200],
        // a at 1,500: 2 at once, 3 held (80, 270, 460 ms), 1 refused.
        &[200, 200, 200, 200, 200, 429],
        // b at 1,900: at once.
        &[200, 200],
        // a at 2,500 and 2,700: at once, and the last of the second burst held 80 ms.
        &[200, 200, 200, 200],
    ]
    .concat();
    let order = vec![
        ("/r/a/0", 0),
        ("/r/a/1", 0),
        ("/r/a/2", 0),
        ("/r/a/3", 170),
        ("/r/a/4", 360),
        ("/r/a/5", 550),
        ("/r/b/12", 0),
        ("/r/a/8", 300),
        ("/r/a/9", 490),
        ("/r/a/13", 0),
        ("/r/a/14", 0),
        ("/r/a/15", 80),
        ("/r/a/16", 270),
        ("/r/b/19", 0),
        ("/r/b/20", 0),
        ("/r/a/17", 460),
        ("/r/a/21", 0),
        ("/r/a/22", 0),
        ("/r/a/23", 0),
        ("/r/a/24", 80),
    ];
    (statuses, order)
}

/// Held times agree within this much: scheduling on a shared machine, and nginx's clock
/// read once per turn of its event loop.
const SLACK: Duration = Duration::from_millis(40);

/// Requests whose turns are this close (a burst's, 10 ms apart, let through at once) may reach
/// the upstream in either order: each comes over a connection of its own.
const TIE: Duration = Duration::from_millis(10);

/// Whether `run` is what the bucket says of the trace: the same admissions, the upstream
/// reached in the order of the turns, each request held its time; what differs, if not.
fn check(run: &Run) -> Result<(), String> {
    let (statuses, order) = expected();
    if run.statuses != statuses {
        return Err(format!("admitted {:?}, not {statuses:?}", run.statuses));
    }
    let trace = arrivals();
    let turn = |path: &str| {
        let (_, held) = order.iter().find(|(p, _)| *p == path).unwrap();
        let arrival = trace.iter().find(|a| a.path == path).unwrap();
        arrival.at + Duration::from_millis(*held)
    };
    let seen: Vec<&str> = run.forwarded.iter().map(|(p, _)| p.as_str()).collect();
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    let mut forwarded: Vec<&str> = order.iter().map(|(p, _)| *p).collect();
    forwarded.sort_unstable();
    if sorted != forwarded {
        return Err(format!("forwarded {seen:?}"));
    }
    if let Some(pair) = seen
        .windows(2)
        .find(|pair| turn(pair[0]) > turn(pair[1]) + TIE)
    {
        return Err(format!("{} before {}: {seen:?}", pair[0], pair[1]));
    }
    for (path, held) in &run.forwarded {
        let (_, expected) = order.iter().find(|(p, _)| p == path).unwrap();
        let expected = Duration::from_millis(*expected);
        if *held + SLACK < expected || *held > expected + SLACK {
            return Err(format!("{path} held {held:?}, not {expected:?}"));
        }
    }
    Ok(())
}

/// The real-time tests of this file, one at a time: each one's timing is what it checks.
static REAL_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Tries a real-time trace up to this many times: a machine running other tests may stall a
/// request longer than any margin of the trace; each try starts a fresh proxy, and the test
/// fails when none is right.
const TRIES: usize = 3;

/// Plays the trace against fresh proxies `start` makes until one run is right; every run's
/// fault, if none is.
async fn until_right<P>(
    who: &str,
    upstream: &Recorder,
    start: impl Fn() -> (P, SocketAddr),
) -> Result<Run, Vec<String>> {
    let mut faults = Vec::new();
    for _ in 0..TRIES {
        let (proxy, address) = start();
        let run = play(address, upstream).await;
        drop(proxy);
        match check(&run) {
            Ok(()) => return Ok(run),
            Err(fault) => faults.push(format!("{who}: {fault}")),
        }
    }
    Err(faults)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tollgate_shapes_a_trace_as_nginx_limit_req_delay_does() {
    let _alone = REAL_TIME.lock().await;
    let upstream = Recorder::start().await;
    let by_nginx = until_right("nginx", &upstream, || {
        let nginx = Nginx::start(upstream.address);
        let address = nginx.address;
        (nginx, address)
    })
    .await
    .unwrap_or_else(|faults| panic!("{faults:#?}"));
    let by_tollgate = until_right("tollgate", &upstream, || {
        let tollgate = Tollgate::start(POLICY, Some(upstream.address));
        let address = tollgate.address;
        (tollgate, address)
    })
    .await
    .unwrap_or_else(|faults| panic!("{faults:#?}"));
    // Side by side, for the record: each forwarded request and how long each held it.
    for (n, t) in by_nginx.forwarded.iter().zip(&by_tollgate.forwarded) {
        eprintln!("{:>8} nginx {:>9.1?}  tollgate {:>9.1?}", n.0, n.1, t.1);
    }
    assert_eq!(by_nginx.statuses, by_tollgate.statuses);
}

/// 10 a second, 2 at once and up to 4 more waiting, for everyone, in `store`.
fn shared_policy(store: &str) -> String {
    format!(
        r#"
[server]
store = "{store}"
store_timeout = "8s"

[[routes]]
api = "partner"
match = "GET /r/{{client}}/{{id}}"

[[limits]]
name = "partner"
token_bucket = {{ rate = "10/s", burst = 2 }}
delay = {{ max = "1s", queue = 4 }}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_sharing_redis_hand_out_each_turn_once() {
    let _alone = REAL_TIME.lock().await;
    let redis = RedisServer::start();
    let upstream = Recorder::start().await;
    let policy = shared_policy(&redis.url());
    let instances: Vec<Tollgate> = (0..2)
        .map(|_| Tollgate::start(&policy, Some(upstream.address)))
        .collect();
    // Twenty requests at once, alternating between the two instances.
    let started = Instant::now();
    let sent: Vec<_> = (0..20)
        .map(|id| {
            let address = instances[id % 2].address;
            tokio::spawn(async move {
                send(address, "GET", &format!("/r/x/{id}"), &[], "")
                    .await
                    .status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for request in sent {
        statuses.push(request.await.unwrap());
    }
    let admitted = statuses.iter().filter(|&&status| status == 200).count();
    let refused = statuses.iter().filter(|&&status| status == 429).count();
    assert_eq!((admitted, refused), (6, 14), "{statuses:?}");
    // Two at once, then one every 100 ms: never a start before its turn, whichever instance
    // (a machine running other tests may make one late, never early).
    let mut starts: Vec<Duration> = upstream
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, at)| at.duration_since(started))
        .collect();
    starts.sort_unstable();
    for (k, start) in starts.iter().enumerate().skip(2) {
        let turn = Duration::from_millis(100 * (k as u64 - 1));
        assert!(
            *start + Duration::from_millis(5) >= turn && *start <= turn + Duration::from_secs(1),
            "the {k}th start at {start:?}, its turn at {turn:?}: {starts:?}"
        );
    }
}

/// The recipes of docs/proxies.md pass the wait on: a request whose turn a delay would let it
/// wait for is refused by forward-auth with `Retry-After-Ms`, which reaches the client.
async fn the_wait_reaches_the_client_through(kind: Kind) {
    let upstream = Recorder::start().await;
    // One every 2 s, 1 at once, a turn up to 10 s ahead answered with the wait.
    let policy = format!(
        r#"{}
[[accounts]]
id = "acme"
keys = ["acme-key"]

[[routes]]
api = "partner"
match = "GET /r/{{client}}/{{id}}"

[[limits]]
name = "partner"
token_bucket = {{ rate = "1/2s", burst = 1 }}
delay = {{ max = "10s", queue = 5 }}
per = ["account"]
"#,
        kind.policy()
    );
    let tollgate = Tollgate::start(&policy, None);
    let proxy = Proxy::start(kind, tollgate.address, upstream.address);
    let key = [("X-Api-Key", "acme-key")];
    assert_eq!(proxy.get("/r/a/1", &key).await.status, 200);
    let early = proxy.get("/r/a/2", &key).await;
    assert_eq!(early.status, 429, "{kind:?}: {}", early.body);
    assert_eq!(early.header("retry-after"), Some("2"), "{kind:?}");
    let millis: u64 = early
        .header("retry-after-ms")
        .unwrap_or_else(|| panic!("{kind:?}: no Retry-After-Ms in {:?}", early.headers))
        .parse()
        .unwrap();
    assert!((1_000..=2_000).contains(&millis), "{kind:?}: {millis} ms");
    assert_eq!(upstream.seen.lock().unwrap().len(), 1, "{kind:?}");
}

#[tokio::test]
async fn nginx_passes_the_wait_on() {
    the_wait_reaches_the_client_through(Kind::Nginx).await;
}

#[tokio::test]
async fn caddy_passes_the_wait_on() {
    the_wait_reaches_the_client_through(Kind::Caddy).await;
}

/// Scrapes `tollgate`'s `/metrics` until it shows `series` at `value`; panics after 10 s.
async fn until_metric(tollgate: &Tollgate, series: &str, value: u64) {
    let line = format!("\n{series} {value}\n");
    for _ in 0..500 {
        if tollgate.metrics().await.contains(&line) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("/metrics never showed {series} {value}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_while_waiting_gives_its_turn_back_to_the_next() {
    let upstream = Recorder::start().await;
    // One every 2 s, 1 at once, 1 waiting for up to 10 s.
    let policy = r#"
[[routes]]
api = "partner"
match = "GET /r/{client}/{id}"

[[limits]]
name = "partner"
token_bucket = { rate = "1/2s", burst = 1 }
delay = { max = "10s", queue = 1 }
"#;
    let tollgate = Tollgate::start(policy, Some(upstream.address));
    assert_eq!(
        send(tollgate.address, "GET", "/r/x/1", &[], "")
            .await
            .status,
        200
    );
    // The second waits for its turn, 2 s away; its client hangs up meanwhile.
    let mut client = tokio::net::TcpStream::connect(tollgate.address)
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut client, b"GET /r/x/2 HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    until_metric(&tollgate, "tollgate_waiting_requests", 1).await;
    drop(client);
    until_metric(&tollgate, "tollgate_turns_given_back_total", 1).await;
    until_metric(&tollgate, "tollgate_waiting_requests", 0).await;
    // The turn is free: the third takes it (a second waiting would be past the queue).
    assert_eq!(
        send(tollgate.address, "GET", "/r/x/3", &[], "")
            .await
            .status,
        200
    );
    let seen: Vec<String> = upstream
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(p, _)| p.clone())
        .collect();
    assert_eq!(seen, ["/r/x/1", "/r/x/3"]);
}
