//! Files envoyproxy/ratelimit refuses (and a few it accepts by mistake) are refused, each fault
//! as `FILE:LINE:COL: message` at the place to fix.

use std::path::PathBuf;

use tollgate_ratelimit_config::RateLimitConfig;

use crate::support::{error, errors, fixtures};

/// A descriptor list with one descriptor whose body (indented by four) is `body`.
fn descriptor(body: &str) -> String {
    format!("domain: d\ndescriptors:\n  - key: k\n{body}")
}

#[test]
fn unknown_keys_at_every_level() {
    assert_eq!(
        error("domain: d\ndescriptor:\n  - key: k\n"),
        "config.yaml:2:1: unknown key `descriptor` at the top of a file: expected domain or descriptors"
    );
    assert_eq!(
        error(&descriptor("    rate_limt:\n      unit: second\n")),
        "config.yaml:4:5: unknown key `rate_limt` in a descriptor: expected key, value, rate_limit, \
         descriptors, shadow_mode, quota_mode, detailed_metric, value_to_metric, share_threshold or metadata"
    );
    assert_eq!(
        error(&descriptor(
            "    rate_limit:\n      unit: second\n      request_per_unit: 5\n"
        )),
        "config.yaml:6:7: unknown key `request_per_unit` in a rate_limit: expected unit, \
         requests_per_unit, unlimited, name or replaces"
    );
    assert_eq!(
        error(&descriptor(
            "    rate_limit:\n      unlimited: true\n      replaces:\n        - name: a\n          nme: b\n"
        )),
        "config.yaml:8:11: unknown key `nme` in an entry of replaces: expected name"
    );
}

#[test]
fn known_keys_in_the_wrong_place() {
    // envoyproxy/ratelimit ignores these silently: the limit the author meant is not there.
    assert_eq!(
        error(&descriptor("    requests_per_unit: 5\n")),
        "config.yaml:4:5: `requests_per_unit` belongs in a rate_limit, not in a descriptor"
    );
    assert_eq!(
        error("domain: d\nkey: k\n"),
        "config.yaml:2:1: `key` belongs in a descriptor, not at the top of a file"
    );
    assert_eq!(
        error(&descriptor(
            "    rate_limit:\n      unlimited: true\n      shadow_mode: true\n"
        )),
        "config.yaml:6:7: `shadow_mode` belongs in a descriptor, not in a rate_limit"
    );
}

#[test]
fn bad_units() {
    let rate_limit = |unit: &str| {
        descriptor(&format!(
            "    rate_limit:\n      unit: {unit}\n      requests_per_unit: 5\n"
        ))
    };
    let all = "second, minute, hour, day, week, month or year";
    assert_eq!(
        error(&rate_limit("fortnight")),
        format!("config.yaml:5:13: unknown unit `fortnight`: use {all}")
    );
    assert_eq!(
        error(&rate_limit("unknown")),
        format!("config.yaml:5:13: unknown unit `unknown`: use {all}")
    );
    // The words a policy file reads are named, with the one these files take.
    for (word, meant) in [
        ("seconds", "second"),
        ("SECS", "second"),
        ("min", "minute"),
        ("hrs", "hour"),
        ("h", "hour"),
        ("days", "day"),
        ("wk", "week"),
        ("months", "month"),
    ] {
        assert_eq!(
            error(&rate_limit(word)),
            format!(
                "config.yaml:5:13: unknown unit `{word}`: envoyproxy/ratelimit reads {all} (write `{meant}`)"
            )
        );
    }
    assert_eq!(
        error(&rate_limit("ms")),
        format!("config.yaml:5:13: unknown unit `ms`: use {all}")
    );
    assert_eq!(
        error(&rate_limit("[minute]")),
        "config.yaml:5:13: `unit` must be text, not a list"
    );
    assert_eq!(
        error(&descriptor("    rate_limit:\n      requests_per_unit: 5\n")),
        format!("config.yaml:4:5: `rate_limit` needs a `unit` ({all}) or `unlimited: true`")
    );
    assert_eq!(
        error(&descriptor(
            "    rate_limit:\n      unit: ''\n      requests_per_unit: 5\n"
        )),
        format!("config.yaml:4:5: `rate_limit` needs a `unit` ({all}) or `unlimited: true`")
    );
}

