//! Fault runs for `scripts/faults` (ignored in the suite: each takes a minute or so). Each
//! checks its invariant, then prints one `FAULTS <name>: key=value …` line of figures that the
//! script gathers. Loopback only, bounded in count and time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::redis_server::RedisServer;
use crate::support::{Tollgate, send, try_send};

const ASK: &str = r#"{"method":"GET","path":"/machines/1","headers":{"x-api-key":"acme-key"}}"#;

fn daily(max: u64, server: &str) -> String {
    format!(
        r#"
        [server]
        {server}

        [identity]
        api_key = {{ header = "X-Api-Key" }}

        [[accounts]]
        id = "acme"
        keys = ["acme-key"]

        [[routes]]
        api = "machines"
        match = "GET /machines/{{*rest}}"

        [[limits]]
        name = "daily"
        window = {{ max = {max}, every = "day", align = "calendar", tz = "Asia/Shanghai" }}
        per = ["account"]
        "#
    )
}

/// What a load saw: answers by status, those that never came, and the slowest answer.
#[derive(Debug, Default)]
struct Seen {
    admitted: AtomicU64,
    refused: AtomicU64,
    unavailable: AtomicU64,
    failed: AtomicU64,
    slowest_ms: AtomicU64,
}

impl Seen {
    fn answered(&self) -> u64 {
        self.admitted.load(Ordering::SeqCst)
            + self.refused.load(Ordering::SeqCst)
            + self.unavailable.load(Ordering::SeqCst)
    }
}

/// `clients` clients asking the check API at `address` until `stop`, each answer within 10 s
/// or counted as failed.
fn load(
    address: SocketAddr,
    clients: usize,
    stop: &Arc<AtomicBool>,
    seen: &Arc<Seen>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..clients)
        .map(|_| {
            let (stop, seen) = (Arc::clone(stop), Arc::clone(seen));
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let started = Instant::now();
                    let ask = try_send(address, "POST", "/v1/check", &[], ASK);
                    match tokio::time::timeout(Duration::from_secs(10), ask).await {
                        Ok(Ok(reply)) => {
                            let answer: serde_json::Value =
                                serde_json::from_str(&reply.body).unwrap_or_default();
                            let counter =
                                match (answer["allowed"] == true, answer["status"].as_u64()) {
                                    (true, _) => &seen.admitted,
                                    (false, Some(503)) => &seen.unavailable,
                                    _ => &seen.refused,
                                };
                            counter.fetch_add(1, Ordering::SeqCst);
                            let took =
                                u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                            seen.slowest_ms.fetch_max(took, Ordering::SeqCst);
                        }
                        // The process was killed under it: a request that got no answer.
                        Ok(Err(_)) => {
                            seen.failed.fetch_add(1, Ordering::SeqCst);
                            tokio::task::yield_now().await;
                        }
                        Err(_) => {
                            seen.failed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            })
        })
        .collect()
}

