//! Why a limit's numbers cannot be used, and the longest span they may reach.

use crate::Nanos;

/// Why a limit's numbers cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// A maximum, burst, rate count or period of zero.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    /// A window admitting more than one request per nanosecond of its shortest length.
    #[error("a window of {period_nanos} ns cannot count up to {max}: at most {} fits", period_nanos - 1)]
    MaxExceedsPeriod {
        /// The configured maximum.
        max: u64,
        /// The shortest length of the window, in nanoseconds.
        period_nanos: u64,
    },
    /// A sliding window whose two counters do not fit its state.
    #[error(
        "a sliding window of {period_nanos} ns can count at most {limit}, not {max}: (max + 1)² must not exceed the period in ns"
    )]
    SlidingMaxTooLarge {
        /// The configured maximum.
        max: u64,
        /// The period, in nanoseconds.
        period_nanos: u64,
        /// The largest maximum that fits.
        limit: u64,
    },
    /// A distinct-value limit remembering more values per partition than any quota needs.
    #[error(
        "a distinct-value limit remembers at most {} values per partition, not {max}",
        super::distinct::MAX_DISTINCT
    )]
    TooManyDistinct {
        /// The configured maximum.
        max: u64,
    },
    /// A period, lease or burst × interval beyond the time range (centuries).
    #[error("the span exceeds {} years", MAX_SPAN / (365 * 86_400 * crate::NANOS_PER_SEC))]
    TooLong,
}

/// The longest span an algorithm may look ahead, so that `now + span` never overflows: ~146 years.
pub(crate) const MAX_SPAN: Nanos = 1 << 62;
