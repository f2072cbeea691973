//! Ratios measured in pairs: each round times the engine and then a peer on the same keys and
//! threads, and the median of the rounds' ratios is reported. On a shared, noisy machine this
//! is steadier than comparing two criterion figures taken minutes apart.

use std::time::Duration;

use crate::run;
use crate::subjects::{GovernorString, GovernorU64, Keys, Limitador, Subject, Tollgate};

const ROUNDS: usize = 9;

/// Decisions per second of `subject` over `decisions` decisions.
fn throughput<S: Subject>(subject: &S, keys: &Keys, threads: usize, decisions: u64) -> f64 {
    let elapsed: Duration = run(subject, keys, threads, decisions);
    decisions as f64 / elapsed.as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Prints the median ratio of `ours` to `peer` and both medians in millions per second.
fn compare<A: Subject, B: Subject>(
    label: &str,
    (ours, ours_decisions): (&A, u64),
    (peer, peer_decisions): (&B, u64),
    keys: &Keys,
    threads: usize,
) {
    let (mut ratios, mut ours_rates, mut peer_rates) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let a = throughput(ours, keys, threads, ours_decisions);
        let b = throughput(peer, keys, threads, peer_decisions);
        ratios.push(a / b);
        ours_rates.push(a);
        peer_rates.push(b);
    }
    println!(
        "  {:>9} keys {threads} thread(s)  {label:<36} {:>7.2}x   ({:.2} vs {:.3} M/s)",
        keys.numbers.len(),
        median(ratios),
        median(ours_rates) / 1e6,
        median(peer_rates) / 1e6,
    );
}

fn populated<S: Subject>(subject: S, keys: &Keys) -> S {
    crate::populate(&subject, keys);
    subject
}

/// The counts listed in the environment variable `name` (`1,2,4`), else `default`.
fn counts_from(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map(|list| {
            list.split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect()
        })
        .filter(|counts: &Vec<usize>| !counts.is_empty())
        .unwrap_or_else(|| default.to_vec())
}

/// Prints the paired ratios for 1,000 and 1,000,000 keys (or those `PAIRED_KEYS` lists) on 1
/// and 2 threads (or those `PAIRED_THREADS` lists, e.g. `1,2,4,8,16` on a larger machine).
pub(crate) fn report() {
    println!("decisions/s ratios, median of {ROUNDS} paired rounds:");
    for count in counts_from("PAIRED_KEYS", &[1_000, 1_000_000]) {
        let keys = Keys::new(count);
        let strings = populated(Tollgate::new(true), &keys);
        let numbers = populated(Tollgate::new(false), &keys);
        let governor_strings = populated(GovernorString::new(), &keys);
        let governor_numbers = populated(GovernorU64::new(), &keys);
        let limitador = populated(Limitador::new(2 * count as u64), &keys);
        for &threads in &counts_from("PAIRED_THREADS", &[1, 2]) {
            let fast = 2_000_000;
            compare(
                "tollgate-string / governor-string",
                (&strings, fast),
                (&governor_strings, fast),
                &keys,
                threads,
            );
            compare(
                "tollgate-u64 / governor-u64",
                (&numbers, fast),
                (&governor_numbers, fast),
                &keys,
                threads,
            );
            compare(
                "tollgate-string / limitador",
                (&strings, fast),
                (&limitador, 40_000),
                &keys,
                threads,
            );
        }
    }
}
