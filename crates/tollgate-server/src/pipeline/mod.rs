//! Facts in, [`Admission`] or [`Refusal`] out: the one straight line every adapter takes.
//!
//! - `gate.rs` — the [`Gate`]: policy, stores, catalog state, all replaceable while serving;
//! - `admit.rs` — deciding one request;
//! - `descriptors.rs` — deciding Envoy's descriptors by envoyproxy/ratelimit's configuration;
//! - `admission.rs` — an admitted request, owning what it took until settled or dropped;
//! - `refusal.rs` — a refused request and its body;
//! - `report.rs` — what either tells the client;
//! - `quota.rs` — the customer's own quota lookups;
//! - `shadow.rs` — what shadow limits would have refused, by hour, limit and account.

mod admission;
mod admit;
mod descriptors;
mod gate;
mod quota;
mod refusal;
mod report;
mod shadow;

pub use admission::Admission;
pub(crate) use descriptors::validate;
pub use descriptors::{CurrentLimit, Descriptor, DescriptorStatus, NotDecided, Verdict};
pub use gate::Gate;
pub use refusal::Refusal;
pub(crate) use refusal::seconds_until;
pub use report::{Families, LimitReport, Report};
pub use shadow::{
    ACCOUNTS_PER_HOUR, SHADOW_HOURS, ShadowAccount, ShadowLimit, ShadowLog, ShadowReport,
};
