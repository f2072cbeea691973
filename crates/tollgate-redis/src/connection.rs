//! Connections to one Redis server or to a Redis Cluster, and the cluster's redirections.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::SingleNodeRoutingInfo;
use redis::{Cmd, RedisError};
use tollgate_core::StoreError;

use crate::StoreUrl;
use crate::script;
use crate::store::{fault, within};

/// A multiplexed connection (one server) or the cluster client (a connection per node); cloning
/// shares it.
#[derive(Clone)]
pub(crate) enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Connection {
    /// Connects to `url` within `timeout`; every later call gives up after `timeout` too.
    pub(crate) async fn open(url: &StoreUrl, timeout: Duration) -> Result<Self, StoreError> {
        Ok(match url {
            StoreUrl::Single(address) => {
                let client = redis::Client::open(address.as_str()).map_err(fault)?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(timeout)
                    .set_response_timeout(timeout)
                    .set_number_of_retries(1);
                let manager = ConnectionManager::new_with_config(client, config);
                Connection::Single(within(timeout, async { manager.await.map_err(fault) }).await?)
            }
            StoreUrl::Cluster(nodes) => {
                let client = ClusterClientBuilder::new(nodes.clone())
                    .connection_timeout(timeout)
                    .response_timeout(timeout)
                    .retries(0)
                    .build()
                    .map_err(fault)?;
                let connect = async { client.get_async_connection().await.map_err(fault) };
                Connection::Cluster(within(timeout, connect).await?)
            }
        })
    }

    /// Runs a call of `script`, loading the script first if the server has not got it (a new
    /// or restarted server, or a new cluster node).
    pub(crate) async fn eval<T: redis::FromRedisValue>(&self, call: &Cmd) -> Result<T, RedisError> {
        match self.query(call).await {
            Err(error) if error.kind() == redis::ErrorKind::NoScriptError => {
                // On a cluster, the client sends SCRIPT LOAD to every primary.
                let mut load = redis::cmd("SCRIPT");
                load.arg("LOAD").arg(script::SOURCE);
                self.query::<redis::Value>(&load).await?;
                self.query(call).await
            }
            answer => answer,
        }
    }

    pub(crate) async fn query<T: redis::FromRedisValue>(
        &self,
        command: &Cmd,
    ) -> Result<T, RedisError> {
        match self {
            Self::Single(connection) => command.query_async(&mut connection.clone()).await,
            Self::Cluster(connection) => {
                // The client is built without retries: redirections are followed here, to the
                // node they name (with `ASKING` in the same pipeline for `ASK`).
                let mut connection = connection.clone();
                let mut answer = command.query_async(&mut connection).await;
                for _ in 0..REDIRECTS {
                    answer = match answer {
                        Err(error) if error.kind() == redis::ErrorKind::Ask => {
                            redirect(&mut connection, command, error, true).await
                        }
                        Err(error) if error.kind() == redis::ErrorKind::Moved => {
                            redirect(&mut connection, command, error, false).await
                        }
                        Err(error) if redirected(&error) => {
                            command.query_async(&mut connection).await
                        }
                        answer => return answer,
                    };
                }
                answer
            }
        }
    }

    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

/// How many redirections one call follows (slots moving while it runs).
const REDIRECTS: usize = 5;

/// Whether a cluster's answer says to ask the same way again: a slot in a multi-key migration,
/// or a cluster that is not ready.
fn redirected(error: &RedisError) -> bool {
    matches!(
        error.kind(),
        redis::ErrorKind::TryAgain | redis::ErrorKind::ClusterDown
    )
}

/// Sends `command` to the node a `MOVED` or `ASK` answer names (the client refreshes its slot
/// map on `MOVED` meanwhile). For `ASK` (a slot in migration), `ASKING` and the command go as
/// one pipeline: the cluster client's own way sends them separately on a connection other
/// requests share, so another command can take the `ASKING`, and decisions timed out under
/// load during a migration.
async fn redirect<T: redis::FromRedisValue>(
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
