//! Many `tollgate` processes sharing one Redis (or a Redis Cluster): exact limits across
//! instances, and the failure policy while Redis is down.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::postgres_server::PostgresServer;
use crate::redis_server::{RedisCluster, RedisServer};
use crate::support::{Tollgate, counter, send};

/// A policy with `server` as its `[server]` table, API keys in `X-Api-Key`, one route
/// (`machines`), then `rest`: the accounts and limits of one test.
fn policy(server: &str, rest: &str) -> String {
    format!(
        "[server]\n{server}\n\n[identity]\napi_key = {{ header = \"X-Api-Key\" }}\n\n\
         [[routes]]\napi = \"machines\"\nmatch = \"* /machines/{{*rest}}\"\n\n{rest}"
    )
}

/// An account of the file, with its key.
fn account(id: &str) -> String {
    format!("[[accounts]]\nid = \"{id}\"\nkeys = [\"{id}-key\"]\n\n")
}

/// 1,000 per clock-aligned quarter hour per account, on `store`. The storms these tests run
/// are about exactness, not latency: the store's time budget is far beyond what an answer
/// takes, so that a stall of the machine running every test at once (2 s was seen) is never
/// answered as an outage, 503, which no exactness could then account for.
fn quarter_hour_policy(store: &str) -> String {
    let limits = r#"
        [[limits]]
        name = "quarter-hour"
        window = { max = 1000, every = "15m" }
        per = ["account"]
        "#;
    policy(
        &format!("store = \"{store}\"\nstore_timeout = \"8s\""),
        &(account("acme") + limits),
    )
}

/// Asks the check API for `key`; the answer as JSON.
async fn check(address: SocketAddr, key: &str) -> serde_json::Value {
    let ask =
        format!(r#"{{"method":"GET","path":"/machines/1","headers":{{"x-api-key":"{key}"}}}}"#);
    let reply = tokio::time::timeout(
        Duration::from_secs(10),
        send(
            address,
            "POST",
            "/v1/check",
            &[("content-type", "application/json")],
            &ask,
        ),
    )
    .await
    .expect("an answer, even while the store is down");
    serde_json::from_str(&reply.body).unwrap_or_else(|_| panic!("JSON: {}", reply.body))
}

/// 64 clients, 1,600 requests spread over the instances; admitted requests per window end.
async fn storm(instances: &[Tollgate]) -> (BTreeMap<u64, usize>, BTreeMap<u64, usize>) {
    storm_until(instances, None).await
}

/// As [`storm`], each client going on after its 25 requests until `until` is set, if given.
async fn storm_until(
    instances: &[Tollgate],
    until: Option<Arc<AtomicBool>>,
) -> (BTreeMap<u64, usize>, BTreeMap<u64, usize>) {
    let addresses: Vec<SocketAddr> = instances.iter().map(|t| t.address).collect();
    let clients: Vec<_> = (0..64)
        .map(|client| {
            let (addresses, until) = (addresses.clone(), until.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let done = || {
                    until
                        .as_ref()
                        .is_none_or(|until| until.load(Ordering::SeqCst))
                };
                let mut request = 0;
                while request < 25 || !done() {
                    let address = addresses[(client + request) % addresses.len()];
                    let answer = check(address, "acme-key").await;
                    let reset = answer["limits"][0]["reset_at"]
                        .as_u64()
                        .unwrap_or_else(|| panic!("a reset: {answer}"));
                    seen.push((answer["allowed"] == true, reset));
                    request += 1;
                }
                seen
            })
        })
        .collect();
    let (mut admitted, mut refused) = (BTreeMap::new(), BTreeMap::new());
    for client in clients {
        for (allowed, reset) in client.await.unwrap() {
            let tally = if allowed { &mut admitted } else { &mut refused };
            *tally.entry(reset).or_default() += 1;
        }
    }
    (admitted, refused)
}

