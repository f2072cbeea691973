//! Distinct-value limits in the memory store against a set per partition and period, beside a
//! window in the same requests (all or nothing), through sweeps and restarts from the journal.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use proptest::prelude::*;
use tollgate_core::{
    Algorithm, Clock, Distinct, Key, LimitRequest, Limiter, ManualClock, MemoryStore, Nanos,
    Schedule, Window,
};

use crate::{START, time_step};

const QUARTER: Nanos = 900_000_000_000;
const MAX_VALUES: u64 = 3;
const MAX_REQUESTS: u64 = 6;

#[derive(Debug, Clone)]
enum Op {
    /// A request of `partition` naming `value` (or none); with the window too when set; a peek
    /// when `peek`.
    Acquire {
        partition: u64,
        value: Option<u64>,
        window: bool,
        peek: bool,
    },
    Advance(Nanos),
    Sweep(usize),
    /// The journal written down, the store dropped, a new one restored from it.
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u64..2, prop::option::weighted(0.9, 0u64..6), any::<bool>(), prop::bool::weighted(0.1))
            .prop_map(|(partition, value, window, peek)| Op::Acquire { partition, value, window, peek }),
        3 => time_step().prop_map(Op::Advance),
        1 => (1usize..64).prop_map(Op::Sweep),
        1 => Just(Op::Restart),
    ]
}

fn key(n: u64) -> Key {
    Key::from_hash((n + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// The naive model: the values seen per partition and period, the requests per quarter hour.
#[derive(Default)]
struct Model {
    seen: HashMap<(u64, u64), BTreeSet<u64>>,
    requests: HashMap<(u64, u64), u64>,
}

fn journaled() -> MemoryStore {
    MemoryStore::builder().shards(4).journaled(true).build()
}

proptest! {
    #[test]
    fn admits_as_sets_of_values_through_sweeps_and_restarts(
        for_good in any::<bool>(),
        ops in prop::collection::vec(op(), 1..200),
    ) {
        let period = (!for_good).then(|| Schedule::clock(Duration::from_secs(900)).unwrap());
        let distinct: Algorithm = Distinct::new(MAX_VALUES, period).unwrap().into();
        let window: Algorithm = Window::new(MAX_REQUESTS, Schedule::clock(Duration::from_secs(900)).unwrap())
            .unwrap()
            .into();
        let clock = ManualClock::new(START);
        let mut limiter = Limiter::new(journaled(), clock.clone());
        let mut journal = Vec::new();
        let mut model = Model::default();
        for op in ops {
            let now = clock.now();
            match op {
                Op::Acquire { partition, value, window: with_window, peek } => {
                    let cost = u32::from(!peek);
                    let mut requests = vec![LimitRequest::new(key(partition), &distinct, cost)
                        .with_value(value.map(|v| key(100 + v)))];
                    if with_window {
                        requests.push(LimitRequest::new(key(10 + partition), &window, cost));
                    }
                    let admitted = limiter.acquire(&requests).unwrap().allowed();
                    let period = if for_good { 0 } else { now / QUARTER };
                    let seen = model.seen.entry((partition, period)).or_default();
                    let value_fits = value.is_none_or(|v| {
                        seen.contains(&v) || (seen.len() as u64) < MAX_VALUES
                    });
                    let used = model.requests.entry((partition, now / QUARTER)).or_default();
                    let window_fits = !with_window || *used < MAX_REQUESTS;
                    prop_assert_eq!(admitted, value_fits && window_fits, "at {}", now);
                    if admitted && !peek {
                        seen.extend(value);
                        *used += u64::from(with_window);
                    }
                }
                Op::Advance(step) => clock.advance(Duration::from_nanos(step)),
                Op::Sweep(budget) => {
                    limiter.store().sweep(now, budget);
                }
                Op::Restart => {
                    limiter.store().take_journal(&mut journal);
                    let restarted = journaled();
                    restarted.restore(journal.iter().copied(), now).unwrap();
                    limiter = Limiter::new(restarted, clock.clone());
                }
            }
        }
    }
}
