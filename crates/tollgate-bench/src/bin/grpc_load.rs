//! `grpc_load ADDRESS SECONDS [CONNECTIONS]`: Envoy's `ShouldRateLimit` asked over and over, as
//! wrk asks HTTP: CONNECTIONS requests in flight at once (64 by default, eight per HTTP/2
//! connection), each for one user of 1,000 in turn (domain `bench`, descriptor `user`). Prints
//! what `scripts/bench-server` reads of wrk: `Requests/sec:` and the `50%` and `99%` latencies.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use envoy_types::pb::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::Entry;
use envoy_types::pb::envoy::service::ratelimit::v3::RateLimitRequest;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_client::RateLimitServiceClient;
use tonic::transport::Channel;

/// Requests in flight on one HTTP/2 connection.
const PER_CONNECTION: usize = 8;

#[tokio::main]
async fn main() -> Result<(), String> {
    let mut arguments = std::env::args().skip(1);
    let address = tollgate_bench::address(arguments.next())?;
    let seconds: u64 = arguments
        .next()
        .and_then(|text| text.parse().ok())
        .ok_or("usage: grpc_load ADDRESS SECONDS [CONNECTIONS]")?;
    let in_flight: usize = arguments
        .next()
        .and_then(|text| text.parse().ok())
        .unwrap_or(64);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let over_limit = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for connection in 0..in_flight.div_ceil(PER_CONNECTION) {
        let channel = Channel::from_shared(format!("http://{address}"))
            .map_err(|error| error.to_string())?
            .connect()
            .await
            .map_err(|error| format!("cannot reach {address}: {error}"))?;
        for worker in 0..PER_CONNECTION.min(in_flight - connection * PER_CONNECTION) {
            let mut client = RateLimitServiceClient::new(channel.clone());
            let over_limit = Arc::clone(&over_limit);
            let first = connection * PER_CONNECTION + worker;
            workers.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut user = first;
                while Instant::now() < deadline {
                    user = (user + 1) % 1_000;
                    let started = Instant::now();
                    let answer = client.should_rate_limit(request(user)).await;
                    latencies.push(started.elapsed());
                    match answer {
                        Ok(answer) if answer.get_ref().overall_code == 1 => {}
                        _ => {
                            over_limit.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                latencies
            }));
        }
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.map_err(|error| error.to_string())?);
    }
    tollgate_bench::report(latencies, seconds, over_limit.load(Ordering::Relaxed));
    Ok(())
}

/// One user's descriptor.
fn request(user: usize) -> RateLimitRequest {
    RateLimitRequest {
        domain: "bench".to_owned(),
        descriptors: vec![RateLimitDescriptor {
            entries: vec![Entry {
                key: "user".to_owned(),
                value: format!("u{user}"),
            }],
            ..Default::default()
        }],
        hits_addend: 1,
    }
}
