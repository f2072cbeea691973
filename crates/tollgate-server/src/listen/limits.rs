//! What bounds the clients of one port, and the open-file limit those bounds need.

use std::time::Duration;

/// What bounds the clients of one port.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Time for a request head (HTTP/1) and for a connection's first request (any protocol).
    pub(crate) header_read_timeout: Duration,
    /// Time a connection may stay with no request in flight.
    pub(crate) idle_timeout: Duration,
    /// Connections open at once on the port.
    pub(crate) max_connections: usize,
    /// Time a shutdown gives a connection before it is closed.
    pub(crate) shutdown_timeout: Duration,
}

/// Connections a port takes at most when `server.max_connections` is unset and the open-file
/// limit allows.
const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// Files kept for what is not a client connection: the journal, the catalog, Redis, logs.
const RESERVED_FILES: u64 = 256;

/// The fewest connections a port is sized to, whatever the open-file limit.
const FEWEST_CONNECTIONS: usize = 64;

impl Limits {
    /// The limits `[server]` sets, with `max_connections` a port (see [`allow_open_files`]).
    pub(crate) fn of(server: &tollgate_policy::Server, max_connections: usize) -> Self {
        Self {
            header_read_timeout: server.header_read_timeout,
            idle_timeout: server.idle_timeout,
            max_connections: max_connections.max(1),
            shutdown_timeout: server.shutdown_timeout,
        }
    }
}

/// Raises the soft limit on open files to the hard one, and says how many connections each of
/// `ports` ports may hold: `configured` (`server.max_connections`), with a warning when the
/// open-file limit is still below what that many connections need (past it, accepts would fail
/// instead of the cap engaging); unset, 10,000, or fewer where the limit allows fewer — said
/// once at start, with the one setting to change.
pub(crate) fn allow_open_files(configured: Option<usize>, ports: u64) -> usize {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let needed = |connections: usize| {
        u64::try_from(connections)
            .unwrap_or(u64::MAX)
            .saturating_mul(ports.max(1))
            .saturating_add(RESERVED_FILES)
    };
    let wanted_connections = configured.unwrap_or(DEFAULT_MAX_CONNECTIONS);
    let limit = getrlimit(Resource::Nofile);
    // `None` is unlimited: up to the hard limit, or what is needed under an unlimited one.
    let wanted = limit.maximum.unwrap_or_else(|| needed(wanted_connections));
    if limit.current.is_some_and(|current| current < wanted) {
        let raised = Rlimit {
            current: Some(wanted),
            maximum: limit.maximum,
        };
        if let Err(error) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(%error, "cannot raise the open-file limit");
        }
    }
    let Some(open_files) = getrlimit(Resource::Nofile).current else {
        return wanted_connections;
    };
    if open_files >= needed(wanted_connections) {
        return wanted_connections;
    }
    match configured {
        Some(configured) => {
            tracing::warn!(
                open_files,
                needed = needed(configured),
                ports,
                "the open-file limit is below server.max_connections on every port: raise it (ulimit -n, LimitNOFILE=) or lower server.max_connections"
            );
            configured
        }
        None => {
            let fit = open_files.saturating_sub(RESERVED_FILES) / ports.max(1);
            let sized = usize::try_from(fit)
                .unwrap_or(usize::MAX)
                .max(FEWEST_CONNECTIONS);
            tracing::info!(
                open_files,
                max_connections = sized,
                ports,
                "connections per port sized to the open-file limit; for more, raise it (ulimit -n, LimitNOFILE=) or set server.max_connections"
            );
            sized
        }
    }
}
