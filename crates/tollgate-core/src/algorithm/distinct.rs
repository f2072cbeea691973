//! Distinct values: at most `max` different values of something (machines, devices, addresses)
//! per partition and period, a value already seen always admitted again.

use super::error::LimitError;
use super::schedule::Schedule;
use crate::{Key, Nanos, Outcome};

/// The most values one partition may remember: a million values take about 23 MB (see
/// [`Distinct`]); more is no quota a person counts.
pub const MAX_DISTINCT: u64 = 1_000_000;

/// The end of the one period of a limit kept for good: beyond any clock (the year 2255), with
/// room above it for a count up to [`MAX_DISTINCT`], and a whole number of microseconds below
/// 2⁵³ (a store counting in microseconds with doubles, Redis, holds it exactly).
const FOREVER: Nanos = ((1 << 53) - (1 << 20)) * 1_000;

/// The bits of a partition's key that a value's key keeps: a store that spreads keys over shards
/// by their low bits (the memory store, up to 65,536 shards) finds a partition's values in the
/// partition's own shard.
const SHARD_BITS: u64 = 0xFFFF;

/// At most `max` distinct values per period of a [`Schedule`], or for good.
///
/// Its state is two kinds of one-`u64` entries, each a partition of its own in a store:
/// - the partition's **count**, `end + used` as a [`Window`](crate::Window)'s: the end of the
///   period it counts plus the values seen in it;
/// - one **value** entry per value seen, keyed by [`Distinct::value_key`], holding the end of the
///   period it was seen in.
///
/// A value whose entry holds the current period's end is admitted again without counting; a new
/// value is admitted while `used < max` (both entries written), and refused past it. Both
/// entries come to rest when the period ends (a limit kept for good never ends), so a store
/// forgets them as it forgets an ended window. A request with no value (the dimension absent)
/// is admitted and counts nothing. Cost is ignored: a value counts once.
///
/// Memory, in the memory store: 16 bytes a slot, tables kept under 7/8 full and grown by a
/// quarter, so 18 to 23 bytes per remembered value, and as much for the count: at most
/// `(max + 1) × 23` bytes per partition ([`MAX_DISTINCT`] caps `max`).
///
/// ```
/// use tollgate_core::Distinct;
///
/// let machines = Distinct::new(2, None).unwrap(); // two machines, for good
/// let a = machines.decide(0, Some(0), 10, 1); // machine A, never seen (its entry 0)
/// let b = machines.decide(a.count, Some(0), 10, 1); // machine B
/// assert_eq!(b.outcome.remaining(), 0);
/// // A third machine is refused; machine A (its entry as stored) keeps working.
/// assert!(!machines.decide(b.count, Some(0), 10, 1).outcome.allowed());
/// assert!(machines.decide(b.count, a.value, 10, 1).outcome.allowed());
/// ```
#[derive(Debug, Clone)]
pub struct Distinct {
    max: u64,
    period: Option<Schedule>,
}

/// The result of deciding one request against a distinct-value limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DistinctTransition {
    /// What the limit says.
    pub outcome: Outcome,
    /// The partition's count to store.
    pub count: u64,
    /// The value's entry to store (`None` for a request with no value).
    pub value: Option<u64>,
}

impl Distinct {
    /// At most `max` distinct values per period of `period`, or for good (`None`).
    ///
    /// # Errors
    /// A zero maximum, one above [`MAX_DISTINCT`], or one of at least one value per nanosecond
    /// of the shortest period.
    pub fn new(max: u64, period: Option<Schedule>) -> Result<Self, LimitError> {
        if max == 0 {
            return Err(LimitError::Zero("distinct max"));
        }
        if max > MAX_DISTINCT {
            return Err(LimitError::TooManyDistinct { max });
        }
        if let Some(schedule) = &period {
            let period_nanos = schedule.shortest();
            if max >= period_nanos {
                return Err(LimitError::MaxExceedsPeriod { max, period_nanos });
            }
        }
        Ok(Self { max, period })
    }

    /// The most distinct values per period.
    #[must_use]
    pub const fn max(&self) -> u64 {
        self.max
    }

