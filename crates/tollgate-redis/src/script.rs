//! The arguments of one call of `decide.lua` and the reading of its reply.

use redis::Cmd;
use tollgate_core::{Algorithm, Key, Lease, LimitRequest, Nanos, Outcome, Outcomes};

/// The script: every algorithm of the core, over microseconds.
pub(crate) const SOURCE: &str = include_str!("decide.lua");

/// Nanoseconds per microsecond, the resolution of the server's clock.
const MICRO: Nanos = 1_000;

/// An instant or span in whole microseconds, rounded up.
pub(crate) const fn micros(nanos: Nanos) -> u64 {
    nanos.div_ceil(MICRO)
}

/// One call of the script by its SHA: `EVALSHA sha n KEYS… op now at ARGS…`. `at` is when the
/// caller believes the call runs (it picks the bounds of calendar windows, which Lua cannot
/// compute), or for a refund when the charge was taken; `pinned` replaces the server's clock.
/// `reserved`, for a withdrawal, is the state each request's admission stored (empty
/// otherwise).
pub(crate) fn call<'r>(
    sha: &str,
    op: &str,
    pinned: Option<Nanos>,
    at: Nanos,
    requests: impl Iterator<Item = &'r LimitRequest<'r>> + Clone,
    reserved: &[Nanos],
) -> Cmd {
    let mut cmd = begin(sha, requests.clone().count());
    for request in requests.clone() {
        push_key(&mut cmd, request.root, request.key);
    }
    push_op(&mut cmd, op, pinned, at);
    for (index, request) in requests.enumerate() {
        push_kind(&mut cmd, request);
        cmd.arg(request.cost);
        match request.algorithm {
            // How far ahead a turn may lie, rounded down (never a turn further than the delay),
            // or what a withdrawn admission stored.
            Algorithm::TokenBucket(bucket) => {
                cmd.arg(micros(bucket.interval())).arg(bucket.burst()).arg(
                    reserved
                        .get(index)
                        .map_or(bucket.wait() / MICRO, |&state| micros(state)),
                )
            }
            Algorithm::Window(window) => {
                let (start, end) = window.schedule().bounds(at);
                cmd.arg(micros(start)).arg(micros(end)).arg(window.max())
            }
            Algorithm::Sliding(sliding) => {
                cmd.arg(micros(sliding.period())).arg(sliding.max()).arg(0)
            }
            Algorithm::Concurrency(concurrency) => cmd
                .arg(concurrency.max())
                .arg(micros(concurrency.lease_ttl()))
                .arg(0),
            Algorithm::Distinct(distinct) => {
                let (start, end) = distinct.bounds(at);
                cmd.arg(micros(start)).arg(micros(end)).arg(distinct.max())
            }
        };
    }
    cmd
}

/// One call of the script giving `leases` back.
pub(crate) fn release<'l>(sha: &str, leases: impl Iterator<Item = &'l Lease> + Clone) -> Cmd {
    let mut cmd = begin(sha, leases.clone().count());
    for lease in leases.clone() {
        push_key(&mut cmd, lease.root, lease.key);
    }
    push_op(&mut cmd, "release", None, 0);
    for lease in leases {
        cmd.arg("c")
            .arg(lease.cost)
            .arg(micros(lease.expires_at))
            .arg(0)
            .arg(0);
    }
    cmd
}

/// `call` (an `EVALSHA`) as `EVAL` with the script's source: for a node that has not got the
/// script, which it loads on the way.
pub(crate) fn with_source(call: &Cmd) -> Cmd {
    let mut eval = redis::cmd("EVAL");
    eval.arg(SOURCE);
    for arg in call.args_iter().skip(2) {
        if let redis::Arg::Simple(bytes) = arg {
            eval.arg(bytes);
        }
    }
    eval
}

fn begin(sha: &str, keys: usize) -> Cmd {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(sha).arg(keys);
    cmd
}

/// Writes the Redis key of a partition: its root in braces (the Cluster hash tag), then its
/// key, `tg:{ROOT}:KEY` in hex, without allocating.
fn push_key(cmd: &mut Cmd, root: Key, key: Key) {
    let name = write_hex(*b"tg:{0000000000000000}:0000000000000000", 4, root.get());
    cmd.arg(&write_hex(name, 22, key.get())[..]);
}

