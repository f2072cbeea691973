//! The policy crate end to end: the shipped quick start, resolution of requests, and the
//! error messages of broken files (snapshots in `broken/*.expected`).

mod broken;
mod fuzz;
mod recovery;
mod resolve;

use std::path::PathBuf;

use tollgate_policy::Policy;

/// The repository's `examples/` folder.
pub(crate) fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

#[test]
fn quickstart_compiles() {
    let policy = Policy::load(&example("quickstart.toml")).unwrap();
    assert_eq!(
        policy.summary(),
        "3 routes (3 apis), 2 limits, 2 plans, 2 accounts, 0 apps"
    );
    let periods: Vec<String> = policy
        .limits()
        .iter()
        .map(|limit| limit.algorithm(None).shown().per.to_string())
        .collect();
    assert_eq!(periods, ["second", "day"]);
}
