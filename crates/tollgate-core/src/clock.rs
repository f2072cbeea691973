//! Where the engine gets its time from.
//!
//! Every instant in Tollgate is a [`Nanos`]: integer nanoseconds since the Unix epoch, UTC. Wall
//! time is what aligned and calendar windows need, and integer nanoseconds make every algorithm
//! exact and deterministic. Nothing in the engine reads the system time except [`SystemClock`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An instant: nanoseconds since 1970-01-01T00:00:00Z. `u64` lasts until the year 2554.
pub type Nanos = u64;

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: Nanos = 1_000_000_000;

/// An instant as people are told it — a reset, an expiry, the end of a block, when something
/// was bought — in whole seconds since the epoch, **rounded up**: the one rule of every answer,
/// header, body and page, so that one instant reads the same everywhere and a client that waits
/// until it is never early.
#[must_use]
pub const fn epoch_seconds(at: Nanos) -> u64 {
    at.div_ceil(NANOS_PER_SEC)
}

/// Converts a [`Duration`] to whole nanoseconds, saturating at [`Nanos::MAX`].
#[must_use]
pub fn duration_nanos(duration: Duration) -> Nanos {
    Nanos::try_from(duration.as_nanos()).unwrap_or(Nanos::MAX)
}

/// A source of the current wall time.
///
/// Implementations must be cheap: the limiter reads the clock once per decision.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time in nanoseconds since the Unix epoch.
    fn now(&self) -> Nanos;
}

/// The operating system's real-time clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Nanos {
        // A clock set before 1970 reads as the epoch rather than panicking.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, duration_nanos)
    }
}

/// A clock that only moves when told to; for tests and simulations.
///
/// Clones share one time, so a test can keep a handle and advance the clock that a limiter reads.
///
/// ```
/// use std::time::Duration;
/// use tollgate_core::{Clock, ManualClock};
///
/// let clock = ManualClock::new(1_000);
/// let shared = clock.clone();
/// clock.advance(Duration::from_nanos(500));
/// assert_eq!(shared.now(), 1_500);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    now: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock that reads `now` until it is advanced or set.
    #[must_use]
    pub fn new(now: Nanos) -> Self {
        Self {
            now: Arc::new(AtomicU64::new(now)),
        }
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.now.fetch_add(duration_nanos(by), Ordering::SeqCst);
    }

    /// Sets the time to `now`, forwards or backwards.
    pub fn set(&self, now: Nanos) {
        self.now.store(now, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Nanos {
        self.now.load(Ordering::SeqCst)
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Nanos {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Nanos {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_clones_share_time() {
        let clock = ManualClock::new(10);
        let other = clock.clone();
        other.advance(Duration::from_secs(1));
        assert_eq!(clock.now(), 10 + NANOS_PER_SEC);
        clock.set(3);
        assert_eq!(other.now(), 3);
    }

    #[test]
    fn system_clock_is_after_2024() {
        // 2024-01-01T00:00:00Z
        assert!(SystemClock.now() > 1_704_067_200 * NANOS_PER_SEC);
    }

    #[test]
    fn durations_saturate() {
        assert_eq!(duration_nanos(Duration::MAX), Nanos::MAX);
        assert_eq!(duration_nanos(Duration::from_millis(2)), 2_000_000);
    }
}
