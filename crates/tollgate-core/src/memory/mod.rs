//! The embedded store: limit state in this process's memory, sharded across threads.

mod bounds;
mod builder;
#[cfg(test)]
mod fixtures;
mod journal;
mod shard;
mod store;
mod table;
mod when_full;

pub use bounds::MemoryStoreStats;
pub use builder::MemoryStoreBuilder;
pub use store::MemoryStore;
pub use when_full::WhenFull;
