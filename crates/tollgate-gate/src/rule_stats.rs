//! envoyproxy/ratelimit's statistics of its rules, by the names its Prometheus mapping gives
//! them (`ratelimit_service_rate_limit_total_hits{domain,key1,key2…}` and `over_limit`,
//! `near_limit`, `within_limit`, `shadow_mode`), so that dashboards built on it find them.
//! Hits are counted as envoyproxy/ratelimit counts them, but on what Tollgate took: a refused
//! request takes nothing, so the hits before a refusal are what was used, not what was used
//! plus the refused request's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use foldhash::fast::RandomState;

use crate::exposition::Exposition;
use crate::striped::Striped;

/// The statistics of one rule, in the order of their counters.
const STATS: [&str; 5] = [
    "total_hits",
    "over_limit",
    "near_limit",
    "within_limit",
    "shadow_mode",
];
const TOTAL: usize = 0;
const OVER: usize = 1;
const NEAR: usize = 2;
const WITHIN: usize = 3;
const SHADOW: usize = 4;

/// What one rule saw of one request.
#[derive(Debug, Clone, Copy)]
pub struct RuleHits<'a> {
    /// The rule's domain.
    pub domain: &'a str,
    /// The rule's path, as envoyproxy/ratelimit names it: the domain, then `key` or
    /// `key_value` for each level, joined by dots.
    pub path: &'a str,
    /// The request's hits on it.
    pub hits: u64,
    /// Its limit (0: `requests_per_unit: 0`).
    pub limit: u64,
    /// Units used before this request.
    pub used_before: u64,
    /// Whether it only reports.
    pub shadow: bool,
}

/// The rules' statistics since the start.
#[derive(Debug)]
pub struct RuleStats {
    counters: Striped,
    /// By path: the length of its domain, and where its counters start.
    rules: ArcSwap<HashMap<String, (usize, usize), RandomState>>,
    next: AtomicUsize,
    adding: Mutex<()>,
    /// `NEAR_LIMIT_RATIO`, as the bits of an `f64`.
    near_ratio: AtomicU64,
}

impl Default for RuleStats {
    fn default() -> Self {
        Self {
            counters: Striped::default(),
            rules: ArcSwap::default(),
            next: AtomicUsize::new(0),
            adding: Mutex::new(()),
            near_ratio: AtomicU64::new(Self::NEAR_LIMIT_RATIO.to_bits()),
        }
    }
}

impl RuleStats {
    /// The share of a limit past which admitted hits are `near_limit`, unless set:
    /// envoyproxy/ratelimit's `NEAR_LIMIT_RATIO` default.
    pub const NEAR_LIMIT_RATIO: f64 = 0.8;

    /// Sets the share of a limit past which admitted hits are `near_limit` (envoyproxy/
    /// ratelimit's `NEAR_LIMIT_RATIO`), clamped to 0..=1.
    pub fn set_near_limit_ratio(&self, ratio: f64) {
        let ratio = if ratio.is_nan() {
            Self::NEAR_LIMIT_RATIO
        } else {
            ratio.clamp(0.0, 1.0)
        };
        self.near_ratio.store(ratio.to_bits(), Ordering::Relaxed);
    }

