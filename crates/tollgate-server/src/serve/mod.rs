//! `tollgate serve`: the public port, the admin port, the gRPC port and the background tasks,
//! until SIGTERM.
//!
//! - `options.rs` — the command line ([`ServeOptions`]);
//! - `start.rs` — [`serve`], from start to stop, in one screen;
//! - `setup.rs` — what is built before a port opens: policy, stores, catalog, the app;
//! - `shared.rs` — Redis shared by instances ([`redis_check`]);
//! - `tasks.rs` — what runs beside the ports, and the signals that stop them.

mod options;
mod setup;
mod shared;
mod start;
mod tasks;
mod watch;

pub use options::ServeOptions;
pub use setup::merge_domain_config;
pub use shared::redis_check;
pub use start::serve;
