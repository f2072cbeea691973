//! How a Redis failure, a timeout or a damaged answer becomes a [`StoreError`].

use std::future::Future;
use std::time::Duration;

use redis::RedisError;
use tollgate_core::StoreError;

/// `work`, or a transient fault once `timeout` has passed.
pub(crate) async fn within<T>(
    timeout: Duration,
    work: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(unavailable(
            format!("no answer within {} ms", timeout.as_millis()),
            true,
        )),
    }
}

pub(crate) fn fault(error: RedisError) -> StoreError {
    unavailable(error.to_string(), true)
}

pub(crate) fn unavailable(message: String, transient: bool) -> StoreError {
    StoreError::Unavailable { message, transient }
}
