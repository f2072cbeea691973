//! The HTTP edge for an embedder (the `tollgate-tower` layer): an `http` request read as the
//! gateway reads it — the one canonical target, the headers through one lookup, the client
//! address as `identity.trusted_proxies` says — and decided by the same pipeline; an admission's
//! headers and a refusal's response as the gateway writes them.

use std::net::IpAddr;

use axum::http::request::Parts;
use axum::http::{HeaderMap, Response};
use tollgate_core::Clock;
use tollgate_policy::Unmatched;

use tollgate_gate::{Admission, Gate, Refusal, Report, Why};

use crate::Head;

/// Decides the request whose head is `parts`, from `peer` when known (without it, limits
/// partitioned by address see no address). A request no route matches is refused as the
/// gateway refuses it (404) unless `server.unmatched = "pass"`, which admits it uncounted. A
/// request whose turn comes within a token bucket's delay waits for it here, as in the
/// gateway: the future dropped meanwhile (the client left) gives the turn back.
///
/// # Errors
/// The refusal as a response: its status, headers and body, as the gateway answers it.
pub async fn admit<C: Clock + 'static>(
    gate: &Gate<C>,
    parts: &Parts,
    peer: Option<IpAddr>,
) -> Result<Admission, Response<axum::body::Body>> {
    let policy = gate.policy();
    let head = Head::read(&policy, parts, peer)
        .map_err(|refused| crate::refusal(Refusal::bad_path(&refused)))?;
    match gate.admit_waiting(&head.facts()).await {
        Err(refusal)
            if refusal.why == Why::NoRoute && policy.server().unmatched == Unmatched::Pass =>
        {
            Ok(Admission::uncounted(Report::default()))
        }
        Ok(mut admission) => {
            admission.wait_for_turn().await;
            Ok(admission)
        }
        Err(refusal) => Err(crate::refusal(refusal)),
    }
}

/// Adds the rate-limit headers of `admission` to a response's `headers`.
pub fn add_headers(admission: &Admission, headers: &mut HeaderMap) {
    crate::add_headers(headers, admission.report(), None, None);
}
