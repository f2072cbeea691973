//! The token bucket, as the generic cell rate algorithm (GCRA).
//!
//! The state is one instant, the *theoretical arrival time* (TAT): the moment the bucket would be
//! full again if nothing else arrived. A request of cost `c` is admitted when, after pushing the
//! TAT forward by `c` emission intervals, it lies no further than `burst` intervals ahead of now.
//!
//! A bucket with a [`Delay`] also admits a request whose turn comes a little later: one that
//! would be admitted at some instant `T` no further than the delay ahead is admitted *now, to
//! start at `T`* (its outcome's [`retry_at`](crate::Outcome::retry_at)), and the TAT moves as it
//! would for a request admitted at `T`. The turn is reserved in the state at decision time, so
//! the turns handed out never start more than `burst + rate × t` requests over any span `t`.

use std::time::Duration;

use super::divisor::Divisor;
use super::error::{LimitError, MAX_SPAN};
use super::transition::Transition;
use crate::{Nanos, Outcome, duration_nanos};

/// A steady rate: `count` units per `period`.
///
/// "1 request every 2 s" is `Rate::new(1, 2 s)`; "2 per second" is `Rate::new(2, 1 s)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    count: u64,
    period: Duration,
}

impl Rate {
    /// `count` units every `period`.
    #[must_use]
    pub const fn new(count: u64, period: Duration) -> Self {
        Self { count, period }
    }

    /// `count` units per second.
    #[must_use]
    pub const fn per_second(count: u64) -> Self {
        Self::new(count, Duration::from_secs(1))
    }

    /// Units per [`period`](Self::period).
    #[must_use]
    pub const fn count(&self) -> u64 {
        self.count
    }

    /// The period `count` units come in.
    #[must_use]
    pub const fn period(&self) -> Duration {
        self.period
    }
}

/// How long a request may wait for its turn rather than be refused: at most `max`, and at most
/// `queue` units waiting in one partition at once.
///
/// A bucket's turns are one interval apart, so the units waiting ahead of a request follow from
/// how far its turn lies ahead: `queue` bounds the wait to `queue` intervals, and the bucket
/// admits a request to wait only while its turn lies within both bounds (see
/// [`TokenBucket::with_delay`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delay {
    /// The longest a request waits for its turn.
    pub max: Duration,
    /// The most units waiting for their turn in one partition at once.
    pub queue: u64,
}

/// A token bucket: refilled at a [`Rate`], holding at most `burst` tokens, one `u64` of state.
///
/// The emission interval is `period / count` rounded *up* to a whole nanosecond, so the bucket
/// never admits more than `burst + rate × t` over any span `t` (it may admit one token less per
/// `period / count` nanoseconds than an exact rational bucket: under a nanosecond per token).
///
/// ```
/// use std::time::Duration;
/// use tollgate_core::{Rate, TokenBucket};
///
/// // "1 request every 2 s, up to 3 at once"
/// let bucket = TokenBucket::new(Rate::new(1, Duration::from_secs(2)), 3).unwrap();
/// let mut state = 0;
/// for _ in 0..3 {
///     let step = bucket.decide(state, 0, 1);
///     assert!(step.outcome.allowed());
///     state = step.state;
/// }
/// let refused = bucket.decide(state, 0, 1);
/// assert!(!refused.outcome.allowed());
/// assert_eq!(refused.outcome.retry_at(), Some(2_000_000_000));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenBucket {
    /// The rate as it was given, which is what people are shown.
    rate: Rate,
    interval: Nanos,
    per_interval: Divisor,
    burst: u64,
    tolerance: Nanos,
    /// The delay as it was given, if any.
    delay: Option<Delay>,
    /// How far ahead of now a turn may lie: 0 without a delay.
    wait: Nanos,
}

/// As derived, with the delay only where there is one: a policy keys a limit's partitions by
/// this text, which a bucket without a delay keeps from before delays were made.
impl std::fmt::Debug for TokenBucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut fields = f.debug_struct("TokenBucket");
        fields
            .field("rate", &self.rate)
            .field("interval", &self.interval)
            .field("per_interval", &self.per_interval)
            .field("burst", &self.burst)
            .field("tolerance", &self.tolerance);
        if let Some(delay) = &self.delay {
            fields.field("delay", delay);
        }
        fields.finish()
    }
}

