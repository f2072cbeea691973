//! Tollgate's shared limit store: limit state in Redis or Redis Cluster, so that many
//! `tollgate` instances enforce one set of limits exactly.
//!
//! Every decision is **one script call**: all the limits of a request are read, decided and —
//! only if every one admits — charged inside one Lua script, atomically, on the Redis server's
//! clock (`TIME`), which is the one clock of all instances. The script is sent once and called
//! by its SHA afterwards (`EVALSHA`, reloaded on `NOSCRIPT`). Concurrent decisions share one
//! multiplexed, pipelined connection per node; each call is bounded by a timeout.
//!
//! The algorithms are those of [`tollgate_core`], written again in Lua over microseconds (the
//! resolution of `TIME`); a conformance suite runs the same scenarios on both stores. What the
//! microsecond makes different is listed in [`RedisStore::supports`]. A server holds it as a
//! [`LimitStore`](tollgate_core::LimitStore), the interface the embedded store implements too.
//!
//! # Key layout
//! A partition lives under `tg:{ROOT}:KEY`, where `KEY` is its [`Key`](tollgate_core::Key) and
//! `ROOT` its [root](tollgate_core::LimitRequest::root) in hex. The braces are a Redis Cluster
//! hash tag: partitions with one root share a slot, so one call decides them. A request whose
//! limits have several roots is decided by one call per root, all sent at once; when one refuses,
//! what the others charged is given back (see `docs/distributed.md`). Every key expires once its
//! state is at rest: there is no index of keys.
//!
//! ```no_run
//! use std::time::Duration;
//! use tollgate_core::{Algorithm, Key, LimitRequest, Rate, TokenBucket};
//! use tollgate_redis::{RedisStore, StoreUrl};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let url: StoreUrl = "redis://127.0.0.1:6379".parse()?;
//! let store = RedisStore::connect(&url, Duration::from_millis(50)).await?;
//! let bucket = Algorithm::from(TokenBucket::new(Rate::per_second(1), 3)?);
//! let decision = store
//!     .acquire(&[LimitRequest::new(Key::from_hash(42), &bucket, 1)])
//!     .await?;
//! assert!(decision.allowed());
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod connection;
mod fault;
mod limit_store;
mod redirections;
mod script;
mod store;
mod supports;
mod url;

pub use redirections::Redirections;
pub use store::RedisStore;
pub use tollgate_core::Unsupported;
pub use url::{StoreUrl, UrlError};
