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
    assert_eq!(counts("(no key)"), (2, 1));
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

/// A combined-format line at `time` (`01/Jan/2026:10:00:00 +0000`) for `request` (`GET /x
/// HTTP/1.1`, or nginx's `-` for a connection that sent none) with `status` and the key field.
fn combined(time: &str, request: &str, status: u16, key: &str) -> String {
    format!("198.51.100.4 - - [{time}] \"{request}\" {status} 0 \"-\" \"curl/8.5\" \"{key}\"\n")
}

#[tokio::test]
async fn a_key_no_account_has_is_reported_apart_from_no_key() {
    let log = [
        lines(2, "2026-01-01T00:00:00Z", "acme-key"),
        lines(3, "2026-01-01T00:00:01Z", "nobody-key"), // unknown: 401 each
        lines(2, "2026-01-01T00:00:02Z", ""),           // no key: the default plan
        line("2026-01-01T00:00:03Z", "/elsewhere", "acme-key", None), // no route: 404
    ]
    .concat();
    let summary = replay(&one_a_day(), &log).await;
    let counts = |name: &str| {
        let account = summary
            .account(name)
            .unwrap_or_else(|| panic!("{name} in {:?}", summary.accounts));
        (account.requests, account.refused)
    };
    assert_eq!(counts("acme"), (2, 1));
    assert_eq!(counts("(unknown key)"), (3, 3));
    assert_eq!(counts("(no key)"), (2, 1));
    // A request refused before its key is read is neither.
    assert_eq!(counts("(not identified)"), (1, 1));
    assert_eq!(summary.accounts.len(), 4);
    assert_eq!(summary.refused_by_status.get(&401), Some(&3));
    let daily = summary.limit("daily").expect("consulted");
    let top: Vec<(&str, u64)> = daily.top.iter().map(|o| (&*o.account, o.refused)).collect();
    assert_eq!(top, [("(no key)", 1), ("acme", 1)]);
    let statuses: Vec<(&str, &str)> = summary
        .refusals
        .iter()
        .map(|r| (&*r.account, &*r.limit))
        .collect();
    assert!(
        statuses.contains(&("(unknown key)", "status 401")),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn an_unknown_key_refused_by_its_own_throttle_is_still_an_unknown_key() {
    let policy = format!(
        r#"{}
    [[limits]]
    name = "guesses"
    window = {{ max = 1, every = "1h" }}
    per = ["ip"]
    when = {{ key = "unknown" }}
"#,
        one_a_day()
    );
    let log = lines(3, "2026-01-01T00:00:00Z", "nobody-key");
    let summary = replay(&policy, &log).await;
    let unknown = summary.account("(unknown key)").expect("counted");
    assert_eq!((unknown.requests, unknown.refused), (3, 3));
    assert!(summary.account("(no key)").is_none());
    let guesses = summary.limit("guesses").expect("consulted");
    assert_eq!(guesses.top[0].account, "(unknown key)");
}

#[tokio::test]
async fn nginx_lines_of_a_connection_that_sent_nothing_are_not_malformed() {
    let log = [
        combined(
            "01/Jan/2026:10:00:00 +0000",
            "GET /machines/1 HTTP/1.1",
            200,
            "acme-key",
        ),
        // nginx: a client connected and sent no request line.
        combined("01/Jan/2026:10:00:01 +0000", "-", 400, "-"),
        "198.51.100.4 - - [01/Jan/2026:10:00:02 +0000] \"-\" 400 0 \"-\" \"-\"\n".to_owned(),
        // Apache: a connection that timed out before its request.
        "198.51.100.4 - - [01/Jan/2026:10:00:03 +0000] \"-\" 408 - \"-\" \"-\" \"-\"\n".to_owned(),
        "198.51.100.4 - - [01/Jan/2026:10:00:04 +0000] \"BREW\" 400 0 \"-\" \"-\" \"-\"\n"
            .to_owned(),
    ]
    .concat();
    let reading = Reading {
        format: Format::Combined,
        key_header: Some("X-Api-Key".into()),
    };
    let summary = replay_with(&one_a_day(), &log, reading).await;
    assert_eq!((summary.lines, summary.requests), (5, 1));
    assert_eq!(summary.malformed.count, 1);
    assert_eq!(summary.malformed.first[0].line, 5);
    let report = serde_json::to_value(&summary).expect("JSON");
    assert_eq!(report["no_request"], 3);
    let table = tollgate_replay::table::summary(&summary);
    assert!(
        table.starts_with("5 lines: 1 requests, 1 admitted, 0 refused; 1 malformed, 3 without a request (nginx's \"-\"), 0 late"),
        "{table}"
    );
}

#[tokio::test]
async fn a_combined_log_with_a_key_field_and_no_key_header_is_warned_about() {
    let log = [
        combined(
            "01/Jan/2026:10:00:00 +0000",
            "GET /machines/1 HTTP/1.1",
            200,
            "acme-key",
        ),
        combined(
            "01/Jan/2026:10:00:01 +0000",
            "GET /machines/1 HTTP/1.1",
            200,
            "-",
        ),
        combined(
            "01/Jan/2026:10:00:02 +0000",
            "GET /machines/1 HTTP/1.1",
            200,
            "globex-key",
        ),
    ]
    .concat();
    let without = Reading {
        format: Format::Auto,
        key_header: None,
    };
    let summary = replay_with(&one_a_day(), &log, without).await;
    let report = serde_json::to_value(&summary).expect("JSON");
    assert_eq!(report["unread_key_fields"], 2);
    let warnings = report["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let warning = warnings[0].as_str().unwrap();
    assert!(
        warning.starts_with("2 of 3 requests")
            && warning.contains("--key-header X-Api-Key")
            && !warning.contains("acme-key"),
        "{warning}"
    );
    // With the flag, or with no such field, nothing to warn about.
    let with = Reading {
        format: Format::Combined,
        key_header: Some("X-Api-Key".into()),
    };
    let summary = replay_with(&one_a_day(), &log, with).await;
    assert_eq!(
        serde_json::to_value(&summary).unwrap()["warnings"],
        serde_json::json!([])
    );
    let plain = log
        .replace(" \"acme-key\"", "")
        .replace(" \"globex-key\"", "")
        .replace(" \"-\"\n", "\n");
    let summary = replay_with(&one_a_day(), &plain, Reading::default()).await;
    assert_eq!(summary.requests, 3);
    assert_eq!(
        serde_json::to_value(&summary).unwrap()["warnings"],
        serde_json::json!([])
    );
}
