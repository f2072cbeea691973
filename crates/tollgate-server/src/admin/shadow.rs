//! Shadow limits on the admin port: `GET /admin/shadow?hours=N` lists who would have been
//! refused, by limit and account, over the last N hours (default 24, at most a week), and
//! `/metrics` counts each shadow limit's would-be refusals since the start.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tollgate_core::Clock;
use tollgate_gate::{Exposition, ShadowReport};
use utoipa::IntoParams;

use super::wire::ApiError;
use super::{Admin, error};

/// The query of `GET /admin/shadow`.
#[derive(Debug, serde::Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct Hours {
    /// Over the last N hours (default 24, at most 168; the current hour counts as one).
    #[param(minimum = 1, maximum = 168)]
    hours: Option<u32>,
}

/// Who the shadow limits would have refused, by limit and account.
#[utoipa::path(
    get,
    path = "/admin/shadow",
    tag = "shadow",
    params(Hours),
    responses(
        (status = 200, description = "Would-be refusals, most first", body = ShadowReport),
        (status = 400, description = "Not such a query", body = ApiError),
    )
)]
pub(super) async fn report<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    query: Result<Query<Hours>, QueryRejection>,
) -> Response {
    let hours = match query {
        Ok(Query(Hours { hours: None })) => 24,
        Ok(Query(Hours { hours: Some(hours) })) if (1..=168).contains(&hours) => hours,
        _ => {
            let message = "the query takes `hours`, 1 to 168";
            return error(StatusCode::BAD_REQUEST, "bad_request", message);
        }
    };
    let gate = &admin.app.gate;
    let now = gate.limiter().clock().now();
    Json(gate.shadow().report(now, u64::from(hours))).into_response()
}

/// `tollgate_shadow_refusals_total{limit}`: every shadow limit of the policy, at zero until it
/// would refuse, and any other that did before a reload.
pub(super) fn metrics<C: Clock>(admin: &Admin<C>, page: &mut Exposition) {
    let mut totals = admin.app.gate.shadow().totals();
    let policy = admin.app.gate.policy();
    for limit in policy.limits().iter().filter(|limit| limit.shadow()) {
        if !totals.iter().any(|(name, _)| **name == *limit.name()) {
            totals.push((Arc::from(limit.name()), 0));
        }
    }
    if totals.is_empty() {
        return;
    }
    totals.sort();
    let name = "tollgate_shadow_refusals_total";
    page.family(
        name,
        "counter",
        "Requests a shadow limit would have refused, since the start.",
    );
    for (limit, count) in totals {
        page.sample(name, &[("limit", &limit)], count);
    }
}
