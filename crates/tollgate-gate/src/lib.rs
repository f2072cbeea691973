//! The gate: request facts in, an [`Admission`] or a [`Refusal`] out — the one decision path
//! that every way into Tollgate takes (the server's gateway, check API, forward-auth and Envoy
//! services, the `tollgate-tower` layer, and `tollgate replay`).
//!
//! - `gate.rs` — the [`Gate`], of three parts: `rules.rs` (the policy, the catalog's accounts,
//!   envoyproxy/ratelimit's files and the blocks, all replaceable while serving), the storage
//!   (`store/`, `journal/`) and `record.rs` (what was decided: counts, metrics, usage, shadow);
//! - `admit.rs` — a request's way through; `descriptors.rs` — Envoy's descriptors, decided by
//!   envoyproxy/ratelimit's configuration; both reach `decision.rs`, the one decision: the
//!   store call, its failure policy, the shadow count and the journal wait;
//! - `admission.rs` — an admitted request, owning what it took until settled or dropped, and
//!   `turn.rs` — the turn it may wait for (a token bucket's delay), given back if it leaves;
//!   `refusal.rs` — a refused request and its body; `report.rs` — what either tells the client;
//! - `alerts.rs` — watched quotas taken past a share, handed to the server's sink;
//! - `quota.rs` — the customer's own quota lookups; `shadow.rs` — what shadow limits would have
//!   refused; `hints.rs` — blocks an upstream asked for; `usage.rs` — decisions per account,
//!   api and day, not yet written down;
//! - `store/` — where limits live: the embedded memory store or any shared
//!   [`LimitStore`](tollgate_core::LimitStore) (Redis), and the failure policy; `journal/` —
//!   the memory store's long-lived state on disk; `atomic_file.rs` — files a crash leaves
//!   whole;
//! - `metrics.rs`, `exposition.rs`, `refusal_lines.rs` — what an operator sees of decisions.
//!
//! Nothing here knows HTTP: adapters turn their input into
//! [`RequestFacts`](tollgate_policy::RequestFacts) and an admission or a refusal into their
//! own reply. Limits live in the embedded memory store, or in a store shared by many instances
//! (Redis, or any other [`LimitStore`](tollgate_core::LimitStore): [`Gate::shared`],
//! [`Shared`]), with a failure policy for when it cannot decide. The gate depends on no store
//! but its own.
//!
//! ```
//! use tollgate_core::ManualClock;
//! use tollgate_gate::Gate;
//! use tollgate_policy::{Policy, RequestFacts, Source};
//!
//! let policy = Policy::compile(&Source::new("p.toml", r#"
//!     [[routes]]
//!     api = "hello"
//!     match = "GET /hello"
//!
//!     [[limits]]
//!     name = "global"
//!     window = { max = 1, every = "1m" }
//! "#)).unwrap();
//! let target = policy.target("GET", "/hello").unwrap();
//! let gate = Gate::new(policy, ManualClock::new(0));
//! let facts = RequestFacts { method: "GET", target: &target, headers: &[][..], client_ip: None, cost: None, from_trusted_proxy: false };
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! assert!(gate.admit(&facts).await.is_ok());
//! let refused = gate.admit(&facts).await.unwrap_err();
//! assert_eq!((refused.status, refused.retry_after), (429, Some(60)));
//! # });
//! ```

#![forbid(unsafe_code)]

mod admission;
mod admit;
mod alerts;
mod atomic_file;
mod decision;
mod descriptors;
mod exposition;
mod gate;
mod hints;
mod journal;
mod metrics;
mod quota;
mod record;
mod refusal;
mod refusal_lines;
mod report;
mod rule_stats;
mod rules;
mod shadow;
mod store;
mod striped;
mod turn;
mod usage;

pub use admission::Admission;
pub use alerts::{AlertSink, Crossing};
pub use atomic_file::{Publish, write_atomically};
pub use descriptors::{CurrentLimit, Descriptor, DescriptorStatus, NotDecided, Verdict, validate};
pub use exposition::Exposition;
pub use gate::Gate;
pub use hints::MAX_HINTS;
pub use journal::{DURABILITY_WAIT, Durability, Journal, JournalFigures, NotDurable};
pub use metrics::{
    AlertCounts, ConnectionGauge, Decided, Histogram, LimitSeen, Metrics, OpenConnection,
    STORE_ERROR_KINDS, store_error_kind,
};
pub use quota::{ApiStanding, LimitKind, LimitUsage, PackUsage, Usage};
pub use refusal::{Refusal, Why, allowance, as_a_proxy_asks, seconds_until};
pub use report::{Families, LimitReport, Report};
pub use rule_stats::{RuleHits, RuleStats};
pub use shadow::{
    ACCOUNTS_PER_HOUR, SHADOW_HOURS, ShadowAccount, ShadowLimit, ShadowLog, ShadowReport,
};
pub use store::{Held, Shared, SharedHealth};
pub use usage::{UsageCounter, date_of, day_number, day_of};
