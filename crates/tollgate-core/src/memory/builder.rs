//! Options for a memory store, and the store they build.

use std::sync::atomic::{AtomicU64, AtomicUsize};

use spin::mutex::SpinMutex;

use super::journal::DirtyShards;
use super::shard::Shard;
use super::store::{MemoryStore, Padded};
use super::when_full::WhenFull;

/// Options for a [`MemoryStore`].
#[derive(Debug, Clone)]
pub struct MemoryStoreBuilder {
    shards: usize,
    capacity: Option<usize>,
    /// Of `capacity`, what anonymous requests may fill with new partitions.
    anonymous_share: f64,
    when_full: WhenFull,
    journaled: bool,
}

impl MemoryStoreBuilder {
    /// The number of shards, rounded up to a power of two (default 256, at most 65,536: a
    /// distinct-value limit keeps its values in its partition's shard by the key's low 16 bits).
    #[must_use]
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = shards.clamp(1, 1 << 16).next_power_of_two();
        self
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
        let per_shard = self
            .capacity
            .map_or(usize::MAX, |capacity| capacity.div_ceil(self.shards).max(1));
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
        let dirty = std::sync::Arc::new(DirtyShards::new(self.shards));
        MemoryStore {
            shards: (0..self.shards)
                .map(|index| {
                    let marks = self
                        .journaled
                        .then(|| (index, std::sync::Arc::clone(&dirty)));
                    let mut shard = Shard::new(per_shard, self.when_full, marks);
                    shard.anonymous_max = anonymous_per_shard;
                    Padded(SpinMutex::new(shard))
                })
                .collect(),
            mask: self.shards as u64 - 1,
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
            shards: 256,
            capacity: None,
            anonymous_share: 1.0,
            when_full: WhenFull::default(),
            journaled: false,
        }
    }
}
