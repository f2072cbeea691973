//! The contract between the limiter and the places limit state lives.

use crate::{Algorithm, Decision, Key, Lease, Nanos};

/// One limit to apply to a request: which partition, which algorithm, how many units.
#[derive(Debug, Clone, Copy)]
pub struct LimitRequest<'a> {
    /// The partition of the limit this request falls in.
    pub key: Key,
    /// The partition's root: partitions of one root are kept together by a store spread over
    /// several nodes (one Redis Cluster slot), so that a request touching only them is decided
    /// in one place. The embedded store ignores it; by default it is the key itself.
    pub root: Key,
    /// The limit's algorithm and numbers.
    pub algorithm: &'a Algorithm,
    /// Units to take; 0 peeks (reports the outcome of a cost-1 request, takes nothing).
    pub cost: u32,
    /// Made for a request of no known identity: a bounded store creates such partitions only
    /// within its anonymous share (see `MemoryStoreBuilder::anonymous_share`), so that
    /// anonymous traffic never crowds out the partitions of known callers.
    pub anonymous: bool,
    /// For a [`Distinct`](crate::Distinct) limit: the keyed hash of the value the request
    /// uses (the machine, the device), `None` when it has none. Other limits ignore it.
    pub value: Option<Key>,
}

impl<'a> LimitRequest<'a> {
    /// A request for `cost` units of `algorithm` in partition `key`.
    #[must_use]
    pub const fn new(key: Key, algorithm: &'a Algorithm, cost: u32) -> Self {
        Self {
            key,
            root: key,
            algorithm,
            cost,
            anonymous: false,
            value: None,
        }
    }

    /// The same request, its partition kept with the others of `root`.
    #[must_use]
    pub const fn with_root(self, root: Key) -> Self {
        Self { root, ..self }
    }

    /// The same request, using `value` (see [`value`](Self::value)).
    #[must_use]
    pub const fn with_value(self, value: Option<Key>) -> Self {
        Self { value, ..self }
    }

    /// The same request, made for a caller of no known identity when `anonymous`.
    #[must_use]
    pub const fn anonymous(self, anonymous: bool) -> Self {
        Self { anonymous, ..self }
    }
}

/// Where limit state lives, deciding all the limits of a request at once.
///
/// Implementations must be all-or-nothing (when one limit refuses, none is charged) and must
/// never admit more than a limit allows under any concurrency.
pub trait Store: Send + Sync {
    /// Decides `requests` at `now`, charging every limit or none.
    ///
    /// # Errors
    /// Only for faults of the store itself; a refusal is a [`Decision`].
    fn acquire(&self, now: Nanos, requests: &[LimitRequest<'_>]) -> Result<Decision, StoreError>;

    /// Gives back the units that a decision admitted at `decided_at` took for `requests` (a
    /// request whose response should not count, such as an upstream's 5xx). Each algorithm
    /// refunds in the window that held the charge: units of a window that has ended since are
    /// gone with it. Concurrency leases are released with [`release`](Self::release) instead.
    ///
    /// # Errors
    /// Only for faults of the store itself.
    fn refund(&self, decided_at: Nanos, requests: &[LimitRequest<'_>]) -> Result<(), StoreError>;

    /// Gives back what a decision admitted at `decided_at` took for `requests` when the request
    /// leaves before its turn (see [`Decision::turn`]): each token bucket's turn if no later one
    /// has been given out since (`reserved`, one per request: the `reset_at` of its outcome),
    /// each window's units as [`refund`](Self::refund) does.
    ///
    /// # Errors
    /// Only for faults of the store itself.
    fn withdraw(
        &self,
        decided_at: Nanos,
        requests: &[LimitRequest<'_>],
        reserved: &[Nanos],
    ) -> Result<(), StoreError>;

    /// Gives back a concurrency lease taken by an earlier decision.
    ///
    /// # Errors
    /// Only for faults of the store itself.
    fn release(&self, now: Nanos, lease: &Lease) -> Result<(), StoreError>;
}

/// A fault of a store: the request was neither admitted nor refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store holds as many partitions as it may and is configured to refuse new ones.
    #[error("the limit store is full ({capacity} partitions); new partitions are refused")]
    Full {
        /// The configured number of partitions.
        capacity: usize,
    },
    /// A store backed by another system could not reach it or got an error from it.
    #[error("limit store unavailable: {message}")]
    Unavailable {
        /// What went wrong, for the log.
        message: String,
        /// Whether trying again may succeed.
        transient: bool,
    },
}

/// A limit whose numbers a store cannot keep exactly (the Redis store's time is in microseconds
/// and its arithmetic in doubles): why, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unsupported(pub String);

impl StoreError {
    /// Whether the same call may succeed later (a full store may empty as state comes to rest).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Full { .. } => true,
            Self::Unavailable { transient, .. } => *transient,
        }
    }
}
