//! What `tollgate serve` is told on its command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::LogFormat;

/// What `tollgate serve` was told (its command-line flags); flags win over the policy file's
/// `[server]`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeOptions {
    /// The policy file (optional with --ratelimit-config: an empty policy then, and only the
    /// ports named by flags are opened).
    #[arg(long, required_unless_present = "ratelimit_config")]
    pub config: Option<PathBuf>,
    /// Address of the public port (overrides `server.listen`; default 127.0.0.1:8080).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Address of the admin port (default 127.0.0.1:8081).
    #[arg(long)]
    pub admin_listen: Option<SocketAddr>,
    /// Address of Envoy's gRPC services — the rate-limit service, external authorization
    /// (`ext_authz`) — and `grpc.health.v1` (overrides `server.grpc_listen`): Envoy's
    /// descriptors are decided by --ratelimit-config's files when given, else by the policy file;
    /// `ext_authz` by the policy file.
    #[arg(long)]
    pub grpc_listen: Option<SocketAddr>,
    /// A directory of envoyproxy/ratelimit YAML files, which Envoy's descriptors are decided by
    /// (needs a gRPC address).
    #[arg(long, value_name = "DIR")]
    pub ratelimit_config: Option<PathBuf>,
    /// The API to forward admitted requests to (overrides `server.upstream`).
    #[arg(long)]
    pub upstream: Option<String>,
    /// Where durable data lives: the catalog and the admin token (default ./tollgate-data),
    /// the owner's alone (mode 0700).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Where limit state lives: memory (default, durable under --data-dir),
    /// redis://HOST:PORT or redis+cluster://HOST:PORT,HOST:PORT (overrides `server.store`).
    #[arg(long)]
    pub store: Option<String>,
    /// The catalog database: sqlite://PATH (default under --data-dir) or postgres://…
    /// (overrides `server.catalog`).
    #[arg(long)]
    pub catalog: Option<String>,
    /// How log lines are written: text (default) or json (one object a line).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Write a JSON line per decision of the gateway, forward-auth and the check API to this
    /// file (appended; `-` for standard output), which `tollgate replay` reads as it is.
    #[arg(long, value_name = "FILE")]
    pub access_log: Option<PathBuf>,
}
