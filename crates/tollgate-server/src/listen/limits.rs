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

impl Limits {
    /// The limits `[server]` sets.
    pub(crate) fn of(server: &tollgate_policy::Server) -> Self {
        Self {
            header_read_timeout: server.header_read_timeout,
            idle_timeout: server.idle_timeout,
            max_connections: server.max_connections.max(1),
            shutdown_timeout: server.shutdown_timeout,
        }
    }
}

/// Raises the soft limit on open files to the hard one, and warns when it is still below what
/// `ports` ports full of connections need: past it, accepts fail instead of the cap engaging.
pub(crate) fn allow_open_files(limits: Limits, ports: u64) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let needed = u64::try_from(limits.max_connections)
        .unwrap_or(u64::MAX)
        .saturating_mul(ports)
        .saturating_add(256);
    let limit = getrlimit(Resource::Nofile);
    // `None` is unlimited: up to the hard limit, or what is needed under an unlimited one.
    let wanted = limit.maximum.unwrap_or(needed);
    if limit.current.is_some_and(|current| current < wanted) {
        let raised = Rlimit {
            current: Some(wanted),
            maximum: limit.maximum,
        };
        if let Err(error) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(%error, "cannot raise the open-file limit");
        }
    }
    let open_files = getrlimit(Resource::Nofile).current;
    if open_files.is_some_and(|open_files| open_files < needed) {
        tracing::warn!(
            open_files,
            needed,
            ports,
            "the open-file limit is below max_connections on every port: raise it (ulimit -n, LimitNOFILE=) or lower server.max_connections"
        );
    }
}
