//! The partition keys and windows of matched rules, counted by the core's limiter.

use jiff::Timestamp;
use tollgate_core::{KeySpace, Limiter, ManualClock, MemoryStore};
use tollgate_ratelimit_config::{RateLimitConfig, Source};

use crate::support::{compile, compile_one};

fn nanos(text: &str) -> u64 {
    let instant: Timestamp = text.parse().unwrap();
    u64::try_from(instant.as_nanosecond()).unwrap()
}

const KEYS: &str = "domain: d
descriptors:
  - key: ip
    rate_limit: {unit: minute, requests_per_unit: 2}
  - key: path
    value: /files/*
    share_threshold: true
    rate_limit: {unit: minute, requests_per_unit: 2}
  - key: path
    value: /v1/*
    rate_limit: {unit: minute, requests_per_unit: 2}
  - key: tenant
    value: acme
    descriptors:
      - key: user
        rate_limit: {unit: minute, requests_per_unit: 2}
";

#[test]
fn each_value_sent_has_its_own_counter_unless_shared() {
    let config = compile_one(KEYS);
    let key = |entries: &[(&str, &str)]| config.find("d", entries.iter().copied()).unwrap().key();
    // Key-only descriptors count each value apart, and the same value together.
    assert_ne!(key(&[("ip", "1.1.1.1")]), key(&[("ip", "2.2.2.2")]));
    assert_eq!(key(&[("ip", "1.1.1.1")]), key(&[("ip", "1.1.1.1")]));
    // Wildcards count each value apart, but with share_threshold all count as one.
    assert_ne!(key(&[("path", "/v1/a")]), key(&[("path", "/v1/b")]));
    assert_eq!(key(&[("path", "/files/a")]), key(&[("path", "/files/b")]));
    // Nested: the key of every level is part of the partition.
    assert_ne!(
        key(&[("tenant", "acme"), ("user", "u1")]),
        key(&[("tenant", "acme"), ("user", "u2")])
    );
}

#[test]
fn domains_separate_counters() {
    let rule = "descriptors:\n  - key: ip\n    rate_limit: {unit: minute, requests_per_unit: 2}\n";
    let config = compile(&[
        ("a.yaml", &format!("domain: a\n{rule}")),
        ("b.yaml", &format!("domain: b\n{rule}")),
    ]);
    let a = config.find("a", [("ip", "1.1.1.1")]).unwrap().key();
    let b = config.find("b", [("ip", "1.1.1.1")]).unwrap().key();
    assert_ne!(a, b);
}

#[test]
fn a_reload_keeps_counters_unless_the_unit_changes() {
    let space = || KeySpace::new([9; 16]);
    let load = |unit: &str, count: u32| {
        let text = format!(
            "domain: d\ndescriptors:\n  - key: ip\n    rate_limit: {{unit: {unit}, requests_per_unit: {count}}}\n"
        );
        RateLimitConfig::compile_in(&[Source::new("d.yaml", text)], space()).unwrap()
    };
    let key = |config: &RateLimitConfig| config.find("d", [("ip", "1.1.1.1")]).unwrap().key();
    let before = load("minute", 10);
    assert_eq!(key(&before), key(&load("minute", 10)));
    // A new count applies to what was already counted, as in envoyproxy/ratelimit.
    assert_eq!(key(&before), key(&load("minute", 20)));
    // A new unit is a new window: its counts start afresh.
    assert_ne!(key(&before), key(&load("hour", 10)));
}

#[test]
fn a_minute_window_admits_exactly_its_count_and_refusals_are_free() {
    let config = compile_one(KEYS);
    let found = config.find("d", [("ip", "1.1.1.1")]).unwrap();
    let clock = ManualClock::new(nanos("2026-03-10T10:17:30Z"));
    let limiter = Limiter::new(MemoryStore::new(), clock.clone());
    let request = [found.request(1).unwrap()];
    assert!(limiter.acquire(&request).unwrap().allowed());
    assert!(limiter.acquire(&request).unwrap().allowed());
    for _ in 0..5 {
        let refused = limiter.acquire(&request).unwrap();
        assert!(!refused.allowed());
        assert_eq!(refused.retry_at(), Some(nanos("2026-03-10T10:18:00Z")));
    }
    // The window ends on the minute, and the refusals above took nothing from the next one.
    clock.set(nanos("2026-03-10T10:18:00Z"));
    assert!(limiter.acquire(&request).unwrap().allowed());
    assert!(limiter.acquire(&request).unwrap().allowed());
    assert!(!limiter.acquire(&request).unwrap().allowed());
}

#[test]
fn a_month_is_the_calendar_month_in_utc() {
    let config = compile_one(
        "domain: d\ndescriptors:\n  - key: ip\n    rate_limit: {unit: month, requests_per_unit: 1}\n",
    );
    let found = config.find("d", [("ip", "1.1.1.1")]).unwrap();
    let clock = ManualClock::new(nanos("2026-01-31T23:59:59Z"));
    let limiter = Limiter::new(MemoryStore::new(), clock.clone());
    let request = [found.request(1).unwrap()];
    assert!(limiter.acquire(&request).unwrap().allowed());
    let refused = limiter.acquire(&request).unwrap();
    assert_eq!(refused.retry_at(), Some(nanos("2026-02-01T00:00:00Z")));
    clock.set(nanos("2026-02-01T00:00:00Z"));
    assert!(limiter.acquire(&request).unwrap().allowed());
    // February 2026 has 28 days.
    let refused = limiter.acquire(&request).unwrap();
    assert_eq!(refused.retry_at(), Some(nanos("2026-03-01T00:00:00Z")));
}

#[test]
fn a_week_starts_on_monday_in_utc() {
    let config = compile_one(
        "domain: d\ndescriptors:\n  - key: ip\n    rate_limit: {unit: week, requests_per_unit: 1}\n",
    );
    let found = config.find("d", [("ip", "1.1.1.1")]).unwrap();
    // Sunday 15 March 2026, late evening.
    let clock = ManualClock::new(nanos("2026-03-15T23:00:00Z"));
    let limiter = Limiter::new(MemoryStore::new(), clock);
    let request = [found.request(1).unwrap()];
    assert!(limiter.acquire(&request).unwrap().allowed());
    let refused = limiter.acquire(&request).unwrap();
    assert_eq!(refused.retry_at(), Some(nanos("2026-03-16T00:00:00Z")));
}

#[test]
fn unlimited_and_blocking_rules_ask_the_store_nothing() {
    let config = compile_one(
        "domain: d
descriptors:
  - key: health
    rate_limit: {unlimited: true}
  - key: banned
    rate_limit: {unit: second, requests_per_unit: 0}
",
    );
    assert!(
        config
            .find("d", [("health", "x")])
            .unwrap()
            .request(1)
            .is_none()
    );
    assert!(
        config
            .find("d", [("banned", "x")])
            .unwrap()
            .request(1)
            .is_none()
    );
}
