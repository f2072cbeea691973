//! One `rate_limit` of a configuration, compiled.

use std::fmt;
use std::sync::Arc;

use tollgate_core::Algorithm;

use crate::Unit;

/// What a rule does with the requests it matches.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RuleLimit {
    /// `requests_per_unit` requests per `unit`, counted exactly in fixed windows aligned in UTC
    /// (see [`Unit`]).
    Limited(Algorithm),
    /// `unlimited: true`: every request is allowed and nothing is counted (envoyproxy/ratelimit
    /// answers `OK` with the most remaining a `uint32` holds).
    Unlimited,
    /// `requests_per_unit: 0`: every request is over the limit (how envoyproxy/ratelimit's
    /// README blocks an address).
    Blocked,
}

/// Where a rule is written: the file and the 1-based line and column of its `rate_limit` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file's name as it was loaded.
    pub file: Arc<str>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A descriptor's `rate_limit` with the flags of its descriptor.
#[derive(Debug)]
pub struct Rule {
    pub(crate) path: Box<str>,
    pub(crate) name: Option<Box<str>>,
    pub(crate) limit: RuleLimit,
    pub(crate) unit: Option<Unit>,
    pub(crate) requests_per_unit: u32,
    pub(crate) shadow_mode: bool,
    pub(crate) quota_mode: bool,
    pub(crate) detailed_metric: bool,
    pub(crate) replaces: Box<[Box<str>]>,
    /// Mixed into every partition key of the rule: its place in the tree and its unit, so that
    /// a reload keeps the counters of a rule that kept both (a new `requests_per_unit` applies to
    /// the counts already made, as in envoyproxy/ratelimit).
    pub(crate) identity: u64,
    pub(crate) location: Location,
}

impl Rule {
    /// The rule's place in its domain as envoyproxy/ratelimit names it in its statistics:
    /// the domain, then `key` or `key_value` for each level, joined by dots
    /// (`messaging.message_type_marketing.to_number`).
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The `rate_limit`'s `name`, which other rules may `replace`.
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// What the rule does with a request it matches.
    #[must_use]
    pub fn limit(&self) -> &RuleLimit {
        &self.limit
    }

    /// The algorithm and numbers to count with; `None` for an unlimited or a blocking rule.
    #[must_use]
    pub fn algorithm(&self) -> Option<&Algorithm> {
        match &self.limit {
            RuleLimit::Limited(algorithm) => Some(algorithm),
            RuleLimit::Unlimited | RuleLimit::Blocked => None,
        }
    }

    /// Whether the rule is `unlimited: true`.
    #[must_use]
    pub fn is_unlimited(&self) -> bool {
        matches!(self.limit, RuleLimit::Unlimited)
    }

    /// Whether the rule is `requests_per_unit: 0`, refusing every request.
    #[must_use]
    pub fn is_blocked(&self) -> bool {
        matches!(self.limit, RuleLimit::Blocked)
    }

    /// The `unit`; `None` for an unlimited rule.
    #[must_use]
    pub fn unit(&self) -> Option<Unit> {
        self.unit
    }

    /// The `requests_per_unit` as written (0 for an unlimited rule that gives none).
    #[must_use]
    pub fn requests_per_unit(&self) -> u32 {
        self.requests_per_unit
    }

    /// `shadow_mode`: the rule counts, but a request over it is answered `OK`.
    #[must_use]
    pub fn shadow_mode(&self) -> bool {
        self.shadow_mode
    }

    /// `quota_mode`: a request is refused only when every quota-mode rule it matches is over
    /// its limit (the server's business; kept here as written).
    #[must_use]
    pub fn quota_mode(&self) -> bool {
        self.quota_mode
    }

    /// `detailed_metric`: statistics name the request's values rather than the rule's.
    #[must_use]
    pub fn detailed_metric(&self) -> bool {
        self.detailed_metric
    }

    /// The `name`s of the rules this one `replaces`, in file order.
    pub fn replaces(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.replaces.iter().map(|name| &**name)
    }

    /// Where the rule's `rate_limit` is written.
    #[must_use]
    pub fn location(&self) -> &Location {
        &self.location
    }
}
