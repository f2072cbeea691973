//! Distinct-value limits on the real binary: the IoT example's machine quota through the
//! gateway, the machines an account used come back after a `kill -9` (the journal), and
//! instances sharing Redis admit exactly the bound between them.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use crate::redis_server::RedisServer;
use crate::support::{Tollgate, Upstream, send};

/// At most `max` machines per account, for good, on `store` (`[server]`'s line, or none).
fn policy(store: &str, max: u64) -> String {
    format!(
        r#"
        [server]
        {store}

        [identity]
        api_key = {{ header = "X-Api-Key" }}

        [[accounts]]
        id = "acme"
        keys = ["acme-key"]

        [[routes]]
        api = "machines"
        match = "GET /machines/{{machine:token}}"

        [[limits]]
        name = "machine-quota"
        distinct = {{ max = {max}, of = "param:machine", noun = "machines" }}
        per = ["account"]
        "#
    )
}

/// Whether the check API admits acme's call on `machine`.
async fn admits(address: SocketAddr, machine: &str) -> bool {
    let ask = format!(
        r#"{{"method":"GET","path":"/machines/{machine}","headers":{{"x-api-key":"acme-key"}}}}"#
    );
    let reply = send(address, "POST", "/v1/check", &[], &ask).await;
    let answer: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    match &answer["allowed"] {
        serde_json::Value::Bool(allowed) => *allowed,
        _ => panic!("an answer: {answer}"),
    }
}

#[tokio::test]
async fn the_iot_example_refuses_a_new_machine_past_the_quota_without_forwarding_it() {
    let upstream = Upstream::start().await;
    let policy = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/iot-platform.toml"
    ))
    .unwrap();
    let tollgate = Tollgate::start(&policy, Some(upstream.address));
    let tiny = [("Authorization", "Bearer tiny-key")];
    let get = |path: &'static str| send(tollgate.address, "GET", path, &tiny, "");
    assert_eq!(get("/api/v1/machines/m1").await.status, 200);
    assert_eq!(get("/api/v1/machines/m2/status").await.status, 200);
    let forwarded = upstream.hits();
    let refused = get("/api/v1/machines/m3").await;
    assert_eq!(refused.status, 429);
    let body: serde_json::Value = serde_json::from_str(&refused.body).unwrap();
    assert_eq!(body["error"], "machine_quota_exceeded");
    assert_eq!(upstream.hits(), forwarded, "never forwarded");
    assert_eq!(get("/api/v1/machines/m1/status").await.status, 200);
    assert_eq!(upstream.hits(), forwarded + 1);
}

#[tokio::test]
async fn kill_9_forgets_no_machine() {
    let tollgate = Tollgate::start(&policy("", 3), None);
    for machine in ["m1", "m2", "m3"] {
        assert!(admits(tollgate.address, machine).await, "{machine}");
    }
    assert!(!admits(tollgate.address, "m4").await);
    let tollgate = tollgate.crash_and_restart();
    tollgate.wait_for_logged("limit state restored");
    assert!(
        !admits(tollgate.address, "m4").await,
        "three machines are still counted"
    );
    for machine in ["m3", "m1", "m2"] {
        assert!(
            admits(tollgate.address, machine).await,
            "{machine} is still known"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_sharing_redis_admit_exactly_the_bound() {
    let redis = RedisServer::start();
    let policy = policy(
        &format!("store = \"{}\"\nstore_timeout = \"8s\"", redis.url()),
        5,
    );
    let instances: Vec<Tollgate> = (0..3).map(|_| Tollgate::start(&policy, None)).collect();
    let addresses: Vec<SocketAddr> = instances.iter().map(|t| t.address).collect();
    // 24 clients over the instances, each asking for 20 machines in an order of its own.
    let clients: Vec<_> = (0..24)
        .map(|client: usize| {
            let address = addresses[client % addresses.len()];
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for n in 0..20 {
                    let machine = format!("m{}", (n * 7 + client) % 20);
                    answers.push((machine.clone(), admits(address, &machine).await));
                }
                answers
            })
        })
        .collect();
    let mut admitted = BTreeSet::new();
    let mut refused = BTreeSet::new();
    for client in clients {
        for (machine, allowed) in client.await.unwrap() {
            if allowed {
                admitted.insert(machine);
            } else {
                refused.insert(machine);
            }
        }
    }
    assert_eq!(admitted.len(), 5, "exactly the bound: {admitted:?}");
    assert!(
        admitted.is_disjoint(&refused),
        "a machine admitted once is never refused: {admitted:?} {refused:?}"
    );
    // Every instance knows them, and refuses the others.
    for (address, machine) in addresses.iter().zip(&admitted) {
        assert!(admits(*address, machine).await);
        assert!(!admits(*address, "m-new").await);
    }
}