    /// The periods, `None` for a limit kept for good.
    #[must_use]
    pub const fn period(&self) -> Option<&Schedule> {
        self.period.as_ref()
    }

    /// The key of `value`'s entry in `partition`: a mix of both, in the partition's shard (it
    /// keeps the low 16 bits of the partition's key).
    #[must_use]
    pub fn value_key(partition: Key, value: Key) -> Key {
        // splitmix64's finalizer over both: uniform high bits for uniform inputs.
        let mut mixed = partition.get().rotate_left(29) ^ value.get();
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^= mixed >> 31;
        Key::from_hash((mixed & !SHARD_BITS) | (partition.get() & SHARD_BITS))
    }

    /// The start and end of the period that `now` falls in; `(0, end of time)` for a limit kept
    /// for good.
    #[must_use]
    pub fn bounds(&self, now: Nanos) -> (Nanos, Nanos) {
        self.period
            .as_ref()
            .map_or((0, FOREVER), |schedule| schedule.bounds(now))
    }

    /// The end of the period that `now` falls in.
    fn end(&self, now: Nanos) -> Nanos {
        self.bounds(now).1
    }

    /// Decides a request at `now`: `count` is the partition's count entry, `value` the entry of
    /// the request's value (`Some(0)` for a value never seen, `None` for no value); `cost` 0
    /// peeks (the outcome of a new value, nothing written).
    #[inline]
    #[must_use]
    pub fn decide(
        &self,
        count: u64,
        value: Option<u64>,
        now: Nanos,
        cost: u32,
    ) -> DistinctTransition {
        let end = self.end(now);
        // As a window's: a count from a later period (the clock went back) reads full.
        let used = count.saturating_sub(end).min(self.max);
        let seen = value == Some(end);
        let keep = DistinctTransition {
            outcome: Outcome::admitted(self.max, self.max - used, end, now),
            count,
            value,
        };
        if seen || value.is_none() || cost == 0 && used < self.max {
            return keep;
        }
        if used < self.max {
            return DistinctTransition {
                outcome: Outcome::admitted(self.max, self.max - used - 1, end, now),
                count: end + used + 1,
                value: Some(end),
            };
        }
        let retry_at = self.period.as_ref().map(|_| end);
        DistinctTransition {
            outcome: Outcome::refused(self.max, 0, end, retry_at),
            ..keep
        }
    }

