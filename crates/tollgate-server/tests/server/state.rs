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
    assert!(
        gate.usage(&format!("account-{ROUNDS}"), &utc)
            .await
            .is_some()
    );
    assert!(
        gate.usage(&format!("account-{}", ROUNDS - 1), &utc)
            .await
            .is_none()
    );
}