/// No window admitted more than 1,000, and a window that refused anything admitted exactly
/// 1,000 (the run is short: it nearly always falls within one quarter hour).
fn assert_exact(admitted: &BTreeMap<u64, usize>, refused: &BTreeMap<u64, usize>) {
    let total: usize = admitted.values().chain(refused.values()).sum();
    assert!(total >= 1_600, "{total} answered");
    for (window, count) in admitted {
        assert!(
            *count <= 1_000,
            "{count} admitted in the window ending {window}"
        );
    }
    for window in refused.keys() {
        assert_eq!(
            admitted.get(window),
            Some(&1_000),
            "the window ending {window}"
        );
    }
    assert!(
        !refused.is_empty() || admitted.len() > 1,
        "1,600 asked of 1,000"
    );
}

#[tokio::test]
async fn four_instances_on_one_redis_admit_exactly_the_window() {
    let redis = RedisServer::start();
    let policy = quarter_hour_policy(&redis.url());
    let instances: Vec<Tollgate> = (0..4).map(|_| Tollgate::start(&policy, None)).collect();
    let (admitted, refused) = storm(&instances).await;
    assert_exact(&admitted, &refused);
}

#[tokio::test]
async fn four_instances_on_a_redis_cluster_admit_exactly_the_window() {
    let cluster = RedisCluster::start();
    let policy = quarter_hour_policy(&cluster.url());
    let instances: Vec<Tollgate> = (0..4).map(|_| Tollgate::start(&policy, None)).collect();
    let (admitted, refused) = storm(&instances).await;
    assert_exact(&admitted, &refused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_moving_to_another_primary_mid_storm_changes_nothing() {
    let cluster = Arc::new(RedisCluster::start());
    let policy = quarter_hour_policy(&cluster.url());
    let instances: Vec<Tollgate> = (0..4).map(|_| Tollgate::start(&policy, None)).collect();
    let (mover, moved) = (Arc::clone(&cluster), Arc::new(AtomicBool::new(false)));
    let done = Arc::clone(&moved);
    // The account's partition is moved while the 64 clients ask (they go on until it has):
    // ASK, then MOVED back and forth between the two primaries for 100 ms, then MOVED.
    let moving = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let moving = mover.move_slot_of_first(
            "tg:{*",
            || {
                // Until an instance has followed an ASK to the new primary (at most 10 s).
                while mover
                    .nodes
                    .iter()
                    .map(RedisServer::asking_calls)
                    .sum::<u64>()
                    == 0
                {
                    assert!(
                        started.elapsed() < Duration::from_secs(10),
                        "no ASK followed"
                    );
                    std::thread::sleep(Duration::from_millis(5));
                }
            },
            || std::thread::sleep(Duration::from_millis(100)),
        );
        done.store(true, Ordering::SeqCst);
        moving
    });
    let (admitted, refused) = storm_until(&instances, Some(moved)).await;
    let (slot, from, to) = moving.await.unwrap();
    eprintln!("slot {slot} moved from {from} to {to} during the storm");
    assert_exact(&admitted, &refused);
    // Every instance still decides, and followed a MOVED (its slot map named the old primary):
    // what its log says it followed, counted since it started.
    let mut asked = 0;
    for tollgate in &instances {
        let answer = check(tollgate.address, "acme-key").await;
        assert!(
            answer["limits"][0]["reset_at"].is_u64(),
            "decided: {answer}"
        );
        let line = tollgate.wait_for_logged("followed MOVED");
        assert!(figure(&line, "moved") >= 1, "{line}");
        asked += figure(&line, "asked");
    }
    assert!(asked >= 1, "an instance followed ASK before the slot moved");
}

/// The number after `NAME=` in a log line.
fn figure(line: &str, name: &str) -> u64 {
    let at = line
        .find(&format!(" {name}="))
        .unwrap_or_else(|| panic!("no {name} in {line}"));
    line[at + name.len() + 2..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("no figure for {name} in {line}"))
}

