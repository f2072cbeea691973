//! `GET /metrics` after a known sequence of decisions: exact counts by api, limit and outcome,
//! near-limit admissions, the latency histogram's count, and the text format parsed strictly.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::{Tollgate, rls_request};

/// Two apis, each limited per account and api (5 an hour) and per account (7 a day).
const POLICY: &str = r#"
    [identity]
    api_key = { header = "X-Api-Key" }

    [[accounts]]
    id = "acme"
    keys = ["acme-key"]

    [[routes]]
    api = "machines"
    match = "* /machines/{*rest}"

    [[routes]]
    api = "reports"
    match = "GET /reports"

    [[limits]]
    name = "hourly"
    window = { max = 5, every = "1h" }
    per = ["account", "api"]

    [[limits]]
    name = "daily"
    window = { max = 7, every = "1d" }
    per = ["account"]
"#;

const ACME: (&str, &str) = ("X-Api-Key", "acme-key");

/// Every sample of a Prometheus text page, as `name{labels}` → value, the page checked
/// strictly: each line a comment or `name{labels} value`; `# HELP` and `# TYPE` once per
/// family, before its samples; every sample in the family declared last (a histogram's
/// `_bucket`, `_sum` and `_count` in its own); no sample twice.
fn parse(page: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    let mut helped = BTreeSet::new();
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut family: Option<(String, String)> = None;
    assert!(page.ends_with('\n'), "the page ends with a newline");
    for line in page.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.splitn(3, ' ');
            let (what, name, rest) = (words.next(), words.next(), words.next());
            let name = name.unwrap_or_else(|| panic!("a comment with no name: {line}"));
            assert!(valid_name(name), "bad family name: {line}");
            match what {
                Some("HELP") => {
                    assert!(
                        rest.is_some_and(|help| !help.is_empty()),
                        "empty help: {line}"
                    );
                    assert!(helped.insert(name.to_owned()), "HELP twice: {line}");
                }
                Some("TYPE") => {
                    let kind = rest.unwrap_or_default();
                    assert!(
                        ["counter", "gauge", "histogram"].contains(&kind),
                        "bad type: {line}"
                    );
                    assert!(
                        typed.insert(name.to_owned(), kind.to_owned()).is_none(),
                        "TYPE twice: {line}"
                    );
                    family = Some((name.to_owned(), kind.to_owned()));
                }
                _ => panic!("an unknown comment: {line}"),
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            value => value
                .parse()
                .unwrap_or_else(|_| panic!("bad value: {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, ""),
            Some((name, labels)) => (
                name,
                labels
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels: {line}")),
            ),
        };
        assert!(valid_name(name), "bad sample name: {line}");
        check_labels(labels, line);
        let (declared, kind) = family
            .as_ref()
            .unwrap_or_else(|| panic!("a sample before any TYPE: {line}"));
        let fits = match kind.as_str() {
            "histogram" => ["_bucket", "_sum", "_count"]
                .iter()
                .any(|suffix| name == format!("{declared}{suffix}")),
            _ => name == declared,
        };
        assert!(fits, "{name} outside its family {declared}: {line}");
        assert!(helped.contains(declared), "a family with no HELP: {line}");
        assert!(
            samples.insert(series.to_owned(), value).is_none(),
            "a sample twice: {line}"
        );
    }
    samples
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `name="value",…` with `\\`, `\"` and `\n` the only escapes.
fn check_labels(mut labels: &str, line: &str) {
    let mut names = BTreeSet::new();
    while !labels.is_empty() {
        let (name, rest) = labels
            .split_once("=\"")
            .unwrap_or_else(|| panic!("bad label: {line}"));
        assert!(valid_name(name), "bad label name: {line}");
        assert!(names.insert(name), "a label twice: {line}");
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => {
                    let escaped = chars.next().map(|(_, c)| c);
                    assert!(
                        matches!(escaped, Some('\\' | '"' | 'n')),
                        "bad escape: {line}"
                    );
                }
                Some((at, '"')) => break at,
                Some(_) => {}
                None => panic!("unclosed label value: {line}"),
            }
        };
        labels = &rest[end + 1..];
        if !labels.is_empty() {
            labels = labels
                .strip_prefix(',')
                .unwrap_or_else(|| panic!("labels not separated by commas: {line}"));
        }
    }
}

