//! The limit store shared by many instances, and what to answer while it cannot be reached.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use smallvec::SmallVec;
use tollgate_core::{Algorithm, Clock, LimitRequest, LimitStore, StoreError};
use tollgate_policy::OnStoreError;

use super::{Acquired, Local, taken_by};
use crate::metrics::{Histogram, store_error_kind};

/// A shared store wrapped in its failure policy: while it cannot be reached, requests are
/// refused, admitted uncounted, or decided by the embedded store standing in for it.
#[derive(Debug)]
pub(crate) struct Failover<C: Clock> {
    shared: Shared,
    stand_in: Arc<Local<C>>,
}

impl<C: Clock> Failover<C> {
    /// The shared store and its health.
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }
}

impl<C: Clock + 'static> Failover<C> {
    /// `shared`, with `stand_in` deciding alone in `local` mode.
    pub(crate) fn new(shared: Shared, stand_in: Arc<Local<C>>) -> Self {
        Self { shared, stand_in }
    }

    /// Decides `requests` in the shared store; while it cannot, as `on_store_error` says.
    pub(crate) async fn acquire(&self, requests: &[LimitRequest<'_>]) -> Acquired {
        let shared = &self.shared;
        let started = tokio::time::Instant::now();
        let answer = shared.store.acquire(requests).await;
        let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        shared.latency.observe(took);
        let error = match answer {
            Ok(decision) => {
                shared.reached();
                return Acquired::Decided(taken_by(decision, Arc::clone(&shared.store), true));
            }
            // A full store answered: no outage for the failure policy to stand in for (under
            // `allow`, filling it would open it). Refused, as the embedded store's is.
            Err(error @ StoreError::Full { .. }) => {
                shared.reached();
                return Acquired::Failed(error);
            }
            Err(error) => error,
        };
        shared.failed(&error);
        match shared.on_error {
            OnStoreError::Deny => Acquired::Failed(error),
            OnStoreError::Allow => Acquired::Unlimited,
            OnStoreError::Local => {
                let shares: SmallVec<[Algorithm; 4]> = requests
                    .iter()
                    .map(|request| request.algorithm.share(shared.instances))
                    .collect();
                let alone: SmallVec<[LimitRequest<'_>; 4]> = requests
                    .iter()
                    .zip(&shares)
                    .map(|(request, algorithm)| LimitRequest {
                        algorithm,
                        ..*request
                    })
                    .collect();
                // Charges taken while standing in are not refunded.
                match self.stand_in.acquire(&alone) {
                    Ok(decision) => Acquired::Decided(taken_by(
                        decision,
                        Arc::clone(&self.stand_in) as _,
                        false,
                    )),
                    Err(error) => Acquired::Failed(error),
                }
            }
        }
    }
}

/// A store shared by many instances, the failure policy, and the store's health as decisions
/// found it.
#[derive(Debug)]
pub struct Shared {
    store: Arc<dyn LimitStore>,
    on_error: OnStoreError,
    /// How many instances share the store: each enforces 1/instances alone in `local` mode.
    instances: u64,
    /// The key seed of this instance's partitions, written back after an outage (a restarted
    /// Redis may have lost it).
    seed: [u8; 16],
    up: AtomicBool,
    errors: AtomicU64,
    transitions: AtomicU64,
    latency: Histogram,
    errors_by_kind: [AtomicU64; 4],
}

/// What `/metrics` tells of the shared store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedHealth {
    /// Whether the last call reached it.
    pub up: bool,
    /// Calls that failed or timed out.
    pub errors: u64,
    /// Changes between reachable and unreachable.
    pub transitions: u64,
}

impl Shared {
    /// The store itself.
    #[must_use]
    pub fn store(&self) -> &dyn LimitStore {
        &*self.store
    }

    /// Time each decision's call took, answered or not.
    #[must_use]
    pub fn latency(&self) -> &Histogram {
        &self.latency
    }

    /// Failed calls by kind, in the order of [`STORE_ERROR_KINDS`](crate::STORE_ERROR_KINDS).
    #[must_use]
    pub fn errors_by_kind(&self) -> [u64; 4] {
        self.errors_by_kind
            .each_ref()
            .map(|count| count.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// `store`, answered for by `on_error` when it fails, shared by `instances` instances that
    /// hash partition keys with `seed`.
    pub fn new(
        store: Arc<dyn LimitStore>,
        on_error: OnStoreError,
        instances: u64,
        seed: [u8; 16],
    ) -> Self {
        Self {
            store,
            on_error,
            instances: instances.max(1),
            seed,
            up: AtomicBool::new(true),
            errors: AtomicU64::new(0),
            transitions: AtomicU64::new(0),
            latency: Histogram::default(),
            errors_by_kind: Default::default(),
        }
    }

    /// Notes a call that reached the store; logs the recovery once.
    fn reached(&self) {
        if !self.up.swap(true, Ordering::Relaxed) {
            self.transitions.fetch_add(1, Ordering::Relaxed);
            tracing::info!("limit store reachable again: decisions are shared and exact");
            let (store, seed) = (Arc::clone(&self.store), self.seed);
            tokio::spawn(async move {
                match store.shared_seed(seed).await {
                    Ok(shared) if shared != seed => tracing::error!(
                        "the key seed in the limit store changed (its data was lost and another instance started first): restart this instance to share its limits again"
                    ),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "key seed not written back"),
                }
            });
        }
    }

    /// Notes a call that failed; logs the outage once.
    fn failed(&self, error: &StoreError) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.errors_by_kind[store_error_kind(error)].fetch_add(1, Ordering::Relaxed);
        if self.up.swap(false, Ordering::Relaxed) {
            self.transitions.fetch_add(1, Ordering::Relaxed);
            let policy = match self.on_error {
                OnStoreError::Deny => "deny: refusing with 503",
                OnStoreError::Allow => "allow: admitting uncounted",
                OnStoreError::Local => "local: each instance enforces its share alone",
            };
            tracing::error!(%error, on_store_error = policy, "limit store unreachable");
        }
    }

    /// The store's health as the last decisions found it.
    pub fn health(&self) -> SharedHealth {
        SharedHealth {
            up: self.up.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            transitions: self.transitions.load(Ordering::Relaxed),
        }
    }
}