    /// Counts what `rule` saw of a request, as envoyproxy/ratelimit does: every hit in
    /// `total_hits`; hits past the limit in `over_limit` (and `shadow_mode` for a shadow
    /// rule), the others in `within_limit` when none was past it; hits past the near-limit
    /// threshold (`NEAR_LIMIT_RATIO` of the limit, rounded down) but not past the limit in
    /// `near_limit`.
    pub fn count(&self, rule: &RuleHits<'_>) {
        let at = self.counters_of(rule.domain, rule.path);
        let counters = &self.counters;
        let ratio = f64::from_bits(self.near_ratio.load(Ordering::Relaxed));
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "a share of a 32-bit limit, rounded down as envoyproxy/ratelimit does"
        )]
        let near = (rule.limit as f64 * ratio).floor() as u64;
        let (before, after) = (rule.used_before, rule.used_before + rule.hits);
        counters.add(at + TOTAL, rule.hits);
        if after > rule.limit {
            if before >= rule.limit {
                counters.add(at + OVER, rule.hits);
            } else {
                counters.add(at + OVER, after - rule.limit);
                counters.add(at + NEAR, rule.limit - near.max(before));
            }
            if rule.shadow {
                counters.add(at + SHADOW, rule.hits);
            }
        } else {
            if after > near {
                counters.add(at + NEAR, after - near.max(before));
            }
            counters.add(at + WITHIN, rule.hits);
        }
    }

    /// Where the counters of the rule at `path` start (added if new; rules come from the
    /// files, so they are bounded).
    fn counters_of(&self, domain: &str, path: &str) -> usize {
        if let Some(&(_, at)) = self.rules.load().get(path) {
            return at;
        }
        let _adding = self.adding.lock().unwrap_or_else(PoisonError::into_inner);
        let rules = self.rules.load_full();
        if let Some(&(_, at)) = rules.get(path) {
            return at;
        }
        let at = self.next.load(Ordering::Relaxed);
        if at + STATS.len() > Striped::CAPACITY {
            return Striped::CAPACITY - STATS.len();
        }
        self.next.store(at + STATS.len(), Ordering::Relaxed);
        let mut grown = (*rules).clone();
        grown.insert(path.to_owned(), (domain.len(), at));
        self.rules.store(Arc::new(grown));
        at
    }

    /// Writes every rule's statistics, labelled as envoyproxy/ratelimit's Prometheus mapping
    /// labels them: `domain`, then `key1`, `key2`… for the levels of the rule's path.
    pub fn write(&self, page: &mut Exposition) {
        let rules = self.rules.load();
        if rules.is_empty() {
            return;
        }
        let mut sorted: Vec<(&String, &(usize, usize))> = rules.iter().collect();
        sorted.sort_unstable();
        for (offset, stat) in STATS.iter().enumerate() {
            let name = format!("ratelimit_service_rate_limit_{stat}");
            page.family(
                &name,
                "counter",
                "envoyproxy/ratelimit's statistic of a rule, by its name and labels (hits counted on what Tollgate took: a refused request takes nothing).",
            );
            for &(path, &(domain_len, at)) in &sorted {
                let (domain, keys) = path.split_at(domain_len.min(path.len()));
                let levels: Vec<(String, &str)> = keys
                    .trim_start_matches('.')
                    .split('.')
                    .enumerate()
                    .map(|(level, key)| (format!("key{}", level + 1), key))
                    .collect();
                let mut labels: Vec<(&str, &str)> = vec![("domain", domain)];
                labels.extend(levels.iter().map(|(label, key)| (label.as_str(), *key)));
                page.sample(&name, &labels, self.counters.get(at + offset));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(limit: u64, used_before: u64, hits: u64, shadow: bool) -> RuleHits<'static> {
        RuleHits {
            domain: "shop",
            path: "shop.user_a.path",
            hits,
            limit,
            used_before,
            shadow,
        }
    }

    fn counts(stats: &RuleStats) -> [u64; 5] {
        let at = stats.counters_of("shop", "shop.user_a.path");
        std::array::from_fn(|offset| stats.counters.get(at + offset))
    }

    #[test]
    fn hits_are_counted_as_envoyproxy_ratelimit_counts_them() {
        let stats = RuleStats::default();
        // A limit of 10: the threshold is 8. Hits 1..=8 within, 9 and 10 near, 11 over.
        for used in 0..10 {
            stats.count(&hits(10, used, 1, false));
        }
        assert_eq!(counts(&stats), [10, 0, 2, 10, 0]);
        stats.count(&hits(10, 10, 1, false));
        assert_eq!(counts(&stats), [11, 1, 2, 10, 0]);
        // 5 hits from 7 used: 2 past the limit, 2 near (from 8 to 10), none within.
        stats.count(&hits(10, 7, 5, true));
        assert_eq!(counts(&stats), [16, 3, 4, 10, 5]);
        // requests_per_unit: 0 is over with every hit.
        stats.count(&hits(0, 0, 3, false));
        assert_eq!(counts(&stats), [19, 6, 4, 10, 5]);
    }

    #[test]
    fn the_near_limit_ratio_moves_the_threshold() {
        let stats = RuleStats::default();
        stats.set_near_limit_ratio(0.5);
        for used in 0..10 {
            stats.count(&hits(10, used, 1, false));
        }
        assert_eq!(counts(&stats)[NEAR], 5);
    }

    #[test]
    fn written_with_the_prometheus_mapping_s_names_and_labels() {
        let stats = RuleStats::default();
        stats.count(&hits(10, 0, 2, false));
        let mut page = Exposition::default();
        stats.write(&mut page);
        let text = page.into_text();
        assert!(text.contains(
            "ratelimit_service_rate_limit_total_hits{domain=\"shop\",key1=\"user_a\",key2=\"path\"} 2\n"
        ));
        assert!(text.contains(
            "ratelimit_service_rate_limit_within_limit{domain=\"shop\",key1=\"user_a\",key2=\"path\"} 2\n"
        ));
        assert!(text.contains(
            "ratelimit_service_rate_limit_shadow_mode{domain=\"shop\",key1=\"user_a\",key2=\"path\"} 0\n"
        ));
    }
}
