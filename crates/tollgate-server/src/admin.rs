//! The admin port: catalog edits that apply to decisions at once, and the policy's reload.
//! Every route but `/healthz` needs `Authorization: Bearer <token>`.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tollgate_catalog::{Account, Block, Catalog, CatalogError};
use tollgate_core::Clock;
use tollgate_policy::{DirectoryEntry, Numbers};

use crate::http::App;

/// What the admin handlers share.
#[derive(Debug)]
pub struct Admin<C: Clock> {
    /// The public side, whose gate the catalog feeds.
    pub app: Arc<App<C>>,
    /// The durable catalog.
    pub catalog: Catalog,
    /// The policy file, for reloads.
    pub config: PathBuf,
    token: String,
    /// One refresh at a time: a refresh that read the catalog before a change must not store
    /// its older view after the refresh that follows the change.
    refreshing: tokio::sync::Mutex<()>,
}

impl<C: Clock> Admin<C> {
    /// Admin handlers guarded by `token`.
    pub fn new(app: Arc<App<C>>, catalog: Catalog, config: PathBuf, token: String) -> Self {
        Self {
            app,
            catalog,
            config,
            token,
            refreshing: tokio::sync::Mutex::new(()),
        }
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
        let mut entries: Vec<DirectoryEntry> = self
            .catalog
            .keyed_accounts()
            .await?
            .into_iter()
            .map(|keyed| DirectoryEntry {
                overrides: overrides.get(&keyed.account).cloned().unwrap_or_default(),
                key_sha256: keyed.key_sha256,
                account: keyed.account,
                plan: keyed.plan,
                company: keyed.company,
                pack: keyed.pack,
            })
            .collect();
        // Packs and overrides of accounts of the policy file travel as entries without a key.
        let policy = self.app.gate.policy();
        let mut packs: std::collections::HashMap<String, (String, tollgate_core::Nanos)> = self
            .catalog
            .latest_packs()
            .await?
            .into_iter()
            .map(|(account, pack, until)| (account, (pack, until)))
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
        .route("/admin/accounts", post(create_account::<C>))
        .route(
            "/admin/accounts/{id}",
            get(get_account::<C>)
                .patch(update_account::<C>)
                .delete(delete_account::<C>),
        )
        .route(
            "/admin/accounts/{id}/keys",
            post(create_key::<C>).get(list_keys::<C>),
        )
        .route("/admin/accounts/{id}/keys/{hash}", delete(revoke_key::<C>))
        .route("/admin/accounts/{id}/usage", get(usage::<C>))
        .route("/admin/accounts/{id}/history", get(history::<C>))
        .route(
            "/admin/accounts/{id}/overrides/{limit}",
            axum::routing::put(set_override::<C>).delete(clear_override::<C>),
        )
        .route(
            "/admin/accounts/{id}/packs",
            post(buy_pack::<C>).get(list_packs::<C>),
        )
        .route("/admin/reload", post(reload::<C>))
        .route("/admin/blocks", post(add_block::<C>).get(list_blocks::<C>))
        .route("/admin/apps", post(create_app::<C>).get(list_apps::<C>))
        .route("/admin/accounts/{id}/overrides", get(list_overrides::<C>))
        .route("/admin/apps/{id}", delete(delete_app::<C>))
        .route("/admin/blocks/{id}", delete(remove_block::<C>))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&admin),
            authorize::<C>,
        ));
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .merge(guarded)
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such admin route") })
        .with_state(admin)
}

/// A JSON error with a stable code.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({ "code": code, "message": message })),
    )
        .into_response()
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

async fn authorize<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    request: Request,
    next: Next,
) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    if bool::from(given.as_bytes().ct_eq(admin.token.as_bytes())) {
        next.run(request).await
    } else {
        error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid admin token is required",
        )
    }
}

/// `POST /admin/accounts` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccount {
    id: String,
    plan: Option<String>,
    company: Option<String>,
    time_zone: Option<String>,
}

/// A JSON body, or the message of the 400 that answers it.
fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|failure| format!("invalid JSON body: {failure}"))
}

