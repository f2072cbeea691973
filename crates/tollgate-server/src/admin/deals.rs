//! Packs bought and per-account numbers ("talk to us" deals).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tollgate_core::Clock;
use tollgate_policy::Numbers;

use super::{Admin, error, fault, parse, refreshed, removed, require_account};

/// `POST /admin/accounts/{id}/packs` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BuyPack {
    pack: String,
    /// Who is buying (a billing system, an operator), for the ledger.
    by: Option<String>,
}

pub(super) async fn buy_pack<C: Clock>(
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
    if let Err(refusal) = require_account(&admin, &id).await {
        return refusal;
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

pub(super) async fn list_packs<C: Clock>(
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

/// `PUT /admin/accounts/{id}/overrides/{limit}` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewNumbers {
    max: Option<u64>,
    rate: Option<String>,
    burst: Option<u64>,
}

pub(super) async fn set_override<C: Clock>(
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
    if let Err(reason) = policy.numbers_of(known, &numbers) {
        return error(StatusCode::BAD_REQUEST, "bad_override", &reason.to_string());
    }
    if let Err(refusal) = require_account(&admin, &id).await {
        return refusal;
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

pub(super) async fn list_overrides<C: Clock>(
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

pub(super) async fn clear_override<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path((id, limit)): Path<(String, String)>,
) -> Response {
    removed(
        &admin,
        admin.catalog.clear_override(&id, &limit).await,
        "unknown_override",
        "this account has no numbers of its own for that limit",
    )
    .await
}
