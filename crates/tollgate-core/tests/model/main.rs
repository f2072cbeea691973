//! Model tests: random request sequences through each algorithm and through the limiter with
//! the memory store, checked against the naive reference models of `reference.rs` (and, for
//! distinct values, sets in `distinct.rs`).

mod algorithms;
mod any;
mod distinct;
mod eviction;
mod reference;
mod store;

use proptest::prelude::*;
use tollgate_core::Nanos;

/// 2026-01-01T00:00:00Z.
pub(crate) const START: Nanos = 1_767_225_600_000_000_000;

/// A step of time: none, a few nanoseconds, about a second, about a minute, or hours.
pub(crate) fn time_step() -> impl Strategy<Value = Nanos> {
    prop_oneof![
        2 => Just(0),
        2 => 1u64..1_000,
        3 => 1u64..3_000_000_000,
        2 => 1u64..120_000_000_000,
        1 => 1u64..30 * 3_600_000_000_000,
    ]
}

/// A cost: mostly one, sometimes a peek or several units.
pub(crate) fn cost() -> impl Strategy<Value = u32> {
    prop_oneof![6 => Just(1), 1 => Just(0), 2 => 2u32..5]
}
