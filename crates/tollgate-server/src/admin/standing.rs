//! An account's standing now and its history, per api and day, in its own zone.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tollgate_catalog::CatalogError;
use tollgate_core::Clock;
use utoipa::IntoParams;

use super::wire::{ApiError, HistoryDay, UsageHistory};
use super::{Admin, error, fault};

/// The account's standing now: every api's limits, used and left, in its zone.
#[utoipa::path(
    get,
    path = "/admin/accounts/{id}/usage",
    tag = "usage",
    params(("id" = String, Path, description = "The account")),
    responses(
        (status = 200, description = "Its standing; looking costs no quota", body = tollgate_gate::Usage),
        (status = 404, description = "No such account", body = ApiError),
    )
)]
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
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct HistoryQuery {
    /// The last N days, ending today (default 30; not with `from`).
    #[param(minimum = 1, maximum = 3660)]
    days: Option<u32>,
    /// The first day, `YYYY-MM-DD`.
    #[param(format = Date)]
    from: Option<String>,
    /// The last day, `YYYY-MM-DD` (default today).
    #[param(format = Date)]
    to: Option<String>,
}

/// The most days one history answer covers.
const MAX_DAYS: i64 = 3_660;

/// `GET /admin/accounts/{id}/usage/history?from=&to=`: admitted and refused calls per api and
/// day, the days being the account's own (its time zone), with the range and the zone.
#[utoipa::path(
    get,
    path = "/admin/accounts/{id}/usage/history",
    tag = "usage",
    params(("id" = String, Path, description = "The account"), HistoryQuery),
    responses(
        (status = 200, description = "Calls per api and day", body = UsageHistory),
        (status = 400, description = "Not a range", body = ApiError),
        (status = 404, description = "No such account", body = ApiError),
    )
)]
pub(super) async fn usage_history<C: Clock + 'static>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
    query: Result<axum::extract::Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match read_history(&admin, &id, query).await {
        Ok(history) => Json(UsageHistory {
            account: id,
            time_zone: history.zone.iana_name().unwrap_or("UTC").to_owned(),
            from: date(history.first),
            to: date(history.last),
            kept_days: admin.app.gate.policy().server().usage_history_days,
            days: history.rows,
        })
        .into_response(),
        Err(response) => response,
    }
}

/// `GET /admin/accounts/{id}/history?days=N`: the same rows alone, as a list.
#[utoipa::path(
    get,
    path = "/admin/accounts/{id}/history",
    tag = "usage",
    params(("id" = String, Path, description = "The account"), HistoryQuery),
    responses(
        (status = 200, description = "Calls per api and day", body = Vec<HistoryDay>),
        (status = 400, description = "Not a range", body = ApiError),
        (status = 404, description = "No such account", body = ApiError),
    )
)]
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
    rows: Vec<HistoryDay>,
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
        (None, Some(days)) if !(1..=MAX_DAYS).contains(&i64::from(days)) => {
            return Err(bad(&format!("`days` is 1 to {MAX_DAYS}")));
        }
        (None, days) => last - i64::from(days.unwrap_or(30)) + 1,
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
        .map(|row| HistoryDay {
            api: row.api,
            date: date(row.day),
            admitted: row.admitted,
            refused: row.refused,
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
