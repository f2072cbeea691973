//! Quota alerts from the real binary to a receiver of the test's own on loopback, which checks
//! every signature: each share of a daily quota once, a receiver that is down at first, and a
//! `kill -9` while a delivery waits for its answer.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::watch;

use crate::support::{Tollgate, send};

const SECRET: &str = "whsec_test_0123456789abcdef";

/// What the receiver does with a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Answers 204.
    Acknowledge,
    /// Reads it and never answers.
    Hang,
}

/// One request the receiver read: its delivery id, its body, and whether it was answered.
#[derive(Debug, Clone)]
struct Seen {
    id: String,
    body: serde_json::Value,
    acknowledged: bool,
}

#[derive(Debug)]
struct Receiver {
    mode: Mutex<Mode>,
    seen: Mutex<Vec<Seen>>,
    count: watch::Sender<usize>,
}

/// Starts a receiver on `listener` that refuses (400) any request whose signature does not
/// check out or whose timestamp is older than five minutes.
fn receive_on(listener: tokio::net::TcpListener, mode: Mode) -> Arc<Receiver> {
    let receiver = Arc::new(Receiver {
        mode: Mutex::new(mode),
        seen: Mutex::new(Vec::new()),
        count: watch::channel(0).0,
    });
    let app = Router::new()
        .route("/alerts", axum::routing::post(deliver))
        .with_state(Arc::clone(&receiver));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    receiver
}

async fn receiver(mode: Mode) -> (Arc<Receiver>, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    (receive_on(listener, mode), address)
}

async fn deliver(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signature = header("tollgate-signature").expect("a signature");
    let (t, v1) = signature.split_once(",v1=").expect("t=…,v1=…");
    let t = t.strip_prefix("t=").expect("t= first");
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sent: u64 = t.parse().unwrap();
    if v1 != expected || now.abs_diff(sent) > 300 {
        return StatusCode::BAD_REQUEST;
    }
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let id = header("tollgate-delivery").unwrap().to_owned();
    assert_eq!(body["id"], id.as_str());
    let mode = *receiver.mode.lock().unwrap();
    receiver.seen.lock().unwrap().push(Seen {
        id,
        body,
        acknowledged: mode == Mode::Acknowledge,
    });
    receiver.count.send_modify(|count| *count += 1);
    match mode {
        Mode::Acknowledge => StatusCode::NO_CONTENT,
        Mode::Hang => std::future::pending().await,
    }
}

impl Receiver {
    /// Waits until it has read `count` requests (20 s at most); what it read.
    async fn wait_for(&self, count: usize) -> Vec<Seen> {
        let mut counted = self.count.subscribe();
        tokio::time::timeout(
            Duration::from_secs(20),
            counted.wait_for(|seen| *seen >= count),
        )
        .await
        .unwrap_or_else(|_| panic!("never {count} deliveries: {:?}", self.seen.lock()))
        .unwrap();
        self.seen.lock().unwrap().clone()
    }
}

fn policy(receiver: SocketAddr, extra: &str) -> String {
    format!(
        r#"
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
    window = {{ max = 10, every = "day", align = "calendar", tz = "Asia/Shanghai" }}
    per = ["account"]

    [alerts]
    url = "http://{receiver}/alerts"
    secret = "{SECRET}"
    {extra}
"#
    )
}

const ASK: &str = r#"{"method":"GET","path":"/machines/1","headers":{"x-api-key":"acme-key"}}"#;

async fn ask(tollgate: &Tollgate, times: usize) -> usize {
    let mut admitted = 0;
    for _ in 0..times {
        let reply = send(tollgate.address, "POST", "/v1/check", &[], ASK).await;
        let answer: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        admitted += usize::from(answer["allowed"] == true);
    }
    admitted
}

