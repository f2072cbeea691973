//! The arguments of one call of `decide.lua` and the reading of its reply.

use redis::ScriptInvocation;
use tollgate_core::{Algorithm, Lease, LimitRequest, Nanos, Outcome};

/// The script: every algorithm of the core, over microseconds.
pub(crate) const SOURCE: &str = include_str!("decide.lua");

/// Nanoseconds per microsecond, the resolution of the server's clock.
const MICRO: Nanos = 1_000;

/// An instant or span in whole microseconds, rounded up.
pub(crate) const fn micros(nanos: Nanos) -> u64 {
    nanos.div_ceil(MICRO)
}

/// The Redis key of a partition: its root in braces (the Cluster hash tag), then its key.
pub(crate) fn key_name(root: tollgate_core::Key, key: tollgate_core::Key) -> String {
    format!("tg:{{{:016x}}}:{:016x}", root.get(), key.get())
}

/// What a call is for, with the instant it works at (`''`: the server's clock).
pub(crate) fn begin(call: &mut ScriptInvocation<'_>, op: &str, pinned: Option<Nanos>, at: Nanos) {
    call.arg(op)
        .arg(pinned.map_or_else(String::new, |now| (now / MICRO).to_string()))
        .arg(at / MICRO);
}

/// Adds one limit: its key and its five arguments. `at` is when the caller believes the call
/// runs: it picks the bounds of calendar windows, which Lua cannot compute.
pub(crate) fn push(call: &mut ScriptInvocation<'_>, request: &LimitRequest<'_>, at: Nanos) {
    call.key(key_name(request.root, request.key));
    call.arg(kind(request.algorithm)).arg(request.cost);
    match request.algorithm {
        Algorithm::TokenBucket(bucket) => call
            .arg(micros(bucket.interval()))
            .arg(bucket.burst())
            .arg(0),
        Algorithm::Window(window) => {
            let (start, end) = window.schedule().bounds(at);
            call.arg(micros(start)).arg(micros(end)).arg(window.max())
        }
        Algorithm::Sliding(sliding) => call.arg(micros(sliding.period())).arg(sliding.max()).arg(0),
        Algorithm::Concurrency(concurrency) => call
            .arg(concurrency.max())
            .arg(micros(concurrency.lease_ttl()))
            .arg(0),
    };
}

/// Adds one lease to give back.
pub(crate) fn push_lease(call: &mut ScriptInvocation<'_>, lease: &Lease) {
    call.key(key_name(lease.root, lease.key))
        .arg("c")
        .arg(lease.cost)
        .arg(micros(lease.expires_at))
        .arg(0)
        .arg(0);
}

fn kind(algorithm: &Algorithm) -> &'static str {
    match algorithm {
        Algorithm::TokenBucket(_) => "t",
        Algorithm::Window(_) => "w",
        Algorithm::Sliding(_) => "s",
        Algorithm::Concurrency(_) => "c",
    }
}

/// The reply of an `acquire` call.
#[derive(Debug)]
pub(crate) enum Reply {
    /// Every limit decided: charged if `admitted`, else none.
    Decided {
        admitted: bool,
        now: Nanos,
        outcomes: Vec<Outcome>,
    },
    /// A window's bounds did not hold at `now`: ask again with bounds for `now`.
    Stale { now: Nanos },
}

impl Reply {
    /// Reads `reply` to a call for `limits` limits.
    pub(crate) fn read(reply: &[i64], limits: usize) -> Result<Self, String> {
        let word = |at: usize| -> Result<u64, String> {
            reply
                .get(at)
                .and_then(|&value| u64::try_from(value).ok())
                .ok_or_else(|| format!("unexpected script reply {reply:?}"))
        };
        let now = word(1)? * MICRO;
        match reply.first() {
            Some(-1) => return Ok(Self::Stale { now }),
            Some(0 | 1) if reply.len() == 2 + 5 * limits => {}
            _ => return Err(format!("unexpected script reply {reply:?}")),
        }
        let outcomes = (0..limits)
            .map(|limit| {
                let at = 2 + 5 * limit;
                let (limit, remaining, reset) = (word(at + 1)?, word(at + 2)?, word(at + 3)?);
                Ok(if word(at)? == 1 {
                    Outcome::admitted(limit, remaining, reset * MICRO, now)
                } else {
                    let retry = u64::try_from(reply[at + 4]).ok().map(|at| at * MICRO);
                    Outcome::refused(limit, remaining, reset * MICRO, retry)
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Self::Decided {
            admitted: reply[0] == 1,
            now,
            outcomes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_decisions_in_microseconds() {
        let reply = [0, 7, 1, 10, 4, 20, 7, 0, 3, 0, 30, 25];
        let Ok(Reply::Decided {
            admitted,
            now,
            outcomes,
        }) = Reply::read(&reply, 2)
        else {
            panic!("a decision");
        };
        assert!(!admitted);
        assert_eq!(now, 7_000);
        assert_eq!(outcomes[0], Outcome::admitted(10, 4, 20_000, 7_000));
        assert_eq!(outcomes[1], Outcome::refused(3, 0, 30_000, Some(25_000)));
    }

    #[test]
    fn a_refusal_that_never_fits_has_no_retry() {
        let Ok(Reply::Decided { outcomes, .. }) = Reply::read(&[0, 1, 0, 3, 3, 9, -1], 1) else {
            panic!("a decision");
        };
        assert_eq!(outcomes[0].retry_at(), None);
    }

    #[test]
    fn stale_bounds_ask_again_at_the_servers_time() {
        assert!(matches!(
            Reply::read(&[-1, 42], 3),
            Ok(Reply::Stale { now: 42_000 })
        ));
    }

    #[test]
    fn a_reply_of_the_wrong_shape_is_an_error() {
        assert!(Reply::read(&[1, 5, 1, 2], 1).is_err());
        assert!(Reply::read(&[], 0).is_err());
    }
}
