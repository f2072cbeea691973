//! Which rule a descriptor falls under: known answers worked out from envoyproxy/ratelimit's
//! lookup (`GetLimit` in `src/config/config_impl.go`).

use tollgate_ratelimit_config::Match;

use crate::support::{compile_one, rule_path};

const ORDER: &str = "domain: order
descriptors:
  - key: k
    value: abc
    rate_limit: {unit: second, requests_per_unit: 1}
  - key: k
    value: a*
    rate_limit: {unit: second, requests_per_unit: 2}
  - key: k
    value: '*c'
    rate_limit: {unit: second, requests_per_unit: 3}
  - key: k
    rate_limit: {unit: second, requests_per_unit: 4}
";

#[test]
fn exact_value_then_wildcards_in_file_order_then_key_only() {
    let config = compile_one(ORDER);
    let path = |value: &str| rule_path(&config, "order", &[("k", value)]).unwrap();
    assert_eq!(path("abc"), "order.k_abc");
    assert_eq!(path("abd"), "order.k_a*");
    assert_eq!(path("xbc"), "order.k_*c");
    // Both wildcards match: the first written wins.
    assert_eq!(path("axc"), "order.k_a*");
    assert_eq!(path("zzz"), "order.k");
    // An empty value matches no literal and neither wildcard here.
    assert_eq!(path(""), "order.k");
    // Keys and values are case-sensitive.
    assert_eq!(path("ABC"), "order.k");
    assert_eq!(rule_path(&config, "order", &[("K", "abc")]), None);
}

#[test]
fn a_value_spelled_like_a_pattern_finds_that_pattern_first() {
    let config = compile_one(
        "domain: d
descriptors:
  - key: k
    value: '*'
    rate_limit: {unit: second, requests_per_unit: 1}
  - key: k
    value: x*
    rate_limit: {unit: second, requests_per_unit: 2}
",
    );
    assert_eq!(rule_path(&config, "d", &[("k", "xy")]).unwrap(), "d.k_*");
    assert_eq!(rule_path(&config, "d", &[("k", "x*")]).unwrap(), "d.k_x*");
    assert_eq!(rule_path(&config, "d", &[("k", "")]).unwrap(), "d.k_*");
}