#[tokio::test]
#[ignore = "a fault run: scripts/faults"]
async fn kill_9_twenty_times_under_load() {
    const LIMIT: u64 = 3_000;
    let mut tollgate = Tollgate::start(&daily(LIMIT, "journal_slack = 4096"), None);
    let seen = Arc::new(Seen::default());
    let mut slowest_restart = Duration::ZERO;
    for _ in 0..20 {
        let stop = Arc::new(AtomicBool::new(false));
        let clients = load(tollgate.address, 16, &stop, &seen);
        // Let the load run until another 100 answers have come back, then kill mid-storm.
        let target = seen.answered() + 100;
        while seen.answered() < target {
            tokio::task::yield_now().await;
        }
        let started = Instant::now();
        tollgate = tollgate.crash_and_restart();
        tollgate.wait_for_logged("admin listening");
        slowest_restart = slowest_restart.max(started.elapsed());
        stop.store(true, Ordering::SeqCst);
        for client in clients {
            client.await.unwrap();
        }
    }
    // What is left of the day, asked one by one.
    let mut left = 0;
    while send(tollgate.address, "POST", "/v1/check", &[], ASK)
        .await
        .body
        .contains(r#""allowed":true"#)
    {
        left += 1;
    }
    let admitted = seen.admitted.load(Ordering::SeqCst) + left;
    assert!(
        admitted <= LIMIT,
        "admitted {admitted} of a daily {LIMIT} across 20 kills"
    );
    println!(
        "FAULTS kill-9: kills=20 limit={LIMIT} admitted={admitted} answered={} unanswered_in_flight={} slowest_answer_ms={} slowest_restart_ms={}",
        seen.answered() + left,
        seen.failed.load(Ordering::SeqCst),
        seen.slowest_ms.load(Ordering::SeqCst),
        slowest_restart.as_millis(),
    );
}

#[tokio::test]
#[ignore = "a fault run: scripts/faults"]
async fn redis_killed_and_restarted_five_times_under_load() {
    let mut redis = RedisServer::start();
    let server = format!(
        "store = \"{}\"\nstore_timeout = \"200ms\"\non_store_error = \"deny\"",
        redis.url()
    );
    let tollgate = Tollgate::start(&daily(1_000_000, &server), None);
    let (stop, seen) = (Arc::new(AtomicBool::new(false)), Arc::new(Seen::default()));
    let clients = load(tollgate.address, 8, &stop, &seen);
    let mut slowest_recovery = Duration::ZERO;
    for _ in 0..5 {
        let target = seen.admitted.load(Ordering::SeqCst) + 200;
        while seen.admitted.load(Ordering::SeqCst) < target {
            tokio::task::yield_now().await;
        }
        redis.kill();
        let target = seen.unavailable.load(Ordering::SeqCst) + 50;
        while seen.unavailable.load(Ordering::SeqCst) < target {
            tokio::task::yield_now().await;
        }
        let started = Instant::now();
        redis.run();
        let admitted = seen.admitted.load(Ordering::SeqCst);
        while seen.admitted.load(Ordering::SeqCst) < admitted + 10 {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "decisions did not come back"
            );
            tokio::task::yield_now().await;
        }
        slowest_recovery = slowest_recovery.max(started.elapsed());
    }
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.await.unwrap();
    }
    assert_eq!(
        seen.failed.load(Ordering::SeqCst),
        0,
        "every request answered within 10 s"
    );
    assert!(
        seen.slowest_ms.load(Ordering::SeqCst) < 2_000,
        "answers kept coming in time"
    );
    println!(
        "FAULTS redis-restart: restarts=5 answered={} admitted={} unavailable_503={} unanswered=0 slowest_answer_ms={} slowest_recovery_ms={}",
        seen.answered(),
        seen.admitted.load(Ordering::SeqCst),
        seen.unavailable.load(Ordering::SeqCst),
        seen.slowest_ms.load(Ordering::SeqCst),
        slowest_recovery.as_millis(),
    );
}

/// An upstream that resets every third connection, never answers every third, and answers
/// the rest.
async fn misbehaving_upstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut turn = 0u64;
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            turn += 1;
            tokio::spawn(async move {
                if turn % 3 == 0 {
                    // Closed with the request unread: the kernel answers with a reset.
                    tokio::task::yield_now().await;
                    drop(socket);
                    return;
                }
                let mut head = [0u8; 4096];
                let _ = socket.read(&mut head).await;
                match turn % 3 {
                    1 => std::future::pending::<()>().await,
                    _ => {
                        let _ = socket
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                            .await;
                    }
                }
            });
        }
    });
    address
}

#[tokio::test]
#[ignore = "a fault run: scripts/faults"]
async fn upstream_resets_and_hangs_are_answered_in_time() {
    let upstream = misbehaving_upstream().await;
    let policy = r#"
        [server]
        upstream_timeout = "500ms"

        [[routes]]
        api = "machines"
        match = "GET /machines/{*rest}"

        [[limits]]
        name = "in-flight"
        concurrency = { max = 8, lease = "1h" }
    "#;
    let tollgate = Tollgate::start(policy, Some(upstream));
    let mut statuses = std::collections::BTreeMap::new();
    let mut slowest = Duration::ZERO;
    for round in 0..30 {
        let asks: Vec<_> = (0..8)
            .map(|i| {
                let address = tollgate.address;
                tokio::spawn(async move {
                    let started = Instant::now();
                    let path = format!("/machines/{round}-{i}");
                    let reply = tokio::time::timeout(
                        Duration::from_secs(5),
                        send(address, "GET", &path, &[], ""),
                    )
                    .await;
                    (reply.map(|reply| reply.status), started.elapsed())
                })
            })
            .collect();
        for ask in asks {
            let (status, took) = ask.await.unwrap();
            let status = status.expect("every request answered within 5 s");
            *statuses.entry(status).or_insert(0u64) += 1;
            slowest = slowest.max(took);
        }
    }
    // No slot leaked: eight at once are still admitted past the upstream's failures.
    assert!(!statuses.contains_key(&429), "a slot leaked: {statuses:?}");
    assert!(
        slowest < Duration::from_secs(2),
        "an answer took {slowest:?}"
    );
    let figures: Vec<String> = statuses
        .iter()
        .map(|(status, count)| format!("status_{status}={count}"))
        .collect();
    println!(
        "FAULTS upstream: requests=240 {} slowest_answer_ms={} upstream_timeout_ms=500",
        figures.join(" "),
        slowest.as_millis()
    );
}
