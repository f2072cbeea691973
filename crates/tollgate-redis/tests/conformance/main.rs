//! One suite of scenarios on both stores: the embedded memory store and Redis must give the same
//! decisions at the same instants (Redis pinned to them with the `pinned-time` feature).

mod cluster;
#[path = "../support/redis_server.rs"]
#[allow(dead_code, unreachable_pub)]
mod redis_server;
mod scenarios;

use std::time::Duration;

use redis_server::RedisServer;
use tollgate_core::{Decision, Lease, LimitRequest, MemoryStore, Nanos, Outcome, Store};
use tollgate_redis::{RedisStore, StoreUrl};

/// Both stores, driven in step.
pub(crate) struct Pair {
    memory: MemoryStore,
    redis: RedisStore,
    _server: RedisServer,
    leases: Vec<(Vec<Lease>, Vec<Lease>)>,
}

impl Pair {
    pub(crate) async fn start() -> Self {
        let server = RedisServer::start();
        let url: StoreUrl = server.url().parse().unwrap();
        let redis = RedisStore::connect(&url, Duration::from_secs(5))
            .await
            .unwrap();
        Self {
            memory: MemoryStore::new(),
            redis,
            _server: server,
            leases: Vec::new(),
        }
    }

    /// Decides on both; asserts they agree; the decision (in microseconds).
    pub(crate) async fn acquire(&mut self, now: Nanos, requests: &[LimitRequest<'_>]) -> Seen {
        let memory = self.memory.acquire(now, requests).unwrap();
        let redis = self.redis.acquire_at(now, requests).await.unwrap();
        let seen = Seen::of(&memory);
        assert_eq!(seen, Seen::of(&redis), "memory and Redis disagree at {now}");
        if !memory.leases().is_empty() {
            self.leases
                .push((memory.leases().to_vec(), redis.leases().to_vec()));
        }
        seen
    }

    pub(crate) async fn refund(&mut self, at: Nanos, requests: &[LimitRequest<'_>]) {
        self.memory.refund(at, requests).unwrap();
        self.redis.refund(at, requests).await.unwrap();
    }

    /// Gives back what a request that left before its turn took, on both stores.
    pub(crate) async fn withdraw(
        &mut self,
        at: Nanos,
        requests: &[LimitRequest<'_>],
        reserved: &[Nanos],
    ) {
        self.memory.withdraw(at, requests, reserved).unwrap();
        self.redis.withdraw(at, requests, reserved).await.unwrap();
    }

    /// Releases the oldest leases still held, on both stores.
    pub(crate) async fn release_oldest(&mut self, now: Nanos) {
        if self.leases.is_empty() {
            return;
        }
        let (memory, redis) = self.leases.remove(0);
        for lease in &memory {
            self.memory.release(now, lease).unwrap();
        }
        self.redis.release(&redis).await.unwrap();
    }
}

/// What a decision says, instants rounded up to the microsecond (the Redis store's resolution).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) allowed: bool,
    pub(crate) outcomes: Vec<(bool, u64, u64, u64, Option<u64>)>,
}

impl Seen {
    fn of(decision: &Decision) -> Self {
        let micros = |at: Nanos| at.div_ceil(1_000);
        Self {
            allowed: decision.allowed(),
            outcomes: decision
                .outcomes()
                .iter()
                .map(|outcome: &Outcome| {
                    (
                        outcome.allowed(),
                        outcome.limit(),
                        outcome.remaining(),
                        micros(outcome.reset_at()),
                        outcome.retry_at().map(micros),
                    )
                })
                .collect(),
        }
    }
}
