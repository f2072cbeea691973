//! Which limits the Redis store keeps exactly: its time is in microseconds, its arithmetic in
//! doubles.

use tollgate_core::{Algorithm, Unsupported};

use crate::store::RedisStore;

/// The largest integer a double holds exactly: the script's arithmetic stays below it.
const EXACT: u64 = 1 << 53;

impl RedisStore {
    /// Whether this store keeps `algorithm` exactly: time is in microseconds there, and the
    /// script's arithmetic in doubles. A token bucket's interval is rounded up to a whole
    /// microsecond (never admitting more), and its burst × interval in µs must stay below 2⁵²;
    /// a sliding window needs a period of whole microseconds
    /// and `max × period in µs` below 2⁵³ (for a day: a max up to 104,249).
    ///
    /// # Errors
    /// Why the numbers do not fit.
    pub fn supports(algorithm: &Algorithm) -> Result<(), Unsupported> {
        if let Algorithm::TokenBucket(bucket) = algorithm {
            // The tolerance in µs (and the wait of a delay), added to instants near 2⁵¹ µs,
            // must stay below 2⁵³.
            let tolerance = bucket
                .interval()
                .div_ceil(1_000)
                .saturating_mul(bucket.burst())
                .saturating_add(bucket.wait() / 1_000);
            if tolerance >= 1 << 52 {
                return Err(Unsupported(format!(
                    "a token bucket of burst {} at one per {} ns spans more than 142 years in whole microseconds, beyond the Redis store",
                    bucket.burst(),
                    bucket.interval()
                )));
            }
        }
        if let Algorithm::Sliding(sliding) = algorithm {
            let period = sliding.period();
            if period % 1_000 != 0 {
                return Err(Unsupported(format!(
                    "a sliding window of {period} ns is not a whole number of microseconds, the resolution of the Redis store"
                )));
            }
            if sliding.max().saturating_mul(period / 1_000) >= EXACT {
                let most = (EXACT - 1) / (period / 1_000);
                return Err(Unsupported(format!(
                    "a sliding window of {period} ns can count at most {most} in the Redis store, not {}",
                    sliding.max()
                )));
            }
        }
        Ok(())
    }
}
