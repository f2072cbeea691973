//! The admin port: catalog edits that apply to decisions at once, and the policy's reload.
//! Every route but `/healthz` needs `Authorization: Bearer <token>`.
//!
//! Handlers by subject: accounts (`accounts`), their keys (`keys`), their standing and history
//! (`standing`); packs and overrides (`deals`); apps and blocks (`guards`); shadow limits'
//! would-be refusals (`shadow`); `/metrics` (`metrics`). The bodies they read and write are
//! `wire`'s types, which the OpenAPI document (`openapi`, `GET /admin/openapi.json`) describes.
//! An account's quota alerts, their receiver and deliveries: `alerts`.

mod accounts;
mod alerts;
mod deals;
mod guards;
mod keys;
mod metrics;
mod openapi;
mod shadow;
mod standing;
mod wire;

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use subtle::ConstantTimeEq;
use tollgate_catalog::{Catalog, CatalogError};
use tollgate_core::Clock;
use tollgate_policy::{ConfigErrors, DirectoryEntry, Numbers};

use self::wire::{ApiError, Health, Reloaded};
use crate::app::App;

/// What the admin handlers share.
#[derive(Debug)]
pub struct Admin<C: Clock> {
    /// The public side, whose gate the catalog feeds.
    pub app: Arc<App<C>>,
    /// The durable catalog.
    pub catalog: Catalog,
    /// The policy file, for reloads (none: an empty policy, serving Envoy's rate-limit service).
    pub config: Option<PathBuf>,
    /// envoyproxy/ratelimit's configuration directory, for reloads.
    pub ratelimit_config: Option<PathBuf>,
    token: String,
    /// One refresh at a time: a refresh that read the catalog before a change must not store
    /// its older view after the refresh that follows the change.
    refreshing: tokio::sync::Mutex<()>,
    /// The catalog version of the view loaded last (-1: none).
    loaded_version: std::sync::atomic::AtomicI64,
}

impl<C: Clock> Admin<C> {
    /// Admin handlers guarded by `token`; `config` is the policy file reloads read.
    pub fn new(app: Arc<App<C>>, catalog: Catalog, config: PathBuf, token: String) -> Self {
        Self {
            app,
            catalog,
            config: Some(config),
            ratelimit_config: None,
            token,
            refreshing: tokio::sync::Mutex::new(()),
            loaded_version: std::sync::atomic::AtomicI64::new(-1),
        }
    }

    /// The same, reloads reading the policy file `config` (none: the policy stays as it is)
    /// and envoyproxy/ratelimit's files in `ratelimit_config`.
    #[must_use]
    pub fn reloading(mut self, config: Option<PathBuf>, ratelimit_config: Option<PathBuf>) -> Self {
        self.config = config;
        self.ratelimit_config = ratelimit_config;
        self
    }

    /// The policy file reloads read, if any.
    pub(crate) fn config_file(&self) -> Option<&std::path::Path> {
        self.config.as_deref()
    }

    /// The directory of envoyproxy/ratelimit's files reloads read, if any.
    pub(crate) fn ratelimit_dir(&self) -> Option<&std::path::Path> {
        self.ratelimit_config.as_deref()
    }

