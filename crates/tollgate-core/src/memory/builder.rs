//! Options for a memory store, and the store they build.

use std::sync::atomic::{AtomicU64, AtomicUsize};

use spin::mutex::SpinMutex;

use super::journal::DirtyShards;
use super::shard::Shard;
use super::store::{MemoryStore, Padded};
use super::when_full::WhenFull;

/// The fewest shards a store gets by default, and the most.
const SHARDS: (usize, usize) = (256, 4096);

/// Shards per core by default: on 16 cores, 4,096 shards let threads deciding on a thousand
/// distinct keys meet on a shard's lock rarely (8.2× from 1 to 16 threads, against 2.5× with
/// 256; docs/benchmarks.md).
const SHARDS_PER_CORE: usize = 256;

/// Partitions a shard can hold at least, by default: the store's capacity is split evenly
/// among its shards, and more shards would make one full long before the store is.
const PARTITIONS_PER_SHARD: usize = 256;

/// Options for a [`MemoryStore`].
#[derive(Debug, Clone)]
pub struct MemoryStoreBuilder {
    /// Set by [`shards`](Self::shards), else sized at build.
    shards: Option<usize>,
    capacity: Option<usize>,
    /// Of `capacity`, what anonymous requests may fill with new partitions.
    anonymous_share: f64,
    when_full: WhenFull,
    journaled: bool,
}

impl MemoryStoreBuilder {
    /// The number of shards, rounded up to a power of two, at most 65,536 (a distinct-value
    /// limit keeps its values in its partition's shard by the key's low 16 bits). By default
    /// 256 per core, at least 256 and at most 4,096, and no more than leave each shard room for
    /// 256 partitions of the [`capacity`](Self::capacity) (512 on two cores, 4,096 on sixteen
    /// with the server's default capacity).
    #[must_use]
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards.clamp(1, 1 << 16).next_power_of_two());
        self
    }

    /// The shard count this builder makes.
    fn shard_count(&self) -> usize {
        self.shards.unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
            let roomy = self
                .capacity
                .map_or(usize::MAX, |capacity| capacity / PARTITIONS_PER_SHARD);
            let mut shards = cores
                .saturating_mul(SHARDS_PER_CORE)
                .clamp(SHARDS.0, SHARDS.1)
                .next_power_of_two();
            while shards > SHARDS.0 && shards > roomy {
                shards /= 2;
            }
            shards
        })
    }

    /// The most partitions held, shared evenly among the shards (default: unbounded).
    #[must_use]
    pub fn capacity(mut self, partitions: usize) -> Self {
        self.capacity = Some(partitions);
        self
    }

    /// Requests of no known identity
    /// ([`LimitRequest::anonymous`](crate::LimitRequest::anonymous)) make new partitions only
    /// while a shard holds less than this share of its capacity (default 1, all of it; rounded
    /// up, at least one): past it theirs are refused ([`StoreError::Full`](crate::StoreError::Full))
    /// while others go on to the capacity, so anonymous traffic never crowds out known callers.
    /// Clamped to 0..=1.
    #[must_use]
    pub fn anonymous_share(mut self, share: f64) -> Self {
        self.anonymous_share = if share.is_nan() {
            1.0
        } else {
            share.clamp(0.0, 1.0)
        };
        self
    }

    /// What to do with a new partition at capacity.
    #[must_use]
    pub fn when_full(mut self, when_full: WhenFull) -> Self {
        self.when_full = when_full;
        self
    }

    /// Keep the long-lived states written (windows and periods of a minute and more) for a
    /// journal to take and write down: see [`MemoryStore::take_journal`].
    #[must_use]
    pub fn journaled(mut self, journaled: bool) -> Self {
        self.journaled = journaled;
        self
    }

    /// The store.
    #[must_use]
    pub fn build(self) -> MemoryStore {
        let shards = self.shard_count();
        let per_shard = self
            .capacity
            .map_or(usize::MAX, |capacity| capacity.div_ceil(shards).max(1));
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "a share of a count, rounded up; beyond 2^53 partitions no table fits"
        )]
        let anonymous_per_shard = if self.anonymous_share >= 1.0 {
            per_shard
        } else {
            ((per_shard as f64 * self.anonymous_share).ceil() as usize).max(1)
        };
        let dirty = std::sync::Arc::new(DirtyShards::new(shards));
        MemoryStore {
            shards: (0..shards)
                .map(|index| {
                    let marks = self
                        .journaled
                        .then(|| (index, std::sync::Arc::clone(&dirty)));
                    let mut shard = Shard::new(per_shard, self.when_full, marks);
                    shard.anonymous_max = anonymous_per_shard;
                    Padded(SpinMutex::new(shard))
                })
                .collect(),
            mask: shards as u64 - 1,
            sweep_next: AtomicUsize::new(0),
            journal_epoch: AtomicU64::new(0),
            journaled: self.journaled,
            dirty,
        }
    }
}

impl MemoryStore {
    /// Options for a store.
    #[must_use]
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder {
            shards: None,
            capacity: None,
            anonymous_share: 1.0,
            when_full: WhenFull::default(),
            journaled: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_sized_from_the_cores_within_the_room_the_capacity_leaves() {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let by_cores = (cores * 256).clamp(256, 4096).next_power_of_two();
        assert_eq!(MemoryStore::builder().shard_count(), by_cores);
        let server_default = MemoryStore::builder().capacity(10_000_000);
        assert_eq!(server_default.shard_count(), by_cores);
        // A small store keeps 256 shards: each one's share of the capacity stays whole.
        assert_eq!(MemoryStore::builder().capacity(1000).shard_count(), 256);
        // Room for 781 partitions a shard: 512 shards at most (390 each), fewer if few cores.
        let mid = MemoryStore::builder().capacity(200_000).shard_count();
        assert_eq!(mid, by_cores.min(512));
        assert_eq!(MemoryStore::builder().shards(3).shard_count(), 4);
    }
}
