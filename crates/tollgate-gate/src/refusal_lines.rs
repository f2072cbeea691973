//! How many refusals are logged: at most [`LINES_PER_SECOND`] lines a second for each limit
//! (or Envoy domain), so that a flood of refusals is not a flood of logs. Those left out are
//! counted, and the next refusal of that limit in a later second first writes one line with
//! their number.

use std::collections::HashMap;
use std::sync::Mutex;

use tollgate_core::{NANOS_PER_SEC, Nanos};

/// Refusal lines written per limit and second; the rest are summed up.
pub(crate) const LINES_PER_SECOND: u32 = 5;

/// The lines written and left out this second, by limit.
#[derive(Debug, Default)]
pub(crate) struct RefusalLines {
    by_limit: Mutex<HashMap<Box<str>, Tally>>,
}

#[derive(Debug, Clone, Copy)]
struct Tally {
    second: u64,
    written: u32,
    left_out: u64,
}

impl RefusalLines {
    /// Whether a refusal by `limit` at `now` may be logged; first logs how many of its lines
    /// an earlier second left out, if any. Limits are the policy's (or the Envoy rules'),
    /// so the table stays as small as the configuration.
    pub(crate) fn may_log(&self, limit: &str, now: Nanos) -> bool {
        let second = now / NANOS_PER_SEC;
        let (allowed, left_out) = {
            let mut by_limit = self
                .by_limit
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let tally = match by_limit.get_mut(limit) {
                Some(tally) => tally,
                None => by_limit.entry(Box::from(limit)).or_insert(Tally {
                    second,
                    written: 0,
                    left_out: 0,
                }),
            };
            let mut left_out = None;
            if tally.second != second {
                left_out = (tally.left_out > 0).then_some((tally.second, tally.left_out));
                *tally = Tally {
                    second,
                    written: 0,
                    left_out: 0,
                };
            }
            let allowed = tally.written < LINES_PER_SECOND;
            if allowed {
                tally.written += 1;
            } else {
                tally.left_out += 1;
            }
            (allowed, left_out)
        };
        if let Some((second, count)) = left_out {
            tracing::info!(
                limit,
                left_out = count,
                second,
                "refusals not logged (at most {LINES_PER_SECOND} a second per limit)"
            );
        }
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_lines_a_second_per_limit() {
        let lines = RefusalLines::default();
        let at = 7 * NANOS_PER_SEC;
        let written = (0..100).filter(|_| lines.may_log("hourly", at)).count();
        assert_eq!(written, LINES_PER_SECOND as usize);
        assert_eq!(lines.by_limit.lock().unwrap()["hourly"].left_out, 95);
        // Another limit has lines of its own.
        assert!(lines.may_log("daily", at + 1));
        // The next second starts afresh, after its summary line.
        assert!(lines.may_log("hourly", at + NANOS_PER_SEC));
        let tally = lines.by_limit.lock().unwrap()["hourly"];
        assert_eq!((tally.second, tally.written, tally.left_out), (8, 1, 0));
    }
}
