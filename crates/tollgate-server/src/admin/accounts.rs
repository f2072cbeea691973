//! Accounts: listed (the policy file's and the catalog's together), read, created, changed and
//! deleted. Their keys are `keys.rs`; their standing and history `standing.rs`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tollgate_catalog::{Account, CatalogError};
use tollgate_core::Clock;
use tollgate_policy::FileAccount;
use utoipa::IntoParams;

use super::wire::{AccountBody, AccountChanges, AccountPage, ApiError, NewAccount, Source};
use super::{Admin, bad_id, error, fault, owned_by_file, parse, refreshed, removal_owned_by_file};

/// Creates an account in the catalog.
#[utoipa::path(
    post,
    path = "/admin/accounts",
    tag = "accounts",
    request_body = NewAccount,
    responses(
        (status = 201, description = "The account", body = AccountBody),
        (status = 400, description = "Not such a body, an unfit id, an unknown plan or time zone", body = ApiError),
        (status = 409, description = "The id is taken, in the catalog or by the policy file", body = ApiError),
    )
)]
pub(super) async fn create_account<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    body: Bytes,
) -> Response {
    let new: NewAccount = match parse(&body) {
        Ok(new) => new,
        Err(message) => return error(StatusCode::BAD_REQUEST, "bad_request", &message),
    };
    if let Some(refusal) = bad_id(&new.id, "account") {
        return refusal;
    }
    let policy = admin.app.gate.policy();
    if policy.has_account(&new.id) {
        let message = format!("account `{}` is defined in the policy file", new.id);
        return error(StatusCode::CONFLICT, "duplicate_account", &message);
    }
    if let Some(refusal) = unknown_plan(&policy, new.plan.as_deref()) {
        return refusal;
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
        Ok(()) => (StatusCode::CREATED, Json(catalog_body(account))).into_response(),
        Err(failure) => fault(failure),
    }
}

/// `400 unknown_plan` for a plan the policy lacks, which an account would silently fall back
/// from to the default plan.
fn unknown_plan(policy: &tollgate_policy::Policy, plan: Option<&str>) -> Option<Response> {
    let plan = plan?;
    if policy.plans().iter().any(|known| &**known == plan) {
        return None;
    }
    let known: Vec<&str> = policy.plans().iter().map(|known| &**known).collect();
    let message = format!("no plan `{plan}` in the policy: {}", known.join(", "));
    Some(error(StatusCode::BAD_REQUEST, "unknown_plan", &message))
}

/// Account `id`, whether the policy file or the catalog defines it.
#[utoipa::path(
    get,
    path = "/admin/accounts/{id}",
    tag = "accounts",
    params(("id" = String, Path, description = "The account")),
    responses(
        (status = 200, description = "The account", body = AccountBody),
        (status = 404, description = "No such account", body = ApiError),
    )
)]
pub(super) async fn get_account<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
) -> Response {
    let policy = admin.app.gate.policy();
    if let Some(account) = policy.file_accounts().into_iter().find(|a| a.id == id) {
        return Json(file_body(&admin, account)).into_response();
    }
    match admin.catalog.account(&id).await {
        Ok(Some(account)) => Json(catalog_body(account)).into_response(),
        Ok(None) => fault(CatalogError::UnknownAccount(id)),
        Err(failure) => fault(failure),
    }
}

/// `GET /admin/accounts` query: a page of accounts after `after`, on `plan`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct AccountsQuery {
    /// The `next` of the page before: accounts after this id.
    after: Option<String>,
    /// Accounts on this plan only.
    plan: Option<String>,
    /// Accounts in the page (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// Accounts in one page by default, and at most.
const PAGE: (u32, u32) = (100, 1_000);