impl TokenBucket {
    /// A bucket refilled at `rate` holding up to `burst` tokens.
    ///
    /// # Errors
    /// A zero count, period or burst, or a burst so large that the bucket would take more than a
    /// century to refill.
    pub fn new(rate: Rate, burst: u64) -> Result<Self, LimitError> {
        if rate.count == 0 {
            return Err(LimitError::Zero("rate count"));
        }
        if rate.period.is_zero() {
            return Err(LimitError::Zero("rate period"));
        }
        if burst == 0 {
            return Err(LimitError::Zero("burst"));
        }
        let interval = duration_nanos(rate.period).div_ceil(rate.count);
        let tolerance = interval
            .checked_mul(burst)
            .filter(|&span| span <= MAX_SPAN)
            .ok_or(LimitError::TooLong)?;
        Ok(Self {
            rate,
            interval,
            per_interval: Divisor::new(interval),
            burst,
            tolerance,
            delay: None,
            wait: 0,
        })
    }

    /// The same bucket, admitting a request whose turn comes within `delay` to wait for it: its
    /// turn no further ahead than `delay.max`, nor than `delay.queue` intervals (the units
    /// waiting ahead of it and its own).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate_core::{Delay, Rate, TokenBucket};
    ///
    /// // "1 request every 2 s, up to 3 at once", waiting up to 2 s for a turn.
    /// let delay = Delay { max: Duration::from_secs(2), queue: 5 };
    /// let bucket = TokenBucket::new(Rate::new(1, Duration::from_secs(2)), 3)?.with_delay(delay)?;
    /// let mut state = 0;
    /// for _ in 0..3 {
    ///     state = bucket.decide(state, 0, 1).state;
    /// }
    /// let waits = bucket.decide(state, 0, 1);
    /// assert!(waits.outcome.allowed());
    /// assert_eq!(waits.outcome.retry_at(), Some(2_000_000_000), "its turn, in 2 s");
    /// assert!(!bucket.decide(waits.state, 0, 1).outcome.allowed(), "a turn 4 s ahead");
    /// # Ok::<(), tollgate_core::LimitError>(())
    /// ```
    ///
    /// # Errors
    /// A zero `max` or `queue`, or a wait beyond the time range.
    pub fn with_delay(self, delay: Delay) -> Result<Self, LimitError> {
        if delay.max.is_zero() {
            return Err(LimitError::Zero("delay max"));
        }
        if delay.queue == 0 {
            return Err(LimitError::Zero("delay queue"));
        }
        let wait = duration_nanos(delay.max).min(delay.queue.saturating_mul(self.interval));
        if wait > MAX_SPAN - self.tolerance {
            return Err(LimitError::TooLong);
        }
        Ok(Self {
            delay: Some(delay),
            wait,
            ..self
        })
    }

    /// The delay a request may wait for its turn, if the bucket has one.
    #[must_use]
    pub const fn delay(&self) -> Option<Delay> {
        self.delay
    }

    /// How far ahead of now a turn may lie and the request still wait for it, in nanoseconds:
    /// the smaller of the delay's `max` and `queue` intervals; 0 without a delay.
    #[must_use]
    pub const fn wait(&self) -> Nanos {
        self.wait
    }

    /// The rate as it was given (`5/s` is 5 per second, not 1 per 200 ms).
    #[must_use]
    pub const fn rate(&self) -> Rate {
        self.rate
    }

    /// Nanoseconds between two tokens.
    #[must_use]
    pub const fn interval(&self) -> Nanos {
        self.interval
    }

    /// The most tokens the bucket holds.
    #[must_use]
    pub const fn burst(&self) -> u64 {
        self.burst
    }

