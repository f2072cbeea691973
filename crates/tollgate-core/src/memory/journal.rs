//! The journal: the long-lived states a store wrote, taken to be written down, and put back
//! after a restart. A take visits only the shards that wrote since the last one
//! ([`DirtyShards`]): with thousands of shards, a write locks a handful, not all.

use std::sync::atomic::{AtomicU64, Ordering};

use super::store::MemoryStore;
use crate::{Key, Nanos, StoreError};

/// One bit per shard: set by the first long-lived state a shard notes after a take (under the
/// shard's lock, so once per take and shard, not per decision), cleared by the take that
/// visits it.
#[derive(Debug)]
pub(super) struct DirtyShards {
    words: Box<[AtomicU64]>,
}

impl DirtyShards {
    /// Marks for `shards` shards, none set.
    pub(super) fn new(shards: usize) -> Self {
        Self {
            words: (0..shards.div_ceil(64))
                .map(|_| AtomicU64::new(0))
                .collect(),
        }
    }

    /// Marks shard `index` as having states to take.
    pub(super) fn mark(&self, index: usize) {
        self.words[index / 64].fetch_or(1 << (index % 64), Ordering::SeqCst);
    }

    /// Clears every mark and calls `visit` with each shard that was marked.
    fn take(&self, mut visit: impl FnMut(usize)) {
        for (at, word) in self.words.iter().enumerate() {
            let mut marked = word.swap(0, Ordering::SeqCst);
            while marked != 0 {
                visit(at * 64 + marked.trailing_zeros() as usize);
                marked &= marked - 1;
            }
        }
    }
}

impl MemoryStore {
    /// Takes every long-lived state written since the last take into `into` (in order within a
    /// shard; the last write of a key in a take is its state). Returns the take's number.
    ///
    /// A decision that [needs the journal](crate::Decision::needs_journal) is on disk once a
    /// take numbered above [`journal_epoch`](Self::journal_epoch) — read after the decision —
    /// has been written down.
    pub fn take_journal(&self, into: &mut Vec<(u64, u64)>) -> u64 {
        let take = self.journal_epoch.fetch_add(1, Ordering::SeqCst) + 1;
        // A shard noting a state after its mark is cleared here sets it again, or (while this
        // take waits for its lock) finds it still noted and is drained with the rest.
        self.dirty.take(|index| {
            let mut shard = self.shards[index].0.lock();
            shard.journal_marked = false;
            if let Some(pending) = &mut shard.journal {
                into.append(pending);
            }
        });
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

    /// A take visits the shards that noted states since the last one, and no other: here it
    /// returns while another shard is held locked (it would spin forever on it otherwise).
    #[test]
    fn a_take_locks_only_the_shards_that_wrote() {
        let store = MemoryStore::builder().journaled(true).shards(64).build();
        let daily = window(5, 86_400);
        let (written, other) = (key(1), key(2));
        assert_ne!(store.shard_index(written), store.shard_index(other));
        assert!(
            store
                .acquire(10, &[LimitRequest::new(written, &daily, 1)])
                .unwrap()
                .needs_journal()
        );
        let held = store.lock(other);
        let mut taken = Vec::new();
        store.take_journal(&mut taken);
        assert_eq!(taken, [(written.get(), taken[0].1)]);
        // Nothing since: the next take visits nothing, and the shard writes again later.
        taken.clear();
        store.take_journal(&mut taken);
        assert!(taken.is_empty());
        drop(held);
        assert!(
            store
                .acquire(11, &[LimitRequest::new(written, &daily, 1)])
                .unwrap()
                .needs_journal()
        );
        store.take_journal(&mut taken);
        assert_eq!(taken.len(), 1, "marked again after its take");
    }

    #[test]
    fn the_values_a_distinct_limit_remembers_come_back_from_the_journal() {
        let store = MemoryStore::builder().journaled(true).build();
        let machines: Algorithm = crate::Distinct::new(2, None).unwrap().into();
        let using = |machine: u64| {
            [LimitRequest::new(key(1), &machines, 1).with_value(Some(Key::from_hash(machine)))]
        };
        for machine in [10, 11] {
            assert!(store.acquire(5, &using(machine)).unwrap().needs_journal());
        }
        assert!(
            !store.acquire(6, &using(10)).unwrap().needs_journal(),
            "seen: nothing written"
        );
        let mut taken = Vec::new();
        store.take_journal(&mut taken);
        assert_eq!(taken.len(), 4, "two counts and two values: {taken:?}");

        let restarted = MemoryStore::builder().shards(8).build();
        assert_eq!(restarted.restore(taken.iter().copied(), 7).unwrap(), 3);
        assert!(restarted.acquire(8, &using(11)).unwrap().allowed());
        assert!(restarted.acquire(8, &using(10)).unwrap().allowed());
        assert!(!restarted.acquire(8, &using(12)).unwrap().allowed());
    }
}
