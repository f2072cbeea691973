//! The limiters compared, each doing the same work: one admitted decision for a key of a
//! token bucket (limitador, which has none, counts a fixed window), keys given as `u64` or as
//! `String`.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::FakeRelativeClock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use limitador::limit::{Context, Expression, Limit, Namespace, Predicate};
use tollgate_core::{
    Algorithm, KeySpace, LimitRequest, Limiter, ManualClock, MemoryStore, Rate, TokenBucket,
};

/// The keys of a run, in both forms.
pub(crate) struct Keys {
    pub(crate) numbers: Vec<u64>,
    pub(crate) strings: Vec<String>,
}

impl Keys {
    pub(crate) fn new(count: usize) -> Self {
        Self {
            numbers: (0..count as u64).map(|n| n * 7 + 1_000_003).collect(),
            strings: (0..count)
                .map(|n| format!("account-{n:07}/machines.list"))
                .collect(),
        }
    }
}

/// A limiter under test.
pub(crate) trait Subject: Sync {
    /// Decides one request for key number `index`; whether it was admitted.
    fn decide(&self, keys: &Keys, index: usize) -> bool;
}

/// A bucket that never runs dry while measured: a token per nanosecond, burst 2³² − 1.
const BURST: u32 = u32::MAX;

/// Tollgate's limiter, memory store and manual clock; the key hashed from its parts each time.
pub(crate) struct Tollgate {
    limiter: Limiter<MemoryStore, ManualClock>,
    space: KeySpace,
    bucket: Algorithm,
    string_keys: bool,
}

/// The store measured: the default, or with `TOLLGATE_SHARDS` shards (to compare counts).
fn store() -> MemoryStore {
    match std::env::var("TOLLGATE_SHARDS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        Some(shards) => MemoryStore::builder().shards(shards).build(),
        None => MemoryStore::new(),
    }
}

impl Tollgate {
    pub(crate) fn new(string_keys: bool) -> Self {
        let bucket = TokenBucket::new(Rate::new(1, Duration::from_nanos(1)), u64::from(BURST));
        Self {
            limiter: Limiter::new(store(), ManualClock::new(1_767_225_600_000_000_000)),
            space: KeySpace::new([42; 16]),
            bucket: bucket.expect("valid bucket").into(),
            string_keys,
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        self.limiter.store().stats().bytes
    }
}

impl Subject for Tollgate {
    fn decide(&self, keys: &Keys, index: usize) -> bool {
        let key = if self.string_keys {
            self.space.key(&[keys.strings[index].as_bytes()])
        } else {
            self.space.builder().push_u64(keys.numbers[index]).finish()
        };
        let request = [LimitRequest::new(key, &self.bucket, 1)];
        self.limiter
            .acquire(&request)
            .is_ok_and(|decision| decision.allowed())
    }
}

type Keyed<K> = governor::RateLimiter<
    K,
    DefaultKeyedStateStore<K>,
    FakeRelativeClock,
    NoOpMiddleware<governor::nanos::Nanos>,
>;

fn governor_quota() -> governor::Quota {
    governor::Quota::with_period(Duration::from_nanos(1))
        .expect("non-zero period")
        .allow_burst(NonZeroU32::new(BURST).expect("non-zero burst"))
}

/// governor's keyed limiter (DashMap) with `u64` keys.
pub(crate) struct GovernorU64(Keyed<u64>);

impl GovernorU64 {
    pub(crate) fn new() -> Self {
        Self(governor::RateLimiter::dashmap_with_clock(
            governor_quota(),
            FakeRelativeClock::default(),
        ))
    }
}

impl Subject for GovernorU64 {
    fn decide(&self, keys: &Keys, index: usize) -> bool {
        self.0.check_key(&keys.numbers[index]).is_ok()
    }
}

/// governor's keyed limiter (DashMap) with `String` keys.
pub(crate) struct GovernorString(Keyed<String>);

impl GovernorString {
    pub(crate) fn new() -> Self {
        Self(governor::RateLimiter::dashmap_with_clock(
            governor_quota(),
            FakeRelativeClock::default(),
        ))
    }
}

impl Subject for GovernorString {
    fn decide(&self, keys: &Keys, index: usize) -> bool {
        self.0.check_key(&keys.strings[index]).is_ok()
    }
}

/// limitador's in-memory storage: a fixed window per key that never fills.
pub(crate) struct Limitador {
    limiter: limitador::RateLimiter,
    namespace: Namespace,
}

impl Limitador {
    pub(crate) fn new(capacity: u64) -> Self {
        let limiter = limitador::RateLimiter::new(capacity);
        let per_key: Expression = "key".try_into().expect("valid CEL");
        limiter.add_limit(Limit::new(
            "bench",
            u64::MAX,
            60,
            Vec::<Predicate>::new(),
            vec![per_key],
        ));
        Self {
            limiter,
            namespace: "bench".into(),
        }
    }
}

impl Subject for Limitador {
    fn decide(&self, keys: &Keys, index: usize) -> bool {
        let values = HashMap::from([("key".to_string(), keys.strings[index].clone())]);
        let context: Context<'_> = values.into();
        self.limiter
            .check_rate_limited_and_update(&self.namespace, &context, 1)
            .is_ok_and(|result| !result.limited)
    }
}
