//! One domain over several files, as envoyproxy/ratelimit loads it with
//! `MERGE_DOMAIN_CONFIG=true`: the files' top-level descriptors join one tree, and one defined
//! in two files is an error that names both.

use tollgate_core::KeySpace;
use tollgate_ratelimit_config::RateLimitConfig;

use crate::support::{rule_path, sources};

const USERS: &str = "domain: shop
descriptors:
  - key: user
    rate_limit: {unit: minute, requests_per_unit: 10}
  - key: path
    value: /a*
    rate_limit: {unit: minute, requests_per_unit: 1}
";

const PATHS: &str = "domain: shop
descriptors:
  - key: path
    value: /admin
    rate_limit: {unit: minute, requests_per_unit: 2}
  - key: path
    value: /ab*
    rate_limit: {unit: minute, requests_per_unit: 3}
  - key: plan
    value: gold
    descriptors:
      - key: user
        rate_limit: {unit: hour, requests_per_unit: 100}
";

fn merged(files: &[(&str, &str)]) -> Result<RateLimitConfig, Vec<String>> {
    RateLimitConfig::compile_merging(&sources(files), KeySpace::new([7; 16]), true)
        .map_err(|errors| errors.0.iter().map(ToString::to_string).collect())
}

#[test]
fn a_domain_spread_over_files_is_one_tree() {
    let config = merged(&[("a.yaml", USERS), ("b.yaml", PATHS)]).unwrap();
    assert_eq!(config.summary(), "1 domains, 5 rate limits");
    assert!(config.merges_domains());
    let path = |entries: &[(&str, &str)]| rule_path(&config, "shop", entries);
    assert_eq!(path(&[("user", "ann")]).as_deref(), Some("shop.user"));
    assert_eq!(
        path(&[("path", "/admin")]).as_deref(),
        Some("shop.path_/admin")
    );
    // Wildcards in the order of the files: a.yaml's first.
    assert_eq!(path(&[("path", "/abc")]).as_deref(), Some("shop.path_/a*"));
    assert_eq!(
        path(&[("plan", "gold"), ("user", "ann")]).as_deref(),
        Some("shop.plan_gold.user")
    );
}

#[test]
fn a_descriptor_in_two_files_of_a_merged_domain_names_both() {
    let again = "domain: shop\ndescriptors:\n  - key: other\n    rate_limit: {unit: second, requests_per_unit: 1}\n  - key: user\n    rate_limit: {unit: hour, requests_per_unit: 1}\n";
    assert_eq!(
        merged(&[("a.yaml", USERS), ("b.yaml", again)]).unwrap_err(),
        [
            "b.yaml:5:5: a descriptor with key `user` and no value of domain `shop` is already defined at a.yaml:3:5: a merged domain defines each descriptor once"
        ]
    );
    let valued = "domain: shop\ndescriptors:\n  - key: path\n    value: /a*\n    rate_limit: {unit: second, requests_per_unit: 1}\n";
    assert_eq!(
        merged(&[("a.yaml", USERS), ("b.yaml", valued)]).unwrap_err(),
        [
            "b.yaml:3:5: a descriptor with key `path` and value `/a*` of domain `shop` is already defined at a.yaml:5:5: a merged domain defines each descriptor once"
        ]
    );
}

#[test]
fn without_merging_a_second_file_of_a_domain_is_an_error_that_says_how_to_merge() {
    let errors =
        RateLimitConfig::compile(&sources(&[("a.yaml", USERS), ("b.yaml", PATHS)])).unwrap_err();
    assert_eq!(
        errors.to_string(),
        "b.yaml:1:9: domain `shop` is already defined at a.yaml:1:9: each domain is in one file (MERGE_DOMAIN_CONFIG=true merges them)"
    );
}
