//! Tollgate's engine: clocks, exact rate-limit algorithms, and a store that decides all the
//! limits of a request at once.
//!
//! The algorithms are pure state transitions on integers — a [`TokenBucket`] (GCRA), fixed
//! [`Window`]s on the clock or on a time zone's calendar, a [`SlidingWindow`] and a
//! [`Concurrency`] limit, and a [`Distinct`] limit on how many different values (machines,
//! devices) a partition uses — and know nothing of HTTP or of where their state lives. A [`Store`]
//! keeps the state; [`MemoryStore`] is the embedded one. A [`Limiter`] reads a [`Clock`] and asks
//! the store to decide. [`LimitStore`] is the awaited interface a server takes limits from: a
//! limiter implements it, and so does a store shared by many instances (Redis).
//!
//! ```
//! use std::time::Duration;
//! use tollgate_core::{
//!     Algorithm, KeySpace, Limiter, LimitRequest, ManualClock, MemoryStore, Rate, Schedule,
//!     TokenBucket, Window,
//! };
//!
//! // "1 request every 2 s, up to 3 at once", and "1,000 a day".
//! let rate: Algorithm = TokenBucket::new(Rate::new(1, Duration::from_secs(2)), 3)?.into();
//! let daily: Algorithm = Window::new(1_000, Schedule::clock(Duration::from_secs(86_400))?)?.into();
//!
//! let clock = ManualClock::new(0);
//! let limiter = Limiter::new(MemoryStore::new(), clock.clone());
//! let keys = KeySpace::random();
//! let request = [
//!     LimitRequest::new(keys.key(&[b"rate", b"acme"]), &rate, 1),
//!     LimitRequest::new(keys.key(&[b"daily", b"acme"]), &daily, 1),
//! ];
//!
//! for _ in 0..3 {
//!     assert!(limiter.acquire(&request)?.allowed());
//! }
//! let refused = limiter.acquire(&request)?;
//! assert!(!refused.allowed());
//! assert_eq!(refused.retry_at(), Some(2_000_000_000));
//! // The refusal charged nothing, not even the daily quota.
//! assert_eq!(refused.outcomes()[1].remaining(), 997);
//!
//! clock.advance(Duration::from_secs(2));
//! assert!(limiter.acquire(&request)?.allowed());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

pub mod algorithm;
mod block;
mod clock;
mod decision;
mod key;
mod limit_store;
mod limiter;
pub mod memory;
mod price;
mod store;
mod usage_day;

pub use algorithm::{
    Algorithm, CalendarUnit, Concurrency, Delay, Distinct, DistinctTransition, LimitError,
    MAX_DISTINCT, Per, Rate, Schedule, Shown, SlidingWindow, TokenBucket, Transition, Window,
};
pub use block::Block;
pub use clock::{
    Clock, ManualClock, NANOS_PER_SEC, Nanos, SystemClock, duration_nanos, epoch_seconds,
};
pub use decision::{Decision, Lease, Outcome, Outcomes};
pub use key::{Key, KeyBuilder, KeySpace};
pub use limit_store::{LimitStore, StoreFuture};
pub use limiter::Limiter;
pub use memory::{MemoryStore, MemoryStoreBuilder, MemoryStoreStats, WhenFull};
pub use price::{MAX_DECIMALS, Price, PriceError};
pub use store::{LimitRequest, Store, StoreError, Unsupported};
pub use usage_day::UsageDay;
