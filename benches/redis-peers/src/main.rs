//! Decisions per second and p99 latency against one local `redis-server`, three subjects in
//! the same run on the same server:
//!
//! - **ceiling**: `redis-benchmark` calling the store's own script by `EVALSHA`, pipelined
//!   (`-P 16`, 64 connections) — what Redis itself can run, with no client logic at all;
//! - **tollgate**: [`RedisStore::acquire`], 64 decisions in flight on one multiplexed connection,
//!   then one client waiting for each answer;
//! - **limitador**: limitador 0.14's `AsyncRedisStorage`, the same way.
//!
//! Every subject decides one limit that never refuses, over 10,000 partitions: a window (an
//! hour for Tollgate, 60 s for limitador, whose counters are fixed windows), and for Tollgate
//! and the ceiling also a token bucket.
//!
//! ```text
//! cargo run --release --manifest-path benches/redis-peers/Cargo.toml [-- SECONDS]
//! ```
//! (default 5 s per subject). It is a package of its own, outside the workspace: limitador's
//! Redis storage cannot be built without its RocksDB storage, a long C++ build.

#[path = "../../../crates/tollgate-redis/tests/support/redis_server.rs"]
#[allow(dead_code, unreachable_pub)]
mod redis_server;

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use limitador::limit::{Context, Expression, Limit, Namespace, Predicate};
use limitador::storage::redis::AsyncRedisStorage;
use redis_server::RedisServer;
use tollgate_core::{Algorithm, Key, LimitRequest, Rate, Schedule, TokenBucket, Window};
use tollgate_redis::{RedisStore, StoreUrl};

/// Decisions in flight at once: many clients, or one waiting for each answer.
const MANY: usize = 64;
const PARTITIONS: u64 = 10_000;

/// Decisions per second and the 99th percentile latency in microseconds.
struct Measured {
    per_second: f64,
    p99_micros: f64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // `cargo bench` passes `--bench`; a number is the seconds per subject.
    let seconds: u64 = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(5);
    let span = Duration::from_secs(seconds);
    let server = RedisServer::start();
    let url: StoreUrl = server.url().parse().expect("a redis URL");
    let store = RedisStore::connect(&url, Duration::from_secs(5))
        .await
        .expect("redis-server answers");

    let window = hourly(1_000_000_000_000);
    let bucket: &'static Algorithm = Box::leak(Box::new(
        TokenBucket::new(Rate::per_second(1_000_000), 1_000_000_000)
            .expect("valid")
            .into(),
    ));
    let (start, end) = hour().bounds(now_nanos());
    let window_args = [
        "w",
        "1",
        &(start / 1_000).to_string(),
        &(end / 1_000).to_string(),
        "1000000000000",
    ]
    .map(str::to_owned);
    let bucket_args = ["t", "1", "1", "1000000000", "0"].map(str::to_owned);

    let exact = hourly(1_000);
    let store_for_exactness = store.clone();
    let (limitador_for_exactness, namespace) = limitador_with(&server.url(), 1_000).await;
    let ceiling_window = redis_benchmark(&server, seconds, &window_args);
    let tollgate_window = tollgate(store.clone(), window, span, MANY).await;
    let limitador_window = limitador(&server.url(), span, MANY).await;
    let tollgate_one = tollgate(store.clone(), window, span, 1).await;
    let limitador_one = limitador(&server.url(), span, 1).await;
    let ceiling_bucket = redis_benchmark(&server, seconds, &bucket_args);
    let tollgate_bucket = tollgate(store, bucket, span, MANY).await;

    println!("subject                decisions/s   p99 µs");
    for (name, measured) in [
        ("ceiling, window", &ceiling_window),
        ("tollgate, window", &tollgate_window),
        ("limitador, window", &limitador_window),
        ("tollgate, 1 client", &tollgate_one),
        ("limitador, 1 client", &limitador_one),
        ("ceiling, bucket", &ceiling_bucket),
        ("tollgate, bucket", &tollgate_bucket),
    ] {
        println!(
            "{name:<20} {:>12.0} {:>8.0}",
            measured.per_second, measured.p99_micros
        );
    }
    let (ours, theirs) = (
        admitted_of_one_window(|| async {
            let request = [LimitRequest::new(Key::from_hash(u64::MAX - 1), exact, 1)];
            store_for_exactness
                .acquire(&request)
                .await
                .expect("a decision")
                .allowed()
        })
        .await,
        admitted_of_one_window(|| async {
            let values = HashMap::from([("key".to_string(), "exactness".to_string())]);
            let context: Context<'_> = values.into();
            limitador_for_exactness
                .check_rate_limited_and_update(&namespace, &context, 1)
                .await
                .is_ok_and(|result| !result.limited)
        })
        .await,
    );
    println!(
        "one key, a window of 1,000, 64 clients asking 2,000 times: tollgate admitted {ours}, limitador {theirs}"
    );
    println!(
        "window: tollgate / ceiling = {:.2}, tollgate / limitador = {:.2} (one client: {:.2}); bucket: tollgate / ceiling = {:.2}",
        tollgate_window.per_second / ceiling_window.per_second,
        tollgate_window.per_second / limitador_window.per_second,
        tollgate_one.per_second / limitador_one.per_second,
        tollgate_bucket.per_second / ceiling_bucket.per_second,
    );
}