/// What one request of the failover test's load saw: when it was sent and answered (since
/// the test started), its status, and the quota left after it when admitted.
#[derive(Debug, Clone, Copy)]
struct Answered {
    sent: Duration,
    answered: Duration,
    status: u64,
    remaining: Option<u64>,
}

/// The `cluster-node-timeout` of the failover test's cluster, in milliseconds: what bounds how
/// long a slot whose primary died has none.
const NODE_TIMEOUT_MS: u32 = 1_000;

/// How long decisions may stay unavailable after a primary is killed, with a node timeout of
/// 1 s: the timeout itself, the failure report, the replica's election (0.5–1 s later), then
/// the next MOVED. Measured 1.9–2.8 s on loopback; the bound leaves room for a loaded machine.
const RESUMED_WITHIN: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_killed_under_load_is_failed_over_and_decisions_resume() {
    const MAX: u64 = 1_000_000;
    let mut cluster = RedisCluster::start_replicated(NODE_TIMEOUT_MS);
    let limits = format!(
        "[[limits]]\nname = \"quarter-hour\"\nwindow = {{ max = {MAX}, every = \"15m\" }}\nper = [\"account\"]\n"
    );
    let server = format!(
        "store = \"{}\"\nstore_timeout = \"500ms\"\non_store_error = \"deny\"",
        cluster.url()
    );
    let policy = policy(&server, &(account("acme") + &limits));
    let instances: Vec<Tollgate> = (0..2).map(|_| Tollgate::start(&policy, None)).collect();
    let started = std::time::Instant::now();
    let (stop, seen) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(std::sync::Mutex::new(Vec::<Answered>::new())),
    );
    let load: Vec<_> = (0..8)
        .map(|client| {
            let address = instances[client % instances.len()].address;
            let (stop, seen) = (Arc::clone(&stop), Arc::clone(&seen));
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let sent = started.elapsed();
                    // `check` fails the test if an answer takes more than 10 s.
                    let answer = check(address, "acme-key").await;
                    let answered = Answered {
                        sent,
                        answered: started.elapsed(),
                        status: answer["status"].as_u64().unwrap_or(200),
                        remaining: answer["limits"][0]["remaining"].as_u64(),
                    };
                    seen.lock().unwrap().push(answered);
                }
            })
        })
        .collect();
    let answers = || seen.lock().unwrap().clone();

    // Kill -9 the primary of the account's slot once the load has written its partition.
    let (killed, replica) = tokio::task::block_in_place(|| cluster.kill_primary_of_first("tg:{*"));
    let killed_at = started.elapsed();
    let promoted = loop {
        if tokio::task::block_in_place(|| cluster.nodes[replica].is_primary()) {
            break started.elapsed() - killed_at;
        }
        assert!(
            started.elapsed() - killed_at < RESUMED_WITHIN,
            "the replica of the killed primary was not promoted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // Decisions resume by themselves: the first 200 to a request sent after the kill.
    let resumed = loop {
        let first = answers()
            .into_iter()
            .filter(|a| a.sent > killed_at && a.status == 200)
            .map(|a| a.answered)
            .min();
        if let Some(first) = first {
            break first - killed_at;
        }
        assert!(
            started.elapsed() - killed_at < RESUMED_WITHIN,
            "no decision within {RESUMED_WITHIN:?} of the kill: {:?}",
            answers().last()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // And stay resumed: 200 more answers, all sent after the first success.
    let after = killed_at + resumed;
    loop {
        let count = answers().iter().filter(|a| a.sent > after).count();
        if count >= 200 {
            break;
        }
        assert!(
            started.elapsed() - after < Duration::from_secs(30),
            "{count} answers"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for client in load {
        client.await.expect("every load request answered");
    }
    let all = answers();
    for tollgate in &instances {
        tollgate.wait_for_logged("limit store reachable again");
    }
    assert!(
        all.iter().all(|a| [200, 503].contains(&a.status)),
        "200 or, during the outage (deny), 503: {:?}",
        all.iter().find(|a| ![200, 503].contains(&a.status))
    );
    let unavailable = all
        .iter()
        .filter(|a| a.sent > killed_at && a.status == 503)
        .count();
    assert!(unavailable > 0, "the load met the outage");
    let late: Vec<&Answered> = all.iter().filter(|a| a.sent > after).collect();
    let failed_after = late.iter().filter(|a| a.status != 200).count();
    assert_eq!(failed_after, 0, "decided again once resumed: {late:?}");
    let slowest = all
        .iter()
        .map(|a| a.answered - a.sent)
        .max()
        .unwrap_or_default();
    assert!(
        slowest < Duration::from_secs(3),
        "every answer within the store timeout (0.5 s) and a margin for a loaded machine: {slowest:?}"
    );
    // Counts the killed primary had admitted but not yet replicated are lost: the new primary
    // counts from what its replica had.
    let admitted = all.iter().filter(|a| a.status == 200).count() as u64;
    let used = MAX - all.iter().filter_map(|a| a.remaining).min().unwrap_or(MAX);
    eprintln!(
        "failover: node {killed} killed at {killed_at:?}; replica {replica} promoted after \
         {promoted:?}; decisions resumed after {resumed:?} (node timeout {NODE_TIMEOUT_MS} ms); \
         {unavailable} requests answered 503 meanwhile, slowest answer {slowest:?}; \
         {admitted} admitted, {used} counted by the new primary ({} lost)",
        admitted.saturating_sub(used)
    );
    assert!(resumed < RESUMED_WITHIN, "{resumed:?}");
}

/// 10 per quarter hour per account, two instances' worth; Redis answers within 300 ms or not.
fn outage_policy(store: &str, on_store_error: &str) -> String {
    let server = format!(
        "store = \"{store}\"\nstore_timeout = \"300ms\"\n\
         on_store_error = \"{on_store_error}\"\ninstances = 2"
    );
    let limits = r#"
        [[limits]]
        name = "quarter-hour"
        window = { max = 10, every = "15m" }
        per = ["account"]

        [[limits]]
        name = "guessing"
        window = { max = 100, every = "1m" }
        per = ["ip"]
        when = { key = "unknown" }
        "#;
    let accounts = account("acme") + &account("globex") + &account("initech");
    policy(&server, &(accounts + limits))
}

/// What an outage test saw: the answers for acme while Redis was down, and the statuses of a
/// background load (initech) that ran from before the kill to after the recovery.
struct Outage {
    during: Vec<serde_json::Value>,
    /// The answer to an unknown key while Redis was down.
    unknown: serde_json::Value,
    /// `/metrics` while Redis was down.
    metrics: String,
    load: Vec<u64>,
}

/// Kills Redis under a running instance and a background load, checks what `on_store_error`
/// answers, restarts Redis and checks that decisions are shared and exact again.
async fn outage(on_store_error: &str) -> Outage {
    let mut redis = RedisServer::start();
    let tollgate = Tollgate::start(&outage_policy(&redis.url(), on_store_error), None);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (stop, address) = (std::sync::Arc::clone(&stop), tollgate.address);
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // `check` fails the test if an answer takes more than 10 s.
                    let answer = check(address, "initech-key").await;
                    statuses.push(answer["status"].as_u64().unwrap_or(200));
                }
                statuses
            })
        })
        .collect();
    for remaining in [9, 8] {
        let answer = check(tollgate.address, "acme-key").await;
        assert_eq!(answer["limits"][0]["remaining"], remaining);
    }
    redis.kill();
    let mut during = Vec::new();
    for _ in 0..8 {
        during.push(check(tollgate.address, "acme-key").await);
    }
    let unknown = check(tollgate.address, "guessed-key").await;
    tollgate.wait_for_logged("limit store unreachable");
    let metrics = tollgate.metrics().await;
    assert!(metrics.contains("tollgate_shared_store_up 0"), "{metrics}");
    assert!(
        metrics.contains("tollgate_shared_store_redirections_total{kind=\"moved\"} 0"),
        "one Redis, no cluster: nothing to follow: {metrics}"
    );

    redis.run();
    // The first calls after the restart find the old connection broken and make a new one.
    let mut recovered = false;
    for _ in 0..50 {
        let answer = check(tollgate.address, "globex-key").await;
        if answer["allowed"] == true && answer["limits"][0]["remaining"] == 9 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "decisions came back to Redis");
    tollgate.wait_for_logged("limit store reachable again");
    // Exact again: globex has 9 left in the restarted (empty) Redis.
    let mut admitted = 0;
    for _ in 0..12 {
        admitted += usize::from(check(tollgate.address, "globex-key").await["allowed"] == true);
    }
    assert_eq!(admitted, 9);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut statuses = Vec::new();
    for task in load {
        statuses.extend(task.await.expect("every load request answered"));
    }
    assert_eq!(
        unknown["allowed"], false,
        "an unknown key is never let through: {unknown}"
    );
    Outage {
        during,
        unknown,
        metrics,
        load: statuses,
    }
}

