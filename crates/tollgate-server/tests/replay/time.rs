//! Time in a replay: calendar days in a time zone across a DST change, clock-aligned windows to
//! the nanosecond, and lines out of time order.

use crate::{ACCOUNTS, line, lines, replay};

#[tokio::test]
async fn a_daily_quota_follows_berlin_days_across_the_change_to_summer_time() {
    // 2026-03-29 in Berlin is 23 hours long: 2026-03-28T23:00Z to 2026-03-29T22:00Z.
    let policy = format!(
        r#"{ACCOUNTS}
    [[limits]]
    name = "daily"
    window = {{ max = 3, every = "day", align = "calendar", tz = "Europe/Berlin" }}
    per = ["account"]
"#
    );
    let log = [
        lines(3, "2026-03-28T22:30:00Z", "acme-key"), // the 28th, 23:30 CET: admitted
        lines(1, "2026-03-28T22:59:59.999999999Z", "acme-key"), // the 28th still: refused
        lines(3, "2026-03-28T23:00:00Z", "acme-key"), // the 29th begins: admitted
        // 23:59:59.999999999 CEST, the 29th still (a 24-hour day would end at 23:00Z).
        lines(1, "2026-03-29T21:59:59.999999999Z", "acme-key"),
        lines(1, "2026-03-29T22:00:00Z", "acme-key"), // the 30th begins: admitted
    ]
    .concat();
    let summary = replay(&policy, &log).await;
    assert_eq!(
        (summary.requests, summary.admitted, summary.refused),
        (9, 7, 2)
    );
    let daily = summary.limit("daily").expect("consulted");
    assert_eq!((daily.requests, daily.refused), (9, 2));
    let hours: Vec<(&str, u64)> = daily
        .hours
        .iter()
        .filter(|h| h.count > 0)
        .map(|h| (&*h.hour, h.count))
        .collect();
    assert_eq!(
        hours,
        [("2026-03-28T22:00:00Z", 1), ("2026-03-29T21:00:00Z", 1)]
    );
    // Every hour from the first line's to the last's: 22:00 on the 28th to 22:00 on the 29th.
    assert_eq!(daily.hours.len(), 25);
    assert_eq!(summary.refused_by_status.get(&429), Some(&2));
}

#[tokio::test]
async fn a_fifteen_minute_window_refuses_a_nanosecond_before_its_end_and_admits_at_it() {
    let policy = format!(
        r#"{ACCOUNTS}
    [[limits]]
    name = "quarter"
    window = {{ max = 1, every = "15m" }}
    per = ["account"]
"#
    );
    // 2026-01-01T00:00:00Z is 1767225600; its quarter ends at 1767226500.
    let log = [
        lines(1, "1767225600", "acme-key"),
        lines(1, "1767226499.999999999", "acme-key"),
        lines(1, "1767226500", "acme-key"),
    ]
    .concat();
    let summary = replay(&policy, &log).await;
    let quarter = summary.limit("quarter").expect("consulted");
    assert_eq!((quarter.requests, quarter.refused), (3, 1));
    assert_eq!(summary.refusals.len(), 1);
    assert_eq!(
        (&*summary.refusals[0].account, summary.refusals[0].count),
        ("acme", 1)
    );
    assert_eq!(summary.admitted, 2);
}

#[tokio::test]
async fn a_line_out_of_order_is_replayed_at_the_latest_time_seen() {
    let policy = format!(
        r#"{ACCOUNTS}
    [[limits]]
    name = "quarter"
    window = {{ max = 1, every = "15m" }}
    per = ["account"]
"#
    );
    // The second line is from the previous quarter, but the clock never goes back: it is
    // decided in the current one, where the first line spent the quota.
    let log = [
        line("2026-01-01T00:15:00Z", "/machines/1", "acme-key", None),
        line("2026-01-01T00:14:00Z", "/machines/1", "acme-key", None),
    ]
    .concat();
    let summary = replay(&policy, &log).await;
    assert_eq!((summary.late, summary.refused), (1, 1));
    assert_eq!(summary.last_at.as_deref(), Some("2026-01-01T00:15:00Z"));
}

#[tokio::test]
async fn every_hour_of_the_span_is_in_every_profile_empty_ones_too() {
    // A Berlin day's quota: refusals at 21:00 and 22:00 UTC, the reset at 23:00 UTC (Berlin's
    // midnight) with none, then refusals again from 01:00; no request at all at 00:00 UTC.
    let policy = format!(
        r#"{ACCOUNTS}
    [[limits]]
    name = "daily"
    window = {{ max = 2, every = "day", align = "calendar", tz = "Europe/Berlin" }}
    per = ["account"]
"#
    );
    let log = [
        lines(3, "2026-01-01T21:00:00Z", "acme-key"), // 2 admitted, 1 refused
        lines(2, "2026-01-01T22:00:00Z", "acme-key"), // refused
        lines(2, "2026-01-01T23:00:00Z", "acme-key"), // Berlin's 2 January: admitted
        lines(1, "2026-01-02T01:00:00Z", "acme-key"), // refused
    ]
    .concat();
    let summary = replay(&policy, &log).await;
    let hours: Vec<(&str, u64, u64)> = summary
        .hours
        .iter()
        .map(|h| (&*h.hour, h.requests, h.refused))
        .collect();
    assert_eq!(
        hours,
        [
            ("2026-01-01T21:00:00Z", 3, 1),
            ("2026-01-01T22:00:00Z", 2, 2),
            ("2026-01-01T23:00:00Z", 2, 0),
            ("2026-01-02T00:00:00Z", 0, 0),
            ("2026-01-02T01:00:00Z", 1, 1),
        ]
    );
    let daily = summary.limit("daily").expect("consulted");
    let refused: Vec<(&str, u64)> = daily.hours.iter().map(|h| (&*h.hour, h.count)).collect();
    assert_eq!(
        refused,
        [
            ("2026-01-01T21:00:00Z", 1),
            ("2026-01-01T22:00:00Z", 2),
            ("2026-01-01T23:00:00Z", 0),
            ("2026-01-02T00:00:00Z", 0),
            ("2026-01-02T01:00:00Z", 1),
        ]
    );
}

#[tokio::test]
async fn a_request_a_bucket_lets_wait_for_its_turn_is_admitted_as_the_gateway_admits_it() {
    // 1 every 2 s, 3 at once, up to 500 ms early.
    let policy = format!(
        r#"{ACCOUNTS}
    [[limits]]
    name = "partner"
    token_bucket = {{ rate = "1/2s", burst = 3 }}
    delay = {{ max = "500ms", queue = 1 }}
    per = ["account"]
"#
    );
    let log = [
        lines(3, "2026-01-01T00:00:00Z", "acme-key"),
        lines(1, "2026-01-01T00:00:01.800Z", "acme-key"), // its turn in 200 ms: admitted
        lines(1, "2026-01-01T00:00:01.800Z", "acme-key"), // 2.2 s ahead: refused
        lines(1, "2026-01-01T00:00:03.500Z", "acme-key"), // its turn in 500 ms: admitted
    ]
    .concat();
    let summary = replay(&policy, &log).await;
    assert_eq!(
        (summary.requests, summary.admitted, summary.refused),
        (6, 5, 1)
    );
}