#[test]
fn an_unlimited_rule_takes_no_unit() {
    assert_eq!(
        error(&descriptor(
            "    rate_limit:\n      unlimited: true\n      unit: minute\n"
        )),
        "config.yaml:6:13: an unlimited rate_limit takes no `unit`"
    );
}

#[test]
fn bad_requests_per_unit() {
    let count = |text: &str| {
        descriptor(&format!(
            "    rate_limit:\n      unit: minute\n      requests_per_unit: {text}\n"
        ))
    };
    let range = "must be a whole number from 0 to 4294967295";
    assert_eq!(
        error(&count("-1")),
        format!("config.yaml:6:26: `requests_per_unit` {range}, not `-1`")
    );
    assert_eq!(
        error(&count("1.5")),
        format!("config.yaml:6:26: `requests_per_unit` {range}, not `1.5`")
    );
    assert_eq!(
        error(&count("4294967296")),
        format!("config.yaml:6:26: `requests_per_unit` {range}, not `4294967296`")
    );
    assert_eq!(
        error(&count("\"10\"")),
        format!("config.yaml:6:26: `requests_per_unit` {range}, not the quoted text `10`")
    );
    assert_eq!(
        error(&count("{n: 1}")),
        format!("config.yaml:6:26: `requests_per_unit` {range}, not a mapping")
    );
    let missing = "`rate_limit` needs `requests_per_unit` (envoyproxy/ratelimit reads a missing \
                   one as 0, which refuses every request: write `requests_per_unit: 0` for that)";
    assert_eq!(
        error(&descriptor("    rate_limit:\n      unit: minute\n")),
        format!("config.yaml:4:5: {missing}")
    );
    assert_eq!(error(&count("~")), format!("config.yaml:4:5: {missing}"));
    let per_second =
        descriptor("    rate_limit:\n      unit: second\n      requests_per_unit: 1000000000\n");
    assert_eq!(
        error(&per_second),
        "config.yaml:6:26: `requests_per_unit` 1000000000 is too large for a second: Tollgate \
         counts a window exactly, at most one request per nanosecond of it, so a second counts \
         at most 999999999 (envoyproxy/ratelimit takes up to 4294967295); a limit this high \
         never refuses ordinary traffic: write `unlimited: true`, or count it per minute"
    );
}

#[test]
fn duplicate_domains_across_files() {
    let rule = "descriptors:\n  - key: a\n    rate_limit: {unit: second, requests_per_unit: 1}\n";
    let first = format!("domain: shop\n{rule}");
    let second = format!("# the same domain again\ndomain:   shop\n{rule}");
    assert_eq!(
        errors(&[("a.yaml", &first), ("b.yaml", &second)]),
        [
            "b.yaml:2:11: domain `shop` is already defined at a.yaml:1:9: each domain is in one file (MERGE_DOMAIN_CONFIG=true merges them)"
        ]
    );
}

#[test]
fn duplicate_descriptors_in_one_list() {
    let text = "domain: d
descriptors:
  - key: database
    value: users
    rate_limit: {unit: second, requests_per_unit: 5}
  - key: database
    rate_limit: {unit: second, requests_per_unit: 5}
  - value: users
    key: database
    rate_limit: {unit: second, requests_per_unit: 9}
  - key: database
    descriptors:
      - key: table
      - key: table
";
    assert_eq!(
        errors(&[("dup.yaml", text)]),
        [
            "dup.yaml:8:5: a descriptor with key `database` and value `users` is already defined at line 3 of this list",
            "dup.yaml:11:5: a descriptor with key `database` and no value is already defined at line 6 of this list",
        ]
    );
    // In a nested list.
    let nested = "domain: d
descriptors:
  - key: database
    descriptors:
      - key: table
        value: t*
      - key: table
        value: t*
";
    assert_eq!(
        errors(&[("dup.yaml", nested)]),
        [
            "dup.yaml:7:9: a descriptor with key `table` and value `t*` is already defined at line 5 of this list"
        ]
    );
}