#[tokio::test]
async fn deny_refuses_with_503_while_redis_is_down() {
    let seen = outage("deny").await;
    let unavailable = counter(
        &seen.metrics,
        r#"tollgate_decisions_total{outcome="unavailable"}"#,
    );
    assert!(unavailable >= 8, "{}", seen.metrics);
    for answer in seen.during {
        assert_eq!(answer["allowed"], false);
        assert_eq!(answer["status"], 503, "{answer}");
    }
    assert!(
        seen.load
            .iter()
            .all(|status| [200, 429, 503].contains(status))
    );
    assert!(seen.load.contains(&503), "the load met the outage");
}

#[tokio::test]
async fn allow_admits_uncounted_while_redis_is_down() {
    let seen = outage("allow").await;
    assert_eq!(seen.unknown["status"], 401, "{}", seen.unknown);
    for answer in seen.during {
        assert_eq!(answer["allowed"], true, "{answer}");
        assert_eq!(answer["limits"].as_array().map(Vec::len), Some(0));
    }
    assert!(seen.load.iter().all(|status| [200, 429].contains(status)));
}

#[tokio::test]
async fn local_enforces_each_instances_share_while_redis_is_down() {
    let seen = outage("local").await;
    let admitted = seen.during.iter().filter(|a| a["allowed"] == true).count();
    // 10 per quarter hour over 2 instances: 5 here, counted afresh on this instance.
    assert_eq!(admitted, 5);
    assert_eq!(seen.during[5]["limits"][0]["limit"], 5);
    assert!(seen.load.iter().all(|status| [200, 429].contains(status)));
}

