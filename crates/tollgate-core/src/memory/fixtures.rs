//! What the memory store's tests share: a clock-aligned window, and keys spread like real hashes.

use std::time::Duration;

use crate::{Algorithm, Key, Schedule, Window};

pub(super) fn window(max: u64, secs: u64) -> Algorithm {
    Window::new(max, Schedule::clock(Duration::from_secs(secs)).unwrap())
        .unwrap()
        .into()
}

pub(super) fn key(n: u64) -> Key {
    // Spread over shards and homes like real hashes.
    Key::from_hash(n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}
