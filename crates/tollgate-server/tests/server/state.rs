//! The gate's state in process: a policy reload and a catalog refresh, racing, never undo each
//! other.

use std::sync::Arc;

use tollgate_core::ManualClock;
use tollgate_policy::{DirectoryEntry, Policy};
use tollgate_server::Gate;

use crate::support::TempDir;

fn policy(version: usize) -> String {
    format!(
        "[[routes]]\napi = \"x\"\nmatch = \"GET /x\"\n[[limits]]\nname = \"limit-{version}\"\nwindow = {{ max = 5, every = \"1m\" }}\nper = [\"account\"]\n"
    )
}

fn account(version: usize) -> DirectoryEntry {
    DirectoryEntry {
        key_sha256: format!("{version:064x}"),
        account: format!("account-{version}"),
        plan: None,
        company: None,
        pack: None,
        overrides: Vec::new(),
        time_zone: None,
        stand_in: false,
    }
}

#[tokio::test]
async fn reloads_and_catalog_refreshes_never_undo_each_other() {
    let dir = TempDir::new();
    let file = dir.0.join("policy.toml");
    std::fs::write(&file, policy(0)).unwrap();
    let gate = Arc::new(Gate::new(Policy::load(&file).unwrap(), ManualClock::new(0)));
    const ROUNDS: usize = 500;
    let reloading = std::thread::spawn({
        let (gate, file) = (Arc::clone(&gate), file.clone());
        move || {
            for version in 1..=ROUNDS {
                std::fs::write(&file, policy(version)).unwrap();
                gate.reload(&file).unwrap();
            }
        }
    });
    let refreshing = std::thread::spawn({
        let gate = Arc::clone(&gate);
        move || {
            // A refresh that stored the policy it read before a reload would undo that
            // reload: the policy seen after each refresh never goes back.
            let mut seen = 0;
            for version in 1..=ROUNDS {
                gate.set_accounts(vec![account(version)], Vec::new());
                let policy = gate.policy();
                let now: usize = policy.limits()[0].name()["limit-".len()..].parse().unwrap();
                assert!(now >= seen, "a refresh undid a reload: {now} after {seen}");
                seen = now;
            }
        }
    });
    reloading.join().unwrap();
    refreshing.join().unwrap();
    // Both last changes are in force, whichever came last.
    let last_limit = format!("limit-{ROUNDS}");
    assert_eq!(gate.policy().limits()[0].name(), last_limit);
    let utc = jiff::tz::TimeZone::UTC;
    let utc = Some(&utc);
    assert!(
        gate.usage(&format!("account-{ROUNDS}"), utc)
            .await
            .is_some()
    );
    assert!(
        gate.usage(&format!("account-{}", ROUNDS - 1), utc)
            .await
            .is_none()
    );
}

/// Spends one path's bucket, floods the store with 3,000 other spent paths, and asks the first
/// again: what a full store answers then. The requests are anonymous, and may fill all of it.
async fn after_a_flood(when_full: &str) -> u16 {
    let text = format!(
        "[server]\nmax_partitions = 1000\nanonymous_share = 1.0\nwhen_full = \"{when_full}\"\n[[routes]]\napi = \"x\"\nmatch = \"GET /x/{{id}}\"\n[[limits]]\nname = \"per-path\"\ntoken_bucket = {{ rate = \"1/1h\", burst = 2 }}\nper = [\"path\"]\n"
    );
    let source = tollgate_policy::Source::new("full.toml", text);
    let policy = Policy::compile_in(&source, tollgate_core::KeySpace::new([7; 16])).unwrap();
    let gate = Gate::new(policy, ManualClock::new(1_767_225_600_000_000_000));
    let ask = |path: String| {
        let gate = &gate;
        async move {
            let target = gate.policy().target("GET", &path).unwrap();
            let facts = tollgate_policy::RequestFacts {
                method: "GET",
                target: &target,
                headers: &[][..],
                client_ip: None,
                cost: None,
                from_trusted_proxy: false,
            };
            match gate.admit(&facts).await {
                Ok(_) => 200,
                Err(refusal) => refusal.status,
            }
        }
    };
    for _ in 0..2 {
        assert_eq!(ask("/x/target".into()).await, 200);
    }
    assert_eq!(ask("/x/target".into()).await, 429);
    for junk in 0..3_000 {
        for _ in 0..2 {
            ask(format!("/x/junk-{junk}")).await;
        }
    }
    ask("/x/target".into()).await
}