    /// Whether its state matters for a minute or more.
    pub(crate) fn is_long_lived(&self, minute: Nanos) -> bool {
        self.period
            .as_ref()
            .is_none_or(|schedule| schedule.shortest() >= minute)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;
    use crate::NANOS_PER_SEC as SEC;

    fn hourly(max: u64) -> Distinct {
        Distinct::new(
            max,
            Some(Schedule::clock(Duration::from_secs(3_600)).unwrap()),
        )
        .unwrap()
    }

    /// Runs `values` (each `None` for a request without one) through `limit` at `now`, keeping
    /// every value's entry in a map as a store would; returns the admissions.
    fn run(limit: &Distinct, values: &[Option<u8>], now: Nanos) -> Vec<bool> {
        let mut count = 0;
        let mut entries = std::collections::HashMap::new();
        values
            .iter()
            .map(|value| {
                let entry = value.map(|v| *entries.get(&v).unwrap_or(&0));
                let step = limit.decide(count, entry, now, 1);
                count = step.count;
                if let (Some(v), Some(state)) = (value, step.value) {
                    entries.insert(*v, state);
                }
                step.outcome.allowed()
            })
            .collect()
    }

    #[test]
    fn a_new_value_past_the_bound_is_refused_and_seen_ones_keep_working() {
        let limit = hourly(2);
        let admitted = run(
            &limit,
            &[Some(1), Some(2), Some(3), Some(1), Some(2), None],
            0,
        );
        assert_eq!(admitted, [true, true, false, true, true, true]);
    }

    #[test]
    fn a_refusal_writes_nothing_and_says_when_the_period_ends() {
        let limit = hourly(1);
        let first = limit.decide(0, Some(0), 10 * SEC, 1);
        let refused = limit.decide(first.count, Some(0), 20 * SEC, 1);
        assert!(!refused.outcome.allowed());
        assert_eq!((refused.count, refused.value), (first.count, Some(0)));
        assert_eq!(refused.outcome.retry_at(), Some(3_600 * SEC));
        assert_eq!(refused.outcome.remaining(), 0);
        // The next hour counts afresh, and the old value's entry has come to rest.
        assert!(first.value.unwrap() <= 3_600 * SEC);
        let next = limit.decide(first.count, Some(0), 3_600 * SEC, 1);
        assert!(next.outcome.allowed());
        assert_eq!(next.outcome.remaining(), 0);
    }

    #[test]
    fn kept_for_good_never_rests_and_never_says_when() {
        let limit = Distinct::new(1, None).unwrap();
        let first = limit.decide(0, Some(0), 5, 1);
        let year_2255 = 9_000_000_000 * SEC;
        assert!(first.count > year_2255 && first.value > Some(year_2255));
        let refused = limit.decide(first.count, Some(0), 6, 1);
        assert_eq!(refused.outcome.retry_at(), None);
        assert!(
            limit
                .decide(first.count, first.value, 100 * 365 * 86_400 * SEC, 1)
                .outcome
                .allowed()
        );
    }

    #[test]
    fn a_peek_writes_nothing() {
        let limit = hourly(2);
        let peek = limit.decide(0, Some(0), 0, 0);
        assert_eq!(
            (peek.count, peek.value, peek.outcome.remaining()),
            (0, Some(0), 2)
        );
        let no_value = limit.decide(0, None, 0, 1);
        assert_eq!((no_value.count, no_value.outcome.remaining()), (0, 2));
    }

    #[test]
    fn a_lowered_bound_refuses_new_values_only() {
        let (wide, narrow) = (hourly(3), hourly(1));
        let mut count = 0;
        let mut entries = Vec::new();
        for _ in 0..3 {
            let step = wide.decide(count, Some(0), 0, 1);
            count = step.count;
            entries.push(step.value);
        }
        assert!(!narrow.decide(count, Some(0), 0, 1).outcome.allowed());
        let seen = narrow.decide(count, entries[2], 0, 1);
        assert!(seen.outcome.allowed());
        assert_eq!(seen.outcome.remaining(), 0);
    }

    #[test]
    fn absurd_bounds_are_refused() {
        assert_eq!(
            Distinct::new(0, None).unwrap_err(),
            LimitError::Zero("distinct max")
        );
        assert_eq!(
            Distinct::new(MAX_DISTINCT + 1, None).unwrap_err(),
            LimitError::TooManyDistinct {
                max: MAX_DISTINCT + 1
            }
        );
        assert!(Distinct::new(MAX_DISTINCT, None).is_ok());
    }

    #[test]
    fn a_value_key_stays_in_its_partition_shard_and_apart_from_others() {
        let partition = Key::from_hash(0x1234_5678_9ABC_DEF0);
        let (a, b) = (Key::from_hash(7), Key::from_hash(8));
        let key_a = Distinct::value_key(partition, a);
        assert_eq!(key_a.get() & SHARD_BITS, partition.get() & SHARD_BITS);
        assert_ne!(key_a, Distinct::value_key(partition, b));
        assert_ne!(
            key_a,
            Distinct::value_key(Key::from_hash(0x1234_5678_9ABD_DEF0), a)
        );
        assert_ne!(key_a, partition);
    }

    proptest! {
        /// Against a set: admitted exactly when the value was seen, or fewer than `max` were.
        #[test]
        fn admits_as_a_set_of_seen_values(
            max in 1u64..6,
            values in prop::collection::vec(prop::option::weighted(0.9, 0u8..10), 1..60),
        ) {
            let limit = hourly(max);
            let admitted = run(&limit, &values, 0);
            let mut seen = std::collections::BTreeSet::new();
            for (value, admitted) in values.iter().zip(admitted) {
                let expected = match value {
                    None => true,
                    Some(v) => seen.contains(v) || (seen.len() as u64) < max,
                };
                prop_assert_eq!(admitted, expected);
                if let (Some(v), true) = (value, expected) {
                    seen.insert(*v);
                }
            }
        }
    }
}
