//! Many threads on one store: exact counts, bounded buckets, all-or-nothing under contention.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use tollgate_core::{
    Algorithm, Distinct, Key, LimitRequest, Limiter, ManualClock, MemoryStore, Rate, Schedule,
    TokenBucket, Window,
};

const THREADS: u64 = 8;
/// 2026-01-01T00:00:00Z.
const START: u64 = 1_767_225_600_000_000_000;

fn key(n: u64) -> Key {
    Key::from_hash((n + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn window(max: u64) -> Algorithm {
    Window::new(max, Schedule::clock(Duration::from_secs(900)).unwrap())
        .unwrap()
        .into()
}

#[test]
fn eight_threads_on_one_window_admit_exactly_its_max() {
    let limiter = Limiter::new(MemoryStore::new(), ManualClock::new(START));
    let limit = window(1_000);
    let request = [LimitRequest::new(key(0), &limit, 1)];
    let admitted = AtomicU64::new(0);
    thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                for _ in 0..400 {
                    if limiter.acquire(&request).unwrap().allowed() {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(admitted.into_inner(), 1_000);
}

#[test]
fn eight_threads_on_one_distinct_limit_admit_exactly_its_max_values() {
    let limiter = Limiter::new(
        MemoryStore::builder().shards(4).build(),
        ManualClock::new(START),
    );
    let limit: Algorithm = Distinct::new(25, None).unwrap().into();
    let admitted: Vec<Vec<u64>> = thread::scope(|scope| {
        let threads: Vec<_> = (0..THREADS)
            .map(|thread| {
                let (limiter, limit) = (&limiter, &limit);
                scope.spawn(move || {
                    // Each thread asks for 100 values, most also asked by other threads.
                    (0..100u64)
                        .map(|n| (n * 13 + thread * 29) % 100)
                        .filter(|value| {
                            let request = LimitRequest::new(key(0), limit, 1)
                                .with_value(Some(key(1_000 + value)));
                            limiter.acquire(&[request]).unwrap().allowed()
                        })
                        .collect()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let values: std::collections::BTreeSet<u64> = admitted.iter().flatten().copied().collect();
    assert_eq!(values.len(), 25, "exactly the bound");
    // Every value admitted to one thread is admitted to all that ask for it later.
    for value in &values {
        let request = LimitRequest::new(key(0), &limit, 1).with_value(Some(key(1_000 + value)));
        assert!(limiter.acquire(&[request]).unwrap().allowed());
    }
}

#[test]
fn eight_threads_on_one_bucket_admit_burst_plus_rate_times_elapsed() {
    let clock = ManualClock::new(START);
    let limiter = Limiter::new(MemoryStore::new(), clock.clone());
    // 1,000 per second (a token per millisecond), burst 50.
    let bucket = TokenBucket::new(Rate::per_second(1_000), 50).unwrap();
    let limit: Algorithm = bucket.into();
    let request = [LimitRequest::new(key(0), &limit, 1)];
    let admitted = AtomicU64::new(0);
    let time_is_up = AtomicBool::new(false);
    let steps = 2_000u64;
    thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                let take = || {
                    if limiter.acquire(&request).unwrap().allowed() {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                };
                while !time_is_up.load(Ordering::Acquire) {
                    take();
                }
                // Then drain whatever the last instant left, so the count is exact.
                for _ in 0..100 {
                    take();
                }
            });
        }
        scope.spawn(|| {
            let peek = [LimitRequest::new(key(0), &limit, 0)];
            for _ in 0..steps {
                // Time moves only once the workers have emptied the bucket, so that no token is
                // lost to a full bucket and the count can be exact.
                while limiter.acquire(&peek).unwrap().outcomes()[0].remaining() > 0 {
                    thread::yield_now();
                }
                clock.advance(Duration::from_micros(500));
                thread::yield_now();
            }
            time_is_up.store(true, Ordering::Release);
        });
    });
    let elapsed = steps * 500_000;
    let bound = 50 + elapsed / bucket.interval();
    assert_eq!(
        admitted.into_inner(),
        bound,
        "burst + rate × elapsed, no more and no less"
    );
}

#[test]
fn all_or_nothing_holds_under_contention() {
    let limiter = Limiter::new(MemoryStore::new(), ManualClock::new(START));
    let (shared, own) = (window(300), window(50));
    let per_thread: Vec<AtomicU64> = (0..THREADS).map(|_| AtomicU64::new(0)).collect();
    thread::scope(|scope| {
        for (thread, admitted) in per_thread.iter().enumerate() {
            let (limiter, shared, own) = (&limiter, &shared, &own);
            scope.spawn(move || {
                let mine = LimitRequest::new(key(100 + thread as u64), own, 1);
                let common = LimitRequest::new(key(0), shared, 1);
                for attempt in 0..100 {
                    // Alternate the order of the limits: the locks are still taken in one order.
                    let request = if attempt % 2 == 0 {
                        [mine, common]
                    } else {
                        [common, mine]
                    };
                    if limiter.acquire(&request).unwrap().allowed() {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let counts: Vec<u64> = per_thread
        .iter()
        .map(|count| count.load(Ordering::Relaxed))
        .collect();
    let total: u64 = counts.iter().sum();
    assert_eq!(total, 300, "the shared limit admits exactly its max");
    let peek = |key, limit| {
        limiter
            .acquire(&[LimitRequest::new(key, limit, 0)])
            .unwrap()
            .outcomes()[0]
            .remaining()
    };
    assert_eq!(peek(key(0), &shared), 0);
    for (thread, admitted) in counts.iter().enumerate() {
        assert!(*admitted <= 50);
        // A refusal by the shared limit charged nothing to the thread's own limit.
        assert_eq!(
            peek(key(100 + thread as u64), &own),
            50 - admitted,
            "thread {thread}"
        );
    }
}
