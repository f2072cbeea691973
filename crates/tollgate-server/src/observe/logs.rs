//! Where log lines go and in what shape: text for people (the default), or one JSON object a
//! line for log shippers (Loki, Elasticsearch, CloudWatch), with the event's fields at the top
//! level.

/// The shape of log lines (`tollgate serve --log-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-01-01T00:00:00Z  INFO tollgate_server::…: refused limit=hourly …`, coloured on a
    /// terminal.
    #[default]
    Text,
    /// `{"timestamp":…,"level":"INFO","message":"refused","limit":"hourly",…,"target":…}`.
    Json,
}

/// Installs the process's log subscriber: lines in `format` on standard output, filtered by
/// `RUST_LOG` (default `info`).
pub fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let lines = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => lines
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .init(),
        LogFormat::Json => lines
            .with_ansi(false)
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
}
