//! Finding the rule of one descriptor, exactly as envoyproxy/ratelimit does.

use tollgate_core::{Key, LimitRequest};

use crate::RateLimitConfig;
use crate::rule::{Rule, RuleLimit};
use crate::tree::Candidates;

/// The rule one descriptor of a request falls under, and the partition it counts in.
#[derive(Debug, Clone, Copy)]
pub struct Match<'c> {
    rule: &'c Rule,
    key: Key,
}

impl<'c> Match<'c> {
    /// `rule`, counted in the partition `key`.
    pub(crate) fn new(rule: &'c Rule, key: Key) -> Self {
        Self { rule, key }
    }

    /// The rule.
    #[must_use]
    pub fn rule(&self) -> &'c Rule {
        self.rule
    }

    /// The partition: the rule, then each entry's key and value as sent (the wildcard itself
    /// for a `share_threshold` descriptor), so that each distinct value has its own counter.
    #[must_use]
    pub fn key(&self) -> Key {
        self.key
    }

    /// What to ask the store for `cost` units (hits) of this descriptor; `None` when the rule
    /// counts nothing (unlimited or blocking).
    #[must_use]
    pub fn request(&self, cost: u32) -> Option<LimitRequest<'c>> {
        match &self.rule.limit {
            RuleLimit::Limited(algorithm) => Some(LimitRequest::new(self.key, algorithm, cost)),
            RuleLimit::Unlimited | RuleLimit::Blocked => None,
        }
    }

    /// Whether another match of the same request `replaces` this one's rule by its `name`, so
    /// that it is not applied: `matches` holds the matches of every descriptor of the request
    /// (this one included). An unlimited rule is never replaced (it stays unlimited), but its
    /// own `replaces` count, as in envoyproxy/ratelimit.
    #[must_use]
    pub fn is_replaced(&self, matches: &[Option<Match<'_>>]) -> bool {
        let Some(name) = self.rule.name() else {
            return false;
        };
        !self.rule.is_unlimited()
            && matches
                .iter()
                .flatten()
                .any(|other| other.rule.replaces().any(|replaced| replaced == name))
    }
}

impl RateLimitConfig {
    /// The rule for one descriptor of a request to `domain`: its entries, in order, as `(key,
    /// value)` pairs; `None` when no rule applies.
    ///
    /// As in envoyproxy/ratelimit, every entry must be matched, one level of the tree each, and
    /// the descriptor matched by the last entry must have a `rate_limit`: a request with more
    /// entries than the tree is deep, or whose last entry stops at a descriptor without a
    /// `rate_limit`, has no rule. At each level an entry tries, in order, the descriptor with its
    /// key and exactly its value, the descriptors of its key whose value has a `*` (the first in
    /// file order that matches), then the descriptor of its key without a value.
    ///
    /// Allocates nothing: the partition key is hashed as the tree is walked.
    pub fn find<I, K, V>(&self, domain: &str, entries: I) -> Option<Match<'_>>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut level = self.domains.get(domain)?;
        let mut key = self.key_space.builder();
        let mut last = None;
        for (entry_key, entry_value) in entries {
            let (entry_key, entry_value) = (entry_key.as_ref(), entry_value.as_ref());
            let id = level.0.get(entry_key)?.find(entry_value)?;
            let node = &self.nodes[id];
            key.push(entry_key.as_bytes())
                .push(node.share.as_deref().unwrap_or(entry_value).as_bytes());
            level = &node.children;
            last = Some(node);
        }
        let rule = &self.rules[last?.rule?];
        key.push_u64(rule.identity);
        Some(Match {
            rule,
            key: key.finish(),
        })
    }
}

impl Candidates {
    /// The descriptor a value falls under among those of one key.
    fn find(&self, value: &str) -> Option<usize> {
        self.values
            .get(value)
            .copied()
            .or_else(|| {
                self.wildcards
                    .iter()
                    .find(|(pattern, _)| pattern.matches(value))
                    .map(|&(_, id)| id)
            })
            .or(self.any)
    }
}
