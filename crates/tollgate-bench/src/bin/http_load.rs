//! `http_load ADDRESS SECONDS CONNECTIONS PATH [NAME:VALUE]...`: `GET PATH` with the given
//! headers over CONNECTIONS HTTP/1.1 keep-alive connections, each sending its next request
//! once the last is answered, for SECONDS; `{conn}` in a header value is the connection's
//! number modulo 1,000 (one user of 1,000 per connection). Prints what `scripts/bench-server` reads of wrk:
//! `Requests/sec:`, the `50%` and `99%` latencies, and the answers that were not 2xx. For
//! machines without wrk (the scale runs of `scripts/bench-scale`).

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

#[tokio::main]
async fn main() -> Result<(), String> {
    let usage = "usage: http_load ADDRESS SECONDS CONNECTIONS PATH [NAME:VALUE]...";
    let mut arguments = std::env::args().skip(1);
    let address = tollgate_bench::address(arguments.next())?;
    let seconds: u64 = arguments
        .next()
        .and_then(|text| text.parse().ok())
        .ok_or(usage)?;
    let connections: usize = arguments
        .next()
        .and_then(|text| text.parse().ok())
        .ok_or(usage)?;
    let path = arguments.next().ok_or(usage)?;
    let headers: Vec<(String, String)> = arguments
        .map(|header| {
            header
                .split_once(':')
                .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
                .ok_or_else(|| format!("`{header}` is not NAME:VALUE"))
        })
        .collect::<Result<_, _>>()?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for number in 0..connections {
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|error| format!("cannot reach {address}: {error}"))?;
        stream
            .set_nodelay(true)
            .map_err(|error| error.to_string())?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| error.to_string())?;
        tokio::spawn(connection);
        let path = path.clone();
        let own = (number % 1_000).to_string();
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(name, value)| (name.clone(), value.replace("{conn}", &own)))
            .collect();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failed = 0_u64;
            while Instant::now() < deadline {
                let mut request = hyper::Request::get(path.as_str()).header("host", "bench");
                for (name, value) in &headers {
                    request = request.header(name.as_str(), value.as_str());
                }
                let Ok(request) = request.body(Empty::<Bytes>::new()) else {
                    break;
                };
                let started = Instant::now();
                let Ok(response) = sender.send_request(request).await else {
                    failed += 1;
                    break;
                };
                let success = response.status().is_success();
                if response.into_body().collect().await.is_err() || !success {
                    failed += 1;
                }
                latencies.push(started.elapsed());
            }
            (latencies, failed)
        }));
    }
    let mut latencies = Vec::new();
    let mut failed = 0;
    for worker in workers {
        let (some, failures) = worker.await.map_err(|error| error.to_string())?;
        latencies.extend(some);
        failed += failures;
    }
    tollgate_bench::report(latencies, seconds, failed);
    Ok(())
}
