//! `cargo bench -p tollgate-core --bench distinct`: a distinct-value limit (10 machines per
//! account) beside a plain quota (a daily window per account), in the memory store: heap bytes
//! per partition, and the cost of a decision. A binary of its own: beside the engine's
//! benchmark, its calls into the store would change what the compiler inlines there.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use tollgate_core::{
    Algorithm, Distinct, Key, LimitRequest, MemoryStore, NANOS_PER_SEC, Schedule, Store, Window,
};

#[path = "engine/alloc.rs"]
mod alloc;

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

/// Accounts (partitions) measured.
const ACCOUNTS: u64 = 100_000;

/// Machines each account uses: the distinct limit's `max`.
const MACHINES: u64 = 10;

/// An instant in 2026.
const NOW: u64 = 1_767_225_600 * NANOS_PER_SEC;

fn daily() -> Algorithm {
    let day = Schedule::clock(Duration::from_secs(86_400)).expect("a day");
    Window::new(1 << 40, day).expect("a window").into()
}

fn machines() -> Algorithm {
    Distinct::new(MACHINES, None).expect("a bound").into()
}

/// Partition keys spread like real hashes.
fn account(n: u64) -> Key {
    Key::from_hash((n + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn machine(n: u64) -> Option<Key> {
    Some(Key::from_hash((n + 1).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)))
}

/// A store where each of `accounts` accounts has used `uses` units of `algorithm` (one per
/// machine, for a distinct limit).
fn filled(algorithm: &Algorithm, uses: u64, accounts: u64) -> MemoryStore {
    let store = MemoryStore::new();
    for n in 0..accounts {
        for used in 0..uses {
            let request = LimitRequest::new(account(n), algorithm, 1).with_value(machine(used));
            assert!(store.acquire(NOW, &[request]).expect("decided").allowed());
        }
    }
    store
}

/// Heap bytes per account for a daily quota and for 10 machines, printed.
fn report() {
    let (quota, machines) = (daily(), machines());
    let (quota_bytes, store) = alloc::measure(|| filled(&quota, 1, ACCOUNTS));
    drop(store);
    let (machine_bytes, store) = alloc::measure(|| filled(&machines, MACHINES, ACCOUNTS));
    let held = store.stats().partitions as u64;
    drop(store);
    #[allow(clippy::cast_precision_loss, reason = "a figure to print")]
    let per = |bytes: isize, count: u64| bytes as f64 / count as f64;
    println!(
        "memory per partition at {ACCOUNTS} accounts (heap allocated while they were filled):"
    );
    println!(
        "  daily quota                 {:>7.1} bytes",
        per(quota_bytes, ACCOUNTS)
    );
    println!(
        "  {MACHINES} machines (distinct)      {:>7.1} bytes ({:.1} per slot, {held} slots)",
        per(machine_bytes, ACCOUNTS),
        per(machine_bytes, held)
    );
}

/// Decisions on 1,024 accounts: a daily quota, a distinct limit asked for a machine already
/// seen, and for a new machine past its bound (refused). The requests are made beforehand, so
/// that a decision is all that is timed.
fn decisions(c: &mut Criterion) {
    const HOT: u64 = 1_024;
    /// Requests cycled through (a power of two: the next one is found with a mask).
    const REQUESTS: usize = 1 << 14;
    let (quota, machines) = (daily(), machines());
    let mut group = c.benchmark_group("distinct/1024-accounts");
    group.throughput(Throughput::Elements(1));
    let quotas = filled(&quota, 1, HOT);
    let seen = filled(&machines, MACHINES, HOT);
    let cases: [(&str, &MemoryStore, &Algorithm, u64); 3] = [
        ("quota", &quotas, &quota, 0),
        ("distinct-seen", &seen, &machines, 0),
        ("distinct-new-refused", &seen, &machines, MACHINES),
    ];
    for (name, store, algorithm, first_machine) in cases {
        let requests: Vec<LimitRequest<'_>> = (0..REQUESTS as u64)
            .map(|n| {
                LimitRequest::new(account(n % HOT), algorithm, 1)
                    .with_value(machine(first_machine + n % MACHINES))
            })
            .collect();
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            let mut at = 0;
            b.iter(|| {
                at = (at + 1) & (REQUESTS - 1);
                black_box(store.acquire(NOW, &requests[at..=at]).expect("decided"))
            });
        });
    }
    group.finish();
}

fn main() {
    report();
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .configure_from_args();
    decisions(&mut criterion);
    criterion.final_summary();
}