async fn create_account<C: Clock>(State(admin): State<Arc<Admin<C>>>, body: Bytes) -> Response {
    let new: NewAccount = match parse(&body) {
        Ok(new) => new,
        Err(message) => return error(StatusCode::BAD_REQUEST, "bad_request", &message),
    };
    if new.id.is_empty() || new.id.len() > 200 {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "an account id has 1 to 200 characters",
        );
    }
    let time_zone = new.time_zone.unwrap_or_else(|| "UTC".to_owned());
    if jiff::tz::TimeZone::get(&time_zone).is_err() {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_time_zone",
            &format!("`{time_zone}` is not an IANA time zone"),
        );
    }
    let account = Account {
        id: new.id,
        plan: new.plan,
        company: new.company,
        time_zone,
    };
    let now = admin.app.gate.limiter().clock().now();
    match admin.catalog.create_account(&account, now).await {
        Ok(()) => (StatusCode::CREATED, Json(account_json(&account))).into_response(),
        Err(failure) => fault(failure),
    }
}

async fn get_account<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
) -> Response {
    match admin.catalog.account(&id).await {
        Ok(Some(account)) => Json(account_json(&account)).into_response(),
        Ok(None) => fault(CatalogError::UnknownAccount(id)),
        Err(failure) => fault(failure),
    }
}

/// `PATCH /admin/accounts/{id}` body: fields to change (`null` clears plan or company).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountChanges {
    #[serde(default, with = "double_option")]
    plan: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    company: Option<Option<String>>,
    time_zone: Option<String>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(deserializer).map(Some)
    }
}

async fn update_account<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let changes: AccountChanges = match parse(&body) {
        Ok(changes) => changes,
        Err(message) => return error(StatusCode::BAD_REQUEST, "bad_request", &message),
    };
    if let Some(time_zone) = &changes.time_zone {
        if jiff::tz::TimeZone::get(time_zone).is_err() {
            let message = format!("`{time_zone}` is not an IANA time zone");
            return error(StatusCode::BAD_REQUEST, "bad_time_zone", &message);
        }
    }
    let updated = admin
        .catalog
        .update_account(
            &id,
            changes.plan.as_ref().map(Option::as_deref),
            changes.company.as_ref().map(Option::as_deref),
            changes.time_zone.as_deref(),
        )
        .await;
    match updated {
        Ok(account) => {
            refreshed(&admin).await;
            Json(account_json(&account)).into_response()
        }
        Err(failure) => fault(failure),
    }
}

async fn delete_account<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
) -> Response {
    match admin.catalog.delete_account(&id).await {
        Ok(()) => {
            refreshed(&admin).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(failure) => fault(failure),
    }
}

async fn list_keys<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
) -> Response {
    if let Err(refusal) = require_account(&admin, &id).await {
        return refusal;
    }
    match admin.catalog.keys(&id).await {
        Ok(keys) => {
            let keys: Vec<serde_json::Value> = keys
                .into_iter()
                .map(|(hash, at)| serde_json::json!({ "key_sha256": hash, "created_at": at / tollgate_core::NANOS_PER_SEC }))
                .collect();
            Json(keys).into_response()
        }
        Err(failure) => fault(failure),
    }
}

async fn revoke_key<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path((id, hash)): Path<(String, String)>,
) -> Response {
    match admin.catalog.revoke_key(&id, &hash).await {
        Ok(true) => {
            refreshed(&admin).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => error(
            StatusCode::NOT_FOUND,
            "unknown_key",
            "no such key on this account",
        ),
        Err(failure) => fault(failure),
    }
}

/// `PUT /admin/accounts/{id}/overrides/{limit}` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewNumbers {
    max: Option<u64>,
    rate: Option<String>,
    burst: Option<u64>,
}

