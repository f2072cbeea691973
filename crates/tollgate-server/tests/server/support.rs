//! A real `tollgate` process and a real upstream, both on loopback, both stopped on drop.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// A running `tollgate serve`.
pub(crate) struct Tollgate {
    child: Child,
    pub(crate) address: SocketAddr,
    /// The admin port.
    pub(crate) admin: SocketAddr,
    /// The data directory (catalog, admin token).
    pub(crate) data_dir: PathBuf,
    /// The policy file it serves, to rewrite before a reload.
    pub(crate) config: PathBuf,
    lines: std::sync::mpsc::Receiver<String>,
    /// Every line read so far.
    seen: std::sync::Mutex<Vec<String>>,
    _dir: TempDir,
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
        let mut child = command
            .env("RUST_LOG", "info")
            .env_remove("TOLLGATE_ADMIN_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                eprintln!("tollgate: {line}");
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut tollgate = Self {
            child,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            config,
            lines,
            seen: std::sync::Mutex::new(Vec::new()),
            _dir: dir,
        };
        tollgate.address = tollgate.logged_address("address");
        tollgate.admin = tollgate.logged_address("admin");
        tollgate
    }

    /// The address logged as `field`, in text (`field=ADDR`) or JSON (`"field":"ADDR"`) lines.
    pub(crate) fn logged_address(&self, field: &str) -> SocketAddr {
        let (text, json) = (format!("{field}="), format!("\"{field}\":\""));
        let line = self.wait_for_any(&[&text, &json]);
        let value = if let Some((_, rest)) = line.split_once(&text) {
            rest.split_whitespace().next()
        } else {
            line.split_once(&json)
                .and_then(|(_, rest)| rest.split('"').next())
        };
        value.unwrap().parse().unwrap()
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
        self.signal(signal);
        self.child.wait().unwrap();
        let dir = std::mem::replace(&mut self._dir, TempDir::empty());
        let policy = std::fs::read_to_string(&self.config).unwrap();
        Self::start_in(dir, &policy, None)
    }

    /// Like [`wait_for`](Self::wait_for), for a line logged before now or later.
    pub(crate) fn wait_for_logged(&self, needle: &str) -> String {
        let earlier = self
            .seen
            .lock()
            .unwrap()
            .iter()
            .find(|line| line.contains(needle))
            .cloned();
        earlier.unwrap_or_else(|| self.wait_for(needle))
    }

    /// Every log line read so far.
    pub(crate) fn logged_lines(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits (at most 20 s) for a log line containing `needle`, and returns it.
    pub(crate) fn wait_for(&self, needle: &str) -> String {
        self.wait_for_any(&[needle])
    }

    /// Waits (at most 20 s) for a log line containing one of `needles`, and returns it.
    fn wait_for_any(&self, needles: &[&str]) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no log line with {needles:?}"));
            self.seen.lock().unwrap().push(line.clone());
            if needles.iter().any(|needle| line.contains(needle)) {
                return line;
            }
        }
    }

    /// Sends a signal (`HUP`, `TERM`) to the process.
    pub(crate) fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args([&format!("-{name}"), &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    /// The admin token it generated in its data directory.
    pub(crate) fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("admin-token")).unwrap()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        self.child.wait().unwrap()
    }
}

impl Drop for Tollgate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// An upstream that echoes what it received, counting requests.
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
                let hint = if parts.uri.path().contains("/protect") {
                    "60"
                } else {
                    ""
                };
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