/// Clock-aligned hours.
fn hour() -> Schedule {
    Schedule::clock(Duration::from_secs(3_600)).expect("valid")
}

/// A window of `max` per hour, for the whole run.
fn hourly(max: u64) -> &'static Algorithm {
    Box::leak(Box::new(Window::new(max, hour()).expect("valid").into()))
}

fn now_nanos() -> u64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    u64::try_from(since.as_nanos()).expect("before 2554")
}

/// Runs `decide` from `in_flight` tasks for `span`.
async fn drive<F, Fut>(span: Duration, in_flight: usize, decide: F) -> Measured
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let decide = Arc::new(decide);
    let started = Instant::now();
    let tasks: Vec<_> = (0..in_flight as u64)
        .map(|task| {
            let decide = Arc::clone(&decide);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut partition = task * 7_919;
                while started.elapsed() < span {
                    partition = (partition + 104_729) % PARTITIONS;
                    let asked = Instant::now();
                    assert!(decide(partition).await, "the limit never refuses");
                    latencies.push(asked.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("a bench task"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let p99 = latencies[latencies.len() * 99 / 100];
    Measured {
        per_second: latencies.len() as f64 / elapsed,
        p99_micros: p99.as_secs_f64() * 1e6,
    }
}

async fn tollgate(
    store: RedisStore,
    algorithm: &'static Algorithm,
    span: Duration,
    in_flight: usize,
) -> Measured {
    drive(span, in_flight, move |partition| {
        let store = store.clone();
        async move {
            let request = [LimitRequest::new(
                Key::from_hash(partition + 1),
                algorithm,
                1,
            )];
            store.acquire(&request).await.expect("a decision").allowed()
        }
    })
    .await
}

/// A limitador over its Redis storage with one limit of `max` per 60 s per `key`.
async fn limitador_with(url: &str, max: u64) -> (Arc<limitador::AsyncRateLimiter>, Namespace) {
    let storage = AsyncRedisStorage::new(url)
        .await
        .expect("redis-server answers");
    let limiter = limitador::AsyncRateLimiter::new_with_storage(Box::new(storage));
    let per_key: Expression = "key".try_into().expect("valid CEL");
    let namespace = format!("bench-{max}");
    limiter.add_limit(Limit::new(
        namespace.as_str(),
        max,
        60,
        Vec::<Predicate>::new(),
        vec![per_key],
    ));
    (Arc::new(limiter), namespace.as_str().into())
}

/// How many of 2,000 decisions on one partition of a window of 1,000, asked by 64 concurrent
/// clients, were admitted: exactly 1,000 for an exact store.
async fn admitted_of_one_window<F, Fut>(decide: F) -> usize
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    use futures_util::StreamExt;
    futures_util::stream::iter(0..2_000)
        .map(|_| decide())
        .buffer_unordered(64)
        .filter(|&admitted| std::future::ready(admitted))
        .count()
        .await
}

async fn limitador(url: &str, span: Duration, in_flight: usize) -> Measured {
    let (limiter, namespace) = limitador_with(url, u64::MAX).await;
    drive(span, in_flight, move |partition| {
        let (limiter, namespace) = (Arc::clone(&limiter), namespace.clone());
        async move {
            let values = HashMap::from([("key".to_string(), partition.to_string())]);
            let context: Context<'_> = values.into();
            limiter
                .check_rate_limited_and_update(&namespace, &context, 1)
                .await
                .is_ok_and(|result| !result.limited)
        }
    })
    .await
}

/// `redis-benchmark` running the store's script on random partitions with the arguments of
/// one limit, pipelined; its own figures (requests per second, p99 in ms) from its CSV output.
fn redis_benchmark(server: &RedisServer, seconds: u64, limit: &[String]) -> Measured {
    let script = include_str!("../../../crates/tollgate-redis/src/decide.lua");
    let load = Command::new("redis-cli")
        .args(["-p", &server.port.to_string(), "SCRIPT", "LOAD", script])
        .output()
        .expect("redis-cli (package redis-tools)");
    let sha = String::from_utf8_lossy(&load.stdout).trim().to_owned();
    let requests = (seconds * 150_000).to_string();
    let output = Command::new("redis-benchmark")
        .args(["-p", &server.port.to_string(), "-c", "64", "-P", "16"])
        .args(["-n", &requests, "-r", &PARTITIONS.to_string(), "--csv"])
        .args([
            "EVALSHA",
            &sha,
            "1",
            "tg:{bench}:__rand_int__",
            "acquire",
            "",
            "0",
        ])
        .args(limit)
        .output()
        .expect("redis-benchmark (package redis-tools)");
    let csv = String::from_utf8_lossy(&output.stdout);
    let row: Vec<f64> = csv
        .lines()
        .last()
        .unwrap_or_default()
        .split(',')
        .skip(1)
        .filter_map(|field| field.trim_matches('"').parse().ok())
        .collect();
    // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(row.len() >= 6, "redis-benchmark said: {csv} {errors}");
    Measured {
        per_second: row[0],
        p99_micros: row[5] * 1_000.0,
    }
}
