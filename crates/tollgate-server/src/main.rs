//! The `tollgate` binary: rate limits and quotas in front of an HTTP API, from one policy file.
//!
//! ```text
//! tollgate check-config FILE
//! tollgate serve --config FILE [--listen ADDR] [--upstream URL]
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tollgate_core::{Clock, SystemClock};
use tollgate_policy::Policy;

use tollgate_server::{App, Gate, router};

/// Rate limits and quotas in front of an HTTP API, from one policy file.
#[derive(Debug, Parser)]
#[command(name = "tollgate", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a policy file: `FILE:LINE:COL: message` per error, or a one-line summary.
    CheckConfig {
        /// The policy file.
        file: PathBuf,
    },
    /// Serve the check API, forward-auth and the gateway.
    Serve {
        /// The policy file.
        #[arg(long)]
        config: PathBuf,
        /// Address of the public port (overrides `server.listen`; default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// The API to forward admitted requests to (overrides `server.upstream`).
        #[arg(long)]
        upstream: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { file } => check_config(&file),
        Command::Serve {
            config,
            listen,
            upstream,
        } => serve(&config, listen, upstream),
    }
}

fn load(file: &Path) -> Result<Policy, ExitCode> {
    Policy::load(file).map_err(|errors| {
        eprintln!("{errors}");
        eprintln!("{}: {} error(s)", file.display(), errors.0.len());
        ExitCode::from(2)
    })
}

fn check_config(file: &Path) -> ExitCode {
    match load(file) {
        Ok(policy) => {
            println!("{}: ok: {}", file.display(), policy.summary());
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

fn serve(config: &Path, listen: Option<SocketAddr>, upstream: Option<String>) -> ExitCode {
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let policy = match load(config) {
        Ok(policy) => policy,
        Err(code) => return code,
    };
    let listen = listen
        .or_else(|| {
            policy
                .server()
                .listen
                .as_ref()
                .and_then(|text| text.parse().ok())
        })
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let upstream = match upstream
        .or_else(|| policy.server().upstream.clone())
        .map(|url| (url.starts_with("http://"), url.parse::<axum::http::Uri>()))
    {
        None => None,
        Some((true, Ok(uri))) if uri.host().is_some() => Some(uri),
        _ => {
            eprintln!("tollgate: the upstream must be an http:// URL, e.g. http://127.0.0.1:9000");
            return ExitCode::from(2);
        }
    };
    let summary = policy.summary();
    let upstream_timeout = policy.server().upstream_timeout;
    let app = Arc::new(App::new(
        Gate::new(policy, SystemClock),
        upstream,
        upstream_timeout,
    ));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("tollgate: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("tollgate: cannot listen on {listen}: {error}");
                return ExitCode::FAILURE;
            }
        };
        let bound = listener.local_addr().unwrap_or(listen);
        tracing::info!(config = %config.display(), %summary, "policy loaded");
        tracing::info!(address = %bound, upstream = ?app.upstream.as_ref().map(ToString::to_string), "listening");
        tokio::spawn(sweep(Arc::clone(&app)));
        tokio::spawn(reload_on_hangup(Arc::clone(&app), config.to_owned()));
        let service = router(app).into_make_service_with_connect_info::<SocketAddr>();
        match axum::serve(listener, service).with_graceful_shutdown(shutdown()).await {
            Ok(()) => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("tollgate: server error: {error}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Drops limit state at rest, a little at a time.
async fn sweep(app: Arc<App>) {
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tick.tick().await;
        let limiter = app.gate.limiter();
        limiter.store().sweep(limiter.clock().now(), 4_096);
    }
}

/// Reloads the policy file on each SIGHUP; an invalid file is logged and the old policy stays.
async fn reload_on_hangup(app: Arc<App>, config: PathBuf) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            return;
        };
        while hangups.recv().await.is_some() {
            match app.gate.reload(&config) {
                Ok(summary) => {
                    tracing::info!(config = %config.display(), %summary, "policy reloaded")
                }
                Err(errors) => {
                    for error in &errors.0 {
                        tracing::error!(%error, "policy not reloaded");
                    }
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (app, config);
}

/// Resolves on SIGTERM or Ctrl-C: stop accepting, finish what is in flight.
async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => return interrupt.await.unwrap_or_default(),
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await.unwrap_or_default();
    tracing::info!("shutting down: finishing requests in flight");
}
