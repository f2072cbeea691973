//! How the memory store stays bounded — sweeps that drop state at rest, and a capacity — and the
//! counts that show it.

use std::sync::atomic::Ordering;

use super::store::MemoryStore;
use crate::Nanos;

/// What a [`MemoryStore`] holds and has done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryStoreStats {
    /// Partitions held.
    pub partitions: usize,
    /// Bytes allocated for their state.
    pub bytes: usize,
    /// States dropped at rest by sweeps.
    pub swept: u64,
    /// States dropped by [`WhenFull::EvictNearestRest`](super::WhenFull::EvictNearestRest).
    pub evicted: u64,
    /// New partitions refused by [`WhenFull::RefuseNewKeys`](super::WhenFull::RefuseNewKeys).
    pub refused: u64,
}

impl MemoryStore {
    /// One step of the background sweep: up to `budget` slots of the next shard in turn.
    /// Returns the states dropped. Call it often enough to visit every shard now and then;
    /// each step holds one shard's lock for `budget` slots at most.
    pub fn sweep(&self, now: Nanos, budget: usize) -> usize {
        let index = self.sweep_next.fetch_add(1, Ordering::Relaxed) & self.mask as usize;
        self.shards[index].0.lock().sweep_step(now, budget)
    }

    /// Counts of what the store holds and has done, summed over the shards.
    #[must_use]
    pub fn stats(&self) -> MemoryStoreStats {
        self.shards
            .iter()
            .fold(MemoryStoreStats::default(), |mut total, shard| {
                let shard = shard.0.lock();
                total.partitions += shard.len();
                total.bytes += shard.bytes();
                total.swept += shard.stats.swept;
                total.evicted += shard.stats.evicted;
                total.refused += shard.stats.refused;
                total
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::WhenFull;
    use crate::memory::fixtures::{key, window};
    use crate::{
        Algorithm, Key, LimitRequest, NANOS_PER_SEC as SEC, Rate, Store, StoreError, TokenBucket,
    };

    #[test]
    fn refuses_new_partitions_at_capacity_until_state_rests() {
        let store = MemoryStore::builder().shards(1).capacity(4).build();
        let limit = window(5, 1);
        for n in 0..4 {
            assert!(
                store
                    .acquire(0, &[LimitRequest::new(key(n), &limit, 1)])
                    .is_ok()
            );
        }
        let full = store
            .acquire(0, &[LimitRequest::new(key(9), &limit, 1)])
            .unwrap_err();
        assert_eq!(full, StoreError::Full { capacity: 4 });
        assert!(full.is_transient());
        // Held partitions keep deciding exactly.
        assert!(
            store
                .acquire(0, &[LimitRequest::new(key(0), &limit, 4)])
                .unwrap()
                .allowed()
        );
        // Once their windows have ended (plus the sweep grace), there is room again.
        let later = 3 * SEC;
        assert!(
            store
                .acquire(later, &[LimitRequest::new(key(9), &limit, 1)])
                .is_ok()
        );
        let stats = store.stats();
        assert_eq!((stats.refused, stats.swept, stats.partitions), (1, 4, 1));
    }

    #[test]
    fn anonymous_partitions_fill_their_share_only() {
        let store = MemoryStore::builder()
            .shards(1)
            .capacity(8)
            .anonymous_share(0.25)
            .when_full(WhenFull::EvictNearestRest)
            .build();
        let limit = window(5, 1);
        let anonymous = |n| LimitRequest::new(key(n), &limit, 1).anonymous(true);
        assert!(store.acquire(0, &[anonymous(0)]).is_ok());
        assert!(store.acquire(0, &[anonymous(1)]).is_ok());
        // Two of eight: anonymous requests make no more, evicting nothing ...
        let full = store.acquire(0, &[anonymous(2)]).unwrap_err();
        assert_eq!(full, StoreError::Full { capacity: 2 });
        // ... though they go on deciding in the partitions there are.
        assert!(store.acquire(0, &[anonymous(0)]).unwrap().allowed());
        // Known callers have the rest.
        for n in 10..16 {
            assert!(
                store
                    .acquire(0, &[LimitRequest::new(key(n), &limit, 1)])
                    .is_ok()
            );
        }
        let stats = store.stats();
        assert_eq!((stats.partitions, stats.refused, stats.evicted), (8, 1, 0));
        // Once states rest, anonymous requests have room again.
        assert!(store.acquire(3 * SEC, &[anonymous(2)]).is_ok());
    }

    #[test]
    fn evicts_the_state_nearest_rest_at_capacity() {
        let store = MemoryStore::builder()
            .shards(1)
            .capacity(2)
            .when_full(WhenFull::EvictNearestRest)
            .build();
        let bucket: Algorithm = TokenBucket::new(Rate::per_second(1), 10).unwrap().into();
        let take = |n: u64, cost: u32| {
            store
                .acquire(0, &[LimitRequest::new(key(n), &bucket, cost)])
                .unwrap()
        };
        take(1, 1);
        take(2, 5);
        // Key 1 is nearer rest (1 s from full, against 5 s) and goes.
        assert!(take(3, 1).allowed());
        let stats = store.stats();
        assert_eq!((stats.evicted, stats.partitions), (1, 2));
        assert_eq!(take(2, 0).outcomes()[0].remaining(), 5, "key 2 kept");
        assert_eq!(
            take(1, 0).outcomes()[0].remaining(),
            10,
            "key 1 starts anew"
        );
    }

    #[test]
    fn evicts_even_when_the_slots_after_the_new_home_are_empty() {
        // 64 partitions whose hashes all put them at slot 0: they fill slots 0..64 of a table
        // that grows past them, leaving the slots at the far end empty.
        let store = MemoryStore::builder()
            .shards(1)
            .capacity(64)
            .when_full(WhenFull::EvictNearestRest)
            .build();
        let limit = window(5, 60);
        let take = |hash: u64, cost: u32| {
            store
                .acquire(0, &[LimitRequest::new(Key::from_hash(hash), &limit, cost)])
                .unwrap()
        };
        for hash in 1..=64 {
            assert!(take(hash, 1 + u32::from(hash == 7)).allowed());
        }
        // New partitions homed ever further from the crowd: once the table has grown, their
        // windows of slots hold nothing to evict.
        for (n, eighth) in (1..8u64).enumerate() {
            assert!(take(eighth << 61 | 1, 1).allowed(), "homed at {eighth}/8");
            let stats = store.stats();
            assert_eq!((stats.evicted, stats.partitions), (n as u64 + 1, 64));
            assert_eq!(stats.refused, 0);
        }
        // The crowd nearest rest went first (key 7 had used two units, the others one): the
        // ones kept still decide exactly.
        assert_eq!(take(7, 0).outcomes()[0].remaining(), 3, "key 7 kept");
        assert_eq!(take(64, 0).outcomes()[0].remaining(), 4, "key 64 kept");
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_distinct_keys() {
        let store = MemoryStore::builder().shards(4).build();
        let limit = window(10, 1);
        let mut peak = 0;
        // Each second brings 10,000 new partitions, whose one-second windows then end.
        for second in 0..20u64 {
            for n in 0..10_000 {
                let request = [LimitRequest::new(key(second * 10_000 + n), &limit, 1)];
                assert!(store.acquire(second * SEC, &request).unwrap().allowed());
            }
            peak = peak.max(store.stats().partitions);
        }
        assert!(peak <= 30_000, "held {peak} partitions at once");
        assert!(store.stats().bytes <= 30_000 * 24);
    }

    #[test]
    fn background_sweeps_empty_a_quiet_store() {
        let store = MemoryStore::builder().shards(2).build();
        let limit = window(10, 1);
        for n in 0..1_000 {
            store
                .acquire(0, &[LimitRequest::new(key(n), &limit, 1)])
                .unwrap();
        }
        assert_eq!(store.stats().partitions, 1_000);
        assert_eq!(store.sweep(0, usize::MAX), 0, "nothing at rest yet");
        let swept: usize = (0..2).map(|_| store.sweep(5 * SEC, usize::MAX)).sum();
        assert_eq!(swept, 1_000);
        let stats = store.stats();
        assert_eq!((stats.partitions, stats.swept), (0, 1_000));
        assert!(
            stats.bytes <= 2 * 8 * 16,
            "shrunk back to {} bytes",
            stats.bytes
        );
    }
}
