//! The journal: the long-lived states a store wrote, taken to be written down, and put back
//! after a restart.

use std::sync::atomic::Ordering;

use super::store::MemoryStore;
use crate::{Key, Nanos, StoreError};

impl MemoryStore {
    /// Takes every long-lived state written since the last take into `into` (in order within a
    /// shard; the last write of a key in a take is its state). Returns the take's number.
    ///
    /// A decision that [needs the journal](crate::Decision::needs_journal) is on disk once a
    /// take numbered above [`journal_epoch`](Self::journal_epoch) — read after the decision —
    /// has been written down.
    pub fn take_journal(&self, into: &mut Vec<(u64, u64)>) -> u64 {
        let take = self.journal_epoch.fetch_add(1, Ordering::SeqCst) + 1;
        for shard in &*self.shards {
            if let Some(pending) = &mut shard.0.lock().journal {
                into.append(pending);
            }
        }
        take
    }

    /// The number of the last take (see [`take_journal`](Self::take_journal)).
    #[must_use]
    pub fn journal_epoch(&self) -> u64 {
        self.journal_epoch.load(Ordering::SeqCst)
    }

    /// Puts back states read from a journal, in order (later ones win); states already at rest
    /// at `now` are left out.
    ///
    /// # Errors
    /// The store is full and refuses new partitions.
    pub fn restore(
        &self,
        states: impl IntoIterator<Item = (u64, u64)>,
        now: Nanos,
    ) -> Result<usize, StoreError> {
        let mut latest = std::collections::HashMap::new();
        for (key, state) in states {
            latest.insert(key, state);
        }
        let mut restored = 0;
        for (key, state) in latest {
            if state > now {
                self.lock(Key::from_hash(key)).restore(key, state, now)?;
                restored += 1;
            }
        }
        Ok(restored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::fixtures::{key, window};
    use crate::{Algorithm, LimitRequest, Rate, Store, TokenBucket};

    #[test]
    fn a_journal_takes_long_lived_states_that_restore_the_same_decisions() {
        let store = MemoryStore::builder().journaled(true).build();
        let (daily, second): (Algorithm, Algorithm) = (
            window(5, 86_400),
            TokenBucket::new(Rate::per_second(1), 2).unwrap().into(),
        );
        let both = [
            LimitRequest::new(key(1), &daily, 2),
            LimitRequest::new(key(2), &second, 1),
        ];
        let decision = store.acquire(10, &both).unwrap();
        assert!(decision.needs_journal());
        assert!(
            !store.acquire(10, &both[1..]).unwrap().needs_journal(),
            "a per-second bucket is not kept"
        );
        let before = store.journal_epoch();
        let mut taken = Vec::new();
        let take = store.take_journal(&mut taken);
        assert!(take > before);
        assert_eq!(taken.len(), 1, "only the daily window: {taken:?}");

        let restarted = MemoryStore::new();
        assert_eq!(restarted.restore(taken.iter().copied(), 20).unwrap(), 1);
        let peek = [LimitRequest::new(key(1), &daily, 0)];
        assert_eq!(
            restarted.acquire(20, &peek).unwrap().outcomes()[0].remaining(),
            3
        );
        assert_eq!(
            restarted.restore([(9, 5)], 20).unwrap(),
            0,
            "a state at rest is left out"
        );
    }
}