/// The value of one metric line in Prometheus text.
/// The account a key belongs to, as `tollgate` at `address` sees it now.
async fn account_of(address: SocketAddr, key: &str) -> serde_json::Value {
    check(address, key).await["account"].clone()
}

/// Polls (every 20 ms, for at most 5 s) until `tollgate` sees `key` as `expected`; how long
/// that took.
async fn seen(tollgate: &Tollgate, key: &str, expected: serde_json::Value) -> Duration {
    let started = std::time::Instant::now();
    while account_of(tollgate.address, key).await != expected {
        assert!(started.elapsed() < Duration::from_secs(5), "never seen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

#[tokio::test]
async fn two_instances_on_one_postgres_catalog_see_each_others_changes() {
    let postgres = PostgresServer::start();
    let limits = r#"
        [[limits]]
        name = "daily"
        window = { max = 3, every = "1d" }
        per = ["account"]
        "#;
    let policy = policy(&format!("catalog = \"{}\"", postgres.url()), limits);
    let (first, second) = (
        Tollgate::start(&policy, None),
        Tollgate::start(&policy, None),
    );
    let bearer = |tollgate: &Tollgate| format!("Bearer {}", tollgate.admin_token());
    let (one, two) = (bearer(&first), bearer(&second));
    let created = send(
        first.admin,
        "POST",
        "/admin/accounts",
        &[("authorization", &one)],
        r#"{"id":"acme"}"#,
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let made = send(
        first.admin,
        "POST",
        "/admin/accounts/acme/keys",
        &[("authorization", &one)],
        "",
    )
    .await;
    let made: serde_json::Value = serde_json::from_str(&made.body).unwrap();
    let key = made["key"].as_str().unwrap();
    let created_seen = seen(&second, key, serde_json::json!("acme")).await;
    // Revoked through the second instance: the first stops knowing the key.
    let path = format!(
        "/admin/accounts/acme/keys/{}",
        tollgate_catalog::key_hash(key)
    );
    let revoked = send(
        second.admin,
        "DELETE",
        &path,
        &[("authorization", &two)],
        "",
    )
    .await;
    assert_eq!(revoked.status, 204, "{}", revoked.body);
    let revoked_seen = seen(&first, key, serde_json::Value::Null).await;
    eprintln!(
        "PostgreSQL catalog: a key made on one instance was seen on the other after {created_seen:?}, its revocation after {revoked_seen:?}"
    );
}

#[test]
fn a_limit_the_redis_store_cannot_keep_exactly_is_a_config_error() {
    let dir = crate::support::TempDir::new();
    let config = dir.0.join("policy.toml");
    let policy = "[[routes]]\napi = \"a\"\nmatch = \"GET /a\"\n\n[[limits]]\nname = \"daily\"\nsliding = { max = 200000, every = \"1d\" }\n";
    std::fs::write(&config, policy).unwrap();
    // Checked before connecting: no Redis is needed to be told.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["serve", "--store", "redis://127.0.0.1:1", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.0.join("data"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let said = String::from_utf8_lossy(&output.stderr);
    let expected = "limit `daily`: a sliding window of 86400000000000 ns can count at most 104249 in the Redis store, not 200000";
    assert!(
        said.contains(&format!("policy.toml:5:1: {expected}")),
        "{said}"
    );
    // check-config applies the same check to a file that names a Redis store.
    std::fs::write(
        &config,
        format!("[server]\nstore = \"redis://127.0.0.1:1\"\n{policy}"),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("check-config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains(&format!("policy.toml:7:1: {expected}")),
        "{said}"
    );
}

#[tokio::test]
async fn an_override_the_redis_store_cannot_keep_exactly_is_refused() {
    let redis = RedisServer::start();
    let limits = r#"
        [[limits]]
        name = "daily"
        sliding = { max = 1000, every = "1d" }
        per = ["account"]
        "#;
    let policy = policy(
        &format!("store = \"{}\"", redis.url()),
        &(account("acme") + limits),
    );
    let tollgate = Tollgate::start(&policy, None);
    let bearer = format!("Bearer {}", tollgate.admin_token());
    let auth = [("authorization", bearer.as_str())];
    let path = "/admin/accounts/acme/overrides/daily";
    let refused = send(tollgate.admin, "PUT", path, &auth, r#"{"max":200000}"#).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("can count at most 104249 in the Redis store"),
        "{}",
        refused.body
    );
    let kept = send(tollgate.admin, "PUT", path, &auth, r#"{"max":5000}"#).await;
    assert!(kept.status < 300, "{}", kept.body);
    assert_eq!(
        check(tollgate.address, "acme-key").await["limits"][0]["limit"],
        5000
    );
}

#[test]
fn a_replica_is_never_decided_on() {
    let (primary, replica) = (RedisServer::start(), RedisServer::start());
    let answer = replica.command(&["REPLICAOF", "127.0.0.1", &primary.port.to_string()]);
    assert_eq!(answer.as_deref(), Some("+OK"));
    let dir = crate::support::TempDir::new();
    let config = dir.0.join("policy.toml");
    std::fs::write(&config, quarter_hour_policy(&replica.url())).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.0.join("data"))
        .output()
        .unwrap();
    // The first write (the shared key seed) is refused: the instance does not start.
    assert_eq!(output.status.code(), Some(2));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("read only replica"), "{said}");
}
