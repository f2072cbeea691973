//! The Redis store: one script call per root, the clock of the server, the give-back.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::{RedisError, Script};
use tollgate_core::{Algorithm, Decision, Key, Lease, LimitRequest, Nanos, Outcome, StoreError};

use crate::connection::Connection;
use crate::fault::{fault, unavailable, within};
use crate::redirections::Redirections;
use crate::script::{self, Reply};
use crate::url::StoreUrl;

/// How often one decision asks again when a calendar window turned between the instance's
/// estimate of the server's clock and the server's clock itself.
const ATTEMPTS: usize = 3;

/// Limit state in Redis or Redis Cluster, shared by every instance that connects to it.
///
/// Cloning is cheap and shares the connections.
#[derive(Clone)]
pub struct RedisStore {
    connection: Connection,
    script: Script,
    timeout: Duration,
    /// The server's clock minus this machine's, in nanoseconds, as last seen: it picks the
    /// calendar window a call expects, which the script checks against the server's clock.
    skew: std::sync::Arc<AtomicI64>,
}

impl RedisStore {
    /// Connects to `url`. Every later operation gives up after `timeout`.
    ///
    /// # Errors
    /// When no connection can be made within `timeout`.
    pub async fn connect(url: &StoreUrl, timeout: Duration) -> Result<Self, StoreError> {
        let connection = Connection::open(url, timeout).await?;
        Ok(Self {
            connection,
            script: Script::new(script::SOURCE),
            timeout,
            skew: std::sync::Arc::default(),
        })
    }

    /// The redirections of a Redis Cluster this store followed since it connected (all zero
    /// for a single server): `MOVED` and `ASK` while slots move, retries while the cluster is
    /// not ready. A call that followed them and was then decided is no store error.
    pub fn redirections(&self) -> Redirections {
        self.connection.redirections()
    }

