//! A bounded memory store under adversarial key hashes: crowds of partitions on the same home
//! slots (and the same shard), partitions homed at the table's far end, tiny capacities, time
//! moving on and sweeps. It never panics, never holds more than its capacity (shared out among
//! its shards, rounded up), and every partition it holds decides exactly as its model does.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use tollgate_core::{
    Algorithm, Key, LimitRequest, MemoryStore, Nanos, Rate, Schedule, Store, StoreError,
    TokenBucket, WhenFull, Window,
};

use crate::any::AnyModel;
use crate::reference::{Bucket, FixedWindow, Windows};
use crate::{START, cost, time_step};

/// A key hash chosen to collide. Most form a crowd on home slot 0 of shard 0 (any table
/// places them there, as it takes its slot from the high bits and the shard from the low
/// ones); others crowd on the last slot (where probing wraps around), stray over the table of
/// shard 0, or fall anywhere.
fn key_hash() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => (1u64..4_096).prop_map(|i| i << 12),
        1 => (1u64..4_096).prop_map(|i| (u64::MAX << 12) ^ (i << 12)),
        2 => any::<u64>().prop_map(|stray| stray & !0xfff),
        1 => any::<u64>(),
    ]
}

/// A step of time: mostly none or under a second, so that states pile up; sometimes the
/// steps of the other model tests, up to hours, so that they come to rest.
fn step() -> impl Strategy<Value = Nanos> {
    prop_oneof![
        4 => Just(0),
        4 => 1u64..1_000_000_000,
        1 => time_step(),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    /// One unit or more (or a peek) of the partition of one of the case's keys.
    Acquire(Index, u32),
    Advance(Nanos),
    Sweep(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (any::<Index>(), cost()).prop_map(|(key, cost)| Op::Acquire(key, cost)),
        2 => step().prop_map(Op::Advance),
        1 => (1usize..64).prop_map(Op::Sweep),
    ]
}

/// What a partition in the state of `model` answers to `cost` units at `now`: whether it
/// admits, what remains after, and (for an admitted request) when it is whole again; `model`
/// is charged if it admits.
fn answer(model: &mut AnyModel, now: Nanos, cost: u32) -> (bool, u64, Option<Nanos>) {
    let model = model.get();
    let wanted = u64::from(cost.max(1));
    let allowed = model.fits(now, wanted);
    if allowed && cost > 0 {
        model.take(now, wanted);
    }
    (
        allowed,
        model.remaining(now),
        allowed.then(|| model.reset_at(now)),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    #[test]
    fn a_full_store_never_panics_and_keeps_what_it_holds_exact(
        hashes in prop::collection::vec(key_hash(), 1..300),
        shards in prop::sample::select(vec![1usize, 1, 2, 4]),
        capacity in prop_oneof![1 => 1usize..8, 1 => 8usize..40, 3 => 40usize..160],
        when_full in prop::sample::select(vec![WhenFull::EvictNearestRest, WhenFull::RefuseNewKeys]),
        ops in prop::collection::vec(op(), 1..600),
    ) {
        let bucket = TokenBucket::new(Rate::new(1, Duration::from_secs(2)), 3).unwrap();
        let limits: [Algorithm; 2] = [
            bucket.into(),
            Window::new(5, Schedule::clock(Duration::from_secs(900)).unwrap()).unwrap().into(),
        ];
        let fresh = [
            AnyModel::Bucket(Bucket::new(bucket.interval(), 3)),
            AnyModel::Window(FixedWindow::new(5, Windows::Every(900_000_000_000))),
        ];
        // Each key is the partition of one limit, the same one each time it is drawn: mostly the
        // window, whose states stay away from rest for long, so that the store fills up.
        let mut keys: Vec<(Key, usize)> = hashes
            .iter()
            .enumerate()
            .map(|(n, &hash)| (Key::from_hash(hash), usize::from(n % 4 != 0)))
            .collect();
        let mut seen = HashSet::new();
        keys.retain(|&(key, _)| seen.insert(key));
        let mut models: HashMap<Key, AnyModel> = HashMap::new();
        let store = MemoryStore::builder()
            .shards(shards)
            .capacity(capacity)
            .when_full(when_full)
            .build();
        // The capacity is shared out among the shards rounded up (`shards` is a power of two).
        let per_shard = capacity.div_ceil(shards);
        let (mut now, mut restarted, mut refusals) = (START, 0u64, 0u64);
        for op in ops {
            match op {
                Op::Advance(step) => now += step,
                Op::Sweep(budget) => {
                    store.sweep(now, budget);
                }
                Op::Acquire(pick, cost) => {
                    let (key, limit) = *pick.get(&keys);
                    let request = [LimitRequest::new(key, &limits[limit], cost)];
                    let held = models.entry(key).or_insert_with(|| fresh[limit].clone());
                    let mut kept = held.clone();
                    let expected = answer(&mut kept, now, cost);
                    match store.acquire(now, &request) {
                        Ok(decision) => {
                            let outcome = &decision.outcomes()[0];
                            let got = (
                                outcome.allowed(),
                                outcome.remaining(),
                                outcome.allowed().then(|| outcome.reset_at()),
                            );
                            if got == expected {
                                *held = kept;
                            } else {
                                // Only an evicted partition may start again as if new.
                                let mut anew = fresh[limit].clone();
                                let as_new = answer(&mut anew, now, cost);
                                prop_assert_eq!(
                                    when_full, WhenFull::EvictNearestRest,
                                    "{:?} decided {:?}, its model {:?}", key, got, expected
                                );
                                prop_assert_eq!(got, as_new, "{:?}: neither as held nor as new", key);
                                *held = anew;
                                restarted += 1;
                            }
                        }
                        Err(error) => {
                            prop_assert_eq!(error, StoreError::Full { capacity: per_shard });
                            prop_assert_eq!(when_full, WhenFull::RefuseNewKeys, "eviction never fails");
                            // Only a partition the store does not hold is refused: one at rest.
                            let mut anew = fresh[limit].clone();
                            let as_new = answer(&mut anew, now, cost);
                            prop_assert_eq!(expected, as_new, "{:?} was held", key);
                            refusals += 1;
                        }
                    }
                }
            }
            let stats = store.stats();
            prop_assert!(stats.partitions <= per_shard * shards, "{} held", stats.partitions);
            if shards == 1 {
                prop_assert!(stats.partitions <= capacity);
            }
            prop_assert_eq!(stats.refused, refusals);
            // Each partition that started again was evicted (an evicted one may never return).
            prop_assert!(restarted <= stats.evicted, "{} restarted, {} evicted", restarted, stats.evicted);
            if when_full == WhenFull::RefuseNewKeys {
                prop_assert_eq!(stats.evicted, 0);
            }
        }
    }
}
