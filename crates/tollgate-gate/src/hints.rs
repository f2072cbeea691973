//! Blocks an upstream asks for (`Tollgate-Block-For: SECONDS` on a response): the function it
//! served (an api on a concrete path) is refused for that long, to protect what is behind it.
//!
//! Bounded: at most [`MAX_HINTS`] at once (expired ones are swept; past the bound a new hint is
//! dropped, logged and counted), looked up in O(1), and skipped without a lock while there are
//! none — the common case.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tollgate_core::Nanos;

/// The most upstream blocks held at once.
pub const MAX_HINTS: usize = 10_000;

/// The upstream's blocks, by api, then path: until when.
type Held = HashMap<String, HashMap<String, Nanos>>;

/// The upstream's blocks, by api and path: until when.
#[derive(Debug, Default)]
pub(crate) struct BlockHints {
    until: Mutex<Held>,
    /// How many are held: requests skip the lock while it is 0.
    held: AtomicUsize,
    dropped: AtomicU64,
}

impl BlockHints {
    /// Refuses `api` on `path` until `until` (the later of two hints wins); false when the
    /// bound is reached and the hint is dropped.
    pub(crate) fn insert(&self, api: &str, path: &str, until: Nanos, now: Nanos) -> bool {
        let mut hints = self.lock();
        let mut held = self.held.load(Ordering::Relaxed);
        if held >= MAX_HINTS {
            held = sweep(&mut hints, now);
        }
        let known = hints.get(api).is_some_and(|paths| paths.contains_key(path));
        let kept = if held < MAX_HINTS || known {
            let paths = hints.entry(api.to_owned()).or_default();
            let entry = paths.entry(path.to_owned()).or_insert_with(|| {
                held += 1;
                until
            });
            *entry = (*entry).max(until);
            true
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            false
        };
        self.held.store(held, Ordering::Relaxed);
        kept
    }

    /// Until when `api` on `path` is blocked, if it is at `now`.
    pub(crate) fn until(&self, api: &str, path: &str, now: Nanos) -> Option<Nanos> {
        if self.held.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let until = *self.lock().get(api)?.get(path)?;
        (until > now).then_some(until)
    }

    /// Drops the hints that ended by `now`.
    pub(crate) fn sweep(&self, now: Nanos) {
        if self.held.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut hints = self.lock();
        let held = sweep(&mut hints, now);
        self.held.store(held, Ordering::Relaxed);
    }

    /// Hints held, and hints dropped at the bound since the start.
    pub(crate) fn figures(&self) -> (usize, u64) {
        (
            self.held.load(Ordering::Relaxed),
            self.dropped.load(Ordering::Relaxed),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Drops the hints that ended by `now`; how many are left.
fn sweep(hints: &mut Held, now: Nanos) -> usize {
    hints.retain(|_, paths| {
        paths.retain(|_, until| *until > now);
        !paths.is_empty()
    });
    hints.values().map(HashMap::len).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_bounded_swept_and_the_longest_wins() {
        let hints = BlockHints::default();
        assert_eq!(hints.until("a", "/x", 0), None);
        assert!(hints.insert("a", "/x", 100, 0));
        assert!(
            hints.insert("a", "/x", 50, 0),
            "a shorter hint keeps the longer block"
        );
        assert_eq!(hints.until("a", "/x", 10), Some(100));
        assert_eq!(hints.until("a", "/x", 100), None, "ended");
        assert_eq!(hints.until("a", "/y", 10), None);
        for path in 0..MAX_HINTS - 1 {
            assert!(hints.insert("b", &format!("/{path}"), 200, 0));
        }
        assert_eq!(hints.figures(), (MAX_HINTS, 0));
        assert!(!hints.insert("c", "/full", 300, 10), "the bound is reached");
        assert_eq!(hints.figures(), (MAX_HINTS, 1));
        // Once some have ended, a new one takes their room.
        assert!(hints.insert("c", "/full", 300, 150));
        assert_eq!(hints.until("c", "/full", 150), Some(300));
        hints.sweep(250);
        assert_eq!(hints.figures().0, 1);
        hints.sweep(300);
        assert_eq!(hints.figures().0, 0);
    }
}