#[tokio::test]
async fn a_flood_of_new_partitions_never_makes_a_spent_one_start_again() {
    assert_eq!(
        after_a_flood("refuse").await,
        429,
        "the spent bucket is still spent"
    );
    // With eviction chosen, it may start again: that is what `evict` trades for never refusing.
    assert_eq!(after_a_flood("evict").await, 200);
}

/// 30,000 requests without a key on distinct paths against a store of 10,000 partitions, then
/// a known account on 50 paths of its own, then three guesses of a key from one address: the
/// statuses the account and the guesses get, and how many of the anonymous requests were
/// refused as over the store's room.
async fn known_after_an_anonymous_flood(share: &str) -> (Vec<u16>, Vec<u16>, usize) {
    let text = format!(
        r#"
        [server]
        max_partitions = 10000
        anonymous_share = {share}

        [identity]
        api_key = {{ header = "X-Api-Key" }}

        [[accounts]]
        id = "acme"
        keys = ["acme-key"]

        [[routes]]
        api = "x"
        match = "GET /x/{{id}}"

        [[limits]]
        name = "per-path-daily"
        window = {{ max = 100, every = "day", align = "calendar" }}
        per = ["path"]

        [[limits]]
        name = "guesses"
        window = {{ max = 2, every = "1h" }}
        per = ["ip"]
        when = {{ key = "unknown" }}
        "#
    );
    let source = tollgate_policy::Source::new("anonymous.toml", text);
    let policy = Policy::compile_in(&source, tollgate_core::KeySpace::new([7; 16])).unwrap();
    let gate = Gate::new(policy, ManualClock::new(1_767_225_600_000_000_000));
    let ask = |path: String, key: Option<&'static str>| {
        let gate = &gate;
        async move {
            let target = gate.policy().target("GET", &path).unwrap();
            let with_key = [("x-api-key", key.unwrap_or_default())];
            let headers: &[(&str, &str)] = if key.is_some() { &with_key } else { &[] };
            let facts = tollgate_policy::RequestFacts {
                method: "GET",
                target: &target,
                headers,
                client_ip: Some([192, 0, 2, 7].into()),
                cost: None,
                from_trusted_proxy: false,
            };
            match gate.admit(&facts).await {
                Ok(_) => 200,
                Err(refusal) => refusal.status,
            }
        }
    };
    let mut refused = 0;
    for n in 0..30_000 {
        if ask(format!("/x/anonymous-{n}"), None).await == 503 {
            refused += 1;
        }
    }
    let mut known = Vec::new();
    for n in 0..50 {
        known.push(ask(format!("/x/acme-{n}"), Some("acme-key")).await);
    }
    let mut guesses = Vec::new();
    for n in 0..3 {
        guesses.push(ask(format!("/x/guess-{n}"), Some("not-a-key")).await);
    }
    (known, guesses, refused)
}

#[tokio::test]
async fn anonymous_traffic_never_crowds_out_a_known_account() {
    let (known, guesses, refused) = known_after_an_anonymous_flood("0.5").await;
    assert_eq!(known, vec![200; 50], "the account is served");
    assert!(
        refused >= 24_000,
        "anonymous requests past their share: {refused}"
    );
    // Guessing keys is still throttled: its partitions are not held to the anonymous share.
    assert_eq!(guesses, [401, 401, 429]);
    // With the whole store open to anonymous requests, the flood fills it: the account gets
    // 503 (as every release before the share did).
    let (known, _, _) = known_after_an_anonymous_flood("1.0").await;
    assert!(known.contains(&503), "{known:?}");
}
