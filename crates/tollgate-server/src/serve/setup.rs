//! What `serve` builds before it opens a port: the policy (in the key space the instances
//! share), the shared store, envoyproxy/ratelimit's files, the upstream, the catalog, and the
//! app over a gate with its journal. Each step fails with a message for the operator.

use std::path::Path;
use std::sync::Arc;

use axum::http::Uri;
use tollgate_catalog::Catalog;
use tollgate_core::{KeySpace, SystemClock};
use tollgate_policy::{Policy, Source, StoreCheck};
use tollgate_ratelimit_config::RateLimitConfig;

use super::ServeOptions;
use super::shared::{connect_shared, redis_check};
use crate::observe::access::AccessLog;
use crate::secrets;
use crate::{App, Durability, Gate, Journal, Shared};

/// The policy file (or an empty policy), in the key space of `seed`, checked by `check`.
pub(super) fn policy(
    options: &ServeOptions,
    seed: [u8; 16],
    check: StoreCheck,
) -> Result<Policy, String> {
    let key_space = KeySpace::new(seed);
    match &options.config {
        Some(file) => Policy::load_for(file, key_space, check),
        None => Policy::compile_for(&Source::new("(no policy file)", ""), key_space, check),
    }
    .map_err(|errors| format!("{errors}"))
}

/// The shared store, when one is named, and the policy again in the key space the instances
/// share (the limits checked against what Redis keeps exactly, before connecting).
pub(super) async fn shared_store(
    options: &ServeOptions,
    policy: Policy,
    seed: [u8; 16],
) -> Result<(Policy, Option<Shared>), String> {
    let url = options
        .store
        .clone()
        .or_else(|| policy.server().store.clone())
        .filter(|store| store != "memory");
    let Some(url) = url else {
        return Ok((policy, None));
    };
    self::policy(options, seed, redis_check)?;
    let (shared, seed) = connect_shared(&url, policy.server(), seed).await?;
    Ok((self::policy(options, seed, redis_check)?, Some(shared)))
}

/// envoyproxy/ratelimit's files, in the policy's key space (a restart, or another instance,
/// finds their counters).
pub(super) fn ratelimit_config(
    options: &ServeOptions,
    policy: &Policy,
) -> Result<Option<RateLimitConfig>, String> {
    options
        .ratelimit_config
        .as_ref()
        .map(|dir| {
            RateLimitConfig::load_dir_merging(
                dir,
                policy.key_space().clone(),
                merge_domain_config()?,
            )
            .map_err(|errors| format!("{errors}"))
        })
        .transpose()
}

/// `MERGE_DOMAIN_CONFIG`, as envoyproxy/ratelimit reads it (Go's `strconv.ParseBool`): whether
/// one domain may be spread over several files. Unset: no.
///
/// # Errors
/// A value that is not one of Go's booleans.
pub fn merge_domain_config() -> Result<bool, String> {
    let Some(text) = std::env::var_os("MERGE_DOMAIN_CONFIG") else {
        return Ok(false);
    };
    let text = text.to_string_lossy();
    match &*text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "MERGE_DOMAIN_CONFIG={text}: true or false (as envoyproxy/ratelimit reads it: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False)"
        )),
    }
}

/// The upstream admitted requests go to: an `http://` URL.
pub(super) fn upstream(options: &ServeOptions, policy: &Policy) -> Result<Option<Uri>, String> {
    let Some(url) = options
        .upstream
        .clone()
        .or_else(|| policy.server().upstream.clone())
    else {
        return Ok(None);
    };
    match url.parse::<Uri>() {
        Ok(uri) if url.starts_with("http://") && uri.host().is_some() => Ok(Some(uri)),
        _ => Err(format!(
            "the upstream `{url}` must be an http:// URL, e.g. http://127.0.0.1:9000"
        )),
    }
}

/// The catalog, opened (SQLite under `data_dir` by default, its file the owner's alone).
pub(super) async fn catalog(
    options: &ServeOptions,
    policy: &Policy,
    data_dir: &Path,
) -> Result<Catalog, String> {
    let url = options
        .catalog
        .clone()
        .or_else(|| policy.server().catalog.clone())
        .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("catalog.db").display()));
    let file = secrets::sqlite_file(&url);
    // Made private before SQLite makes it, unless the URL says how to open it (`?mode=ro`).
    if let Some(file) = file.as_ref().filter(|_| !url.contains('?')) {
        secrets::create_private(file)?;
    }
    let catalog = Catalog::open(&url)
        .await
        .map_err(|error| format!("cannot open the catalog: {error}"))?;
    if let Some(file) = &file {
        secrets::sqlite_private(file)?;
    }
    Ok(catalog)
}

/// The app over a gate on `shared`, or on the embedded store with its journal under
/// `data_dir`; envoyproxy/ratelimit's files set, their summary returned.
pub(super) fn app(
    policy: Policy,
    shared: Option<Shared>,
    ratelimit: Option<RateLimitConfig>,
    upstream: Option<Uri>,
    catalog: Catalog,
    data_dir: &Path,
    access_log: Option<AccessLog>,
) -> Result<(Arc<App>, Option<String>), String> {
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
    if let Some(ratio) = near_limit_ratio()? {
        gate.rule_stats().set_near_limit_ratio(ratio);
    }
    let ratelimit_summary = ratelimit.map(|config| {
        let summary = config.summary();
        gate.set_ratelimit_config(config);
        summary
    });
    let mut app = App::new(gate, upstream, upstream_timeout).with_catalog(catalog);
    if let Some(log) = access_log {
        app = app.with_access_log(log);
    }
    let app = Arc::new(app);
    if app.gate.shared_store().is_none() {
        // The embedded store's long-lived state outlives the process in the journal.
        let taker = Arc::clone(&app);
        let journal = Journal::start(
            data_dir,
            app.gate.limiter().store(),
            SystemClock,
            move |into| taker.gate.limiter().store().take_journal(into),
            durability,
            journal_slack,
        )?;
        app.gate.set_journal(journal);
    }
    Ok((app, ratelimit_summary))
}

/// `NEAR_LIMIT_RATIO`, as envoyproxy/ratelimit reads it: the share of a rule's limit past
/// which admitted hits count as `near_limit` (unset: 0.8).
fn near_limit_ratio() -> Result<Option<f64>, String> {
    let Some(text) = std::env::var_os("NEAR_LIMIT_RATIO") else {
        return Ok(None);
    };
    let text = text.to_string_lossy();
    match text.trim().parse::<f64>() {
        Ok(ratio) if ratio > 0.0 && ratio <= 1.0 => Ok(Some(ratio)),
        _ => Err(format!(
            "NEAR_LIMIT_RATIO={text}: a share of a limit, more than 0 and at most 1 (as envoyproxy/ratelimit reads it; 0.8 when unset)"
        )),
    }
}
