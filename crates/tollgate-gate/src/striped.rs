//! Counters that many threads add to without sharing a cache line: each thread adds to a
//! stripe of its own (one per core, up to [`MAX_STRIPES`]), and a read sums the stripes.
//! A counter is an index, handed out once when its series is made; a stripe's counters are
//! allocated a chunk at a time, as indices reach them.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The most stripes: past it, threads share them (still exact: every add is atomic).
pub(crate) const MAX_STRIPES: usize = 64;

/// Counters per chunk: one 4 KiB allocation per stripe.
const CHUNK: usize = 512;

/// Chunks per stripe: room for 128 Ki counters.
const CHUNKS: usize = 256;

/// A chunk of one stripe's counters, on cache lines no other stripe writes.
#[repr(align(128))]
struct Chunk([AtomicU64; CHUNK]);

/// One thread's (or a few threads') counters.
struct Stripe {
    chunks: [OnceLock<Box<Chunk>>; CHUNKS],
}

impl Stripe {
    fn counter(&self, index: usize) -> &AtomicU64 {
        let chunk = self.chunks[index / CHUNK]
            .get_or_init(|| Box::new(Chunk(std::array::from_fn(|_| AtomicU64::new(0)))));
        &chunk.0[index % CHUNK]
    }

    fn get(&self, index: usize) -> u64 {
        self.chunks[index / CHUNK]
            .get()
            .map_or(0, |chunk| chunk.0[index % CHUNK].load(Ordering::Relaxed))
    }
}

/// Counters by index, added to per thread and read summed.
pub(crate) struct Striped {
    stripes: Box<[Stripe]>,
    /// The stripes minus one (their count is a power of two).
    mask: usize,
}

impl std::fmt::Debug for Striped {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Striped")
            .field("stripes", &self.stripes.len())
            .finish_non_exhaustive()
    }
}

impl Default for Striped {
    /// As many stripes as the machine has cores (a power of two, at most [`MAX_STRIPES`]).
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self::with_stripes(cores)
    }
}

impl Striped {
    /// The most counters one holds.
    pub(crate) const CAPACITY: usize = CHUNK * CHUNKS;

    /// Counters in `stripes` stripes (rounded up to a power of two, at most [`MAX_STRIPES`]).
    pub(crate) fn with_stripes(stripes: usize) -> Self {
        let stripes = stripes.clamp(1, MAX_STRIPES).next_power_of_two();
        Self {
            stripes: (0..stripes)
                .map(|_| Stripe {
                    chunks: std::array::from_fn(|_| OnceLock::new()),
                })
                .collect(),
            mask: stripes - 1,
        }
    }

    /// Adds `n` to counter `index` in the calling thread's stripe.
    ///
    /// # Panics
    /// When `index` is not below [`Self::CAPACITY`].
    pub(crate) fn add(&self, index: usize, n: u64) {
        self.stripes[this_thread() & self.mask]
            .counter(index)
            .fetch_add(n, Ordering::Relaxed);
    }

    /// Counter `index`, summed over the stripes.
    pub(crate) fn get(&self, index: usize) -> u64 {
        self.stripes
            .iter()
            .fold(0u64, |sum, stripe| sum.wrapping_add(stripe.get(index)))
    }
}

/// The calling thread's number, handed out in the order threads first count.
fn this_thread() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static NUMBER: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    NUMBER.with(|number| *number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_from_many_threads_sum_exactly() {
        let counters = Striped::with_stripes(3);
        assert_eq!(counters.stripes.len(), 4);
        std::thread::scope(|scope| {
            for thread in 0..8u64 {
                let counters = &counters;
                scope.spawn(move || {
                    for _ in 0..1000 {
                        counters.add(7, 1);
                        counters.add(CHUNK + 1, thread);
                    }
                });
            }
        });
        assert_eq!(counters.get(7), 8000);
        assert_eq!(counters.get(CHUNK + 1), 1000 * (0..8).sum::<u64>());
        assert_eq!(counters.get(8), 0);
        assert_eq!(counters.get(Striped::CAPACITY - 1), 0, "never allocated");
    }

    #[test]
    fn each_thread_keeps_one_number_and_no_two_share_it() {
        let mine = this_thread();
        assert_eq!(this_thread(), mine);
        let others = [0, 1].map(|_| std::thread::spawn(this_thread).join().unwrap());
        assert!(others[0] != mine && others[1] != mine && others[0] != others[1]);
    }
}
