//! A real `tollgate` process and a real upstream, both on loopback, both stopped on drop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::process::Process;

/// A running `tollgate serve`: the process (its log, its signals) and where it listens.
pub(crate) struct Tollgate {
    process: Process,
    pub(crate) address: SocketAddr,
    /// The admin port.
    pub(crate) admin: SocketAddr,
    /// The data directory (catalog, admin token).
    pub(crate) data_dir: PathBuf,
    /// The policy file it serves, to rewrite before a reload.
    pub(crate) config: PathBuf,
    _dir: TempDir,
}

impl std::ops::Deref for Tollgate {
    type Target = Process;

    fn deref(&self) -> &Process {
        &self.process
    }
}

impl Tollgate {
    /// Starts the binary on a free loopback port with `policy`, forwarding to `upstream`.
    pub(crate) fn start(policy: &str, upstream: Option<SocketAddr>) -> Self {
        Self::start_in(TempDir::new(), policy, upstream)
    }

    pub(crate) fn start_in(dir: TempDir, policy: &str, upstream: Option<SocketAddr>) -> Self {
        Self::start_with(dir, policy, upstream, &[])
    }

    /// Like [`start_in`](Self::start_in), with more flags for `tollgate serve`.
    pub(crate) fn start_with(
        dir: TempDir,
        policy: &str,
        upstream: Option<SocketAddr>,
        flags: &[&str],
    ) -> Self {
        let config = dir.0.join("policy.toml");
        std::fs::write(&config, policy).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_tollgate"));
        let data_dir = dir.0.join("data");
        command
            .args(["serve", "--config"])
            .arg(&config)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(&data_dir);
        if let Some(upstream) = upstream {
            command.arg("--upstream").arg(format!("http://{upstream}"));
        }
        command.args(flags);
        let process = Process::spawn(&mut command);
        let address = process.logged_address("address");
        let admin = process.logged_address("admin");
        Self {
            process,
            address,
            admin,
            data_dir,
            config,
            _dir: dir,
        }
    }

    /// Stops the process (SIGTERM) and starts it again on the same policy and data directory.
    pub(crate) fn restart(self) -> Self {
        self.restart_after("TERM")
    }

    /// Kills the process (`KILL`: no shutdown at all) and starts it again on the same
    /// policy and data directory.
    pub(crate) fn crash_and_restart(self) -> Self {
        self.restart_after("KILL")
    }

    fn restart_after(mut self, signal: &str) -> Self {
        self.process.stop_with(signal);
        let dir = std::mem::replace(&mut self._dir, TempDir::empty());
        let policy = std::fs::read_to_string(&self.config).unwrap();
        Self::start_in(dir, &policy, None)
    }

    /// The admin token it generated in its data directory.
    pub(crate) fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("admin-token")).unwrap()
    }

    /// `/metrics` on the admin port, read with the admin token.
    pub(crate) async fn metrics(&self) -> String {
        let token = format!("Bearer {}", self.admin_token().trim());
        send(
            self.admin,
            "GET",
            "/metrics",
            &[("authorization", &token)],
            "",
        )
        .await
        .body
    }

    /// Sends SIGTERM and waits for the exit status.
    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        self.process.stop_with("TERM")
    }
}

/// A folder removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    /// A stand-in that owns nothing (for a folder handed on).
    fn empty() -> Self {
        Self(PathBuf::new())
    }

    pub(crate) fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "tollgate-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// An upstream that echoes what it received, counting requests; it hangs on `/hang`, answers
/// 503 to `/fail`, and asks for a block of 60 s on `/protect` or a query naming `protect`.
pub(crate) struct Upstream {
    pub(crate) address: SocketAddr,
    pub(crate) hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    pub(crate) async fn start() -> Self {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        let app = Router::new().fallback(move |request: Request| {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let (parts, body) = request.into_parts();
                if parts.uri.path().contains("/hang") {
                    std::future::pending::<()>().await;
                }
                let body = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let forwarded = parts
                    .headers
                    .get("x-forwarded-for")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-")
                    .to_owned();
                let status = if parts.uri.path().contains("/fail") {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                };
                let echo = format!(
                    "{} {} xff={} body={}",
                    parts.method,
                    parts.uri,
                    forwarded,
                    String::from_utf8_lossy(&body)
                );
                let protect = parts.uri.path().contains("/protect")
                    || parts
                        .uri
                        .query()
                        .is_some_and(|query| query.contains("protect"));
                let hint = if protect { "60" } else { "" };
                let mut response = (status, [("x-upstream", "yes")], echo).into_response();
                if !hint.is_empty() {
                    response
                        .headers_mut()
                        .insert("tollgate-block-for", hint.parse().unwrap());
                }
                response
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            address,
            hits,
            task,
        }
    }

    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A response, read whole.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) version: axum::http::Version,
    pub(crate) headers: axum::http::HeaderMap,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends one request to `address`.
pub(crate) async fn send(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    try_send(address, method, path, headers, body)
        .await
        .unwrap()
}

/// Sends one request to `address`; the transport's error when no answer came (a process
/// killed under it).
pub(crate) async fn try_send(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<Reply, hyper_util::client::legacy::Error> {
    exchange(
        Client::builder(TokioExecutor::new()).build_http(),
        address,
        method,
        path,
        headers,
        body,
    )
    .await
}

/// Sends one request over HTTP/2 with prior knowledge (h2c).
pub(crate) async fn send_h2(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    exchange(client, address, method, path, headers, body)
        .await
        .unwrap()
}

async fn exchange(
    client: Client<HttpConnector, Body>,
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<Reply, hyper_util::client::legacy::Error> {
    let mut request = axum::http::Request::builder()
        .method(method)
        .uri(format!("http://{address}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(
            request
                .body(Body::from(Bytes::from(body.to_owned())))
                .unwrap(),
        )
        .await?;
    let status = response.status().as_u16();
    let version = response.version();
    let headers = response.headers().clone();
    // A body cut short reads as what arrived.
    let body = response
        .into_body()
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    Ok(Reply {
        status,
        version,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// The value of the counter or gauge `name` in Prometheus text `metrics`.
pub(crate) fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {metrics}"))
}
