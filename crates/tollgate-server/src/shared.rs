//! The limit store shared by many instances, and what to answer while it cannot be reached.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use smallvec::SmallVec;
use tollgate_core::{Algorithm, Clock, Decision, LimitRequest, Limiter, MemoryStore, StoreError};
use tollgate_policy::OnStoreError;
use tollgate_redis::RedisStore;

/// What the store where limits live said.
pub(crate) enum Acquired {
    /// A decision, and whether the shared store took it (else the embedded one).
    Decided(Decision, bool),
    /// The shared store failed and its failure policy admits without counting.
    Unlimited,
    /// The store failed and the request is refused.
    Failed(StoreError),
}

/// A Redis store, the failure policy, and the store's health as decisions found it.
#[derive(Debug)]
pub struct Shared {
    pub(crate) store: RedisStore,
    on_error: OnStoreError,
    /// How many instances share the store: each enforces 1/instances alone in `local` mode.
    instances: u64,
    /// The key seed of this instance's partitions, written back after an outage (a restarted
    /// Redis may have lost it).
    seed: [u8; 16],
    up: AtomicBool,
    errors: AtomicU64,
    transitions: AtomicU64,
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
    /// `store`, answered for by `on_error` when it fails, shared by `instances` instances that
    /// hash partition keys with `seed`.
    pub fn new(store: RedisStore, on_error: OnStoreError, instances: u64, seed: [u8; 16]) -> Self {
        Self {
            store,
            on_error,
            instances: instances.max(1),
            seed,
            up: AtomicBool::new(true),
            errors: AtomicU64::new(0),
            transitions: AtomicU64::new(0),
        }
    }

    /// Decides `requests` in the shared store; while it cannot, as `on_store_error` says, with
    /// `stand_in` deciding alone in `local` mode.
    pub(crate) async fn acquire<C: Clock>(
        &self,
        requests: &[LimitRequest<'_>],
        stand_in: &Limiter<MemoryStore, C>,
    ) -> Acquired {
        let error = match self.store.acquire(requests).await {
            Ok(decision) => {
                self.reached();
                return Acquired::Decided(decision, true);
            }
            Err(error) => error,
        };
        self.failed(&error);
        match self.on_error {
            OnStoreError::Deny => Acquired::Failed(error),
            OnStoreError::Allow => Acquired::Unlimited,
            OnStoreError::Local => {
                let shares: SmallVec<[Algorithm; 4]> = requests
                    .iter()
                    .map(|request| request.algorithm.share(self.instances))
                    .collect();
                let alone: SmallVec<[LimitRequest<'_>; 4]> = requests
                    .iter()
                    .zip(&shares)
                    .map(|(request, algorithm)| LimitRequest {
                        algorithm,
                        ..*request
                    })
                    .collect();
                match stand_in.acquire(&alone) {
                    Ok(decision) => Acquired::Decided(decision, false),
                    Err(error) => Acquired::Failed(error),
                }
            }
        }
    }

    /// Notes a call that reached the store; logs the recovery once.
    fn reached(&self) {
        if !self.up.swap(true, Ordering::Relaxed) {
            self.transitions.fetch_add(1, Ordering::Relaxed);
            tracing::info!("limit store reachable again: decisions are shared and exact");
            let (store, seed) = (self.store.clone(), self.seed);
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