    /// Decides a request of `cost` tokens at `now` against the stored TAT `state`.
    #[inline]
    #[must_use]
    pub fn decide(&self, state: u64, now: Nanos, cost: u32) -> Transition {
        let tat = state.max(now);
        // A bucket whose TAT lies beyond `now + tolerance` (the clock went back) holds nothing.
        let horizon = now + self.tolerance;
        let available = horizon.saturating_sub(tat) / self.per_interval;
        let wanted = u64::from(cost.max(1));
        let outcome = if wanted <= available {
            let charged = if cost == 0 { 0 } else { wanted };
            Outcome::admitted(
                self.burst,
                available - charged,
                tat + charged * self.interval,
                now,
            )
        } else {
            // Admitted once `tat + wanted × interval <= t + tolerance`.
            let retry_at = (wanted <= self.burst)
                .then(|| (tat + wanted * self.interval).saturating_sub(self.tolerance));
            match retry_at {
                // Its turn is near enough to wait for: admitted now, to start then.
                Some(turn) if turn <= now + self.wait => {
                    let charged = if cost == 0 { 0 } else { wanted };
                    Outcome::admitted(self.burst, 0, tat + charged * self.interval, turn)
                }
                _ => Outcome::refused(self.burst, available, tat, retry_at),
            }
        };
        let state = if outcome.allowed() && cost > 0 {
            outcome.reset_at()
        } else {
            state
        };
        Transition { outcome, state }
    }
}

impl TokenBucket {
    /// Gives back `cost` tokens taken at `charged_at`: the state with the TAT moved back, never
    /// before `charged_at` (a bucket already full stays full).
    #[must_use]
    pub(crate) fn refund(&self, state: u64, charged_at: Nanos, cost: u32) -> u64 {
        if state <= charged_at {
            return state;
        }
        state
            .saturating_sub(u64::from(cost).saturating_mul(self.interval))
            .max(charged_at)
    }