async fn scrape(tollgate: &Tollgate) -> BTreeMap<String, f64> {
    let reply = tollgate.admin("GET", "/metrics", "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4")
    );
    parse(&reply.body)
}

fn value(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no {series} in {samples:#?}"))
}

#[tokio::test]
async fn decisions_by_api_limit_and_outcome_with_exact_counts() {
    let tollgate = Tollgate::with_admin(POLICY).await;
    // machines: five admitted (hourly 4/5 and 5/5 used: near), the sixth refused by hourly.
    for _ in 0..5 {
        let reply = tollgate.auth("GET", "/machines/1", &[ACME]).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let reply = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(reply.status, 429, "{}", reply.body);
    // reports: two admitted (daily 6/7 and 7/7 used: near), the third refused by daily.
    for _ in 0..2 {
        let reply = tollgate.auth("GET", "/reports", &[ACME]).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let reply = tollgate.auth("GET", "/reports", &[ACME]).await;
    assert_eq!(reply.status, 429, "{}", reply.body);
    // No route: refused, api "-".
    let reply = tollgate.auth("GET", "/nowhere", &[ACME]).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    // A reload of a policy file that is not there fails.
    let reply = tollgate.admin("POST", "/admin/reload", "").await;
    assert_eq!(reply.status, 422, "{}", reply.body);

    let samples = scrape(&tollgate).await;
    let expected: &[(&str, f64)] = &[
        (r#"tollgate_decisions_total{outcome="admitted"}"#, 7.0),
        (r#"tollgate_decisions_total{outcome="refused"}"#, 3.0),
        (r#"tollgate_decisions_total{outcome="unavailable"}"#, 0.0),
        (
            r#"tollgate_api_decisions_total{api="-",outcome="admitted"}"#,
            0.0,
        ),
        (
            r#"tollgate_api_decisions_total{api="-",outcome="refused"}"#,
            1.0,
        ),
        (
            r#"tollgate_api_decisions_total{api="machines",outcome="admitted"}"#,
            5.0,
        ),
        (
            r#"tollgate_api_decisions_total{api="machines",outcome="refused"}"#,
            1.0,
        ),
        (
            r#"tollgate_api_decisions_total{api="machines",outcome="unavailable"}"#,
            0.0,
        ),
        (
            r#"tollgate_api_decisions_total{api="reports",outcome="admitted"}"#,
            2.0,
        ),
        (
            r#"tollgate_api_decisions_total{api="reports",outcome="refused"}"#,
            1.0,
        ),
        (
            r#"tollgate_limit_decisions_total{api="machines",limit="hourly",outcome="admitted"}"#,
            5.0,
        ),
        (
            r#"tollgate_limit_decisions_total{api="machines",limit="hourly",outcome="refused"}"#,
            1.0,
        ),
        (
            r#"tollgate_limit_decisions_total{api="machines",limit="hourly",outcome="passed"}"#,
            0.0,
        ),
        (
            r#"tollgate_limit_decisions_total{api="machines",limit="daily",outcome="admitted"}"#,
            5.0,
        ),
        (
            r#"tollgate_limit_decisions_total{api="machines",limit="daily",outcome="refused"}"#,
            0.0,
        ),
        (
            r#"tollgate_limit_decisions_total{api="machines",limit="daily",outcome="passed"}"#,
            1.0,
        ),
        (
            r#"tollgate_limit_decisions_total{api="reports",limit="hourly",outcome="admitted"}"#,
            2.0,
        ),
        (
            r#"tollgate_limit_decisions_total{api="reports",limit="hourly",outcome="passed"}"#,
            1.0,
        ),
        (
            r#"tollgate_limit_decisions_total{api="reports",limit="daily",outcome="admitted"}"#,
            2.0,
        ),
        (
            r#"tollgate_limit_decisions_total{api="reports",limit="daily",outcome="refused"}"#,
            1.0,
        ),
        (
            r#"tollgate_limit_decisions_total{api="reports",limit="daily",outcome="shadow_refused"}"#,
            0.0,
        ),
        (
            r#"tollgate_near_limit_total{api="machines",limit="hourly"}"#,
            2.0,
        ),
        (
            r#"tollgate_near_limit_total{api="machines",limit="daily"}"#,
            0.0,
        ),
        (
            r#"tollgate_near_limit_total{api="reports",limit="hourly"}"#,
            0.0,
        ),
        (
            r#"tollgate_near_limit_total{api="reports",limit="daily"}"#,
            2.0,
        ),
        // Every decision observed once; on the manual clock each took no time.
        ("tollgate_decision_seconds_count", 10.0),
        (r#"tollgate_decision_seconds_bucket{le="+Inf"}"#, 10.0),
        (r#"tollgate_decision_seconds_bucket{le="0.00001"}"#, 10.0),
        ("tollgate_decision_seconds_sum", 0.0),
        (r#"tollgate_reloads_total{result="ok"}"#, 0.0),
        (r#"tollgate_reloads_total{result="error"}"#, 1.0),
        (r#"tollgate_open_connections{port="public"}"#, 0.0),
        (
            r#"tollgate_store_errors_total{store="memory",kind="full"}"#,
            0.0,
        ),
        // The figures that were there before stay.
        ("tollgate_partitions", 3.0),
        ("tollgate_refused_partitions_total", 0.0),
    ];
    for (series, count) in expected {
        assert_eq!(value(&samples, series), *count, "{series}");
    }
    let total: f64 = ["admitted", "refused", "unavailable"]
        .iter()
        .map(|outcome| {
            value(
                &samples,
                &format!("tollgate_decisions_total{{outcome=\"{outcome}\"}}"),
            )
        })
        .sum();
    assert_eq!(value(&samples, "tollgate_decision_seconds_count"), total);
    // No account is labelled unless the policy asks.
    assert!(samples.keys().all(|series| !series.contains("account=")));
}

#[tokio::test]
async fn accounts_are_labelled_only_when_the_policy_says() {
    let policy = format!("[server]\nmetrics_per_account = true\n{POLICY}");
    let tollgate = Tollgate::with_admin(&policy).await;
    for _ in 0..6 {
        tollgate.auth("GET", "/machines/1", &[ACME]).await;
    }
    let samples = scrape(&tollgate).await;
    let labelled = r#"tollgate_limit_decisions_total{api="machines",limit="hourly",account="acme",outcome="admitted"}"#;
    assert_eq!(value(&samples, labelled), 5.0);
    let refused = r#"tollgate_limit_decisions_total{api="machines",limit="hourly",account="acme",outcome="refused"}"#;
    assert_eq!(value(&samples, refused), 1.0);
    let near = r#"tollgate_near_limit_total{api="machines",limit="hourly",account="acme"}"#;
    assert_eq!(value(&samples, near), 2.0);
}

#[test]
fn the_strict_parser_refuses_what_prometheus_would() {
    let bad = [
        "x 1\n",                                                       // no TYPE
        "# HELP x X.\n# TYPE x counter\n# TYPE x counter\nx 1\n",      // TYPE twice
        "# HELP x X.\n# TYPE x counter\ny 1\n",                        // outside its family
        "# HELP x X.\n# TYPE x counter\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n", // a sample twice
        "# HELP x X.\n# TYPE x counter\nx{a=1} 1\n",                   // unquoted label
        "# HELP x X.\n# TYPE x counter\nx one\n",                      // not a number
    ];
    for page in bad {
        assert!(std::panic::catch_unwind(|| parse(page)).is_err(), "{page}");
    }
    let good = "# HELP x X.\n# TYPE x counter\nx{a=\"q\\\"\"} 1\n";
    assert_eq!(parse(good)["x{a=\"q\\\"\"}"], 1.0);
}

/// Every family a scrape writes is listed in `docs/metrics.md`, and every series the Grafana
/// dashboard queries is one of them.
#[tokio::test]
async fn the_docs_and_the_dashboard_name_only_real_series() {
    let docs = |path: &str| {
        let path = format!("{}/../../docs/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    };
    let listed = docs("metrics.md");
    let tollgate = Tollgate::with_admin(POLICY).await;
    tollgate.auth("GET", "/machines/1", &[ACME]).await;
    let reply = tollgate.admin("GET", "/metrics", "").await;
    let families: BTreeSet<&str> = reply
        .body
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|line| line.split(' ').next())
        .collect();
    for family in &families {
        assert!(
            listed.contains(&format!("`{family}`")),
            "{family} is not in docs/metrics.md"
        );
    }
    let dashboard: serde_json::Value =
        serde_json::from_str(&docs("grafana/tollgate.json")).expect("the dashboard is JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels.len() >= 7);
    for target in panels
        .iter()
        .flat_map(|panel| panel["targets"].as_array().into_iter().flatten())
    {
        let expr = target["expr"].as_str().expect("an expression");
        for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("tollgate_") {
                let family = word.strip_suffix("_bucket").unwrap_or(word);
                assert!(
                    listed.contains(&format!("`{family}`")),
                    "{expr}: {family} is not a series"
                );
            }
        }
    }
}

/// Envoy's requests are counted too: decided by the policy file, as any request of its api;
/// decided by envoyproxy/ratelimit's files, under the domain (for a domain the files know) and
/// each rule's name, or its path as envoyproxy/ratelimit's statistics name it (`edge.user`).
#[tokio::test]
async fn envoy_decisions_by_policy_and_by_rules() {
    let request =
        |domain: &str, entries: &[(&str, &str)]| rls_request(domain, [(entries, None)], 0);
    let tollgate = Tollgate::with_admin(POLICY).await;
    let mut grpc = tollgate.grpc().await;
    let acme = [
        ("path", "/reports"),
        ("method", "GET"),
        ("x-api-key", "acme-key"),
    ];
    for _ in 0..8 {
        grpc.should_rate_limit(request("any", &acme)).await.unwrap();
    }
    let samples = scrape(&tollgate).await;
    let reports = |outcome: &str| {
        let series = format!(
            r#"tollgate_limit_decisions_total{{api="reports",limit="hourly",outcome="{outcome}"}}"#
        );
        value(&samples, &series)
    };
    // Five an hour: five admitted, three refused.
    assert_eq!((reports("admitted"), reports("refused")), (5.0, 3.0));

    let rules = "domain: edge\ndescriptors:\n  - key: user\n    rate_limit: { unit: hour, requests_per_unit: 2 }\n  - key: team\n    rate_limit: { name: teams, unit: hour, requests_per_unit: 9 }\n";
    let config =
        tollgate_ratelimit_config::RateLimitConfig::compile(&[tollgate_policy::Source::new(
            "edge.yaml",
            rules,
        )])
        .unwrap_or_else(|errors| panic!("{errors}"));
    tollgate.gate().set_ratelimit_config(config);
    for _ in 0..3 {
        grpc.should_rate_limit(request("edge", &[("user", "ann")]))
            .await
            .unwrap();
    }
    grpc.should_rate_limit(request("edge", &[("team", "red")]))
        .await
        .unwrap();
    grpc.should_rate_limit(request("elsewhere", &[("user", "ann")]))
        .await
        .unwrap();
    let samples = scrape(&tollgate).await;
    let expected: &[(&str, f64)] = &[
        (
            r#"tollgate_api_decisions_total{api="edge",outcome="admitted"}"#,
            3.0,
        ),
        (
            r#"tollgate_api_decisions_total{api="edge",outcome="refused"}"#,
            1.0,
        ),
        (
            r#"tollgate_limit_decisions_total{api="edge",limit="edge.user",outcome="admitted"}"#,
            2.0,
        ),
        (
            r#"tollgate_limit_decisions_total{api="edge",limit="edge.user",outcome="refused"}"#,
            1.0,
        ),
        (
            r#"tollgate_near_limit_total{api="edge",limit="edge.user"}"#,
            1.0,
        ),
        (
            r#"tollgate_limit_decisions_total{api="edge",limit="teams",outcome="admitted"}"#,
            1.0,
        ),
        // An unknown domain matched no rule: admitted, under "-", with no series of its own.
        (
            r#"tollgate_api_decisions_total{api="-",outcome="admitted"}"#,
            1.0,
        ),
    ];
    for (series, count) in expected {
        assert_eq!(value(&samples, series), *count, "{series}");
    }
    assert!(!samples.keys().any(|series| series.contains("elsewhere")));
}