/// `GET /admin/accounts?plan=&after=&limit=`: the accounts of the policy file and of the
/// catalog together, in order of id, a page at a time; `next` is the `after` of the next page
/// (`null`: this is the last).
#[utoipa::path(
    get,
    path = "/admin/accounts",
    tag = "accounts",
    params(AccountsQuery),
    responses(
        (status = 200, description = "A page of accounts", body = AccountPage),
        (status = 400, description = "Not such a query, or an unknown plan", body = ApiError),
    )
)]
pub(super) async fn list_accounts<C: Clock + 'static>(
    State(admin): State<Arc<Admin<C>>>,
    query: Result<axum::extract::Query<AccountsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(axum::extract::Query(query)) = query else {
        let message = "the query takes `after` (an account id), `plan` and `limit` (1 to 1000)";
        return error(StatusCode::BAD_REQUEST, "bad_request", message);
    };
    let limit = query.limit.unwrap_or(PAGE.0);
    if !(1..=PAGE.1).contains(&limit) {
        let message = format!("`limit` is 1 to {}", PAGE.1);
        return error(StatusCode::BAD_REQUEST, "bad_request", &message);
    }
    let (after, plan) = (query.after.as_deref(), query.plan.as_deref());
    let policy = admin.app.gate.policy();
    if let Some(refusal) = unknown_plan(&policy, plan) {
        return refusal;
    }
    let from_file = policy.file_accounts().into_iter().filter(|account| {
        after.is_none_or(|after| account.id.as_str() > after)
            && plan.is_none_or(|plan| account.plan.as_deref() == Some(plan))
    });
    let from_catalog = match admin.catalog.accounts(after, plan, limit + 1).await {
        Ok(accounts) => accounts,
        Err(failure) => return fault(failure),
    };
    // More in the catalog, whatever of this page the file's accounts take the place of.
    let catalog_more = from_catalog.len() > limit as usize;
    let mut accounts: Vec<AccountBody> = from_file
        .map(|account| file_body(&admin, account))
        // The file's account wins over a catalog account of the same id (see Admin::refresh).
        .chain(
            from_catalog
                .into_iter()
                .filter(|account| !policy.has_account(&account.id))
                .map(catalog_body),
        )
        .collect();
    accounts.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let more = accounts.len() > limit as usize || catalog_more;
    accounts.truncate(limit as usize);
    let next = more
        .then(|| accounts.last().map(|last| last.id.clone()))
        .flatten();
    Json(AccountPage { accounts, next }).into_response()
}

/// Changes an account of the catalog.
#[utoipa::path(
    patch,
    path = "/admin/accounts/{id}",
    tag = "accounts",
    params(("id" = String, Path, description = "The account")),
    request_body = AccountChanges,
    responses(
        (status = 200, description = "The account", body = AccountBody),
        (status = 400, description = "Not such a body, an unknown plan or time zone", body = ApiError),
        (status = 404, description = "No such account", body = ApiError),
        (status = 409, description = "The policy file defines it", body = ApiError),
    )
)]
pub(super) async fn update_account<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Some(refusal) = owned_by_file(&admin, &id, "plan, company and time zone") {
        return refusal;
    }
    let changes: AccountChanges = match parse(&body) {
        Ok(changes) => changes,
        Err(message) => return error(StatusCode::BAD_REQUEST, "bad_request", &message),
    };
    if let Some(refusal) = unknown_plan(
        &admin.app.gate.policy(),
        changes.plan.as_ref().and_then(Option::as_deref),
    ) {
        return refusal;
    }
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
            Json(catalog_body(account)).into_response()
        }
        Err(failure) => fault(failure),
    }
}

/// Deletes an account of the catalog, with its keys, pack ledger, overrides and history.
#[utoipa::path(
    delete,
    path = "/admin/accounts/{id}",
    tag = "accounts",
    params(("id" = String, Path, description = "The account")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such account", body = ApiError),
        (status = 409, description = "The policy file defines it", body = ApiError),
    )
)]
pub(super) async fn delete_account<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
) -> Response {
    if let Some(refusal) = removal_owned_by_file(&admin, &id, "entry").await {
        return refusal;
    }
    match admin.catalog.delete_account(&id).await {
        Ok(()) => {
            refreshed(&admin).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(failure) => fault(failure),
    }
}

/// An account of the catalog, as the admin API shows it.
fn catalog_body(account: Account) -> AccountBody {
    AccountBody {
        id: account.id,
        plan: account.plan,
        company: account.company,
        time_zone: account.time_zone,
        source: Source::Catalog,
    }
}

/// An account of the policy file, as the admin API shows it: its zone is the one its times are
/// shown in (its own, else the policy's default).
fn file_body<C: Clock>(admin: &Admin<C>, account: FileAccount) -> AccountBody {
    let time_zone = account.time_zone.unwrap_or_else(|| {
        let zone = admin.app.gate.default_zone();
        zone.iana_name().unwrap_or("UTC").to_owned()
    });
    AccountBody {
        id: account.id,
        plan: account.plan,
        company: account.company,
        time_zone,
        source: Source::Policy,
    }
}
