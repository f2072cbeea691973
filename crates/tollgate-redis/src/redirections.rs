//! A Redis Cluster's redirections: what an answer asks for, sending a call to the node it
//! names, and the counts of what was followed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::SingleNodeRoutingInfo;
use redis::{Cmd, ErrorKind, RedisError};

/// What the redirections of a Redis Cluster made a store do since it connected: every count
/// is of answers followed, not of failed decisions (a decision that met a redirection and was
/// then decided is no store error).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Redirections {
    /// `MOVED` answers followed to the node they named: a slot that had moved to another
    /// primary (resharding, or a replica promoted in a failover) since the slot map was read.
    /// Each one also makes the client read the slot map again.
    pub moved: u64,
    /// `ASK` answers followed (with `ASKING`) to the node they named: a slot in migration whose
    /// key had already moved.
    pub asked: u64,
    /// Calls asked again after a short wait: `TRYAGAIN` (a multi-key call in a slot in
    /// migration), `CLUSTERDOWN` (a cluster without a primary for some slot, as during a
    /// failover) or a redirection to a node the client was not connected to yet.
    pub retried: u64,
}

/// What an answer of the cluster asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// `ASK`: send it once to the node named, with `ASKING`.
    Ask,
    /// `MOVED`: send it to the node named (the client reads the slot map again meanwhile).
    Moved,
    /// Send it again the usual way after a wait.
    Retry,
}

impl Step {
    pub(crate) fn of(error: &RedisError) -> Option<Self> {
        match error.kind() {
            ErrorKind::Ask => Some(Self::Ask),
            ErrorKind::Moved => Some(Self::Moved),
            // A slot in a multi-key migration, a cluster that is not ready (no primary for some
            // slot, during a failover), or a primary whose link to its own primary is down.
            ErrorKind::TryAgain | ErrorKind::ClusterDown | ErrorKind::MasterDown => {
                Some(Self::Retry)
            }
            // A redirection to a node the client has no connection to yet: the slot map read
            // that the `MOVED` started makes one.
            ErrorKind::ClientError if error.to_string().contains("connection not found") => {
                Some(Self::Retry)
            }
            _ => None,
        }
    }
}

/// The counts behind [`Redirections`], and when each kind was last logged.
#[derive(Debug)]
pub(crate) struct Followed {
    moved: AtomicU64,
    asked: AtomicU64,
    retried: AtomicU64,
    /// Per step: milliseconds after `since` of its last log line, plus one (0: never).
    logged: [AtomicU64; 3],
    since: Instant,
}

impl Default for Followed {
    fn default() -> Self {
        Self {
            moved: AtomicU64::new(0),
            asked: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            logged: Default::default(),
            since: Instant::now(),
        }
    }
}

/// At most one log line per kind of redirection in this span.
const LOG_EVERY: Duration = Duration::from_secs(1);