/// `GET /admin/accounts/acme/alerts`.
async fn listed(tollgate: &Tollgate) -> serde_json::Value {
    let token = format!("Bearer {}", tollgate.admin_token());
    let reply = send(
        tollgate.admin,
        "GET",
        "/admin/accounts/acme/alerts",
        &[("authorization", &token)],
        "",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    serde_json::from_str(&reply.body).unwrap()
}

#[tokio::test]
async fn each_share_of_a_daily_quota_is_delivered_once_signed() {
    let (receiver, at) = receiver(Mode::Acknowledge).await;
    let tollgate = Tollgate::start(&policy(at, "at = [80, 100]"), None);
    assert_eq!(ask(&tollgate, 7).await, 7);
    assert_eq!(ask(&tollgate, 1).await, 1);
    let seen = receiver.wait_for(1).await;
    assert_eq!(seen[0].body["type"], "quota");
    assert_eq!(seen[0].body["account"], "acme");
    assert_eq!(seen[0].body["limit"], "daily");
    assert_eq!(seen[0].body["api"], "machines");
    assert_eq!(seen[0].body["threshold"], 80);
    assert_eq!(seen[0].body["used"], 8);
    assert_eq!(seen[0].body["max"], 10);
    let (start, end) = (&seen[0].body["period_start"], &seen[0].body["period_end"]);
    assert_eq!(end.as_u64().unwrap() - start.as_u64().unwrap(), 86_400);
    // Shanghai's midnight is 16:00 UTC.
    assert_eq!(end.as_u64().unwrap() % 86_400, 16 * 3_600);
    // Past the quota and beyond: 100 % once, nothing more.
    assert_eq!(ask(&tollgate, 6).await, 2);
    let seen = receiver.wait_for(2).await;
    assert_eq!(seen[1].body["threshold"], 100);
    assert_eq!(seen[1].body["used"], 10);
    assert_ne!(seen[0].id, seen[1].id);
    let listing = listed(&tollgate).await;
    assert_eq!(listing["thresholds"], serde_json::json!([80, 100]));
    assert_eq!(listing["receiver"], "policy");
    let deliveries = listing["deliveries"].as_array().unwrap();
    let rows: Vec<_> = deliveries
        .iter()
        .map(|row| {
            (
                row["threshold"].as_str().unwrap(),
                row["state"].as_str().unwrap(),
                row["attempts"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [("100%", "delivered", 1), ("80%", "delivered", 1)]);
    let metrics = tollgate.metrics().await;
    let alerts = |result: &str| {
        let series = format!("tollgate_alerts_total{{result=\"{result}\"}}");
        crate::support::counter(&metrics, &series)
    };
    assert_eq!(
        ["recorded", "delivered", "failed_try", "given_up", "dropped"].map(alerts),
        [2, 2, 0, 0, 0]
    );
    // The customer's page says so, naming the receiver's host, not its path.
    let page = send(
        tollgate.address,
        "GET",
        "/_tollgate/quota",
        &[("x-api-key", "acme-key"), ("accept", "text/html")],
        "",
    )
    .await;
    let said = format!(
        "<p class=\"alerts\">Alerts at 80 % and 100 % of daily, to <strong>{at}</strong>.</p>"
    );
    assert!(page.body.contains(&said), "{}", page.body);
    assert!(!page.body.contains(SECRET) && !page.body.contains("/alerts\""));
    // A restart finds nothing due, and the quota, spent, crosses nothing again.
    let tollgate = tollgate.restart();
    assert!(
        tollgate
            .wait_for_logged("alerts left due read")
            .contains("alerts=0")
    );
    assert_eq!(ask(&tollgate, 3).await, 0);
    assert_eq!(
        listed(&tollgate).await["deliveries"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(receiver.seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_receiver_down_gets_the_alert_after_retries_once_it_is_up() {
    // A port with nothing listening: every try is refused until the receiver starts there.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let at = reserved.local_addr().unwrap();
    drop(reserved);
    let tollgate = Tollgate::start(
        &policy(at, "at = [100]\nattempts = 100\nbackoff = \"20ms\""),
        None,
    );
    assert_eq!(ask(&tollgate, 12).await, 10);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let listing = listed(&tollgate).await;
        let row = &listing["deliveries"][0];
        if row["attempts"].as_u64().unwrap_or(0) >= 3 {
            assert_eq!(row["state"], "due");
            assert!(
                row["last_error"]
                    .as_str()
                    .unwrap()
                    .starts_with("cannot reach the receiver")
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never retried: {listing}"
        );
        tokio::task::yield_now().await;
    }
    let listener = tokio::net::TcpListener::bind(at).await.unwrap();
    let receiver = receive_on(listener, Mode::Acknowledge);
    let seen = receiver.wait_for(1).await;
    assert_eq!(seen[0].body["threshold"], 100);
    // Its row says delivered (written just after the answer: looked at until it is).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let listing = listed(&tollgate).await;
        let row = &listing["deliveries"][0];
        if row["state"] == "delivered" {
            assert!(row["attempts"].as_u64().unwrap() >= 4);
            assert_eq!(row["id"], seen[0].id.as_str());
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never marked: {listing}"
        );
        tokio::task::yield_now().await;
    }
    assert_eq!(
        listed(&tollgate).await["deliveries"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn kill_9_mid_delivery_neither_loses_nor_repeats_the_alert() {
    let (receiver, at) = receiver(Mode::Hang).await;
    let tollgate = Tollgate::start(&policy(at, "at = [100]\ntimeout = \"60s\""), None);
    assert_eq!(ask(&tollgate, 10).await, 10);
    // The receiver has the alert and does not answer: killed while it waits.
    let hung = receiver.wait_for(1).await;
    assert!(!hung[0].acknowledged);
    // Decisions go on while the delivery waits for its answer.
    assert_eq!(ask(&tollgate, 3).await, 0);
    *receiver.mode.lock().unwrap() = Mode::Acknowledge;
    let tollgate = tollgate.crash_and_restart();
    assert!(
        tollgate
            .wait_for_logged("alerts left due read")
            .contains("alerts=1")
    );
    let seen = receiver.wait_for(2).await;
    assert!(seen[1].acknowledged);
    assert_eq!(seen[1].id, seen[0].id, "the same delivery, sent again");
    assert_eq!(seen[1].body, seen[0].body);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while listed(&tollgate).await["deliveries"][0]["state"] != "delivered" {
        assert!(
            std::time::Instant::now() < deadline,
            "never marked delivered"
        );
        tokio::task::yield_now().await;
    }
    // Acknowledged: neither another restart nor a crash sends it again.
    let tollgate = tollgate.crash_and_restart();
    assert!(
        tollgate
            .wait_for_logged("alerts left due read")
            .contains("alerts=0")
    );
    assert_eq!(ask(&tollgate, 1).await, 0);
    assert_eq!(receiver.seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_pack_near_its_end_and_the_account_s_own_receiver() {
    let (policy_receiver, at) = receiver(Mode::Acknowledge).await;
    let (own, own_at) = receiver(Mode::Acknowledge).await;
    let extra = "pack_expiry = [\"14d\", \"1d\"]\n\n[packs.plus]\nperiod = \"10d\"\nlimits.daily = { max = 20 }";
    let tollgate = Tollgate::start(&policy(at, extra), None);
    let token = format!("Bearer {}", tollgate.admin_token());
    let admin = |method: &'static str, path: &'static str, body: String| {
        let token = token.clone();
        let address = tollgate.admin;
        async move { send(address, method, path, &[("authorization", &token)], &body).await }
    };
    // Not an http:// URL: refused, nothing set.
    let refused = admin(
        "PUT",
        "/admin/accounts/acme/alerts",
        r#"{"url":"ftp://x"}"#.into(),
    )
    .await;
    assert_eq!(
        (refused.status, refused.body.contains("bad_url")),
        (400, true)
    );
    let own_url = format!(r#"{{"url":"http://{own_at}/alerts"}}"#);
    assert_eq!(
        admin("PUT", "/admin/accounts/acme/alerts", own_url)
            .await
            .status,
        204
    );
    let listing = listed(&tollgate).await;
    assert_eq!(listing["receiver"], "account");
    assert_eq!(
        listing["pack_expiry_seconds"],
        serde_json::json!([1_209_600, 86_400])
    );
    let bought = admin(
        "POST",
        "/admin/accounts/acme/packs",
        r#"{"pack":"plus"}"#.into(),
    )
    .await;
    assert_eq!(bought.status, 201, "{}", bought.body);
    let expires_at = serde_json::from_str::<serde_json::Value>(&bought.body).unwrap()["expires_at"]
        .as_u64()
        .unwrap();
    // Ten days left: within 14 days, not within 1.
    let seen = own.wait_for(1).await;
    assert_eq!(seen[0].body["type"], "pack_expiry");
    assert_eq!(seen[0].body["pack"], "plus");
    assert_eq!(seen[0].body["threshold_seconds"], 1_209_600);
    assert_eq!(seen[0].body["expires_at"], expires_at);
    assert!(policy_receiver.seen.lock().unwrap().is_empty());
    let rows = listed(&tollgate).await["deliveries"].clone();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["subject"], "pack/plus");
    assert_eq!(rows[0]["threshold"], "1209600s");
    assert_eq!(rows[0]["period_end"], expires_at);
    // The same through `tollgate admin alerts`.
    let cli = crate::cli::AdminCli::of(&tollgate);
    let listed_by_cli = cli.ok(&["alerts", "list", "acme"]);
    assert!(listed_by_cli.starts_with("url: http://"), "{listed_by_cli}");
    assert!(listed_by_cli.contains("receiver: account\n"));
    let row = listed_by_cli
        .lines()
        .find(|line| line.contains("pack/plus"))
        .unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1..5], ["pack/plus", "1209600s", "delivered", "1"]);
    let moved = format!("http://{at}/alerts?from=cli");
    let set = cli.ok(&["alerts", "receiver", "acme", &moved]);
    assert_eq!(set, "alert receiver set\n");
    assert_eq!(listed(&tollgate).await["url"], moved.as_str());
    assert_eq!(
        cli.ok(&["alerts", "receiver", "acme", "--clear"]),
        "alert receiver set\n"
    );
    assert_eq!(listed(&tollgate).await["receiver"], "policy");
}