    /// Reloads the policy file and envoyproxy/ratelimit's files, each on its own (invalid files
    /// keep what was loaded from them before), and returns their summaries.
    ///
    /// # Errors
    /// Every problem found in either, each as `FILE:LINE:COL: message`.
    pub fn reload_files(&self) -> Result<String, ConfigErrors> {
        let mut summaries = Vec::new();
        let mut errors = Vec::new();
        let reloads = [
            self.config
                .as_deref()
                .map(|file| self.app.gate.reload(file)),
            self.ratelimit_config
                .as_deref()
                .map(|dir| self.app.gate.reload_ratelimit_config(dir)),
        ];
        for reloaded in reloads.into_iter().flatten() {
            match reloaded {
                Ok(summary) => summaries.push(summary),
                Err(found) => errors.extend(found.0),
            }
        }
        if errors.is_empty() {
            Ok(summaries.join("; "))
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// Loads the catalog into the gate if it changed since the last load (or never loaded).
    ///
    /// # Errors
    /// The catalog cannot be read; the gate keeps what it had.
    pub async fn refresh_if_changed(&self) -> Result<(), CatalogError> {
        let version = self.catalog.version().await?;
        if self
            .loaded_version
            .load(std::sync::atomic::Ordering::SeqCst)
            != version
        {
            self.refresh().await?;
            // A change after the version was read is counted again: the next tick reads it.
            self.loaded_version
                .store(version, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(())
    }

    /// Loads the catalog's accounts and keys into the gate.
    ///
    /// # Errors
    /// The catalog cannot be read; the gate keeps what it had.
    pub async fn refresh(&self) -> Result<usize, CatalogError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let mut overrides: std::collections::HashMap<String, Vec<(String, Numbers)>> =
            std::collections::HashMap::new();
        for (account, numbers) in self.catalog.overrides().await? {
            let numbers_of = Numbers {
                max: numbers.max,
                rate: numbers.rate,
                burst: numbers.burst,
            };
            overrides
                .entry(account)
                .or_default()
                .push((numbers.limit, numbers_of));
        }
        // Packs and overrides of accounts of the policy file travel as entries without a key.
        let policy = self.app.gate.policy();
        let (keyed, shadowed): (Vec<_>, Vec<_>) = self
            .catalog
            .keyed_accounts()
            .await?
            .into_iter()
            .partition(|keyed| !policy.has_account(&keyed.account));
        // A catalog account the policy file came to define later: its keys are the file's to
        // give, not the catalog's (they would stay unlisted and unrevocable).
        let mut left_out: Vec<&str> = shadowed
            .iter()
            .map(|keyed| keyed.account.as_str())
            .collect();
        left_out.dedup();
        if !left_out.is_empty() {
            tracing::warn!(
                accounts = ?left_out,
                "catalog accounts the policy file defines too: their catalog keys are not used; delete them from the catalog (DELETE /admin/accounts/ID)"
            );
        }
        let mut entries: Vec<DirectoryEntry> = keyed
            .into_iter()
            .map(|keyed| DirectoryEntry {
                overrides: overrides.get(&keyed.account).cloned().unwrap_or_default(),
                key_sha256: keyed.key_sha256,
                account: keyed.account,
                plan: keyed.plan,
                company: keyed.company,
                pack: keyed.pack,
                // The catalog's default, UTC, leaves the account in the policy's zone.
                time_zone: Some(keyed.time_zone).filter(|zone| zone != "UTC"),
                stand_in: false,
            })
            .collect();
        let mut packs: std::collections::HashMap<String, (String, tollgate_core::Nanos)> = self
            .catalog
            .latest_packs()
            .await?
            .into_iter()
            .map(|held| (held.account, (held.pack, held.expires_at)))
            .collect();
        let mut file_accounts: Vec<String> =
            packs.keys().chain(overrides.keys()).cloned().collect();
        file_accounts.sort_unstable();
        file_accounts.dedup();
        entries.extend(
            file_accounts
                .into_iter()
                .filter(|account| policy.has_account(account))
                .map(|account| DirectoryEntry {
                    key_sha256: String::new(),
                    plan: None,
                    company: None,
                    pack: packs.remove(&account),
                    overrides: overrides.remove(&account).unwrap_or_default(),
                    time_zone: None,
                    stand_in: false,
                    account,
                }),
        );
        let count = entries.len();
        self.app
            .gate
            .set_accounts(entries, self.catalog.apps().await?);
        let now = self.app.gate.limiter().clock().now();
        self.app.gate.set_blocks(self.catalog.blocks(now).await?);
        Ok(count)
    }
}

/// The admin port's routes.
pub fn admin_router<C: Clock + 'static>(admin: Arc<Admin<C>>) -> Router {
    let guarded = Router::new()
        .route(
            "/admin/accounts",
            post(accounts::create_account::<C>).get(accounts::list_accounts::<C>),
        )
        .route(
            "/admin/accounts/{id}",
            get(accounts::get_account::<C>)
                .patch(accounts::update_account::<C>)
                .delete(accounts::delete_account::<C>),
        )
        .route(
            "/admin/accounts/{id}/keys",
            post(keys::create_key::<C>).get(keys::list_keys::<C>),
        )
        .route(
            "/admin/accounts/{id}/keys/{hash}",
            delete(keys::revoke_key::<C>),
        )
        .route(
            "/admin/accounts/{id}/alerts",
            get(alerts::list_alerts::<C>).put(alerts::set_receiver::<C>),
        )
        .route("/admin/accounts/{id}/usage", get(standing::usage::<C>))
        .route("/admin/accounts/{id}/history", get(standing::history::<C>))
        .route(
            "/admin/accounts/{id}/usage/history",
            get(standing::usage_history::<C>),
        )
        .route(
            "/admin/accounts/{id}/overrides/{limit}",
            axum::routing::put(deals::set_override::<C>).delete(deals::clear_override::<C>),
        )
        .route(
            "/admin/accounts/{id}/packs",
            post(deals::buy_pack::<C>).get(deals::list_packs::<C>),
        )
        .route("/admin/reload", post(reload::<C>))
        .route("/metrics", get(metrics::metrics::<C>))
        .route("/admin/shadow", get(shadow::report::<C>))
        .route(
            "/admin/blocks",
            post(guards::add_block::<C>).get(guards::list_blocks::<C>),
        )
        .route(
            "/admin/apps",
            post(guards::create_app::<C>).get(guards::list_apps::<C>),
        )
        .route(
            "/admin/accounts/{id}/overrides",
            get(deals::list_overrides::<C>),
        )
        .route("/admin/apps/{id}", delete(guards::delete_app::<C>))
        .route("/admin/blocks/{id}", delete(guards::remove_block::<C>))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&admin),
            authorize::<C>,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/admin/openapi.json", get(openapi::document::<C>))
        .merge(guarded)
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such admin route") })
        .method_not_allowed_fallback(|| async {
            let message = "this admin route does not take that method";
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                message,
            )
        })
        .with_state(admin)
}

