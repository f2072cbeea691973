//! Shadow limits on the admin port: `GET /admin/shadow?hours=N` lists who would have been
//! refused, by limit and account, over the last N hours (default 24, at most a week), and
//! `/metrics` counts each shadow limit's would-be refusals since the start.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use tollgate_core::Clock;

use super::Admin;
use tollgate_gate::Exposition;

/// The query of `GET /admin/shadow`.
#[derive(Debug, serde::Deserialize)]
pub(super) struct Hours {
    hours: Option<u64>,
}

/// `GET /admin/shadow?hours=N`.
pub(super) async fn report<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Query(query): Query<Hours>,
) -> Response {
    let gate = &admin.app.gate;
    let now = gate.limiter().clock().now();
    Json(gate.shadow().report(now, query.hours.unwrap_or(24))).into_response()
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
