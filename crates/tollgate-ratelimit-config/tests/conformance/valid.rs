//! Files envoyproxy/ratelimit accepts load with the same meaning.

use tollgate_core::Algorithm;
use tollgate_ratelimit_config::{RateLimitConfig, Rule, RuleLimit, Unit};

use crate::support::{compile_one, fixtures};

fn fixture_config() -> RateLimitConfig {
    RateLimitConfig::load_dir(&fixtures("valid")).expect("the fixtures load")
}

fn rule<'c>(config: &'c RateLimitConfig, domain: &str, entries: &[(&str, &str)]) -> &'c Rule {
    config
        .find(domain, entries.iter().copied())
        .unwrap_or_else(|| panic!("a rule for {entries:?}"))
        .rule()
}

#[test]
fn a_directory_loads_its_yaml_and_yml_files_only() {
    let config = fixture_config();
    let mut domains: Vec<_> = config.domains().collect();
    domains.sort_unstable();
    // `nested/ignored.yaml` and `not-yaml.txt` also say `domain: api`: loading either would be a
    // duplicate domain.
    assert_eq!(domains, ["api", "quirks", "units"]);
    assert_eq!(config.summary(), "3 domains, 21 rate limits");
}

#[test]
fn rules_are_listed_in_file_order_with_their_locations() {
    let config = fixture_config();
    let first = &config.rules()[0];
    assert_eq!(first.path(), "api.remote_address");
    let location = first.location().to_string();
    assert!(location.ends_with("valid/api.yaml:6:5"), "{location}");
    let paths: Vec<_> = config.rules().iter().map(Rule::path).collect();
    assert_eq!(paths[5], "api.path_/v1/*");
    assert_eq!(paths[7], "api.plan_free.user.method_POST");
}

#[test]
fn every_unit_is_accepted_in_any_case() {
    let config = fixture_config();
    for (count, unit) in (1..).zip(Unit::ALL) {
        let rule = rule(&config, "units", &[("unit", unit.as_str())]);
        assert_eq!(rule.unit(), Some(unit));
        assert_eq!(rule.requests_per_unit(), count);
        let Some(Algorithm::Window(window)) = rule.algorithm() else {
            panic!("{unit}: a fixed window, not {:?}", rule.limit());
        };
        assert_eq!(window.max(), u64::from(count));
    }
}

#[test]
fn unlimited_blocked_and_counted_rules() {
    let config = fixture_config();
    let healthz = rule(&config, "api", &[("path", "/healthz")]);
    assert!(healthz.is_unlimited());
    assert!(matches!(healthz.limit(), RuleLimit::Unlimited));
    assert_eq!(
        (healthz.unit(), healthz.algorithm().is_none()),
        (None, true)
    );

    let blocked = rule(&config, "api", &[("remote_address", "203.0.113.9")]);
    assert!(blocked.is_blocked());
    assert_eq!(blocked.unit(), Some(Unit::Second));
    assert_eq!(blocked.requests_per_unit(), 0);

    let counted = rule(&config, "api", &[("remote_address", "198.51.100.1")]);
    assert!(!counted.is_unlimited() && !counted.is_blocked());
    assert!(counted.algorithm().is_some());
}

#[test]
fn names_replaces_shadow_mode_and_detailed_metric() {
    let config = fixture_config();
    let free = rule(&config, "api", &[("plan", "free"), ("user", "bob")]);
    assert_eq!(free.name(), Some("free_user"));
    assert_eq!(free.replaces().len(), 0);
    assert!(!free.shadow_mode());

    let partner = rule(&config, "api", &[("plan", "partner"), ("user", "acme")]);
    assert_eq!(partner.name(), Some("partner_acme"));
    assert_eq!(partner.replaces().collect::<Vec<_>>(), ["free_user"]);

    let posts = rule(
        &config,
        "api",
        &[("plan", "free"), ("user", "bob"), ("method", "POST")],
    );
    assert!(posts.shadow_mode());
    assert!(posts.detailed_metric());
    assert_eq!(posts.name(), None);
}

#[test]
fn yaml_1_1_scalars_aliases_and_merge_keys() {
    let config = fixture_config();
    // A number as a value is its text.
    let number = rule(&config, "quirks", &[("to_number", "2061234567")]);
    assert_eq!(
        (number.unit(), number.requests_per_unit()),
        (Some(Unit::Minute), 10)
    );
    // `yes` as a value is the text "yes"; the aliased rate_limit is the anchor's.
    let enabled = rule(&config, "quirks", &[("enabled", "yes")]);
    assert_eq!(
        (enabled.unit(), enabled.requests_per_unit()),
        (Some(Unit::Minute), 10)
    );
    // `value: ~` is no value: any tenant matches; `<<` merges the anchor and `0x10` is 16.
    let tenant = rule(&config, "quirks", &[("tenant", "t-1")]);
    assert_eq!(
        (tenant.unit(), tenant.requests_per_unit()),
        (Some(Unit::Minute), 16)
    );
    assert!(tenant.quota_mode());
    assert!(!tenant.shadow_mode());
    // `value: ""` is no value either; `Yes` is true; `1_000` is a thousand.
    let region = rule(&config, "quirks", &[("region", "eu")]);
    assert!(region.shadow_mode());
    assert_eq!(region.requests_per_unit(), 1_000);
    // A leading zero is octal, as in YAML 1.1.
    assert_eq!(
        rule(&config, "quirks", &[("octal", "x")]).requests_per_unit(),
        8
    );
    // A descriptor without rate_limit or descriptors matches and limits nothing.
    assert!(config.find("quirks", [("internal", "x")]).is_none());
}

#[test]
fn the_same_descriptor_at_different_levels_is_no_duplicate() {
    let config = compile_one(
        "domain: d
descriptors:
  - key: a
    rate_limit: {unit: second, requests_per_unit: 1}
    descriptors:
      - key: a
        rate_limit: {unit: second, requests_per_unit: 2}
  - key: a
    value: x
    rate_limit: {unit: second, requests_per_unit: 3}
",
    );
    assert_eq!(config.rules().len(), 3);
}

#[test]
fn an_empty_descriptor_list_and_comments_only() {
    let config = compile_one("# nothing limited yet\ndomain: quiet\ndescriptors: []\n");
    assert_eq!(config.summary(), "1 domains, 0 rate limits");
    let config = compile_one("domain: quiet\n");
    assert!(config.find("quiet", [("a", "b")]).is_none());
}

#[test]
fn crlf_line_ends_and_a_byte_order_mark() {
    let config = compile_one(
        "\u{feff}domain: d\r\ndescriptors:\r\n  - key: a\r\n    rate_limit:\r\n      unit: minute\r\n      requests_per_unit: 5\r\n",
    );
    assert_eq!(config.rules()[0].requests_per_unit(), 5);
    assert_eq!(config.rules()[0].location().line, 4);
}

#[test]
fn the_example_of_docs_envoy_md_loads() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/envoy.md"))
        .expect("docs/envoy.md");
    // The configuration section's example, among the page's YAML blocks.
    let example = page
        .split("```yaml\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .find(|block| block.starts_with("domain: messaging"))
        .expect("the messaging example");
    let config = compile_one(example);
    let marketing = rule(
        &config,
        "messaging",
        &[("message_type", "marketing"), ("to_number", "1")],
    );
    assert_eq!(marketing.name(), Some("marketing_sms"));
    let any = rule(&config, "messaging", &[("to_number", "1")]);
    assert!(any.is_unlimited());
}
