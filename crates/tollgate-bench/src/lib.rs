//! The peers `scripts/bench-server` measures Tollgate against, built like Tollgate (hyper 1.x,
//! tokio's multi-threaded runtime, release profile): `hello`, a bare hyper server answering
//! `200 hello`, the ceiling of any server on hyper; and `proxy`, a bare hyper reverse proxy with
//! a pooled client and no logic, the ceiling of a gateway on hyper; and `grpc_load`, a load
//! generator for Envoy's gRPC rate-limit protocol (wrk speaks no gRPC).
//!
//! ```
//! let address = tollgate_bench::address(Some("127.0.0.1:0".to_owned())).unwrap();
//! assert!(address.ip().is_loopback());
//! ```

#![forbid(unsafe_code)]

use std::net::SocketAddr;

/// Prints what `scripts/bench-server` reads of wrk: `Requests/sec:` over `seconds`, the `50%`
/// and `99%` of `latencies`, and the `failed` answers.
pub fn report(mut latencies: Vec<std::time::Duration>, seconds: u64, failed: u64) {
    latencies.sort_unstable();
    let at = |share: f64| {
        let index =
            ((latencies.len() as f64 * share) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(index).copied().unwrap_or_default()
    };
    let rate = latencies.len() as f64 / seconds as f64;
    println!("Requests/sec: {rate:.2}");
    println!("     50%  {:.2}us", at(0.50).as_secs_f64() * 1e6);
    println!("     99%  {:.2}us", at(0.99).as_secs_f64() * 1e6);
    if failed > 0 {
        println!("Non-2xx or 3xx responses: {failed}");
    }
}

/// The address given on the command line.
///
/// # Errors
/// A missing or malformed address, in words.
pub fn address(argument: Option<String>) -> Result<SocketAddr, String> {
    let text = argument.ok_or("usage: ADDRESS, e.g. 127.0.0.1:19001")?;
    text.parse()
        .map_err(|error| format!("`{text}` is not an address: {error}"))
}