async fn set_override<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path((id, limit)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let new: NewNumbers = match parse(&body) {
        Ok(new) => new,
        Err(message) => return error(StatusCode::BAD_REQUEST, "bad_request", &message),
    };
    let numbers = Numbers {
        max: new.max,
        rate: new.rate,
        burst: new.burst,
    };
    let policy = admin.app.gate.policy();
    let Some(known) = policy.limits().iter().find(|known| known.name() == limit) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_override",
            &format!("the policy has no limit `{limit}`"),
        );
    };
    if let Err(reason) = known.with_numbers(&numbers) {
        return error(StatusCode::BAD_REQUEST, "bad_override", &reason);
    }
    if !policy.has_account(&id) {
        if let Err(refusal) = require_account(&admin, &id).await {
            return refusal;
        }
    }
    let stored = tollgate_catalog::Override {
        limit,
        max: numbers.max,
        rate: numbers.rate,
        burst: numbers.burst,
    };
    match admin
        .catalog
        .set_override(&id, &stored.limit, &stored)
        .await
    {
        Ok(()) => {
            refreshed(&admin).await;
            Json(serde_json::json!({ "account": id, "limit": stored.limit, "max": stored.max, "rate": stored.rate, "burst": stored.burst })).into_response()
        }
        Err(failure) => fault(failure),
    }
}

async fn clear_override<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path((id, limit)): Path<(String, String)>,
) -> Response {
    match admin.catalog.clear_override(&id, &limit).await {
        Ok(true) => {
            refreshed(&admin).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => error(
            StatusCode::NOT_FOUND,
            "unknown_override",
            "this account has no numbers of its own for that limit",
        ),
        Err(failure) => fault(failure),
    }
}

/// `POST /admin/apps` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewApp {
    id: String,
    /// The account that owns it (a third party's app acts for whichever account's key it sends).
    owner: Option<String>,
}

async fn create_app<C: Clock>(State(admin): State<Arc<Admin<C>>>, body: Bytes) -> Response {
    let new: NewApp = match parse(&body) {
        Ok(new) => new,
        Err(message) => return error(StatusCode::BAD_REQUEST, "bad_request", &message),
    };
    if new.id.is_empty() || new.id.len() > 200 {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "an app id has 1 to 200 characters",
        );
    }
    let now = admin.app.gate.limiter().clock().now();
    match admin
        .catalog
        .create_app(&new.id, new.owner.as_deref(), now)
        .await
    {
        Ok(secret) => {
            refreshed(&admin).await;
            let body = serde_json::json!({ "app": new.id, "secret": secret, "note": "shown once: only its hash is kept" });
            (StatusCode::CREATED, Json(body)).into_response()
        }
        Err(failure) => fault(failure),
    }
}

async fn list_apps<C: Clock>(State(admin): State<Arc<Admin<C>>>) -> Response {
    match admin.catalog.app_list().await {
        Ok(apps) => {
            let apps: Vec<serde_json::Value> = apps
                .into_iter()
                .map(|(id, owner, at)| {
                    serde_json::json!({ "app": id, "owner": owner, "created_at": at / tollgate_core::NANOS_PER_SEC })
                })
                .collect();
            Json(apps).into_response()
        }
        Err(failure) => fault(failure),
    }
}

async fn list_overrides<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
) -> Response {
    if let Err(refusal) = require_account(&admin, &id).await {
        return refusal;
    }
    match admin.catalog.overrides().await {
        Ok(all) => {
            let mine: Vec<serde_json::Value> = all
                .into_iter()
                .filter(|(account, _)| *account == id)
                .map(|(_, numbers)| {
                    serde_json::json!({ "limit": numbers.limit, "max": numbers.max, "rate": numbers.rate, "burst": numbers.burst })
                })
                .collect();
            Json(mine).into_response()
        }
        Err(failure) => fault(failure),
    }
}

async fn delete_app<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
) -> Response {
    match admin.catalog.delete_app(&id).await {
        Ok(true) => {
            refreshed(&admin).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => error(StatusCode::NOT_FOUND, "unknown_app", "no such app"),
        Err(failure) => fault(failure),
    }
}

/// `POST /admin/blocks` body: what to refuse (every field given must match), for how long.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBlock {
    account: Option<String>,
    api: Option<String>,
    path: Option<String>,
    seconds: u64,
    reason: Option<String>,
    by: Option<String>,
}

