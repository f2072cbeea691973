//! `hello ADDRESS [auto]`: answers every request `200 hello` over HTTP/1.1, as bare as hyper
//! allows; with `auto`, through hyper-util's builder that serves HTTP/1 and HTTP/2 on one port
//! (as Tollgate's ports do), to tell what that costs apart from what a decision costs.

use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

#[tokio::main]
async fn main() -> Result<(), String> {
    let address = tollgate_bench::address(std::env::args().nth(1))?;
    let auto = std::env::args().nth(2).is_some_and(|mode| mode == "auto");
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| format!("cannot listen on {address}: {error}"))?;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let hello = service_fn(|_: Request<hyper::body::Incoming>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"hello"))))
            });
            let io = TokioIo::new(stream);
            let _ = if auto {
                auto::Builder::new(TokioExecutor::new())
                    .serve_connection(io, hello)
                    .await
            } else {
                http1::Builder::new()
                    .serve_connection(io, hello)
                    .await
                    .map_err(Into::into)
            };
        });
    }
}