/// Whether the admin port answers (no token needed).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    security(()),
    responses((status = 200, description = "Serving", body = Health))
)]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// A JSON error with a stable code.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = ApiError {
        code: code.to_owned(),
        message: message.to_owned(),
        errors: None,
    };
    (status, Json(body)).into_response()
}

fn fault(failure: CatalogError) -> Response {
    match failure {
        CatalogError::UnknownAccount(id) => error(
            StatusCode::NOT_FOUND,
            "unknown_account",
            &format!("no account `{id}`"),
        ),
        CatalogError::DuplicateApp(id) => error(
            StatusCode::CONFLICT,
            "duplicate_app",
            &format!("app `{id}` already exists"),
        ),
        CatalogError::DuplicateAccount(id) => error(
            StatusCode::CONFLICT,
            "duplicate_account",
            &format!("account `{id}` already exists"),
        ),
        other => {
            tracing::error!(error = %other, "catalog fault");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "catalog_unavailable",
                "the catalog cannot answer now",
            )
        }
    }
}

/// Whether `headers` carry the admin token: compared in constant time in the token's bytes;
/// an empty token (never configured: the start refuses it) admits nobody, not even a request
/// without the header.
fn carries_token<C: Clock>(admin: &Admin<C>, headers: &axum::http::HeaderMap) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    !admin.token.is_empty() && bool::from(given.as_bytes().ct_eq(admin.token.as_bytes()))
}

async fn authorize<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    request: Request,
    next: Next,
) -> Response {
    if carries_token(&admin, request.headers()) {
        next.run(request).await
    } else {
        error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid admin token is required",
        )
    }
}

