//! Connections to one Redis server or to a Redis Cluster, and a call that follows the cluster's
//! redirections.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ErrorKind, RedisError};
use tollgate_core::StoreError;

use crate::fault::{fault, within};
use crate::redirections::{Followed, Redirections, Step, redirect};
use crate::script;
use crate::url::StoreUrl;

/// A multiplexed connection (one server) or the cluster client (a connection per node), with
/// what the cluster's redirections made it do; cloning shares both.
#[derive(Clone)]
pub(crate) struct Connection {
    link: Link,
    /// How long one call may take, redirections and their waits included.
    timeout: Duration,
    followed: Arc<Followed>,
}

#[derive(Clone)]
enum Link {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Connection {
    /// Connects to `url` within `timeout`; every later call gives up after `timeout` too.
    pub(crate) async fn open(url: &StoreUrl, timeout: Duration) -> Result<Self, StoreError> {
        let link = match url {
            StoreUrl::Single(address) => {
                let client = redis::Client::open(address.as_str()).map_err(fault)?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(timeout)
                    .set_response_timeout(timeout)
                    .set_number_of_retries(1);
                let manager = ConnectionManager::new_with_config(client, config);
                Link::Single(within(timeout, async { manager.await.map_err(fault) }).await?)
            }
            StoreUrl::Cluster(nodes) => {
                let client = ClusterClientBuilder::new(nodes.clone())
                    .connection_timeout(timeout)
                    .response_timeout(timeout)
                    .retries(0)
                    .build()
                    .map_err(fault)?;
                let connect = async { client.get_async_connection().await.map_err(fault) };
                Link::Cluster(within(timeout, connect).await?)
            }
        };
        Ok(Self {
            link,
            timeout,
            followed: Arc::default(),
        })
    }

    /// Runs a call of `script`, loading the script first if the server has not got it (a new
    /// or restarted server, or a new cluster node).
    pub(crate) async fn eval<T: redis::FromRedisValue>(&self, call: &Cmd) -> Result<T, RedisError> {
        match self.query(call).await {
            Err(error) if error.kind() == ErrorKind::NoScriptError => {
                // On a cluster, the client sends SCRIPT LOAD to every primary it knows.
                let mut load = redis::cmd("SCRIPT");
                load.arg("LOAD").arg(script::SOURCE);
                let loaded = self.query::<redis::Value>(&load).await;
                if !self.is_cluster() {
                    loaded?;
                    return self.query(call).await;
                }
                match self.query(call).await {
                    // A primary the client's slot map does not know yet (a replica promoted a
                    // moment ago) or one it could not reach: sent as `EVAL` with the source,
                    // the call loads the script on whichever node it reaches.
                    Err(error) if error.kind() == ErrorKind::NoScriptError => {
                        self.query(&script::with_source(call)).await
                    }
                    answer => answer,
                }
            }
            answer => answer,
        }
    }

    pub(crate) async fn query<T: redis::FromRedisValue>(
        &self,
        command: &Cmd,
    ) -> Result<T, RedisError> {
        match &self.link {
            Link::Single(connection) => command.query_async(&mut connection.clone()).await,
            Link::Cluster(connection) => self.follow(connection.clone(), command).await,
        }
    }

    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.link, Link::Cluster(_))
    }

    /// The redirections followed so far.
    pub(crate) fn redirections(&self) -> Redirections {
        self.followed.counts()
    }

    /// Sends `command` to the cluster and follows its redirections within the timeout.
    ///
    /// The client is built without retries: redirections are followed here, to the node they
    /// name (with `ASKING` in the same pipeline for `ASK`). The first goes at once; one that
    /// comes back redirected again waits first (1 ms, then twice as long each time up to
    /// 25 ms) while the cluster finishes what it is doing: a reshard sets a slot's new owner on
    /// one node after the other, and while the old primary says `MOVED` to the new one, the new
    /// one, still importing, says `MOVED` back. Before waiting past the timeout, the last
    /// answer is returned instead.
    async fn follow<T: redis::FromRedisValue>(
        &self,
        mut connection: ClusterConnection,
        command: &Cmd,
    ) -> Result<T, RedisError> {
        let deadline = Instant::now() + self.timeout;
        let mut pause = Duration::ZERO;
        let mut answer = command.query_async(&mut connection).await;
        for _ in 0..FOLLOWS {
            let error = match answer {
                Err(error) => error,
                answer => return answer,
            };
            let Some(step) = Step::of(&error) else {
                return Err(error);
            };
            if !pause.is_zero() {
                if Instant::now() + pause >= deadline {
                    return Err(error);
                }
                tokio::time::sleep(pause).await;
            }
            pause = (pause * 2).clamp(FIRST_PAUSE, LONGEST_PAUSE);
            self.followed.note(step, &error);
            answer = match step {
                Step::Ask => redirect(&mut connection, command, error, true).await,
                Step::Moved => redirect(&mut connection, command, error, false).await,
                Step::Retry => command.query_async(&mut connection).await,
            };
        }
        answer
    }
}

/// At most how many redirections and retries one call follows (the timeout usually ends them
/// first: 32 follows wait about 680 ms in all).
const FOLLOWS: usize = 32;

/// The wait before the second follow of one call; it doubles for each next one.
const FIRST_PAUSE: Duration = Duration::from_millis(1);

/// The longest wait between two follows of one call.
const LONGEST_PAUSE: Duration = Duration::from_millis(25);
