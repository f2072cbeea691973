//! The rate-limit algorithms, as pure state transitions.
//!
//! Every algorithm except [`Concurrency`] and [`Distinct`] keeps one `u64` of state per partition and decides with
//! a pure function `(state, now, cost) -> Transition`: integer arithmetic, no clock, no I/O. A
//! cost of zero is a *peek*: the outcome of a cost-1 request, with the state left as it was.
//!
//! The states share one rule that lets a store forget them without asking the algorithm: **a
//! state at or before `now` is at rest**, equivalent to a partition never seen (a full bucket, a
//! window that has ended), and so is the state `0` of an absent partition. A [`Distinct`] limit
//! keeps one such `u64` per partition and one per value it remembers, under the same rule.

mod concurrency;
mod distinct;
mod divisor;
mod error;
mod gcra;
mod limit;
mod schedule;
mod sliding;
mod transition;
mod window;

pub use concurrency::Concurrency;
pub(crate) use concurrency::LeaseSet;
pub use distinct::{Distinct, DistinctTransition, MAX_DISTINCT};
pub use error::LimitError;
pub use gcra::{Delay, Rate, TokenBucket};
pub use limit::{Algorithm, Per, Shown};
pub use schedule::{Calendar, CalendarUnit, ClockAligned, Schedule};
pub use sliding::SlidingWindow;
pub use transition::Transition;
pub use window::Window;