    /// The key seed every instance must share: `proposed`, unless another instance stored one
    /// first, in which case that one.
    ///
    /// # Errors
    /// When Redis cannot be reached or holds a damaged seed.
    pub async fn shared_seed(&self, proposed: [u8; 16]) -> Result<[u8; 16], StoreError> {
        let hex: String = proposed.iter().map(|byte| format!("{byte:02x}")).collect();
        let mut set = redis::cmd("SET");
        set.arg("tg:seed").arg(&hex).arg("NX");
        let mut get = redis::cmd("GET");
        get.arg("tg:seed");
        let stored: String = within(self.timeout, async {
            let _: Option<String> = self.connection.query(&set).await.map_err(fault)?;
            self.connection.query(&get).await.map_err(fault)
        })
        .await?;
        let bytes: Option<Vec<u8>> = (stored.len() == 32 && stored.is_ascii())
            .then(|| {
                (0..16)
                    .map(|at| u8::from_str_radix(&stored[2 * at..2 * at + 2], 16).ok())
                    .collect()
            })
            .flatten();
        bytes
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| unavailable("tg:seed in Redis is damaged".into(), false))
    }

    /// Decides all the limits of one request on the server's clock, charging every limit or
    /// none; answers within the timeout or fails.
    ///
    /// # Errors
    /// When Redis cannot be reached, times out or answers with an error.
    pub async fn acquire(&self, requests: &[LimitRequest<'_>]) -> Result<Decision, StoreError> {
        within(self.timeout, self.decide(None, requests)).await
    }

    /// [`acquire`](Self::acquire) at a pinned instant instead of the server's clock: for tests
    /// that compare stores at the same instants.
    ///
    /// # Errors
    /// As for [`acquire`](Self::acquire).
    #[cfg(feature = "pinned-time")]
    pub async fn acquire_at(
        &self,
        now: Nanos,
        requests: &[LimitRequest<'_>],
    ) -> Result<Decision, StoreError> {
        within(self.timeout, self.decide(Some(now), requests)).await
    }

    /// Gives back what a decision admitted at `decided_at` took for `requests` (see
    /// [`tollgate_core::Store::refund`]); concurrency leases are released instead, and
    /// distinct values stay counted.
    ///
    /// # Errors
    /// When Redis cannot be reached, times out or answers with an error.
    pub async fn refund(
        &self,
        decided_at: Nanos,
        requests: &[LimitRequest<'_>],
    ) -> Result<(), StoreError> {
        let refundable: Vec<&LimitRequest<'_>> = requests
            .iter()
            .filter(|request| {
                !matches!(
                    request.algorithm,
                    Algorithm::Concurrency(_) | Algorithm::Distinct(_)
                )
            })
            .collect();
        let sha = self.script.get_hash();
        let calls = self
            .groups(&refundable, |request| request.root)
            .into_iter()
            .map(|group| {
                let requests = group.iter().map(|&at| refundable[at]);
                let call = script::call(sha, "refund", None, decided_at, requests, &[]);
                async move { self.connection.eval::<i64>(&call).await.map(drop) }
            });
        within(self.timeout, all(calls)).await
    }

    /// Gives back what a decision admitted at `decided_at` took for `requests` when the request
    /// leaves before its turn (see [`tollgate_core::Store::withdraw`]); `reserved`: the state
    /// each one's admission stored.
    ///
    /// # Errors
    /// When Redis cannot be reached, times out or answers with an error.
    pub async fn withdraw(
        &self,
        decided_at: Nanos,
        requests: &[LimitRequest<'_>],
        reserved: &[Nanos],
    ) -> Result<(), StoreError> {
        let taken: Vec<(&LimitRequest<'_>, Nanos)> = requests
            .iter()
            .zip(reserved.iter().copied())
            .filter(|(request, _)| {
                !matches!(
                    request.algorithm,
                    Algorithm::Concurrency(_) | Algorithm::Distinct(_)
                )
            })
            .collect();
        let sha = self.script.get_hash();
        let calls = self
            .groups(&taken, |(request, _)| request.root)
            .into_iter()
            .map(|group| {
                let requests = group.iter().map(|&at| taken[at].0);
                let states: Vec<Nanos> = group.iter().map(|&at| taken[at].1).collect();
                let call = script::call(sha, "withdraw", None, decided_at, requests, &states);
                async move { self.connection.eval::<i64>(&call).await.map(drop) }
            });
        within(self.timeout, all(calls)).await
    }

    /// Gives back concurrency leases taken by earlier decisions.
    ///
    /// # Errors
    /// When Redis cannot be reached, times out or answers with an error.
    pub async fn release(&self, leases: &[Lease]) -> Result<(), StoreError> {
        let sha = self.script.get_hash();
        let calls = self
            .groups(leases, |lease| lease.root)
            .into_iter()
            .map(|group| {
                let call = script::release(sha, group.iter().map(|&at| &leases[at]));
                async move { self.connection.eval::<i64>(&call).await.map(drop) }
            });
        within(self.timeout, all(calls)).await
    }

    async fn decide(
        &self,
        pinned: Option<Nanos>,
        requests: &[LimitRequest<'_>],
    ) -> Result<Decision, StoreError> {
        // The script decides every limit against the state before the call: a partition named
        // twice would be charged once.
        let twice = requests.iter().enumerate().any(|(at, request)| {
            requests[..at]
                .iter()
                .any(|earlier| earlier.key == request.key)
        });
        if twice {
            return Err(unavailable(
                "a partition appears twice in one request; the Redis store decides each once"
                    .into(),
                false,
            ));
        }
        if !self.connection.is_cluster() {
            // One server: any keys meet in one call.
            let (admitted, now, outcomes) = self.decide_group(pinned, requests.iter()).await?;
            let leases = if admitted {
                leases_of(requests.iter().zip(&outcomes))
            } else {
                Vec::new()
            };
            return Ok(Decision::new(now, outcomes, leases));
        }
        let groups = self.groups(requests, |request| request.root);
        let decided =
            futures_util::future::join_all(groups.iter().map(|group| {
                self.decide_group(pinned, group.iter().map(|&index| &requests[index]))
            }))
            .await;
        let mut outcomes: Vec<Option<Outcome>> = vec![None; requests.len()];
        let (mut at, mut admitted) = (self.estimate(), true);
        let (mut charged, mut failure) = (Vec::new(), None);
        for (group, result) in groups.iter().zip(decided) {
            let (allowed, now, group_outcomes) = match result {
                Ok(decided) => decided,
                Err(error) => {
                    failure.get_or_insert(error);
                    continue;
                }
            };
            at = now;
            admitted &= allowed;
            if allowed {
                charged.push((group, now));
            }
            for (&index, outcome) in group.iter().zip(group_outcomes) {
                outcomes[index] = Some(outcome);
            }
        }
        if failure.is_some() || !admitted {
            // What the calls that admitted charged is given back.
            self.give_back(requests, &outcomes, &charged).await;
        }
        if let Some(error) = failure {
            return Err(error);
        }
        let outcomes: tollgate_core::Outcomes = outcomes.into_iter().flatten().collect();
        let leases = if admitted {
            leases_of(requests.iter().zip(&outcomes))
        } else {
            Vec::new()
        };
        Ok(Decision::new(at, outcomes, leases))
    }

    /// Decides `limits` (of one root on a cluster) in one call, asking again while the window
    /// bounds it sent do not hold on the server's clock.
    async fn decide_group<'r>(
        &self,
        pinned: Option<Nanos>,
        limits: impl Iterator<Item = &'r LimitRequest<'r>> + Clone,
    ) -> Result<(bool, Nanos, tollgate_core::Outcomes), StoreError> {
        let mut at = pinned.unwrap_or_else(|| self.estimate());
        for _ in 0..ATTEMPTS {
            let call = script::call(
                self.script.get_hash(),
                "acquire",
                pinned,
                at,
                limits.clone(),
                &[],
            );
            let reply: Vec<i64> = self.connection.eval(&call).await.map_err(fault)?;
            let reply =
                Reply::read(&reply, limits.clone().count()).map_err(|e| unavailable(e, false))?;
            match reply {
                Reply::Decided {
                    admitted,
                    now,
                    outcomes,
                } => {
                    self.observe(pinned, now);
                    return Ok((admitted, now, outcomes));
                }
                Reply::Stale { now } => {
                    self.observe(pinned, now);
                    at = now;
                }
            }
        }
        Err(unavailable(
            "the server's clock kept leaving the window asked for".into(),
            true,
        ))
    }

    /// Gives back what the `charged` groups of a refused or failed decision took.
    async fn give_back(
        &self,
        requests: &[LimitRequest<'_>],
        outcomes: &[Option<Outcome>],
        charged: &[(&Vec<usize>, Nanos)],
    ) {
        for &(group, at) in charged {
            let taken: Vec<LimitRequest<'_>> = group.iter().map(|&index| requests[index]).collect();
            let leases = leases_of(group.iter().filter_map(|&index| {
                outcomes[index]
                    .as_ref()
                    .map(|outcome| (&requests[index], outcome))
            }));
            let given = async { tokio::try_join!(self.refund(at, &taken), self.release(&leases)) };
            if let Err(error) = given.await {
                tracing::warn!(%error, "a charge of a refused request was not given back");
            }
        }
    }

    /// The indices of `items` by root: one group for a single server (any keys may meet in one
    /// script there), one per root on a cluster (a script's keys must share a slot).
    fn groups<T>(&self, items: &[T], root: impl Fn(&T) -> Key) -> Vec<Vec<usize>> {
        if !self.connection.is_cluster() {
            return if items.is_empty() {
                Vec::new()
            } else {
                vec![(0..items.len()).collect()]
            };
        }
        let mut groups: Vec<(Key, Vec<usize>)> = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let root = root(item);
            match groups.iter_mut().find(|(seen, _)| *seen == root) {
                Some((_, group)) => group.push(index),
                None => groups.push((root, vec![index])),
            }
        }
        groups.into_iter().map(|(_, group)| group).collect()
    }

    /// This machine's estimate of the server's clock.
    fn estimate(&self) -> Nanos {
        local_now().saturating_add_signed(self.skew.load(Ordering::Relaxed))
    }

    fn observe(&self, pinned: Option<Nanos>, server_now: Nanos) {
        if pinned.is_none() {
            let skew = i128::from(server_now) - i128::from(local_now());
            let skew = i64::try_from(skew).unwrap_or_default();
            self.skew.store(skew, Ordering::Relaxed);
        }
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("cluster", &self.connection.is_cluster())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The concurrency slots an admitted decision holds: one per concurrency limit it charged,
/// expiring at the reset its outcome reports.
fn leases_of<'r>(decided: impl Iterator<Item = (&'r LimitRequest<'r>, &'r Outcome)>) -> Vec<Lease> {
    decided
        .filter(|(request, _)| {
            request.cost > 0 && matches!(request.algorithm, Algorithm::Concurrency(_))
        })
        .map(|(request, outcome)| Lease {
            key: request.key,
            root: request.root,
            expires_at: outcome.reset_at(),
            cost: request.cost,
        })
        .collect()
}

fn local_now() -> Nanos {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
        })
}

/// Runs every call at once; the first error, if any.
async fn all(
    calls: impl Iterator<Item = impl Future<Output = Result<(), RedisError>>>,
) -> Result<(), StoreError> {
    futures_util::future::join_all(calls)
        .await
        .into_iter()
        .collect::<Result<(), RedisError>>()
        .map_err(fault)
}
