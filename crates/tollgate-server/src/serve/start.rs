//! `tollgate serve` from start to stop: built as `setup.rs` says, the ports opened, the
//! background tasks started (`tasks.rs`), served until SIGTERM.

use std::path::PathBuf;
use std::sync::Arc;

use super::{ServeOptions, setup, tasks};
use crate::adapters::envoy::grpc_router;
use crate::listen::{self, Limits};
use crate::observe::access::AccessLog;
use crate::ports::{Addresses, Listeners, serve_if};
use crate::secrets;
use crate::{Admin, admin_router, router};

/// Serves until SIGTERM or Ctrl-C. A message for the operator on failure to start.
///
/// # Errors
/// What prevented the start, in words.
pub async fn serve(options: ServeOptions) -> Result<(), String> {
    let data_dir = options
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("tollgate-data"));
    secrets::data_dir(&data_dir)?;
    // Partition keys are hashed with a seed that must outlive the process, or restored state
    // would never be found again.
    let seed = secrets::key_seed(&data_dir)?;
    // An unfit token refuses the start before anything else is opened.
    let token = secrets::admin_token(&data_dir)?;
    let policy = setup::policy(&options, seed, tollgate_policy::any_algorithm)?;
    for warning in policy.warnings() {
        tracing::warn!(%warning, "policy warning");
    }
    // Checked before anything is opened (the rate-limit files need the gRPC port).
    let addresses = Addresses::of(&options, policy.server())?;
    let (policy, shared) = setup::shared_store(&options, policy, seed).await?;
    let ratelimit = setup::ratelimit_config(&options, &policy)?;
    let upstream = setup::upstream(&options, &policy)?;
    let catalog = setup::catalog(&options, &policy, &data_dir).await?;
    let summary = policy.summary();
    let access_log =
        match &options.access_log {
            None => None,
            Some(file) => Some(AccessLog::open(file).map_err(|error| {
                format!("cannot open the access log {}: {error}", file.display())
            })?),
        };
    let (app, ratelimit_summary) = setup::app(
        policy,
        shared,
        ratelimit,
        upstream,
        catalog.clone(),
        &data_dir,
        access_log,
    )?;
    let admin = Arc::new(
        Admin::new(Arc::clone(&app), catalog, PathBuf::new(), token)
            .reloading(options.config.clone(), options.ratelimit_config.clone()),
    );
    admin
        .refresh_if_changed()
        .await
        .map_err(|error| format!("cannot read the catalog: {error}"))?;

    let (stop, stopping) = tokio::sync::watch::channel(false);
    let signalled = tasks::shutdown();
    tokio::spawn(async move {
        signalled.await;
        let _ = stop.send(true);
    });
    let listeners = addresses.bind().await?;
    if let Some(config) = &options.config {
        tracing::info!(config = %config.display(), %summary, "policy loaded");
    }
    if let (Some(dir), Some(summary)) = (&options.ratelimit_config, &ratelimit_summary) {
        tracing::info!(ratelimit_config = %dir.display(), %summary, "envoyproxy/ratelimit configuration loaded");
    }
    listeners.log(app.upstream.as_ref(), &data_dir);
    let ports = listeners.count();
    let Listeners {
        public,
        admin: private,
        grpc,
    } = listeners;

    tasks::start(&app, &admin);
    crate::Deliverer::start(Arc::clone(&app), admin.catalog.clone());
    let admin_for_exit = Arc::clone(&admin);
    let policy = app.gate.policy();
    let max_connections = listen::allow_open_files(policy.server().max_connections, ports);
    let limits = Limits::of(policy.server(), max_connections);
    let grpc_router = grpc_router(Arc::clone(&app)).await;
    let [public_open, admin_open, grpc_open] =
        ["public", "admin", "grpc"].map(|port| app.gate.metrics().connections(port));
    tokio::join!(
        serve_if(
            public,
            router(app),
            limits,
            "public",
            public_open,
            stopping.clone()
        ),
        serve_if(
            private,
            admin_router(admin),
            limits,
            "admin",
            admin_open,
            stopping.clone()
        ),
        serve_if(grpc, grpc_router, limits, "grpc", grpc_open, stopping),
    );
    tasks::write_usage(&admin_for_exit).await;
    tracing::info!("stopped");
    Ok(())
}
