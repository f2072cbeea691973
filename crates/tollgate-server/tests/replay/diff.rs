//! `tollgate diff`: the same log under two policies, who gains and who loses refusals.

use tollgate_replay::Diff;

use crate::{ACCOUNTS, lines, replay};

/// A daily quota of `free` for the free plan and `pro` for the pro plan.
fn quotas(free: u64, pro: u64) -> String {
    format!(
        r#"{ACCOUNTS}
    [[limits]]
    name = "daily"
    window = {{ max = 1000, every = "day", align = "calendar", tz = "UTC" }}
    per = ["account"]

    [plans.free.limits]
    daily = {{ max = {free} }}

    [plans.pro.limits]
    daily = {{ max = {pro} }}
"#
    )
}

#[tokio::test]
async fn lowering_the_free_plan_hurts_its_accounts_and_raising_pro_relieves_its_own() {
    let log = [
        lines(5, "2026-01-01T10:00:00Z", "acme-key"),
        lines(5, "2026-01-01T11:00:00Z", "globex-key"),
    ]
    .concat();
    let old = replay(&quotas(5, 2), &log).await;
    let new = replay(&quotas(2, 5), &log).await;
    let diff = Diff::of(&old, &new);
    assert_eq!(
        (diff.requests, diff.old_refused, diff.new_refused),
        (10, 3, 3)
    );
    let losers: Vec<_> = diff
        .losers()
        .map(|c| (&*c.account, c.old, c.new, c.change))
        .collect();
    let gainers: Vec<_> = diff
        .gainers()
        .map(|c| (&*c.account, c.old, c.new, c.change))
        .collect();
    assert_eq!(losers, [("acme", 0, 3, 3)]);
    assert_eq!(gainers, [("globex", 3, 0, -3)]);
    let by_limit: Vec<_> = diff
        .changes
        .iter()
        .map(|c| (&*c.account, c.api.as_deref(), c.limit.as_deref(), c.change))
        .collect();
    assert_eq!(
        by_limit,
        [
            ("acme", Some("machines"), Some("daily"), 3),
            ("globex", Some("machines"), Some("daily"), -3),
        ]
    );
}