    /// Gives back the turn of a request that left before it: `reserved` is the TAT its
    /// admission stored (its outcome's `reset_at`). Only the last turn given out can be taken
    /// back — a later one was counted from it, and moving the TAT back under it would start
    /// two requests in one turn — so a state that has moved on since is left as it is (that
    /// turn lapses unused).
    #[must_use]
    pub(crate) fn withdraw(&self, state: u64, reserved: Nanos, cost: u32) -> u64 {
        if state != reserved || cost == 0 {
            return state;
        }
        reserved.saturating_sub(u64::from(cost).saturating_mul(self.interval))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NANOS_PER_SEC as SEC;

    fn bucket(count: u64, period_secs: u64, burst: u64) -> TokenBucket {
        TokenBucket::new(Rate::new(count, Duration::from_secs(period_secs)), burst).unwrap()
    }

    /// Runs `cost` at each time, threading the state; returns which were admitted.
    fn run(bucket: &TokenBucket, requests: &[(Nanos, u32)]) -> Vec<bool> {
        let mut state = 0;
        requests
            .iter()
            .map(|&(now, cost)| {
                let step = bucket.decide(state, now, cost);
                state = step.state;
                step.outcome.allowed()
            })
            .collect()
    }

    #[test]
    fn one_every_two_seconds_burst_three() {
        let b = bucket(1, 2, 3);
        let t0 = 1_000 * SEC;
        let admitted = run(
            &b,
            &[
                (t0, 1),
                (t0, 1),
                (t0, 1),
                (t0, 1),
                (t0 + 2 * SEC - 1, 1),
                (t0 + 2 * SEC, 1),
            ],
        );
        assert_eq!(admitted, [true, true, true, false, false, true]);
    }

    #[test]
    fn two_per_second_burst_five() {
        let b = bucket(2, 1, 5);
        assert_eq!(b.interval(), SEC / 2);
        let mut state = 0;
        for expected_remaining in (0..5).rev() {
            let step = b.decide(state, 0, 1);
            assert_eq!(step.outcome.remaining(), expected_remaining);
            state = step.state;
        }
        let refused = b.decide(state, 0, 1);
        assert_eq!(refused.outcome.retry_at(), Some(SEC / 2));
        assert_eq!(refused.outcome.reset_at(), 5 * SEC / 2);
        assert!(b.decide(state, SEC / 2, 1).outcome.allowed());
        assert!(!b.decide(state, SEC / 2 - 1, 1).outcome.allowed());
    }

    #[test]
    fn cost_above_burst_never_fits() {
        let refused = bucket(1, 1, 3).decide(0, 0, 4);
        assert!(!refused.outcome.allowed());
        assert_eq!(refused.outcome.retry_at(), None);
        assert_eq!(refused.outcome.remaining(), 3);
    }

    #[test]
    fn peek_reports_without_charging() {
        let b = bucket(1, 1, 2);
        let first = b.decide(0, 10, 1);
        let peek = b.decide(first.state, 10, 0);
        assert!(peek.outcome.allowed());
        assert_eq!(peek.outcome.remaining(), 1);
        assert_eq!(peek.state, first.state);
        let empty = b.decide(first.state, 10, 1).state;
        let peek = b.decide(empty, 10, 0);
        assert!(!peek.outcome.allowed());
        assert_eq!(peek.outcome.retry_at(), Some(10 + SEC));
        assert_eq!(peek.state, empty);
    }

    #[test]
    fn interval_rounds_up() {
        let b = TokenBucket::new(Rate::per_second(3), 1).unwrap();
        assert_eq!(b.interval(), 333_333_334);
    }

    #[test]
    fn full_bucket_state_is_at_rest() {
        let b = bucket(1, 1, 5);
        let step = b.decide(0, 100, 1);
        assert!(step.state > 100);
        // Once the TAT has passed, the state decides like an absent one.
        let later = step.state + 7;
        assert_eq!(b.decide(step.state, later, 1), b.decide(0, later, 1));
    }

    #[test]
    fn refund_gives_tokens_back_but_never_beyond_full() {
        let b = bucket(1, 1, 3);
        let mut state = 0;
        for _ in 0..3 {
            state = b.decide(state, 0, 1).state;
        }
        assert!(!b.decide(state, 0, 1).outcome.allowed());
        let refunded = b.refund(state, 0, 1);
        assert_eq!(b.decide(refunded, 0, 0).outcome.remaining(), 1);
        assert_eq!(b.refund(refunded, 0, 10), 0, "full, not fuller");
        assert_eq!(b.refund(5, 10, 1), 5, "a state at rest is left alone");
    }

    fn delayed(count: u64, period_secs: u64, burst: u64, max_ms: u64, queue: u64) -> TokenBucket {
        let delay = Delay {
            max: Duration::from_millis(max_ms),
            queue,
        };
        bucket(count, period_secs, burst).with_delay(delay).unwrap()
    }

    /// Runs each request at its time, threading the state; returns each one's turn (`None`
    /// when refused).
    fn turns(bucket: &TokenBucket, requests: &[(Nanos, u32)]) -> Vec<Option<Nanos>> {
        let mut state = 0;
        requests
            .iter()
            .map(|&(now, cost)| {
                let step = bucket.decide(state, now, cost);
                state = step.state;
                step.outcome
                    .allowed()
                    .then(|| step.outcome.retry_at().unwrap())
            })
            .collect()
    }

    #[test]
    fn a_turn_within_the_delay_is_admitted_to_wait_for_it() {
        let ms = SEC / 1_000;
        // 1 every 2 s, burst 3, a wait of up to 2.5 s: two turns past the burst at t0.
        let b = delayed(1, 2, 3, 2_500, 10);
        let t0 = 1_000 * SEC;
        let got = turns(&b, &[(t0, 1); 6]);
        assert_eq!(
            got,
            [Some(t0), Some(t0), Some(t0), Some(t0 + 2 * SEC), None, None]
        );
        // 200 ms before its turn, the next request waits exactly 200 ms.
        let early = t0 + 2 * SEC - 200 * ms;
        let got = turns(&b, &[(t0, 1), (t0, 1), (t0, 1), (early, 1)]);
        assert_eq!(got[3], Some(t0 + 2 * SEC));
        // The boundary: with one waiting for t0 + 2 s, the next turn (t0 + 4 s) lies exactly
        // `max` ahead at t0 + 1.5 s and is admitted; one nanosecond earlier it is refused.
        let waiting = b.decide(b.decide(0, t0, 3).state, t0, 1).state;
        let early = b.decide(waiting, t0 + 1_500 * ms - 1, 1);
        assert!(!early.outcome.allowed());
        assert_eq!(early.outcome.retry_at(), Some(t0 + 4 * SEC));
        assert_eq!(early.state, waiting, "a refusal takes nothing");
        let at_max = b.decide(waiting, t0 + 1_500 * ms, 1);
        assert!(at_max.outcome.allowed());
        assert_eq!(at_max.outcome.retry_at(), Some(t0 + 4 * SEC));
    }

    #[test]
    fn the_queue_bounds_the_units_waiting() {
        // 10 per second (a turn every 100 ms), burst 1, up to 1 s but only 3 units waiting.
        let b = delayed(10, 1, 1, 1_000, 3);
        let got = turns(&b, &[(0, 1); 6]);
        let ms = SEC / 1_000;
        assert_eq!(
            got,
            [
                Some(0),
                Some(100 * ms),
                Some(200 * ms),
                Some(300 * ms),
                None,
                None
            ]
        );
        // A request of cost 2 takes two places: with two waiting, it no longer fits.
        let got = turns(&b, &[(0, 1), (0, 1), (0, 1), (0, 2), (0, 1)]);
        assert_eq!(got[3], None);
        assert_eq!(got[4], Some(300 * ms));
    }

    #[test]
    fn delays_admit_exactly_as_many_per_period() {
        // However requests arrive, the turns handed out never start more than burst + rate × t
        // over any span: checked against every span of a dense random trace.
        let b = delayed(5, 1, 2, 700, 4);
        let mut seed = 7_u64;
        let mut now = 0;
        let mut trace = Vec::new();
        for _ in 0..400 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            now += (seed >> 33) % (SEC / 8);
            trace.push((now, 1));
        }
        let mut starts: Vec<Nanos> = turns(&b, &trace).into_iter().flatten().collect();
        starts.sort_unstable();
        for (i, &from) in starts.iter().enumerate() {
            for (j, &to) in starts.iter().enumerate().skip(i) {
                let most = 2 + (to - from) / b.interval();
                assert!(
                    (j - i + 1) as u64 <= most,
                    "{} starts in [{from}, {to}]",
                    j - i + 1
                );
            }
        }
        assert!(starts.len() > 100, "a trace that waits: {}", starts.len());
    }