/// A JSON body, or the message of the 400 that answers it.
fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|failure| format!("invalid JSON body: {failure}"))
}

/// The 400 for an id unfit for a new `what` (it takes 1 to 200 characters), if it is.
fn bad_id(id: &str, what: &str) -> Option<Response> {
    let unfit = id.is_empty() || id.len() > 200;
    unfit.then(|| {
        let message = format!("an {what} id has 1 to 200 characters");
        error(StatusCode::BAD_REQUEST, "bad_request", &message)
    })
}

/// `Ok` if the policy file or the catalog has account `id`; otherwise the answer to give.
async fn require_account<C: Clock>(admin: &Admin<C>, id: &str) -> Result<(), Response> {
    if admin.app.gate.policy().has_account(id) {
        return Ok(());
    }
    match admin.catalog.account(id).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(fault(CatalogError::UnknownAccount(id.to_owned()))),
        Err(failure) => Err(fault(failure)),
    }
}

/// The 409 for a change to what the policy file defines (account `id`), or `None` when the
/// file does not define it.
fn owned_by_file<C: Clock>(admin: &Admin<C>, id: &str, what: &str) -> Option<Response> {
    if !admin.app.gate.policy().has_account(id) {
        return None;
    }
    let file = admin.config.as_deref().map_or_else(
        || "the policy file".to_owned(),
        |file| file.display().to_string(),
    );
    let message =
        format!("account `{id}` is defined in {file}: change its {what} there and reload");
    Some(error(StatusCode::CONFLICT, "defined_in_policy", &message))
}

/// Like [`owned_by_file`], for a removal: what the catalog still holds of an account the file
/// came to define later (it and its keys) may be removed.
async fn removal_owned_by_file<C: Clock>(
    admin: &Admin<C>,
    id: &str,
    what: &str,
) -> Option<Response> {
    let refusal = owned_by_file(admin, id, what)?;
    match admin.catalog.account(id).await {
        Ok(Some(_)) => None,
        Ok(None) => Some(refusal),
        Err(failure) => Some(fault(failure)),
    }
}

/// The answer to a removal: 204 (and the gate refreshed), 404 with `code` when there was
/// nothing to remove, or the fault.
async fn removed<C: Clock>(
    admin: &Admin<C>,
    outcome: Result<bool, CatalogError>,
    code: &str,
    message: &str,
) -> Response {
    match outcome {
        Ok(true) => {
            refreshed(admin).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => error(StatusCode::NOT_FOUND, code, message),
        Err(failure) => fault(failure),
    }
}

/// Counts a change for every instance sharing the catalog and refreshes this one's gate; a
/// failure only delays it to the next refresh.
async fn refreshed<C: Clock>(admin: &Admin<C>) {
    if let Err(failure) = admin.catalog.touch().await {
        tracing::warn!(error = %failure, "change not counted; other instances see it at their next full read");
    }
    if let Err(failure) = admin.refresh().await {
        tracing::warn!(error = %failure, "change stored; decisions see it at the next refresh");
    }
}

/// Reloads the policy file (and envoyproxy/ratelimit's files); counters of unchanged limits
/// are kept, and invalid files change nothing.
#[utoipa::path(
    post,
    path = "/admin/reload",
    tag = "operations",
    responses(
        (status = 200, description = "Reloaded", body = Reloaded),
        (status = 422, description = "The files have errors; the old policy keeps serving", body = ApiError),
    )
)]
async fn reload<C: Clock>(State(admin): State<Arc<Admin<C>>>) -> Response {
    match admin.reload_files() {
        Ok(summary) => Json(Reloaded {
            reloaded: true,
            summary,
        })
        .into_response(),
        Err(errors) => {
            let body = ApiError {
                code: "invalid_policy".to_owned(),
                message: "the policy file has errors; the old one keeps serving".to_owned(),
                errors: Some(errors.0.iter().map(ToString::to_string).collect()),
            };
            (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
        }
    }
}