#[test]
fn bad_yaml() {
    assert_eq!(
        error("domain: d\ndescriptors:\n  - key: a\n   value: b\n"),
        "config.yaml:4:4: invalid YAML: while parsing a block collection, did not find expected '-' indicator"
    );
    assert_eq!(
        error("domain: d\ndescriptors: [\n"),
        "config.yaml:3:1: invalid YAML: while parsing a node, did not find expected node content"
    );
    assert_eq!(
        error("domain: d\ndescriptors:\n  - key: a\n    key: b\n"),
        "config.yaml:4:5: `key` is given twice in this mapping (first at line 3)"
    );
    assert_eq!(
        error("domain: d\ndescriptors:\n  - key: *missing\n"),
        "config.yaml:3:10: invalid YAML: while parsing node, found unknown anchor"
    );
    assert_eq!(
        error("domain: a\n---\ndomain: b\n"),
        "config.yaml:3:1: a second YAML document: envoyproxy/ratelimit reads only the first one \
         of a file, so put each domain in a file of its own"
    );
}

#[test]
fn wrong_shapes() {
    assert_eq!(
        error("- domain: d\n"),
        "config.yaml:1:1: the file must be a mapping, not a list"
    );
    assert_eq!(
        error("domain: d\ndescriptors:\n  key: a\n"),
        "config.yaml:3:3: `descriptors` must be a list, not a mapping"
    );
    assert_eq!(
        error("domain: d\ndescriptors:\n  - a\n"),
        "config.yaml:3:5: a descriptor must be a mapping, not a scalar"
    );
    assert_eq!(
        error("domain: d\ndescriptors:\n  -\n"),
        "config.yaml:3:4: a descriptor must be a mapping with at least a `key`"
    );
    assert_eq!(
        error(&descriptor("    rate_limit: 10/s\n")),
        "config.yaml:4:17: rate_limit must be a mapping, not a scalar"
    );
    assert_eq!(
        error("domain: [d]\n"),
        "config.yaml:1:9: `domain` must be text, not a list"
    );
}

#[test]
fn missing_or_empty_domain_and_key() {
    assert_eq!(
        error(""),
        "config.yaml:1:1: missing `domain`: every file names the domain of its descriptors"
    );
    assert_eq!(
        error("\n\ndescriptors: []\n"),
        "config.yaml:3:1: missing `domain`: every file names the domain of its descriptors"
    );
    assert_eq!(
        error("domain: ''\n"),
        "config.yaml:1:9: `domain` must not be empty"
    );
    assert_eq!(
        error("domain: d\ndescriptors:\n  - value: v\n"),
        "config.yaml:3:5: a descriptor needs a `key`"
    );
    // A misspelt key is reported once, as unknown, not also as missing.
    assert_eq!(
        error("domain: d\ndescriptors:\n  - kye: a\n"),
        "config.yaml:3:5: unknown key `kye` in a descriptor: expected key, value, rate_limit, \
         descriptors, shadow_mode, quota_mode, detailed_metric, value_to_metric, share_threshold or metadata"
    );
    assert_eq!(
        error("domain: d\ndescriptors:\n  - key:\n"),
        "config.yaml:3:8: `key` must not be empty"
    );
}

#[test]
fn bad_replaces() {
    assert_eq!(
        error(&descriptor(
            "    rate_limit:\n      name: a\n      replaces:\n        - name: ''\n      unlimited: true\n"
        )),
        "config.yaml:7:17: an entry of `replaces` needs a `name`"
    );
    assert_eq!(
        error(&descriptor(
            "    rate_limit:\n      name: a\n      replaces:\n        - name: b\n        - name: a\n      unlimited: true\n"
        )),
        "config.yaml:8:17: a rate_limit cannot replace itself: its `name` is `a`"
    );
    assert_eq!(
        error(&descriptor(
            "    rate_limit:\n      replaces: [other]\n      unlimited: true\n"
        )),
        "config.yaml:5:18: an entry of `replaces` must be a mapping such as `- name: other_limit`"
    );
}

#[test]
fn share_threshold_needs_a_wildcard() {
    assert_eq!(
        error("domain: d\ndescriptors:\n  - key: k\n    value: files\n    share_threshold: true\n"),
        "config.yaml:5:22: `share_threshold` needs a wildcard value (one with a `*`) to share"
    );
}

