//! The ports `tollgate serve` opens — public, admin, gRPC — at which addresses, and serving
//! each until shutdown. Flags win over the policy file's `[server]`; without a policy file only
//! the ports named by flags are opened (a drop-in for envoyproxy/ratelimit serves gRPC alone,
//! and envoyproxy/ratelimit's usual ports are not taken by surprise).

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::ServeOptions;
use crate::listen::{self, Limits};
use tollgate_gate::ConnectionGauge;

/// Where each port listens; `None`: not opened.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Addresses {
    public: Option<SocketAddr>,
    admin: Option<SocketAddr>,
    grpc: Option<SocketAddr>,
}

/// The ports, bound.
#[derive(Debug)]
pub(crate) struct Listeners {
    /// Check API, forward-auth, quota page, gateway.
    pub(crate) public: Option<TcpListener>,
    /// The admin API, `/metrics`, `/healthz`.
    pub(crate) admin: Option<TcpListener>,
    /// Envoy's rate-limit service and gRPC health.
    pub(crate) grpc: Option<TcpListener>,
}

impl Addresses {
    /// The addresses `options` and the policy's `server` table give.
    ///
    /// # Errors
    /// A gRPC port without envoyproxy/ratelimit's files, or those files without a gRPC port:
    /// each needs the other.
    pub(crate) fn of(
        options: &ServeOptions,
        server: &tollgate_policy::Server,
    ) -> Result<Self, String> {
        let with_policy = options.config.is_some();
        let parsed = |text: &Option<String>| text.as_ref().and_then(|text| text.parse().ok());
        let public = options.listen.or_else(|| {
            with_policy.then(|| {
                parsed(&server.listen).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)))
            })
        });
        let admin = options
            .admin_listen
            .or_else(|| with_policy.then(|| SocketAddr::from(([127, 0, 0, 1], 8081))));
        let grpc = options.grpc_listen.or_else(|| parsed(&server.grpc_listen));
        if grpc.is_none() && options.ratelimit_config.is_some() {
            return Err(
                "--ratelimit-config needs the gRPC port: --grpc-listen ADDR or server.grpc_listen"
                    .to_owned(),
            );
        }
        Ok(Self {
            public,
            admin,
            grpc,
        })
    }

    /// Binds every port to be opened.
    ///
    /// # Errors
    /// An address that cannot be listened on, in words.
    pub(crate) async fn bind(self) -> Result<Listeners, String> {
        Ok(Listeners {
            public: bind_if(self.public).await?,
            admin: bind_if(self.admin).await?,
            grpc: bind_if(self.grpc).await?,
        })
    }
}

impl Listeners {
    /// How many ports are open.
    pub(crate) fn count(&self) -> u64 {
        [&self.public, &self.admin, &self.grpc]
            .into_iter()
            .map(|port| u64::from(port.is_some()))
            .sum()
    }

    /// Logs where each open port listens, with the upstream and the data directory.
    pub(crate) fn log(&self, upstream: Option<&axum::http::Uri>, data_dir: &std::path::Path) {
        let address = |port: &Option<TcpListener>| port.as_ref()?.local_addr().ok();
        if let Some(address) = address(&self.public) {
            tracing::info!(%address, upstream = ?upstream.map(ToString::to_string), "listening");
        }
        if let Some(admin) = address(&self.admin) {
            tracing::info!(%admin, data_dir = %data_dir.display(), "admin listening");
        }
        if let Some(grpc) = address(&self.grpc) {
            tracing::info!(%grpc, "gRPC services listening (rate limit, ext_authz, health)");
        }
    }
}

/// A listener on `address`, when there is one to open.
async fn bind_if(address: Option<SocketAddr>) -> Result<Option<TcpListener>, String> {
    match address {
        None => Ok(None),
        Some(address) => TcpListener::bind(address)
            .await
            .map(Some)
            .map_err(|error| format!("cannot listen on {address}: {error}")),
    }
}

/// Serves `router` on `listener` (`port` names it in the log) until `stop`, when the port is
/// open; at once otherwise.
pub(crate) async fn serve_if<S>(
    listener: Option<TcpListener>,
    router: S,
    limits: Limits,
    port: &'static str,
    open: ConnectionGauge,
    stop: watch::Receiver<bool>,
) where
    S: listen::Port,
{
    if let Some(listener) = listener {
        listen::serve(listener, router, limits, port, open, stop).await;
    }
}
