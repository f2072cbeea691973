//! `cargo bench -p tollgate-core`: decisions per second and bytes per key of the engine beside
//! governor and limitador, in one run. Results and how to read them: `docs/benchmarks.md`.

mod alloc;
mod paired;
mod subjects;

use std::cell::OnceCell;
use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};

use self::subjects::{GovernorString, GovernorU64, Keys, Limitador, Subject, Tollgate};

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

/// Visits keys in a scattered order (a stride coprime with every count used), so that large
/// key sets defeat the CPU caches as real traffic does.
const STRIDE: usize = 1_000_003;

/// Times `iters` decisions spread over `threads` threads, each on its own share of the keys
/// (all on the one key when there is one).
pub(crate) fn run<S: Subject>(subject: &S, keys: &Keys, threads: usize, iters: u64) -> Duration {
    let count = keys.numbers.len();
    let share = (count / threads).max(1);
    let started = Instant::now();
    thread::scope(|scope| {
        for thread in 0..threads {
            scope.spawn(move || {
                let base = if count == 1 { 0 } else { thread * share };
                let mut position = thread * 7_919;
                for _ in 0..iters / threads as u64 {
                    position = (position + STRIDE) % share;
                    black_box(subject.decide(keys, base + position));
                }
            });
        }
    });
    started.elapsed()
}

pub(crate) fn populate<S: Subject>(subject: &S, keys: &Keys) {
    for index in 0..keys.numbers.len() {
        assert!(subject.decide(keys, index), "warm-up decision admitted");
    }
}

fn decisions(c: &mut Criterion) {
    for count in [1usize, 1_000, 1_000_000] {
        let keys = Keys::new(count);
        for threads in [1usize, 2] {
            let mut group = c.benchmark_group(format!("decide/{count}-keys/{threads}-threads"));
            group.throughput(Throughput::Elements(1));
            macro_rules! subject {
                ($name:literal, $make:expr) => {{
                    // Built and filled only if the filter selects it.
                    let subject = OnceCell::new();
                    group.bench_function(BenchmarkId::from_parameter($name), |b| {
                        let subject = subject.get_or_init(|| {
                            let subject = $make;
                            populate(&subject, &keys);
                            subject
                        });
                        b.iter_custom(|iters| run(subject, &keys, threads, iters))
                    });
                }};
            }
            subject!("tollgate-string", Tollgate::new(true));
            subject!("tollgate-u64", Tollgate::new(false));
            subject!("governor-string", GovernorString::new());
            subject!("governor-u64", GovernorU64::new());
            subject!("limitador", Limitador::new(2 * count as u64));
            group.finish();
        }
    }
}

/// Bytes of heap state per key once 1,000,000 keys are held, for each subject.
fn bytes_per_key() {
    const COUNT: usize = 1_000_000;
    let keys = Keys::new(COUNT);
    println!("bytes of state per key at {COUNT} keys (heap allocated while the keys were added):");
    for (name, bytes) in [
        ("tollgate", measure_subject(&keys, || Tollgate::new(false))),
        ("governor-u64", measure_subject(&keys, GovernorU64::new)),
        (
            "governor-string",
            measure_subject(&keys, GovernorString::new),
        ),
        (
            "limitador",
            measure_subject(&keys, || Limitador::new(2 * COUNT as u64)),
        ),
    ] {
        println!("  {name:<16} {:>7.1}", bytes as f64 / COUNT as f64);
    }
    let tollgate = Tollgate::new(false);
    populate(&tollgate, &keys);
    println!(
        "  (tollgate's own count of its table: {:.1} bytes per key)",
        tollgate.bytes() as f64 / COUNT as f64
    );
}

/// Heap bytes a subject holds for all the keys: built, then filled, both counted.
fn measure_subject<S: Subject>(keys: &Keys, make: impl FnOnce() -> S) -> isize {
    let (bytes, subject) = alloc::measure(|| {
        let subject = make();
        populate(&subject, keys);
        subject
    });
    drop(subject);
    bytes
}

fn main() {
    // The memory figures and paired ratios take a while (limitador holds ~1 GB): skipped when a
    // filter that does not name them is given, as in `cargo bench -p tollgate-core -- decide/1-keys`;
    // `-- bytes-per-key` or `-- paired-ratios` runs one of them alone.
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    if filter
        .as_ref()
        .is_none_or(|filter| "bytes-per-key".contains(filter.as_str()))
    {
        bytes_per_key();
    }
    if filter
        .as_ref()
        .is_none_or(|filter| "paired-ratios".contains(filter.as_str()))
    {
        paired::report();
    }
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .configure_from_args();
    decisions(&mut criterion);
    criterion.final_summary();
}
