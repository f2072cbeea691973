//! Limits shared with other instances in Redis: connecting, and what the store keeps exactly.

use tollgate_redis::{RedisStore, StoreUrl};

use crate::Shared;

/// Connects to the shared store at `url` as `server` says; with the key seed the
/// instances share (`seed`, if this instance is the first).
pub(super) async fn connect_shared(
    url: &str,
    server: &tollgate_policy::Server,
    seed: [u8; 16],
) -> Result<(Shared, [u8; 16]), String> {
    let url: StoreUrl = url.parse().map_err(|error| format!("the store {error}"))?;
    let store = RedisStore::connect(&url, server.store_timeout)
        .await
        .map_err(|error| format!("cannot reach the limit store {url}: {error}"))?;
    let seed = store
        .shared_seed(seed)
        .await
        .map_err(|error| format!("cannot read the key seed from {url}: {error}"))?;
    tracing::info!(store = %url, timeout_ms = server.store_timeout.as_millis(), on_store_error = ?server.on_store_error, "limit state is shared");
    Ok((
        Shared::new(
            std::sync::Arc::new(store),
            server.on_store_error,
            server.instances,
            seed,
        ),
        seed,
    ))
}

/// What the Redis store keeps exactly (see [`RedisStore::supports`]): the check of policies
/// served with `store = "redis://…"`.
///
/// # Errors
/// Why the store cannot keep `algorithm` exactly.
pub fn redis_check(algorithm: &tollgate_core::Algorithm) -> Result<(), tollgate_core::Unsupported> {
    RedisStore::supports(algorithm)
}