async fn add_block<C: Clock>(State(admin): State<Arc<Admin<C>>>, body: Bytes) -> Response {
    let new: NewBlock = match parse(&body) {
        Ok(new) => new,
        Err(message) => return error(StatusCode::BAD_REQUEST, "bad_request", &message),
    };
    if new.account.is_none() && new.api.is_none() && new.path.is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_block",
            "a block names an account, an api or a path",
        );
    }
    let now = admin.app.gate.limiter().clock().now();
    let mut block = Block {
        id: String::new(),
        account: new.account,
        api: new.api,
        path: new
            .path
            .map(|path| tollgate_policy::path::normalize(&path, false)),
        until: now.saturating_add(new.seconds.saturating_mul(tollgate_core::NANOS_PER_SEC)),
        reason: new.reason.unwrap_or_else(|| "blocked".to_owned()),
        set_by: new.by.unwrap_or_else(|| "admin".to_owned()),
    };
    match admin.catalog.add_block(&block).await {
        Ok(id) => {
            block.id = id;
            refreshed(&admin).await;
            (StatusCode::CREATED, Json(block_json(&block))).into_response()
        }
        Err(failure) => fault(failure),
    }
}

async fn list_blocks<C: Clock>(State(admin): State<Arc<Admin<C>>>) -> Response {
    let now = admin.app.gate.limiter().clock().now();
    match admin.catalog.blocks(now).await {
        Ok(blocks) => Json(blocks.iter().map(block_json).collect::<Vec<_>>()).into_response(),
        Err(failure) => fault(failure),
    }
}

async fn remove_block<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
) -> Response {
    match admin.catalog.remove_block(&id).await {
        Ok(true) => {
            refreshed(&admin).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => error(StatusCode::NOT_FOUND, "unknown_block", "no such block"),
        Err(failure) => fault(failure),
    }
}

fn block_json(block: &Block) -> serde_json::Value {
    serde_json::json!({
        "id": block.id,
        "account": block.account,
        "api": block.api,
        "path": block.path,
        "until": block.until / tollgate_core::NANOS_PER_SEC,
        "reason": block.reason,
        "set_by": block.set_by,
    })
}

/// `Ok` if the catalog has account `id`; otherwise the answer to give.
async fn require_account<C: Clock>(admin: &Admin<C>, id: &str) -> Result<(), Response> {
    match admin.catalog.account(id).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(fault(CatalogError::UnknownAccount(id.to_owned()))),
        Err(failure) => Err(fault(failure)),
    }
}

/// Refreshes the gate after a change; a failure only delays it to the next refresh.
async fn refreshed<C: Clock>(admin: &Admin<C>) {
    if let Err(failure) = admin.refresh().await {
        tracing::warn!(error = %failure, "change stored; decisions see it at the next refresh");
    }
}

/// `?days=N` of `GET /admin/accounts/{id}/history`.
#[derive(Debug, Deserialize)]
struct HistoryQuery {
    days: Option<u32>,
}

async fn history<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
    axum::extract::Query(query): axum::extract::Query<HistoryQuery>,
) -> Response {
    match admin.catalog.account(&id).await {
        Ok(Some(_)) => {}
        Ok(None) if admin.app.gate.policy().usage(None, &id, 0).is_some() => {}
        Ok(None) => return fault(CatalogError::UnknownAccount(id)),
        Err(failure) => return fault(failure),
    }
    // What was counted since the last write is written first, so the answer is current.
    let counter = admin.app.gate.usage_counter();
    let pending = counter.take();
    if let Err(failure) = admin.catalog.add_usage(&pending).await {
        counter.put_back(pending);
        return fault(failure);
    }
    let today = crate::day_of(admin.app.gate.limiter().clock().now());
    let first = today - i64::from(query.days.unwrap_or(30).clamp(1, 3_660)) + 1;
    match admin.catalog.usage_history(&id, first).await {
        Ok(rows) => {
            let rows: Vec<serde_json::Value> = rows
                .into_iter()
                .map(|(api, day, admitted, refused)| {
                    let date = jiff::civil::date(1970, 1, 1)
                        .checked_add(jiff::Span::new().days(day))
                        .map(|date| date.to_string())
                        .unwrap_or_default();
                    serde_json::json!({ "api": api, "date": date, "admitted": admitted, "refused": refused })
                })
                .collect();
            Json(rows).into_response()
        }
        Err(failure) => fault(failure),
    }
}

