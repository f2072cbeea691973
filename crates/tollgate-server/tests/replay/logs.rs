//! Reading logs: malformed lines counted with their numbers, nginx's combined format with the
//! API key as its last field, refunds for logged statuses, shadow limits counted, never refusing.

use tollgate_replay::{BadLine, Format, Reading};

use crate::{ACCOUNTS, line, lines, replay, replay_with};

/// One request per account a day.
fn one_a_day() -> String {
    format!(
        r#"{ACCOUNTS}
    [[limits]]
    name = "daily"
    window = {{ max = 1, every = "day", align = "calendar", tz = "UTC" }}
    per = ["account"]
"#
    )
}

#[tokio::test]
async fn malformed_lines_are_counted_with_their_numbers_and_never_stop_the_replay() {
    let log = [
        lines(1, "2026-01-01T00:00:00Z", "acme-key"),
        "{\"time\": \"yesterday\", \"method\": \"GET\", \"path\": \"/machines/1\"}\n".to_owned(),
        "\n".to_owned(), // blank: skipped, not malformed
        lines(1, "2026-01-01T00:00:01Z", "acme-key"),
        "GET /machines/1\n".to_owned(),
        lines(1, "2026-01-01T00:00:02Z", "globex-key"),
    ]
    .concat();
    let summary = replay(&one_a_day(), &log).await;
    assert_eq!(
        (summary.lines, summary.requests, summary.refused),
        (5, 3, 1)
    );
    assert_eq!(summary.malformed.count, 2);
    let numbers: Vec<u64> = summary.malformed.first.iter().map(|bad| bad.line).collect();
    assert_eq!(numbers, [2, 5]);
    assert!(
        matches!(&summary.malformed.first[0], BadLine { file, reason, .. }
        if file == "access.log" && reason.contains("yesterday"))
    );
}

#[tokio::test]
async fn an_nginx_combined_log_gives_the_key_in_its_last_field() {
    let entry = |time: &str, key: &str| {
        format!(
            "203.0.113.7 - - [{time}] \"GET /machines/1?x=1 HTTP/1.1\" 200 321 \"-\" \"curl/8.5\" \"{key}\"\n"
        )
    };
    let log = [
        entry("01/Jan/2026:01:00:00 +0100", "acme-key"),
        entry("01/Jan/2026:01:00:01 +0100", "acme-key"),
        entry("01/Jan/2026:01:00:02 +0100", "globex-key"),
        entry("01/Jan/2026:01:00:03 +0100", "-"),
        entry("01/Jan/2026:01:00:04 +0100", "-"),
    ]
    .concat();
    let reading = Reading {
        format: Format::Combined,
        key_header: Some("X-Api-Key".into()),
    };
    let summary = replay_with(&one_a_day(), &log, reading).await;
    assert_eq!((summary.requests, summary.refused), (5, 2));
    let counts = |name: &str| {
        let account = summary.account(name).expect("seen");
        (account.requests, account.refused)
    };
    assert_eq!(counts("acme"), (2, 1));
    assert_eq!(counts("globex"), (1, 0));
    // Without a key, on the default plan, in one shared partition.
    assert_eq!(counts("(anonymous)"), (2, 1));
    assert_eq!(summary.first_at.as_deref(), Some("2026-01-01T00:00:00Z"));
}

#[tokio::test]
async fn logged_upstream_errors_are_refunded_as_the_gateway_refunds_them() {
    let policy = format!(
        r#"{ACCOUNTS}
    [[limits]]
    name = "daily"
    window = {{ max = 2, every = "day", align = "calendar", tz = "UTC" }}
    per = ["account"]
    refund = ["5xx"]
"#
    );
    let at = "2026-01-01T10:00:00Z";
    let log = [
        line(at, "/machines/1", "acme-key", Some(503)), // given back
        line(at, "/machines/1", "acme-key", Some(502)), // given back
        line(at, "/machines/1", "acme-key", Some(200)),
        line(at, "/machines/1", "acme-key", None), // no status: counts
        line(at, "/machines/1", "acme-key", Some(200)), // refused
    ]
    .concat();
    let summary = replay(&policy, &log).await;
    assert_eq!(
        (summary.requests, summary.admitted, summary.refused),
        (5, 4, 1)
    );
}

#[tokio::test]
async fn shadow_limits_are_counted_as_would_be_refusals_and_never_refuse() {
    let policy = format!(
        r#"{ACCOUNTS}
    [[limits]]
    name = "proposed"
    window = {{ max = 2, every = "1h" }}
    per = ["account"]
    shadow = true
"#
    );
    let log = lines(5, "2026-01-01T10:00:00Z", "acme-key");
    let summary = replay(&policy, &log).await;
    assert_eq!((summary.requests, summary.refused), (5, 0));
    let proposed = summary.limit("proposed").expect("consulted");
    assert!(proposed.shadow);
    assert_eq!((proposed.requests, proposed.refused), (5, 3));
    assert_eq!(summary.account("acme").map(|a| a.shadow_refused), Some(3));
    assert_eq!(proposed.top[0].account, "acme");
}
