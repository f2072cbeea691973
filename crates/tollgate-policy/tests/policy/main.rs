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

#[test]
fn a_delay_holds_for_every_plan_and_for_the_admin_apis_numbers() {
    use std::time::Duration;
    use tollgate_core::{Algorithm, Delay};
    let text = r#"
        [[routes]]
        api = "heating"
        match = "GET /hvacs/{gatewayId}"

        [[limits]]
        name = "partner"
        token_bucket = { rate = "1/2s", burst = 3 }
        delay = { max = "500ms", queue = 2 }

        [plans.fast.limits]
        partner = { rate = "1/s" }
    "#;
    let policy = Policy::compile(&tollgate_policy::Source::new("p.toml", text)).unwrap();
    let [limit] = policy.limits() else {
        panic!("one limit");
    };
    let delay = Some(Delay {
        max: Duration::from_millis(500),
        queue: 2,
    });
    let delay_of = |algorithm: &Algorithm| match algorithm {
        Algorithm::TokenBucket(bucket) => bucket.delay(),
        other => panic!("not a bucket: {other:?}"),
    };
    assert_eq!(delay_of(limit.algorithm(None)), delay);
    assert_eq!(delay_of(limit.algorithm(Some(0))), delay, "the plan's");
    let numbers = tollgate_policy::Numbers {
        burst: Some(5),
        ..tollgate_policy::Numbers::default()
    };
    assert_eq!(delay_of(&limit.with_numbers(&numbers).unwrap()), delay);
}
