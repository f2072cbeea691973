//! The limiter with the memory store against the models: all-or-nothing over several limits,
//! several partitions, releases and sweeps.

use std::time::Duration;

use jiff::tz::TimeZone;
use proptest::prelude::*;
use tollgate_core::{
    Algorithm, CalendarUnit, Concurrency, Decision, Key, Lease, LimitRequest, Limiter, ManualClock,
    MemoryStore, Nanos, Rate, Schedule, SlidingWindow, TokenBucket, Window,
};

use crate::any::AnyModel;
use crate::reference::{Bucket, FixedWindow, InFlight, Sliding, Windows};
use crate::{START, cost, time_step};

/// The limits of the test and a model per (limit, partition).
fn limits() -> (Vec<Algorithm>, Vec<AnyModel>) {
    let bucket = TokenBucket::new(Rate::new(1, Duration::from_secs(2)), 3).unwrap();
    let berlin = TimeZone::get("Europe/Berlin").unwrap();
    let algorithms: Vec<Algorithm> = vec![
        bucket.into(),
        Window::new(5, Schedule::clock(Duration::from_secs(900)).unwrap())
            .unwrap()
            .into(),
        Window::new(8, Schedule::calendar(CalendarUnit::Day, berlin.clone()))
            .unwrap()
            .into(),
        SlidingWindow::new(4, Duration::from_secs(60))
            .unwrap()
            .into(),
        Concurrency::new(2, Duration::from_secs(30)).unwrap().into(),
    ];
    let models = vec![
        AnyModel::Bucket(Bucket::new(bucket.interval(), 3)),
        AnyModel::Window(FixedWindow::new(5, Windows::Every(900_000_000_000))),
        AnyModel::Window(FixedWindow::new(
            8,
            Windows::Calendar(CalendarUnit::Day, berlin),
        )),
        AnyModel::Sliding(Sliding::new(4, 60_000_000_000)),
        AnyModel::InFlight(InFlight::new(2, 30_000_000_000)),
    ];
    (algorithms, models)
}

const PARTITIONS: usize = 2;

#[derive(Debug, Clone)]
enum Op {
    /// Limits `(limit, partition)` of one request, with a cost.
    Acquire(Vec<(usize, usize)>, u32),
    Advance(Nanos),
    /// Release the oldest lease held.
    Release,
    Sweep(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let limit = (0usize..5, 0..PARTITIONS);
    prop_oneof![
        6 => (prop::collection::vec(limit, 1..4), cost()).prop_map(|(l, c)| Op::Acquire(l, c)),
        3 => time_step().prop_map(Op::Advance),
        1 => Just(Op::Release),
        1 => (1usize..64).prop_map(Op::Sweep),
    ]
}

fn key(limit: usize, partition: usize) -> Key {
    Key::from_hash(
        ((limit * PARTITIONS + partition) as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    )
}

/// Whether the models admit the whole request at `now`, charging as they go (on clones) unless
/// the request is a peek (`cost` 0, each limit judged as if for one unit).
fn models_admit(models: &[AnyModel], limits: &[(usize, usize)], now: Nanos, cost: u32) -> bool {
    let (wanted, charge) = (u64::from(cost.max(1)), cost > 0);
    let mut scratch = models.to_vec();
    limits.iter().all(|&(limit, partition)| {
        let model = scratch[limit * PARTITIONS + partition].get();
        let fits = model.fits(now, wanted);
        if fits && charge {
            model.take(now, wanted);
        }
        fits
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]
    #[test]
    fn limiter_matches_the_models(ops in prop::collection::vec(op(), 1..150)) {
        let (algorithms, kinds) = limits();
        let mut models: Vec<AnyModel> =
            kinds.iter().flat_map(|model| std::iter::repeat_n(model.clone(), PARTITIONS)).collect();
        let clock = ManualClock::new(START);
        let limiter = Limiter::new(MemoryStore::builder().shards(4).build(), clock.clone());
        // Admitted decisions holding leases, with the model of each lease in order.
        let mut leases: Vec<(Decision, Vec<usize>)> = Vec::new();
        for op in ops {
            let now = tollgate_core::Clock::now(&clock);
            match op {
                Op::Advance(step) => clock.advance(Duration::from_nanos(step)),
                Op::Sweep(budget) => {
                    limiter.store().sweep(now, budget);
                }
                Op::Release => {
                    if !leases.is_empty() {
                        let (decision, owners) = leases.remove(0);
                        limiter.release(&decision).unwrap();
                        for (lease, model) in decision.leases().iter().zip(owners) {
                            let lease: &Lease = lease;
                            if let AnyModel::InFlight(in_flight) = &mut models[model] {
                                let held = (lease.expires_at, u64::from(lease.cost));
                                if let Some(at) = in_flight.held.iter().position(|&h| h == held) {
                                    in_flight.held.remove(at);
                                }
                            }
                        }
                    }
                }
                Op::Acquire(limits, cost) => {
                    let requests: Vec<LimitRequest<'_>> = limits
                        .iter()
                        .map(|&(limit, partition)| LimitRequest::new(key(limit, partition), &algorithms[limit], cost))
                        .collect();
                    let decision = limiter.acquire(&requests).unwrap();
                    let wanted = u64::from(cost.max(1));
                    let admit = models_admit(&models, &limits, now, cost);
                    prop_assert_eq!(decision.allowed(), admit, "{:?} at {}", limits, now);
                    if admit && cost > 0 {
                        for &(limit, partition) in &limits {
                            models[limit * PARTITIONS + partition].get().take(now, wanted);
                        }
                        let owners: Vec<usize> = limits
                            .iter()
                            .filter(|&&(limit, _)| limit == 4)
                            .map(|&(limit, partition)| limit * PARTITIONS + partition)
                            .collect();
                        if !owners.is_empty() {
                            leases.push((decision.clone(), owners));
                        }
                    }
                    // Each limit reports what its model holds after the decision (a partition named
                    // twice in one request reports its first charge alone).
                    for (outcome, &(limit, partition)) in decision.outcomes().iter().zip(&limits) {
                        let remaining = models[limit * PARTITIONS + partition].get().remaining(now);
                        if limits.iter().filter(|&&l| l == (limit, partition)).count() == 1 {
                            prop_assert_eq!(outcome.remaining(), remaining, "limit {} at {}", limit, now);
                        }
                    }
                    // The decision's retry_at is exact for the whole request when each partition
                    // appears once (concurrency aside, whose leases may be released sooner).
                    let mut distinct = limits.clone();
                    distinct.sort_unstable();
                    distinct.dedup();
                    if let (false, Some(retry)) = (decision.allowed(), decision.retry_at()) {
                        if distinct.len() == limits.len() && !limits.iter().any(|&(limit, _)| limit == 4) {
                            prop_assert!(models_admit(&models, &limits, retry, cost), "admitted at {}", retry);
                            prop_assert!(!models_admit(&models, &limits, retry - 1, cost), "refused before {}", retry);
                        }
                    }
                }
            }
        }
    }
}