impl Followed {
    /// Counts a follow of `step` for `error`; logs it, at most once a second per kind.
    pub(crate) fn note(&self, step: Step, error: &RedisError) {
        let (count, logged) = match step {
            Step::Moved => (&self.moved, &self.logged[0]),
            Step::Ask => (&self.asked, &self.logged[1]),
            Step::Retry => (&self.retried, &self.logged[2]),
        };
        count.fetch_add(1, Ordering::Relaxed);
        let now = u64::try_from(self.since.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let last = logged.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= millis(LOG_EVERY);
        if !due
            || logged
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let Redirections {
            moved,
            asked,
            retried,
        } = self.counts();
        let (slot, node) = error
            .redirect_node()
            .map_or((None, None), |(node, slot)| (Some(slot), Some(node)));
        let (slot, node) = (
            slot.map_or_else(|| "-".to_owned(), |slot| slot.to_string()),
            node.unwrap_or("-"),
        );
        match step {
            Step::Moved => tracing::info!(
                slot = %slot, node, moved, asked, retried,
                "Redis Cluster: followed MOVED, the slot's primary is another node (resharding, failover or a stale slot map)"
            ),
            Step::Ask => tracing::info!(
                slot = %slot, node, moved, asked, retried,
                "Redis Cluster: followed ASK, a slot is migrating"
            ),
            Step::Retry => tracing::info!(
                answer = %error, moved, asked, retried,
                "Redis Cluster: retried, the cluster is not ready (failover or migration) or the node named is not connected yet"
            ),
        }
    }

    pub(crate) fn counts(&self) -> Redirections {
        Redirections {
            moved: self.moved.load(Ordering::Relaxed),
            asked: self.asked.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
        }
    }
}

fn millis(span: Duration) -> u64 {
    u64::try_from(span.as_millis()).unwrap_or(u64::MAX)
}

/// Sends `command` to the node a `MOVED` or `ASK` answer names (the client refreshes its slot
/// map on `MOVED` meanwhile). For `ASK` (a slot in migration), `ASKING` and the command go as
/// one pipeline: the cluster client's own way sends them separately on a connection other
/// requests share, so another command can take the `ASKING`, and decisions timed out under
/// load during a migration.
pub(crate) async fn redirect<T: redis::FromRedisValue>(
    connection: &mut ClusterConnection,
    command: &Cmd,
    error: RedisError,
    asking: bool,
) -> Result<T, RedisError> {
    let node = error
        .redirect_node()
        .and_then(|(address, _slot)| address.rsplit_once(':'))
        .and_then(|(host, port)| Some((host.to_owned(), port.parse().ok()?)));
    let Some((host, port)) = node else {
        return Err(error);
    };
    let mut pipeline = redis::pipe();
    if asking {
        pipeline.cmd("ASKING");
    }
    pipeline.add_command(command.clone());
    let route = SingleNodeRoutingInfo::ByAddress { host, port };
    let replies = connection
        .route_pipeline(&pipeline, usize::from(asking), 1, route)
        .await?;
    redis::from_redis_value(replies.first().unwrap_or(&redis::Value::Nil))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(line: &str) -> RedisError {
        redis::parse_redis_value(format!("-{line}\r\n").as_bytes())
            .unwrap()
            .extract_error()
            .unwrap_err()
    }

    #[test]
    fn redirections_and_passing_states_are_followed_and_nothing_else() {
        assert_eq!(
            Step::of(&answer("MOVED 3082 127.0.0.1:7001")),
            Some(Step::Moved)
        );
        assert_eq!(
            Step::of(&answer("ASK 3082 127.0.0.1:7001")),
            Some(Step::Ask)
        );
        for passing in [
            "TRYAGAIN Multiple keys request during rehashing of slot",
            "CLUSTERDOWN The cluster is down",
            "MASTERDOWN Link with MASTER is down",
        ] {
            assert_eq!(Step::of(&answer(passing)), Some(Step::Retry), "{passing}");
        }
        let unconnected = RedisError::from((
            ErrorKind::ClientError,
            "Requested connection not found",
            "127.0.0.1:7001".to_owned(),
        ));
        assert_eq!(Step::of(&unconnected), Some(Step::Retry));
        for failure in [
            "NOSCRIPT No matching script",
            "READONLY You can't write against a read only replica.",
            "ERR something else",
        ] {
            assert_eq!(Step::of(&answer(failure)), None, "{failure}");
        }
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(Step::of(&refused), None, "a node that is down is an outage");
    }

    #[test]
    fn every_follow_is_counted() {
        let followed = Followed::default();
        let moved = answer("MOVED 3082 127.0.0.1:7001");
        for _ in 0..3 {
            followed.note(Step::Moved, &moved);
        }
        followed.note(Step::Ask, &answer("ASK 3082 127.0.0.1:7001"));
        followed.note(Step::Retry, &answer("CLUSTERDOWN The cluster is down"));
        assert_eq!(
            followed.counts(),
            Redirections {
                moved: 3,
                asked: 1,
                retried: 1
            }
        );
    }
}
