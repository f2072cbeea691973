//! `tollgate serve`: the public port, the admin port, and the background tasks, until SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::http::Uri;
use tollgate_catalog::Catalog;
use tollgate_core::{Clock, KeySpace, SystemClock};
use tollgate_policy::{Policy, Source};
use tollgate_ratelimit_config::RateLimitConfig;

use tollgate_redis::{RedisStore, StoreUrl};

use crate::adapters::envoy::grpc_router;
use crate::listen::{self, Limits};
use crate::ports::{Addresses, Listeners, serve_if};
use crate::secrets;
use crate::{Admin, App, Durability, Gate, Journal, LogFormat, Shared, admin_router, router};

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
    /// Address of Envoy's gRPC rate-limit service and `grpc.health.v1` (overrides
    /// `server.grpc_listen`): Envoy's descriptors are decided by --ratelimit-config's files when
    /// given, else by the policy file.
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
}

/// How often the catalog's accounts and keys are read into the gate.
const CATALOG_REFRESH: Duration = Duration::from_millis(500);

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
    let load = |seed, check| {
        let key_space = KeySpace::new(seed);
        match &options.config {
            Some(file) => Policy::load_for(file, key_space, check),
            None => Policy::compile_for(&Source::new("(no policy file)", ""), key_space, check),
        }
        .map_err(|errors| format!("{errors}"))
    };
    let mut policy = load(seed, tollgate_policy::any_algorithm)?;
    for warning in policy.warnings() {
        tracing::warn!(%warning, "policy warning");
    }
    // Checked before anything is opened (the rate-limit files need the gRPC port).
    let addresses = Addresses::of(&options, policy.server())?;
    let shared = match options
        .store
        .clone()
        .or_else(|| policy.server().store.clone())
        .filter(|store| store != "memory")
    {
        None => None,
        Some(url) => {
            // The limits must fit the store: checked before connecting, to fail fast.
            load(seed, redis_check)?;
            let (shared, seed) = connect_shared(&url, policy.server(), seed).await?;
            // Every instance hashes partition keys with the seed kept in the store.
            policy = load(seed, redis_check)?;
            Some(shared)
        }
    };
    // In the policy's key space: a restart (or another instance) finds the counters.
    let ratelimit = match &options.ratelimit_config {
        None => None,
        Some(dir) => Some(
            RateLimitConfig::load_dir_in(dir, policy.key_space().clone())
                .map_err(|errors| format!("{errors}"))?,
        ),
    };
    let upstream = match options
        .upstream
        .clone()
        .or_else(|| policy.server().upstream.clone())
    {
        None => None,
        Some(url) => match url.parse::<Uri>() {
            Ok(uri) if url.starts_with("http://") && uri.host().is_some() => Some(uri),
            _ => {
                return Err(format!(
                    "the upstream `{url}` must be an http:// URL, e.g. http://127.0.0.1:9000"
                ));
            }
        },
    };
    let catalog_url = options
        .catalog
        .clone()
        .or_else(|| policy.server().catalog.clone())
        .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("catalog.db").display()));
    let catalog_file = secrets::sqlite_file(&catalog_url);
    // Made private before SQLite makes it, unless the URL says how to open it (`?mode=ro`).
    if let Some(file) = catalog_file.as_ref().filter(|_| !catalog_url.contains('?')) {
        secrets::create_private(file)?;
    }
    let catalog = Catalog::open(&catalog_url)
        .await
        .map_err(|error| format!("cannot open the catalog: {error}"))?;
    if let Some(file) = &catalog_file {
        secrets::sqlite_private(file)?;
    }

    let summary = policy.summary();
    let upstream_timeout = policy.server().upstream_timeout;
    let journal_slack = policy.server().journal_slack;
    let durability = match policy.server().durability_interval {
        None => Durability::Always,
        Some(interval) => Durability::Every(interval),
    };
    let gate = match shared {
        Some(shared) => Gate::shared(policy, SystemClock, shared),
        None => Gate::journaled(policy, SystemClock),
    };
    let ratelimit_summary = ratelimit.map(|config| {
        let summary = config.summary();
        gate.set_ratelimit_config(config);
        summary
    });
    let app = Arc::new(App::new(gate, upstream, upstream_timeout).with_catalog(catalog.clone()));
    if app.gate.shared_store().is_none() {
        // The embedded store's long-lived state outlives the process in the journal.
        let taker = Arc::clone(&app);
        let journal = Journal::start(
            &data_dir,
            app.gate.limiter().store(),
            SystemClock,
            move |into| taker.gate.limiter().store().take_journal(into),
            durability,
            journal_slack,
        )?;
        app.gate.set_journal(journal);
    }
    let admin = Arc::new(
        Admin::new(Arc::clone(&app), catalog, PathBuf::new(), token)
            .reloading(options.config.clone(), options.ratelimit_config.clone()),
    );
    admin
        .refresh_if_changed()
        .await
        .map_err(|error| format!("cannot read the catalog: {error}"))?;

    let (stop, stopping) = tokio::sync::watch::channel(false);
    let signalled = shutdown();
    tokio::spawn(async move {
        signalled.await;
        let _ = stop.send(true);
    });
    let listeners = addresses.bind().await?;
    let ports = listeners.count();
    let Listeners {
        public,
        admin: private,
        grpc,
    } = listeners;
    if let Some(config) = &options.config {
        tracing::info!(config = %config.display(), %summary, "policy loaded");
    }
    if let (Some(dir), Some(summary)) = (&options.ratelimit_config, &ratelimit_summary) {
        tracing::info!(ratelimit_config = %dir.display(), %summary, "envoyproxy/ratelimit configuration loaded");
    }
    if let Some(address) = public.as_ref().and_then(|port| port.local_addr().ok()) {
        tracing::info!(%address, upstream = ?app.upstream.as_ref().map(ToString::to_string), "listening");
    }
    if let Some(admin) = private.as_ref().and_then(|port| port.local_addr().ok()) {
        tracing::info!(%admin, data_dir = %data_dir.display(), "admin listening");
    }
    if let Some(grpc) = grpc.as_ref().and_then(|port| port.local_addr().ok()) {
        tracing::info!(%grpc, "gRPC rate-limit service listening");
    }

    tokio::spawn(sweep(Arc::clone(&app)));
    tokio::spawn(reload_on_hangup(Arc::clone(&admin)));
    tokio::spawn(refresh_catalog(Arc::clone(&admin)));
    tokio::spawn(write_usage_every(Arc::clone(&admin)));
    let admin_for_exit = Arc::clone(&admin);
    let limits = Limits::of(app.gate.policy().server());
    listen::allow_open_files(limits, ports);
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
    write_usage(&admin_for_exit).await;
    tracing::info!("stopped");
    Ok(())
}

/// Connects to the shared store at `url` as `server` says; with the key seed the
/// instances share (`seed`, if this instance is the first).
async fn connect_shared(
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
        Shared::new(store, server.on_store_error, server.instances, seed),
        seed,
    ))
}

/// What the Redis store keeps exactly (see [`RedisStore::supports`]): the check of policies
/// served with `store = "redis://…"`.
pub fn redis_check(algorithm: &tollgate_core::Algorithm) -> Result<(), String> {
    RedisStore::supports(algorithm).map_err(|unsupported| unsupported.to_string())
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
async fn write_usage<C: Clock>(admin: &Admin<C>) {
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
fn shutdown() -> impl Future<Output = ()> {
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
