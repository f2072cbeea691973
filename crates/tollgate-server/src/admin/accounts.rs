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

use super::{Admin, bad_id, error, fault, parse, refreshed, removed, require_account};

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

pub(super) async fn get_account<C: Clock>(
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

pub(super) async fn update_account<C: Clock>(
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

pub(super) async fn delete_account<C: Clock>(
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

pub(super) async fn create_key<C: Clock>(
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

pub(super) async fn list_keys<C: Clock>(
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

pub(super) async fn revoke_key<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path((id, hash)): Path<(String, String)>,
) -> Response {
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
    // The account's time zone: the catalog's, when set to other than its default (UTC); else
    // the policy's (the account's `time_zone`, or its first calendar-aligned limit's zone).
    let time_zone = match admin.catalog.account(&id).await {
        Ok(account) => account
            .filter(|account| account.time_zone != "UTC")
            .and_then(|account| jiff::tz::TimeZone::get(&account.time_zone).ok()),
        Err(failure) => return fault(failure),
    };
    match admin.app.gate.usage(&id, time_zone.as_ref()).await {
        Some(usage) => Json(usage).into_response(),
        None => fault(CatalogError::UnknownAccount(id)),
    }
}

/// `?days=N` of `GET /admin/accounts/{id}/history`.
#[derive(Debug, Deserialize)]
pub(super) struct HistoryQuery {
    days: Option<u32>,
}

pub(super) async fn history<C: Clock>(
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

fn account_json(account: &Account) -> serde_json::Value {
    serde_json::json!({
        "id": account.id,
        "plan": account.plan,
        "company": account.company,
        "time_zone": account.time_zone,
    })
}