#[test]
fn flags_are_booleans() {
    assert_eq!(
        error(&descriptor("    shadow_mode: sometimes\n")),
        "config.yaml:4:18: `shadow_mode` must be true or false, not `sometimes`"
    );
    assert_eq!(
        error(&descriptor("    detailed_metric: \"true\"\n")),
        "config.yaml:4:22: `detailed_metric` must be true or false, not the quoted text `true`"
    );
    assert_eq!(
        error(&descriptor("    rate_limit:\n      unlimited: 1\n")),
        "config.yaml:5:18: `unlimited` must be true or false, not `1`"
    );
}

#[test]
fn every_error_is_reported_in_file_order() {
    let broken = "domain: d
descriptors:
  - key: a
    rate_limit: {unit: lightyear, requests_per_unit: -5}
  - key: b
    colour: blue
";
    let also = "domain: ''\n";
    assert_eq!(
        errors(&[("one.yaml", broken), ("two.yaml", also)]),
        [
            "one.yaml:4:24: unknown unit `lightyear`: use second, minute, hour, day, week, month or year",
            "one.yaml:4:54: `requests_per_unit` must be a whole number from 0 to 4294967295, not `-5`",
            "one.yaml:6:5: unknown key `colour` in a descriptor: expected key, value, rate_limit, \
             descriptors, shadow_mode, quota_mode, detailed_metric, value_to_metric, share_threshold or metadata",
            "two.yaml:1:9: `domain` must not be empty",
        ]
    );
}

/// A fresh directory of this test's own under the system's temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tollgate-ratelimit-config-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn directory_errors_name_the_directory_or_the_file() {
    let missing = fixtures("no-such-directory");
    let errors = RateLimitConfig::load_dir(&missing).unwrap_err().to_string();
    assert!(
        errors.starts_with(&format!(
            "{}:1:1: cannot read the directory: ",
            missing.display()
        )),
        "{errors}"
    );

    let dir = scratch("errors");
    std::fs::write(dir.join("notes.txt"), "domain: x\n").unwrap();
    assert_eq!(
        RateLimitConfig::load_dir(&dir).unwrap_err().to_string(),
        format!(
            "{}:1:1: no .yaml or .yml file in this directory",
            dir.display()
        )
    );

    // Files are read in the order of their names: the later one holds the duplicate.
    std::fs::write(dir.join("b.yaml"), "domain: shop\n").unwrap();
    std::fs::write(dir.join("a.YML"), "domain: shop\n").unwrap();
    std::fs::write(dir.join("c.yaml"), b"domain: \xff\n").unwrap();
    let a = dir.join("a.YML").display().to_string();
    let b = dir.join("b.yaml").display().to_string();
    let c = dir.join("c.yaml").display().to_string();
    assert_eq!(
        RateLimitConfig::load_dir(&dir).unwrap_err().to_string(),
        format!("{c}:1:1: the file is not UTF-8 text")
    );
    std::fs::remove_file(dir.join("c.yaml")).unwrap();
    assert_eq!(
        RateLimitConfig::load_dir(&dir).unwrap_err().to_string(),
        format!(
            "{b}:1:9: domain `shop` is already defined at {a}:1:9: each domain is in one file (MERGE_DOMAIN_CONFIG=true merges them)"
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn one_file_loads_alone_and_its_errors_name_it() {
    let dir = scratch("one-file");
    let file = dir.join("edge.yaml");
    std::fs::write(&file, "domain: edge\ndescriptors:\n  - key: user\n    rate_limit:\n      unit: hour\n      requests_per_unit: 2\n").unwrap();
    let config = RateLimitConfig::load_file(&file).unwrap();
    assert_eq!(config.summary(), "1 domains, 1 rate limits");
    std::fs::write(
        &file,
        "domain: edge\ndescriptors:\n  - key: user\n    rate_limit:\n      unit: hours\n      requests_per_unit: 2\n",
    )
    .unwrap();
    let name = file.display();
    assert_eq!(
        RateLimitConfig::load_file(&file).unwrap_err().to_string(),
        format!(
            "{name}:5:13: unknown unit `hours`: envoyproxy/ratelimit reads second, minute, hour, day, week, month or year (write `hour`)"
        )
    );
    let missing = dir.join("missing.yaml");
    let error = RateLimitConfig::load_file(&missing)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(&format!(
            "{}:1:1: cannot read the file: ",
            missing.display()
        )),
        "{error}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
