//! What runs beside the ports while serving: sweeps, the catalog's refresh, the usage history's
//! writes and prunes, reloads on SIGHUP and on a change of the files, and the signals that stop
//! it all.

use std::sync::Arc;
use std::time::Duration;

use tollgate_core::Clock;

use crate::{Admin, App};

/// How often the catalog's accounts and keys are read into the gate.
const CATALOG_REFRESH: Duration = Duration::from_millis(500);

/// Starts every background task of `app` and `admin`.
pub(super) fn start<C: Clock + 'static>(app: &Arc<App<C>>, admin: &Arc<Admin<C>>) {
    tokio::spawn(sweep(Arc::clone(app)));
    tokio::spawn(reload_on_hangup(Arc::clone(admin)));
    tokio::spawn(super::watch::reload_on_change(Arc::clone(admin)));
    tokio::spawn(refresh_catalog(Arc::clone(admin)));
    tokio::spawn(write_usage_every(Arc::clone(admin)));
}

/// Drops limit state at rest, a little at a time.
async fn sweep<C: Clock>(app: Arc<App<C>>) {
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tick.tick().await;
        let limiter = app.gate.limiter();
        limiter.store().sweep(limiter.clock().now(), 4_096);
        app.gate.sweep_hints();
    }
}

/// Reads the catalog into the gate when its change count has moved, so that changes made
/// through another instance's admin API apply within a tick, without reading the whole catalog
/// every tick.
async fn refresh_catalog<C: Clock>(admin: Arc<Admin<C>>) {
    let mut tick = tokio::time::interval(CATALOG_REFRESH);
    loop {
        tick.tick().await;
        if let Err(error) = admin.refresh_if_changed().await {
            tracing::warn!(%error, "catalog not refreshed; decisions use the accounts read last");
        }
    }
}

/// How often the usage history is written down.
const USAGE_WRITES: Duration = Duration::from_secs(5);

/// How often days past `server.usage_history_days` are pruned.
const USAGE_PRUNES: Duration = Duration::from_secs(3_600);

async fn write_usage_every<C: Clock>(admin: Arc<Admin<C>>) {
    let mut tick = tokio::time::interval(USAGE_WRITES);
    let mut pruned: Option<tokio::time::Instant> = None;
    loop {
        tick.tick().await;
        write_usage(&admin).await;
        if pruned.is_none_or(|at| at.elapsed() >= USAGE_PRUNES) {
            pruned = Some(tokio::time::Instant::now());
            prune_usage(&admin).await;
        }
    }
}

/// Forgets the usage history's days past `server.usage_history_days`. Days are the accounts'
/// own, up to 14 hours from UTC's: one more day is kept, so that none is cut short.
async fn prune_usage<C: Clock>(admin: &Admin<C>) {
    let kept = admin.app.gate.policy().server().usage_history_days;
    let now = admin.app.gate.limiter().clock().now();
    let first = tollgate_gate::day_of(now, &jiff::tz::TimeZone::UTC) - i64::from(kept);
    match admin.catalog.prune_usage(first).await {
        Ok(0) => {}
        Ok(rows) => tracing::info!(rows, kept_days = kept, "usage history pruned"),
        Err(error) => tracing::warn!(%error, "usage history not pruned; trying again later"),
    }
}

/// Adds the counts so far to the catalog's usage history; on failure they wait for the next.
pub(super) async fn write_usage<C: Clock>(admin: &Admin<C>) {
    let counter = admin.app.gate.usage_counter();
    let counts = counter.take();
    if counts.is_empty() {
        return;
    }
    if let Err(error) = admin.catalog.add_usage(&counts).await {
        tracing::warn!(%error, "usage history not written; trying again");
        counter.put_back(counts);
    }
}

/// Reloads the policy file and envoyproxy/ratelimit's files on each SIGHUP; invalid files are
/// logged and what was loaded before stays.
async fn reload_on_hangup<C: Clock>(admin: Arc<Admin<C>>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            return;
        };
        while hangups.recv().await.is_some() {
            match admin.reload_files() {
                Ok(summary) => tracing::info!(%summary, "policy reloaded"),
                Err(errors) => {
                    for error in &errors.0 {
                        tracing::error!(%error, "policy not reloaded");
                    }
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = admin;
}

/// Resolves on SIGTERM or Ctrl-C: stop accepting, finish what is in flight. The signals are
/// caught from the call on, not only once the future is polled.
pub(super) fn shutdown() -> impl Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        signal(SignalKind::terminate()).and_then(|terminate| {
            signal(SignalKind::interrupt()).map(|interrupt| (terminate, interrupt))
        })
    };
    async move {
        #[cfg(unix)]
        match signals {
            Ok((mut terminate, mut interrupt)) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = interrupt.recv() => {}
                }
            }
            Err(_) => tokio::signal::ctrl_c().await.unwrap_or_default(),
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await.unwrap_or_default();
        tracing::info!("shutting down: finishing requests in flight");
    }
}
