//! A descriptor's own `limit`, which Envoy takes from dynamic metadata: it replaces the files'
//! rule for that request, as in envoyproxy/ratelimit, and counts in a partition of its own,
//! keyed by the descriptor's entries and the override's numbers (so two overrides of one
//! descriptor with different numbers never share a count).

use std::sync::Arc;

use crate::rule::{Location, Rule, RuleLimit};
use crate::{Match, RateLimitConfig, Unit};

/// The rule a descriptor's `limit` makes, and the partition it counts in.
#[derive(Debug)]
pub struct Override {
    rule: Rule,
    key: tollgate_core::Key,
}

impl Override {
    /// The override as a match, counted like any rule's.
    #[must_use]
    pub fn matched(&self) -> Match<'_> {
        Match::new(&self.rule, self.key)
    }
}

impl RateLimitConfig {
    /// The rule a descriptor of `domain` with `entries` gets from its own `limit` of
    /// `requests_per_unit` a `unit`: 0 refuses every request; a count no window of the unit can
    /// hold exactly (from 1,000,000,000 a second) is held at the most it can.
    pub fn overridden<'e>(
        &self,
        domain: &str,
        entries: impl IntoIterator<Item = (&'e str, &'e str)> + Clone,
        requests_per_unit: u32,
        unit: Unit,
    ) -> Override {
        let mut path = String::from(domain);
        let mut key = self.key_space.builder();
        key.push(b"descriptor limit").push(domain.as_bytes());
        for (entry_key, entry_value) in entries {
            // The statistics' name holds the keys only: a value a client sends (an address, a
            // user) would make a series of its own.
            path.push('.');
            path.push_str(entry_key);
            key.push(entry_key.as_bytes()).push(entry_value.as_bytes());
        }
        key.push_u64(u64::from(requests_per_unit))
            .push(unit.as_str().as_bytes());
        let limit = match requests_per_unit {
            0 => RuleLimit::Blocked,
            count => unit
                .window(count)
                .or_else(|_| unit.window(most_per(unit)))
                .map_or(RuleLimit::Blocked, |window| {
                    RuleLimit::Limited(window.into())
                }),
        };
        Override {
            rule: Rule {
                path: path.into(),
                name: None,
                limit,
                unit: Some(unit),
                requests_per_unit,
                shadow_mode: false,
                quota_mode: false,
                detailed_metric: false,
                replaces: Box::default(),
                identity: 0,
                location: Location {
                    file: Arc::from("(the descriptor's limit)"),
                    line: 1,
                    column: 1,
                },
            },
            key: key.finish(),
        }
    }
}

/// The most requests a window of `unit` counts exactly: one per nanosecond of its shortest
/// length.
fn most_per(unit: Unit) -> u32 {
    match unit {
        Unit::Second => 999_999_999,
        _ => u32::MAX,
    }
}