    #[test]
    fn only_the_last_turn_given_out_comes_back() {
        let b = delayed(1, 1, 1, 3_000, 5);
        let first = b.decide(0, 0, 1);
        let second = b.decide(first.state, 0, 1);
        let third = b.decide(second.state, 0, 1);
        assert_eq!(third.outcome.retry_at(), Some(2 * SEC));
        // The last in line leaves: the next comer gets its turn.
        let back = b.withdraw(third.state, third.outcome.reset_at(), 1);
        assert_eq!(back, second.state);
        assert_eq!(b.decide(back, 0, 1).outcome.retry_at(), Some(2 * SEC));
        // One in the middle leaves: the turns behind it stand, and its own lapses.
        let kept = b.withdraw(third.state, second.outcome.reset_at(), 1);
        assert_eq!(kept, third.state);
    }

    #[test]
    fn a_peek_reports_a_turn_and_takes_none() {
        let b = delayed(1, 1, 1, 1_000, 1);
        let full = b.decide(0, 0, 1).state;
        let peek = b.decide(full, 0, 0);
        assert!(peek.outcome.allowed());
        assert_eq!(peek.outcome.retry_at(), Some(SEC));
        assert_eq!(peek.state, full);
    }

    #[test]
    fn the_debug_text_of_a_bucket_without_a_delay_is_as_derived() {
        assert_eq!(
            format!("{:?}", bucket(1, 2, 3)),
            "TokenBucket { rate: Rate { count: 1, period: 2s }, interval: 2000000000, \
             per_interval: 2000000000, burst: 3, tolerance: 6000000000 }"
        );
        assert!(format!("{:?}", delayed(1, 2, 3, 500, 1)).contains("delay: Delay"));
    }

    #[test]
    fn rejects_bad_numbers() {
        let zero = Delay {
            max: Duration::ZERO,
            queue: 1,
        };
        assert_eq!(
            bucket(1, 1, 1).with_delay(zero),
            Err(LimitError::Zero("delay max"))
        );
        let no_queue = Delay {
            max: Duration::from_secs(1),
            queue: 0,
        };
        assert_eq!(
            bucket(1, 1, 1).with_delay(no_queue),
            Err(LimitError::Zero("delay queue"))
        );
        let zero = TokenBucket::new(Rate::per_second(0), 1);
        assert_eq!(zero, Err(LimitError::Zero("rate count")));
        assert_eq!(
            TokenBucket::new(Rate::per_second(1), 0),
            Err(LimitError::Zero("burst"))
        );
        let centuries = TokenBucket::new(Rate::new(1, Duration::from_secs(86_400 * 365)), 1_000);
        assert_eq!(centuries, Err(LimitError::TooLong));
    }
}
