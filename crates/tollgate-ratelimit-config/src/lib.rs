//! envoyproxy/ratelimit's YAML configuration, loaded unchanged and matched as it matches.
//!
//! [`RateLimitConfig::load_dir`] reads every `*.yaml` and `*.yml` file of a directory
//! ([`RateLimitConfig::load_file`] one file) — each a `domain` and a tree of `descriptors` with
//! their `rate_limit`s — and reports everything wrong as `FILE:LINE:COL: message`
//! ([`ConfigErrors`], as for a policy file). [`RateLimitConfig::find`]
//! takes a domain and one descriptor of a request (its `(key, value)` entries) and returns the
//! [`Match`]: the [`Rule`] that applies, with its numbers as a [`tollgate_core::Algorithm`], and
//! the partition [`Key`](tollgate_core::Key) to count it in. Nothing here does I/O after loading
//! or knows of gRPC: the server turns a `RateLimitRequest` into calls of `find`.
//!
//! The differences from envoyproxy/ratelimit (counts are exact and refusals are not counted;
//! weeks and months are calendar weeks and months in UTC; what is stricter) are listed in
//! `docs/envoy.md`.
//!
//! ```
//! use tollgate_core::{Limiter, ManualClock, MemoryStore};
//! use tollgate_policy::Source;
//! use tollgate_ratelimit_config::{RateLimitConfig, Unit};
//!
//! // 5 marketing messages a day to each number, 100 messages of any kind.
//! let file = Source::new("messaging.yaml", r#"
//! domain: messaging
//! descriptors:
//!   - key: message_type
//!     value: marketing
//!     descriptors:
//!       - key: to_number
//!         rate_limit:
//!           unit: day
//!           requests_per_unit: 5
//!   - key: to_number
//!     rate_limit:
//!       unit: day
//!       requests_per_unit: 100
//! "#);
//! let config = RateLimitConfig::compile(&[file])?;
//! assert_eq!(config.summary(), "1 domains, 2 rate limits");
//!
//! let marketing = config
//!     .find("messaging", [("message_type", "marketing"), ("to_number", "2061111111")])
//!     .expect("a rule applies");
//! assert_eq!(marketing.rule().path(), "messaging.message_type_marketing.to_number");
//! assert_eq!((marketing.rule().requests_per_unit(), marketing.rule().unit()), (5, Some(Unit::Day)));
//!
//! // Each number has its own counter.
//! let other = config
//!     .find("messaging", [("message_type", "marketing"), ("to_number", "2062222222")])
//!     .unwrap();
//! assert_ne!(marketing.key(), other.key());
//! // A descriptor deeper than the tree, or of an unknown domain, has no rule.
//! assert!(config.find("messaging", [("to_number", "1"), ("extra", "x")]).is_none());
//! assert!(config.find("billing", [("to_number", "1")]).is_none());
//!
//! // Counting is the core's business.
//! let limiter = Limiter::new(MemoryStore::new(), ManualClock::new(0));
//! let request = [marketing.request(1).expect("a counted rule")];
//! for _ in 0..5 {
//!     assert!(limiter.acquire(&request)?.allowed());
//! }
//! assert!(!limiter.acquire(&request)?.allowed());
//!
//! // Errors point into the files.
//! let broken = Source::new("broken.yaml", "domain: x\ndescriptors:\n  - key: a\n    rate_limit:\n      unit: fortnight\n      requests_per_unit: 1\n");
//! let errors = RateLimitConfig::compile(&[broken]).unwrap_err();
//! assert_eq!(
//!     errors.to_string(),
//!     "broken.yaml:5:13: unknown unit `fortnight`: use second, minute, hour, day, week, month or year"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod compile;
mod config;
mod matching;
mod overriding;
mod read;
mod rule;
mod tree;
mod unit;
mod wildcard;
mod yaml;

pub use config::RateLimitConfig;
pub use matching::Match;
pub use overriding::Override;
pub use rule::{Location, Rule, RuleLimit};
pub use tollgate_policy::{ConfigError, ConfigErrors, Source};
pub use unit::Unit;
