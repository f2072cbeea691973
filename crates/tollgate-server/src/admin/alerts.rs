//! An account's quota alerts: the settings that apply to it, the receiver it set, and its
//! deliveries.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tollgate_catalog::AlertDelivery;
use tollgate_core::{Clock, NANOS_PER_SEC};

use crate::alerts::{Receiver, plan_of};

use super::wire::{AlertReceiver, AlertsView, ApiError, Delivery};
use super::{Admin, error, fault, parse, require_account};

/// The most deliveries listed.
const LISTED: u32 = 100;

/// Account `id`'s alerts: the policy's thresholds, where they go, the last deliveries.
#[utoipa::path(
    get,
    path = "/admin/accounts/{id}/alerts",
    tag = "alerts",
    params(("id" = String, Path, description = "The account")),
    responses(
        (status = 200, description = "Its alert settings and last deliveries", body = AlertsView),
        (status = 404, description = "No such account", body = ApiError),
    )
)]
pub(super) async fn list_alerts<C: Clock + 'static>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
) -> Response {
    if let Err(refusal) = require_account(&admin, &id).await {
        return refusal;
    }
    let plan = plan_of(&admin.app, &admin.catalog, &id).await;
    let (url, deliveries) = match tokio::try_join!(
        admin.catalog.alert_url(&id),
        admin.catalog.alert_deliveries(&id, LISTED)
    ) {
        Ok(found) => found,
        Err(failure) => return fault(failure),
    };
    let policy = admin.app.gate.policy();
    let alerts = policy.alerts();
    let receiver = alerts.and_then(|alerts| Receiver::of(alerts, url.clone(), plan.as_deref()));
    Json(AlertsView {
        account: id,
        url,
        receiver: receiver.as_ref().map(Receiver::source),
        limits: alerts.map_or_else(Vec::new, |a| a.limits().map(str::to_owned).collect()),
        thresholds: alerts.map_or_else(Vec::new, |a| a.at().to_vec()),
        pack_expiry_seconds: alerts.map_or_else(Vec::new, |a| {
            a.pack_expiry()
                .iter()
                .map(|before| before.as_secs())
                .collect()
        }),
        deliveries: deliveries.into_iter().map(delivery).collect(),
    })
    .into_response()
}

/// Sets where account `id`'s alerts go, or (`"url": null`) sends them back to its plan's or
/// the policy's receiver.
#[utoipa::path(
    put,
    path = "/admin/accounts/{id}/alerts",
    tag = "alerts",
    params(("id" = String, Path, description = "The account")),
    request_body = AlertReceiver,
    responses(
        (status = 204, description = "Set"),
        (status = 400, description = "Not such a body, or not an http:// URL", body = ApiError),
        (status = 404, description = "No such account", body = ApiError),
    )
)]
pub(super) async fn set_receiver<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let receiver: AlertReceiver = match parse(&body) {
        Ok(receiver) => receiver,
        Err(message) => return error(StatusCode::BAD_REQUEST, "bad_request", &message),
    };
    if let Some(url) = receiver
        .url
        .as_deref()
        .filter(|url| !tollgate_policy::is_receiver(url))
    {
        let message = format!("the alert receiver `{url}` must be an http:// URL");
        return error(StatusCode::BAD_REQUEST, "bad_url", &message);
    }
    if let Err(refusal) = require_account(&admin, &id).await {
        return refusal;
    }
    match admin
        .catalog
        .set_alert_url(&id, receiver.url.as_deref())
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(failure) => fault(failure),
    }
}

fn delivery(row: AlertDelivery) -> Delivery {
    let seconds = |at: u64| at / NANOS_PER_SEC;
    Delivery {
        body: serde_json::from_str(&row.body).unwrap_or(serde_json::Value::Null),
        id: row.id,
        subject: row.subject,
        threshold: row.threshold,
        // Rounded up, as the pack ledger shows an expiry.
        period_end: row.period_end.div_ceil(NANOS_PER_SEC),
        state: row.state.as_str(),
        attempts: row.attempts,
        created_at: seconds(row.created_at),
        delivered_at: row.delivered_at.map(seconds),
        last_error: row.last_error,
    }
}
