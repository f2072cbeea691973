//! Compact keys for the partitions of a limit.
//!
//! A limit is partitioned by the values of its dimensions (rule, account, api, concrete path…).
//! The store does not keep those strings: it keeps a 64-bit keyed hash of them, a [`Key`].
//!
//! Two different partitions share state only if their keys collide. [`KeySpace`] uses foldhash
//! (its quality variant) seeded with a secret 128-bit seed: a fast hash whose outputs behave as
//! random for inputs not chosen against the seed, so that among `n` distinct partitions the
//! chance that any two collide is about `n² / 2⁶⁵` — 3 × 10⁻⁸ at a million partitions, 3 × 10⁻⁶
//! at ten million. It is not a cryptographic function: an attacker who could read hash outputs
//! might craft collisions, and Tollgate never shows them (no output, no iteration order, no
//! log). Whatever the cause, a collision makes two partitions share one counter — stricter for
//! both, never an admission beyond the shared counter's limit.
//!
//! SipHash-1-3 was measured first and cost more than the whole rest of a decision; see
//! `docs/benchmarks.md`.

use std::hash::Hasher;

use foldhash::SharedSeed;
use foldhash::quality::FoldHasher;

/// The identity of one partition of one limit in a store: a keyed 64-bit hash, never zero (so
/// that an `Option<Key>` takes no more room than a key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(std::num::NonZeroU64);

impl Key {
    /// Wraps a hash computed elsewhere. Zero is reserved for "no key" and is mapped to one.
    #[must_use]
    pub const fn from_hash(hash: u64) -> Self {
        match std::num::NonZeroU64::new(hash) {
            Some(hash) => Self(hash),
            None => Self(std::num::NonZeroU64::MIN),
        }
    }

    /// The 64-bit value of the key.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0.get()
    }
}

/// A seeded hash function that turns the parts of a partition into a [`Key`].
///
/// The seed must stay the same for as long as stored state should be found again (a store that
/// persists state persists its seed too), and should be secret.
///
/// ```
/// use tollgate_core::KeySpace;
///
/// let space = KeySpace::new([7; 16]);
/// let a = space.key(&[b"daily", b"acme", b"machines.list"]);
/// assert_eq!(a, space.key(&[b"daily", b"acme", b"machines.list"]));
/// // Parts are length-prefixed: moving a byte between parts is another partition.
/// assert_ne!(space.key(&[b"ab", b"c"]), space.key(&[b"a", b"bc"]));
/// ```
#[derive(Clone)]
pub struct KeySpace {
    per_hasher: u64,
    shared: SharedSeed,
}

impl KeySpace {
    /// A key space with the given 128-bit seed.
    #[must_use]
    pub fn new(seed: [u8; 16]) -> Self {
        let (per_hasher, shared) = seed.split_at(8);
        Self {
            per_hasher: u64::from_le_bytes(per_hasher.try_into().expect("8 bytes")),
            shared: SharedSeed::from_u64(u64::from_le_bytes(shared.try_into().expect("8 bytes"))),
        }
    }

    /// A key space with a seed drawn from the operating system's randomness (through std's
    /// randomly keyed hasher); for state that need not survive the process.
    #[must_use]
    pub fn random() -> Self {
        use std::hash::{BuildHasher, RandomState};
        let state = RandomState::new();
        let mut seed = [0u8; 16];
        seed[..8].copy_from_slice(&state.hash_one(0u8).to_le_bytes());
        seed[8..].copy_from_slice(&state.hash_one(1u8).to_le_bytes());
        Self::new(seed)
    }

    /// Starts a key to which parts are added one at a time.
    #[must_use]
    pub fn builder(&self) -> KeyBuilder<'_> {
        KeyBuilder {
            hasher: FoldHasher::with_seed(self.per_hasher, &self.shared),
        }
    }

    /// The key of a partition given all its parts.
    #[must_use]
    pub fn key(&self, parts: &[&[u8]]) -> Key {
        let mut builder = self.builder();
        for part in parts {
            builder.push(part);
        }
        builder.finish()
    }
}

impl std::fmt::Debug for KeySpace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The seed is a secret: it never reaches a log.
        f.debug_struct("KeySpace").finish_non_exhaustive()
    }
}

/// Accumulates the parts of one key; see [`KeySpace::builder`].
#[derive(Clone)]
pub struct KeyBuilder<'a> {
    hasher: FoldHasher<'a>,
}

impl std::fmt::Debug for KeyBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyBuilder").finish_non_exhaustive()
    }
}

impl KeyBuilder<'_> {
    /// Adds one part (a dimension's value, a rule id…), length-prefixed.
    pub fn push(&mut self, part: &[u8]) -> &mut Self {
        self.hasher.write_usize(part.len());
        self.hasher.write(part);
        self
    }

    /// Adds an integer part, such as a rule index.
    pub fn push_u64(&mut self, part: u64) -> &mut Self {
        self.hasher.write_u64(part);
        self
    }

    /// The key of the parts pushed so far.
    #[must_use]
    pub fn finish(&self) -> Key {
        Key::from_hash(self.hasher.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_separate_key_spaces() {
        let a = KeySpace::new([1; 16]).key(&[b"acme"]);
        let b = KeySpace::new([2; 16]).key(&[b"acme"]);
        assert_ne!(a, b);
    }

    #[test]
    fn zero_is_never_a_key() {
        assert_eq!(Key::from_hash(0).get(), 1);
        assert_eq!(Key::from_hash(42).get(), 42);
    }

    #[test]
    fn builder_and_slice_agree() {
        let space = KeySpace::random();
        let mut builder = space.builder();
        builder.push(b"rule").push(b"acme");
        assert_eq!(builder.finish(), space.key(&[b"rule", b"acme"]));
    }

    #[test]
    fn debug_hides_the_seed() {
        assert_eq!(
            format!("{:?}", KeySpace::new([0xAB; 16])),
            "KeySpace { .. }"
        );
    }
}