#[test]
fn inner_and_multiple_wildcards() {
    let config = compile_one(
        "domain: d
descriptors:
  - key: path
    value: /api/*/resource/*/action
    rate_limit: {unit: minute, requests_per_unit: 1}
  - key: path
    value: /api/*/action
    rate_limit: {unit: minute, requests_per_unit: 2}
",
    );
    let path = |value: &str| rule_path(&config, "d", &[("path", value)]);
    assert_eq!(
        path("/api/v1/resource/7/action").unwrap(),
        "d.path_/api/*/resource/*/action"
    );
    assert_eq!(path("/api/v1/action").unwrap(), "d.path_/api/*/action");
    assert_eq!(path("/api/v1/other"), None);
    assert_eq!(path("/api/action"), None);
}

const NESTED: &str = "domain: d
descriptors:
  - key: a
    value: '1'
    descriptors:
      - key: b
        rate_limit: {unit: minute, requests_per_unit: 1}
  - key: a
    rate_limit: {unit: minute, requests_per_unit: 2}
    descriptors:
      - key: c
        rate_limit: {unit: minute, requests_per_unit: 3}
        descriptors:
          - key: d
            value: x
            rate_limit: {unit: minute, requests_per_unit: 4}
  - key: bare
    descriptors:
      - key: inner
";

#[test]
fn every_entry_must_match_and_the_last_must_have_a_rate_limit() {
    let config = compile_one(NESTED);
    let path = |entries: &[(&str, &str)]| rule_path(&config, "d", entries);
    assert_eq!(path(&[("a", "1"), ("b", "x")]).unwrap(), "d.a_1.b");
    // A node with both a rate_limit and descriptors answers at its own depth and below.
    assert_eq!(path(&[("a", "2")]).unwrap(), "d.a");
    assert_eq!(path(&[("a", "2"), ("c", "y")]).unwrap(), "d.a.c");
    assert_eq!(
        path(&[("a", "2"), ("c", "y"), ("d", "x")]).unwrap(),
        "d.a.c.d_x"
    );
    // More entries than the tree is deep: no rule, not the shallower one.
    assert_eq!(
        path(&[("a", "2"), ("c", "y"), ("d", "x"), ("e", "z")]),
        None
    );
    assert_eq!(path(&[("a", "2"), ("c", "y"), ("d", "other")]), None);
    // Stopping at a descriptor without a rate_limit: no rule.
    assert_eq!(path(&[("a", "1")]), None);
    assert_eq!(path(&[("bare", "x"), ("inner", "y")]), None);
    // No backtracking: ("a", "1") takes the valued branch, which has no `c`, and the key-only
    // branch that has one is not tried.
    assert_eq!(path(&[("a", "1"), ("c", "y")]), None);
    // No entries, or an unknown domain.
    assert_eq!(path(&[]), None);
    assert_eq!(rule_path(&config, "other", &[("a", "2")]), None);
}

#[test]
fn keys_and_values_are_compared_whole() {
    // envoyproxy/ratelimit joins key and value with `_` before looking them up, so that the
    // key `a_b` with value `c` would find the descriptor `a` with value `b_c`; here they differ.
    let config = compile_one(
        "domain: d
descriptors:
  - key: a
    value: b_c
    rate_limit: {unit: minute, requests_per_unit: 1}
  - key: x
    value: y*
    rate_limit: {unit: minute, requests_per_unit: 1}
",
    );
    assert!(rule_path(&config, "d", &[("a", "b_c")]).is_some());
    assert_eq!(rule_path(&config, "d", &[("a_b", "c")]), None);
    assert_eq!(rule_path(&config, "d", &[("x_y", "z")]), None);
}

#[test]
fn entries_may_be_owned_strings() {
    let config = compile_one(ORDER);
    let entries = [("k".to_owned(), "abc".to_owned())];
    let found = config
        .find("order", entries.iter().map(|(key, value)| (key, value)))
        .unwrap();
    assert_eq!(found.rule().requests_per_unit(), 1);
}

const REPLACES: &str = "domain: d
descriptors:
  - key: k1
    descriptors:
      - key: user
        rate_limit:
          name: specific
          unit: second
          requests_per_unit: 5
  - key: k2
    descriptors:
      - key: user
        rate_limit:
          name: general
          replaces: [{name: specific}]
          unit: second
          requests_per_unit: 10
  - key: k3
    rate_limit:
      name: free_pass
      replaces: [{name: general}]
      unlimited: true
  - key: k4
    rate_limit:
      replaces: [{name: free_pass}]
      unit: second
      requests_per_unit: 1
";

#[test]
fn replaces_drops_the_named_rules_of_the_same_request() {
    let config = compile_one(REPLACES);
    let find = |entries: &[(&str, &str)]| config.find("d", entries.iter().copied());
    let specific = find(&[("k1", "x"), ("user", "u")]);
    let general = find(&[("k2", "x"), ("user", "u")]);
    let free_pass = find(&[("k3", "x")]);
    let plain = find(&[("k4", "x")]);
    let replaced = |request: &[Option<Match<'_>>]| -> Vec<bool> {
        request
            .iter()
            .map(|found| found.is_some_and(|found| found.is_replaced(request)))
            .collect()
    };
    // Alone, nothing is replaced.
    assert_eq!(replaced(&[specific]), [false]);
    // `general` replaces `specific`.
    assert_eq!(replaced(&[specific, general, None]), [true, false, false]);
    // `free_pass` replaces `general`, which still replaces `specific` (replacement is decided
    // on every match of the request, as in envoyproxy/ratelimit).
    assert_eq!(
        replaced(&[specific, general, free_pass]),
        [true, true, false]
    );
    // An unlimited rule is never replaced.
    assert_eq!(replaced(&[free_pass, plain]), [false, false]);
}
