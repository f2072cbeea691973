//! Accounts, their keys, their standing now and their history.

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

use super::{
    Admin, bad_id, error, fault, owned_by_file, parse, refreshed, removed, require_account,
};

/// `POST /admin/accounts` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccount {
    id: String,
    plan: Option<String>,
    company: Option<String>,
    time_zone: Option<String>,
}

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
        Ok(()) => (StatusCode::CREATED, Json(catalog_json(&account))).into_response(),
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

pub(super) async fn get_account<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
) -> Response {
    let policy = admin.app.gate.policy();
    if let Some(account) = policy.file_accounts().into_iter().find(|a| a.id == id) {
        return Json(file_json(&admin, account)).into_response();
    }
    match admin.catalog.account(&id).await {
        Ok(Some(account)) => Json(catalog_json(&account)).into_response(),
        Ok(None) => fault(CatalogError::UnknownAccount(id)),
        Err(failure) => fault(failure),
    }
}

/// `GET /admin/accounts` query: a page of accounts after `after`, on `plan`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AccountsQuery {
    after: Option<String>,
    plan: Option<String>,
    limit: Option<u32>,
}

/// Accounts in one page by default, and at most.
const PAGE: (u32, u32) = (100, 1_000);

/// `GET /admin/accounts?plan=&after=&limit=`: the accounts of the policy file and of the
/// catalog together, in order of id, a page at a time; `next` is the `after` of the next page
/// (`null`: this is the last).
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
    let mut page: Vec<(String, serde_json::Value)> = from_file
        .map(|account| (account.id.clone(), file_json(&admin, account)))
        .chain(
            from_catalog
                .iter()
                .map(|account| (account.id.clone(), catalog_json(account))),
        )
        .collect();
    page.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let more = page.len() > limit as usize;
    page.truncate(limit as usize);
    let next = more
        .then(|| page.last().map(|(id, _)| id.clone()))
        .flatten();
    let accounts: Vec<serde_json::Value> = page.into_iter().map(|(_, json)| json).collect();
    Json(serde_json::json!({ "accounts": accounts, "next": next })).into_response()
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
            Json(catalog_json(&account)).into_response()
        }
        Err(failure) => fault(failure),
    }
}

pub(super) async fn delete_account<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
) -> Response {
    if let Some(refusal) = owned_by_file(&admin, &id, "entry") {
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

pub(super) async fn create_key<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
) -> Response {
    if let Some(refusal) = owned_by_file(&admin, &id, "keys") {
        return refusal;
    }
    let now = admin.app.gate.limiter().clock().now();
    let key = match admin.catalog.create_key(&id, now).await {
        Ok(key) => key,
        Err(failure) => return fault(failure),
    };
    refreshed(&admin).await;
    let body = serde_json::json!({ "account": id, "key": key, "note": "shown once: only its hash is kept" });
    (StatusCode::CREATED, Json(body)).into_response()
}

pub(super) async fn list_keys<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
) -> Response {
    if let Err(refusal) = require_account(&admin, &id).await {
        return refusal;
    }
    let policy = admin.app.gate.policy();
    if let Some(account) = policy.file_accounts().into_iter().find(|a| a.id == id) {
        // Keys written in the file: their digests, with no time of creation.
        let keys: Vec<serde_json::Value> = account
            .key_sha256
            .iter()
            .map(|sha256| serde_json::json!({ "key_sha256": sha256, "created_at": null }))
            .collect();
        return Json(keys).into_response();
    }
    match admin.catalog.keys(&id).await {
        Ok(keys) => {
            let keys: Vec<serde_json::Value> = keys
                .into_iter()
                .map(|key| serde_json::json!({ "key_sha256": key.sha256, "created_at": key.created_at / tollgate_core::NANOS_PER_SEC }))
                .collect();
            Json(keys).into_response()
        }
        Err(failure) => fault(failure),
    }
}

pub(super) async fn revoke_key<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path((id, hash)): Path<(String, String)>,
) -> Response {
    if let Some(refusal) = owned_by_file(&admin, &id, "keys") {
        return refusal;
    }
    removed(
        &admin,
        admin.catalog.revoke_key(&id, &hash).await,
        "unknown_key",
        "no such key on this account",
    )
    .await
}

pub(super) async fn usage<C: Clock + 'static>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
) -> Response {
    // In the account's zone: the catalog's or the policy file's, else the policy's default.
    match admin.app.gate.usage(&id, None).await {
        Some(usage) => Json(usage).into_response(),
        None => fault(CatalogError::UnknownAccount(id)),
    }
}

/// The range of a usage history: `?from=&to=` (dates in the account's zone, both included;
/// `to` defaults to today, `from` to 29 days before `to`), or `?days=N` ending today.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HistoryQuery {
    days: Option<u32>,
    from: Option<String>,
    to: Option<String>,
}