async fn usage<C: Clock>(State(admin): State<Arc<Admin<C>>>, Path(id): Path<String>) -> Response {
    // The account's time zone, from the catalog; accounts of the policy file report in UTC.
    let time_zone = match admin.catalog.account(&id).await {
        Ok(account) => account
            .and_then(|account| jiff::tz::TimeZone::get(&account.time_zone).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC),
        Err(failure) => return fault(failure),
    };
    match admin.app.gate.usage(&id, &time_zone) {
        Some(usage) => Json(usage).into_response(),
        None => fault(CatalogError::UnknownAccount(id)),
    }
}

async fn create_key<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
) -> Response {
    let now = admin.app.gate.limiter().clock().now();
    let key = match admin.catalog.create_key(&id, now).await {
        Ok(key) => key,
        Err(failure) => return fault(failure),
    };
    refreshed(&admin).await;
    let body = serde_json::json!({ "account": id, "key": key, "note": "shown once: only its hash is kept" });
    (StatusCode::CREATED, Json(body)).into_response()
}

/// `POST /admin/accounts/{id}/packs` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BuyPack {
    pack: String,
    /// Who is buying (a billing system, an operator), for the ledger.
    by: Option<String>,
}

async fn buy_pack<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let order: BuyPack = match parse(&body) {
        Ok(order) => order,
        Err(message) => return error(StatusCode::BAD_REQUEST, "bad_request", &message),
    };
    let Some(period) = admin.app.gate.policy().pack_period(&order.pack) else {
        let message = format!("the policy defines no pack `{}`", order.pack);
        return error(StatusCode::BAD_REQUEST, "bad_pack", &message);
    };
    if !admin.app.gate.policy().has_account(&id) {
        if let Err(refusal) = require_account(&admin, &id).await {
            return refusal;
        }
    }
    let now = admin.app.gate.limiter().clock().now();
    let by = order.by.as_deref().unwrap_or("admin");
    let period = tollgate_core::duration_nanos(period);
    let bought = match admin
        .catalog
        .buy_pack(&id, &order.pack, period, by, now)
        .await
    {
        Ok(bought) => bought,
        Err(failure) => return fault(failure),
    };
    refreshed(&admin).await;
    (StatusCode::CREATED, Json(purchase_json(&bought))).into_response()
}

async fn list_packs<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
) -> Response {
    if let Err(refusal) = require_account(&admin, &id).await {
        return refusal;
    }
    match admin.catalog.pack_purchases(&id).await {
        Ok(ledger) => Json(ledger.iter().map(purchase_json).collect::<Vec<_>>()).into_response(),
        Err(failure) => fault(failure),
    }
}

fn purchase_json(row: &tollgate_catalog::PackPurchase) -> serde_json::Value {
    let seconds = |at: u64| at / tollgate_core::NANOS_PER_SEC;
    serde_json::json!({
        "pack": row.pack,
        "bought_by": row.bought_by,
        "bought_at": seconds(row.bought_at),
        "starts_at": seconds(row.starts_at),
        "expires_at": seconds(row.expires_at),
        "superseded_at": row.superseded.as_ref().map(|(at, _)| seconds(*at)),
        "superseded_by": row.superseded.as_ref().map(|(_, by)| by),
    })
}

async fn reload<C: Clock>(State(admin): State<Arc<Admin<C>>>) -> Response {
    match admin.app.gate.reload(&admin.config) {
        Ok(summary) => {
            Json(serde_json::json!({ "reloaded": true, "summary": summary })).into_response()
        }
        Err(errors) => {
            let errors: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
            let body = serde_json::json!({ "code": "invalid_policy", "message": "the policy file has errors; the old one keeps serving", "errors": errors });
            (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
        }
    }
}

fn account_json(account: &Account) -> serde_json::Value {
    serde_json::json!({
        "id": account.id,
        "plan": account.plan,
        "company": account.company,
        "time_zone": account.time_zone,
    })
}
