//! A store written outside Tollgate's crates, shared by instances: the gate decides in it
//! through [`LimitStore`], and its failure policy answers for it while it is down — nothing of
//! the server binary needed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tollgate_core::{
    Decision, Lease, LimitRequest, LimitStore, Limiter, ManualClock, MemoryStore, Nanos,
    StoreError, StoreFuture,
};
use tollgate_gate::{Gate, Shared, Why};
use tollgate_policy::{OnStoreError, Policy, RequestFacts, Source};

/// Limits in a map of its own (here a limiter over a memory store), unreachable on demand.
#[derive(Debug)]
struct Elsewhere {
    limits: Limiter<MemoryStore, ManualClock>,
    down: AtomicBool,
    /// Answers that it is full.
    full: AtomicBool,
    calls: AtomicU64,
    released: AtomicU64,
}

impl Elsewhere {
    fn new(clock: ManualClock) -> Arc<Self> {
        Arc::new(Self {
            limits: Limiter::new(MemoryStore::new(), clock),
            down: AtomicBool::new(false),
            full: AtomicBool::new(false),
            calls: AtomicU64::new(0),
            released: AtomicU64::new(0),
        })
    }

    fn unreachable() -> StoreError {
        StoreError::Unavailable {
            message: "connection refused".to_owned(),
            transient: true,
        }
    }
}

impl LimitStore for Elsewhere {
    fn acquire<'a>(&'a self, requests: &'a [LimitRequest<'a>]) -> StoreFuture<'a, Decision> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let answer = if self.down.load(Ordering::Relaxed) {
            Err(Self::unreachable())
        } else if self.full.load(Ordering::Relaxed) {
            Err(StoreError::Full { capacity: 1 })
        } else {
            self.limits.acquire(requests)
        };
        Box::pin(std::future::ready(answer))
    }

    fn refund<'a>(
        &'a self,
        decided_at: Nanos,
        requests: &'a [LimitRequest<'a>],
    ) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(self.limits.refund(decided_at, requests)))
    }

    fn release(&self, leases: Vec<Lease>) -> Result<(), StoreError> {
        self.released
            .fetch_add(leases.len() as u64, Ordering::Relaxed);
        LimitStore::release(&self.limits, leases)
    }
}

const POLICY: &str = r#"
    [[routes]]
    api = "hello"
    match = "GET /hello"

    [[limits]]
    name = "per-minute"
    window = { max = 2, every = "1m" }

    [[limits]]
    name = "at-once"
    concurrency = { max = 1 }
"#;

fn gate(store: &Arc<Elsewhere>, on_error: OnStoreError, clock: ManualClock) -> Gate<ManualClock> {
    let policy = Policy::compile(&Source::new("p.toml", POLICY)).unwrap();
    let shared = Shared::new(Arc::clone(store) as _, on_error, 2, [7; 16]);
    Gate::shared(policy, clock, shared)
}

async fn status(gate: &Gate<ManualClock>) -> Result<tollgate_gate::Admission, (Why, u16)> {
    let target = gate.policy().target("GET", "/hello").unwrap();
    let facts = RequestFacts {
        method: "GET",
        target: &target,
        headers: &[][..],
        client_ip: None,
        cost: None,
        from_trusted_proxy: false,
    };
    gate.admit(&facts)
        .await
        .map_err(|refused| (refused.why, refused.status))
}

#[tokio::test]
async fn limits_are_decided_in_a_store_of_its_own() {
    let clock = ManualClock::new(0);
    let store = Elsewhere::new(clock.clone());
    let gate = gate(&store, OnStoreError::Deny, clock.clone());

    let first = status(&gate).await.expect("admitted");
    // The concurrency slot is the third store's: a second request at once is refused by it.
    assert_eq!(status(&gate).await.unwrap_err(), (Why::Limited, 429));
    drop(first);
    assert_eq!(store.released.load(Ordering::Relaxed), 1);
    drop(status(&gate).await.expect("the slot came back"));
    // Two per minute, counted there: the third is refused, and a minute later admitted.
    assert_eq!(status(&gate).await.unwrap_err(), (Why::Limited, 429));
    assert_eq!(store.calls.load(Ordering::Relaxed), 4);
    clock.advance(Duration::from_secs(60));
    assert!(status(&gate).await.is_ok());
}

#[tokio::test]
async fn its_failure_policy_answers_while_it_is_down() {
    let clock = ManualClock::new(0);
    let store = Elsewhere::new(clock.clone());
    store.down.store(true, Ordering::Relaxed);

    let denying = gate(&store, OnStoreError::Deny, clock.clone());
    assert_eq!(status(&denying).await.unwrap_err(), (Why::StoreFault, 503));
    assert!(!denying.shared_store().unwrap().health().up);

    // `local`: the embedded store stands in, enforcing this instance's share (1 of 2 a minute).
    let standing_in = gate(&store, OnStoreError::Local, clock.clone());
    drop(status(&standing_in).await.expect("its share"));
    assert_eq!(status(&standing_in).await.unwrap_err(), (Why::Limited, 429));

    let admitting = gate(&store, OnStoreError::Allow, clock);
    for _ in 0..5 {
        assert!(status(&admitting).await.is_ok(), "admitted uncounted");
    }
}

/// A full store is an answer, not an outage: refused whatever the failure policy, which would
/// otherwise admit uncounted whoever fills it.
#[tokio::test]
async fn a_full_store_is_refused_not_failed_over() {
    let clock = ManualClock::new(0);
    let store = Elsewhere::new(clock.clone());
    store.full.store(true, Ordering::Relaxed);
    for policy in [OnStoreError::Allow, OnStoreError::Local, OnStoreError::Deny] {
        let gate = gate(&store, policy, clock.clone());
        assert_eq!(
            status(&gate).await.unwrap_err(),
            (Why::StoreFault, 503),
            "{policy:?}"
        );
        assert!(
            gate.shared_store().unwrap().health().up,
            "{policy:?}: reachable"
        );
    }
}