/// The most days one history answer covers.
const MAX_DAYS: i64 = 3_660;

/// `GET /admin/accounts/{id}/usage/history?from=&to=`: admitted and refused calls per api and
/// day, the days being the account's own (its time zone), with the range and the zone.
pub(super) async fn usage_history<C: Clock + 'static>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
    query: Result<axum::extract::Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match read_history(&admin, &id, query).await {
        Ok(history) => Json(serde_json::json!({
            "account": id,
            "time_zone": history.zone.iana_name().unwrap_or("UTC"),
            "from": date(history.first),
            "to": date(history.last),
            "kept_days": admin.app.gate.policy().server().usage_history_days,
            "days": history.rows,
        }))
        .into_response(),
        Err(response) => response,
    }
}

/// `GET /admin/accounts/{id}/history?days=N`: the same rows alone, as a list.
pub(super) async fn history<C: Clock + 'static>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
    query: Result<axum::extract::Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match read_history(&admin, &id, query).await {
        Ok(history) => Json(history.rows).into_response(),
        Err(response) => response,
    }
}

/// An account's history over a range of its days.
struct History {
    zone: jiff::tz::TimeZone,
    first: i64,
    last: i64,
    rows: Vec<serde_json::Value>,
}

async fn read_history<C: Clock + 'static>(
    admin: &Admin<C>,
    id: &str,
    query: Result<axum::extract::Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<History, Response> {
    let bad = |message: &str| error(StatusCode::BAD_REQUEST, "bad_range", message);
    let Ok(axum::extract::Query(query)) = query else {
        return Err(bad(
            "the query takes `from` and `to` (YYYY-MM-DD), or `days`",
        ));
    };
    let policy_zone = admin.app.gate.account_zone(id);
    let zone = match (policy_zone, admin.catalog.account(id).await) {
        (Some(zone), _) => zone,
        (None, Ok(Some(account))) => jiff::tz::TimeZone::get(&account.time_zone)
            .ok()
            .filter(|_| account.time_zone != "UTC")
            .unwrap_or_else(|| admin.app.gate.default_zone()),
        (None, Ok(None)) => return Err(fault(CatalogError::UnknownAccount(id.to_owned()))),
        (None, Err(failure)) => return Err(fault(failure)),
    };
    let today = tollgate_gate::day_of(admin.app.gate.limiter().clock().now(), &zone);
    let parse = |text: &Option<String>, name: &str| match text {
        None => Ok(None),
        Some(text) => text
            .parse::<jiff::civil::Date>()
            .map(|date| Some(tollgate_gate::day_number(date)))
            .map_err(|_| format!("`{name}` must be a date, YYYY-MM-DD")),
    };
    let (from, to) = match (parse(&query.from, "from"), parse(&query.to, "to")) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(message), _) | (_, Err(message)) => return Err(bad(&message)),
    };
    let last = to.unwrap_or(today);
    let first = match (from, query.days) {
        (Some(_), Some(_)) => return Err(bad("give `from` or `days`, not both")),
        (Some(first), None) => first,
        (None, days) => last - i64::from(days.unwrap_or(30).clamp(1, 3_660)) + 1,
    };
    if first > last {
        return Err(bad("`from` is after `to`"));
    }
    if last - first >= MAX_DAYS {
        return Err(bad(&format!("a history covers at most {MAX_DAYS} days")));
    }
    let counter = admin.app.gate.usage_counter();
    let rows = crate::history::read(counter, &admin.catalog, id, first, last)
        .await
        .map_err(fault)?
        .into_iter()
        .map(|row| {
            serde_json::json!({ "api": row.api, "date": date(row.day), "admitted": row.admitted, "refused": row.refused })
        })
        .collect();
    Ok(History {
        zone,
        first,
        last,
        rows,
    })
}

/// Day number `day` as `YYYY-MM-DD`.
fn date(day: i64) -> String {
    tollgate_gate::date_of(day)
        .map(|date| date.to_string())
        .unwrap_or_default()
}

/// An account of the catalog, as the admin API shows it.
fn catalog_json(account: &Account) -> serde_json::Value {
    serde_json::json!({
        "id": account.id,
        "plan": account.plan,
        "company": account.company,
        "time_zone": account.time_zone,
        "source": "catalog",
    })
}

/// An account of the policy file, as the admin API shows it: its zone is the one its times are
/// shown in (its own, else the policy's default).
fn file_json<C: Clock>(admin: &Admin<C>, account: FileAccount) -> serde_json::Value {
    let zone = account.time_zone.unwrap_or_else(|| {
        let zone = admin.app.gate.default_zone();
        zone.iana_name().unwrap_or("UTC").to_owned()
    });
    serde_json::json!({
        "id": account.id,
        "plan": account.plan,
        "company": account.company,
        "time_zone": zone,
        "source": "policy",
    })
}