/// Writes `value` in 16 hex digits after `name`'s first `at` bytes, without allocating.
fn write_hex<const N: usize>(mut name: [u8; N], at: usize, value: u64) -> [u8; N] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for digit in 0..16 {
        name[at + digit] = HEX[(value >> (60 - 4 * digit)) as usize & 0xf];
    }
    name
}

/// Writes the kind of a request's limit: `t`, `w`, `s`, `c`; for a distinct-value limit `d`
/// alone without a value, else `d:` and the value's hash in hex (the field the script
/// remembers it by).
fn push_kind(cmd: &mut Cmd, request: &LimitRequest<'_>) {
    let kind = match request.algorithm {
        Algorithm::TokenBucket(_) => "t",
        Algorithm::Window(_) => "w",
        Algorithm::Sliding(_) => "s",
        Algorithm::Concurrency(_) => "c",
        Algorithm::Distinct(_) => match request.value {
            None => "d",
            Some(value) => {
                cmd.arg(&write_hex(*b"d:0000000000000000", 2, value.get())[..]);
                return;
            }
        },
    };
    cmd.arg(kind);
}

/// What a call is for, with the instant it works at (`''` for now: the server's clock).
fn push_op(cmd: &mut Cmd, op: &str, pinned: Option<Nanos>, at: Nanos) {
    cmd.arg(op);
    match pinned {
        Some(now) => cmd.arg(now / MICRO),
        None => cmd.arg(""),
    };
    cmd.arg(at / MICRO);
}

/// The reply of an `acquire` call.
#[derive(Debug)]
pub(crate) enum Reply {
    /// Every limit decided: charged if `admitted`, else none.
    Decided {
        admitted: bool,
        now: Nanos,
        outcomes: Outcomes,
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
        // An instant in µs, as nanoseconds: a damaged state cannot wrap around.
        let instant = |at: usize| -> Result<Nanos, String> {
            word(at)?
                .checked_mul(MICRO)
                .ok_or_else(|| format!("an instant out of range in the script reply {reply:?}"))
        };
        let now = instant(1)?;
        match reply.first() {
            Some(-1) => return Ok(Self::Stale { now }),
            Some(0 | 1) if reply.len() == 2 + 5 * limits => {}
            _ => return Err(format!("unexpected script reply {reply:?}")),
        }
        let outcomes = (0..limits)
            .map(|limit| {
                let at = 2 + 5 * limit;
                let (limit, remaining, reset) = (word(at + 1)?, word(at + 2)?, instant(at + 3)?);
                Ok(if word(at)? == 1 {
                    // Its turn: now, or later for a request admitted to wait for it.
                    Outcome::admitted(limit, remaining, reset, instant(at + 4)?)
                } else {
                    let retry = (reply[at + 4] >= 0).then(|| instant(at + 4)).transpose()?;
                    Outcome::refused(limit, remaining, reset, retry)
                })
            })
            .collect::<Result<Outcomes, String>>()?;
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
    fn keys_carry_the_root_as_a_hash_tag() {
        let mut cmd = redis::cmd("GET");
        push_key(&mut cmd, Key::from_hash(0xab), Key::from_hash(u64::MAX));
        let packed = cmd.get_packed_command();
        let packed = String::from_utf8_lossy(&packed);
        assert!(
            packed.contains("tg:{00000000000000ab}:ffffffffffffffff"),
            "{packed}"
        );
    }

    #[test]
    fn a_call_by_sha_becomes_a_call_with_the_source() {
        let lease = Lease {
            key: Key::from_hash(7),
            root: Key::from_hash(3),
            expires_at: 9_000,
            cost: 1,
        };
        let call = release("0123abcd", [lease].iter());
        let eval = with_source(&call);
        let words = |cmd: &Cmd| -> Vec<Vec<u8>> {
            cmd.args_iter()
                .filter_map(|arg| match arg {
                    redis::Arg::Simple(bytes) => Some(bytes.to_vec()),
                    redis::Arg::Cursor => None,
                })
                .collect()
        };
        let (call, eval) = (words(&call), words(&eval));
        assert_eq!(call[..2], [b"EVALSHA".to_vec(), b"0123abcd".to_vec()]);
        assert_eq!(eval[..2], [b"EVAL".to_vec(), SOURCE.as_bytes().to_vec()]);
        assert_eq!(call[2..], eval[2..]);
    }

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
