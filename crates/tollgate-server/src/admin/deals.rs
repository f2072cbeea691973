//! Packs bought and per-account numbers ("talk to us" deals).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tollgate_core::{Clock, epoch_seconds};
use tollgate_policy::Numbers;

use super::wire::{ApiError, BuyPack, Money, NewNumbers, OverrideBody, Purchase, RefundBody};
use super::{Admin, error, fault, parse, refreshed, removed, require_account};

/// Sells account `id` a pack: a renewal of the pack it holds extends it, another replaces it.
#[utoipa::path(
    post,
    path = "/admin/accounts/{id}/packs",
    tag = "packs",
    params(("id" = String, Path, description = "The account")),
    request_body = BuyPack,
    responses(
        (status = 201, description = "The ledger row", body = Purchase),
        (status = 400, description = "Not such a body, or a pack the policy lacks", body = ApiError),
        (status = 404, description = "No such account", body = ApiError),
    )
)]
pub(super) async fn buy_pack<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let order: BuyPack = match parse(&body) {
        Ok(order) => order,
        Err(message) => return error(StatusCode::BAD_REQUEST, "bad_request", &message),
    };
    let policy = admin.app.gate.policy();
    let Some(period) = policy.pack_period(&order.pack) else {
        let message = format!("the policy defines no pack `{}`", order.pack);
        return error(StatusCode::BAD_REQUEST, "bad_pack", &message);
    };
    let price = policy.pack_price(&order.pack);
    if let Err(refusal) = require_account(&admin, &id).await {
        return refusal;
    }
    let now = admin.app.gate.limiter().clock().now();
    let by = order.by.as_deref().unwrap_or("admin");
    let period = tollgate_core::duration_nanos(period);
    let bought = match admin
        .catalog
        .buy_pack(&id, &order.pack, period, price, by, now)
        .await
    {
        Ok(bought) => bought,
        Err(failure) => return fault(failure),
    };
    refreshed(&admin).await;
    (StatusCode::CREATED, Json(purchase(bought))).into_response()
}

/// The pack ledger of account `id`, oldest first, with what each purchase cost and what a
/// pack replaced by another left.
#[utoipa::path(
    get,
    path = "/admin/accounts/{id}/packs",
    tag = "packs",
    params(("id" = String, Path, description = "The account")),
    responses(
        (status = 200, description = "The ledger", body = Vec<Purchase>),
        (status = 404, description = "No such account", body = ApiError),
    )
)]
pub(super) async fn list_packs<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
) -> Response {
    if let Err(refusal) = require_account(&admin, &id).await {
        return refusal;
    }
    match admin.catalog.pack_purchases(&id).await {
        Ok(ledger) => Json(ledger.into_iter().map(purchase).collect::<Vec<_>>()).into_response(),
        Err(failure) => fault(failure),
    }
}

/// A row of the ledger, as the admin API shows it.
fn purchase(row: tollgate_catalog::PackPurchase) -> Purchase {
    let seconds = epoch_seconds;
    let (superseded_at, superseded_by) = row
        .superseded
        .map_or((None, None), |(at, by)| (Some(seconds(at)), Some(by)));
    Purchase {
        pack: row.pack,
        bought_by: row.bought_by,
        bought_at: seconds(row.bought_at),
        starts_at: seconds(row.starts_at),
        expires_at: seconds(row.expires_at),
        superseded_at,
        superseded_by,
        price: row.price.map(money),
        refund: row.refund.map(|refund| RefundBody {
            unused_seconds: refund.unused_seconds,
            value: refund.value.map(money),
        }),
    }
}

/// A price, as the admin API shows it.
fn money(price: tollgate_core::Price) -> Money {
    Money {
        amount: price.amount(),
        currency: price.currency().to_owned(),
    }
}

/// Gives account `id` numbers of its own for `limit`, above its pack and plan.
#[utoipa::path(
    put,
    path = "/admin/accounts/{id}/overrides/{limit}",
    tag = "overrides",
    params(
        ("id" = String, Path, description = "The account"),
        ("limit" = String, Path, description = "A limit of the policy, by name"),
    ),
    request_body = NewNumbers,
    responses(
        (status = 200, description = "The account's numbers for the limit", body = OverrideBody),
        (status = 400, description = "Not such a body, no such limit, or numbers it cannot take", body = ApiError),
        (status = 404, description = "No such account", body = ApiError),
    )
)]
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
            Json(OverrideBody {
                account: id,
                limit: stored.limit,
                max: stored.max,
                rate: stored.rate,
                burst: stored.burst,
            })
            .into_response()
        }
        Err(failure) => fault(failure),
    }
}

/// Account `id`'s own numbers, by limit.
#[utoipa::path(
    get,
    path = "/admin/accounts/{id}/overrides",
    tag = "overrides",
    params(("id" = String, Path, description = "The account")),
    responses(
        (status = 200, description = "Its numbers", body = Vec<OverrideBody>),
        (status = 404, description = "No such account", body = ApiError),
    )
)]
pub(super) async fn list_overrides<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
) -> Response {
    if let Err(refusal) = require_account(&admin, &id).await {
        return refusal;
    }
    match admin.catalog.overrides().await {
        Ok(all) => {
            let mine: Vec<OverrideBody> = all
                .into_iter()
                .filter(|(account, _)| *account == id)
                .map(|(account, numbers)| OverrideBody {
                    account,
                    limit: numbers.limit,
                    max: numbers.max,
                    rate: numbers.rate,
                    burst: numbers.burst,
                })
                .collect();
            Json(mine).into_response()
        }
        Err(failure) => fault(failure),
    }
}

/// Takes back account `id`'s own numbers for `limit`.
#[utoipa::path(
    delete,
    path = "/admin/accounts/{id}/overrides/{limit}",
    tag = "overrides",
    params(
        ("id" = String, Path, description = "The account"),
        ("limit" = String, Path, description = "The limit, by name"),
    ),
    responses(
        (status = 204, description = "Taken back"),
        (status = 404, description = "The account has no numbers of its own for it", body = ApiError),
    )
)]
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
