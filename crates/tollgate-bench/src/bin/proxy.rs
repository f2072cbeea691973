//! `proxy ADDRESS UPSTREAM`: forwards every request to `http://UPSTREAM` with a pooled client
//! and streams the answer back; no logic at all.

use hyper::Request;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

#[tokio::main]
async fn main() -> Result<(), String> {
    let mut arguments = std::env::args().skip(1);
    let address = tollgate_bench::address(arguments.next())?;
    let upstream = tollgate_bench::address(arguments.next())?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| format!("cannot listen on {address}: {error}"))?;
    let client = Client::builder(TokioExecutor::new()).build_http();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let client = client.clone();
        tokio::spawn(async move {
            let forward = service_fn(move |request: Request<hyper::body::Incoming>| {
                let (mut parts, body) = request.into_parts();
                let path = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
                parts.uri = format!("http://{upstream}{path}")
                    .parse()
                    .unwrap_or_default();
                client.request(Request::from_parts(parts, body))
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), forward)
                .await;
        });
    }
}
