//! `GET /_tollgate/quota`: a customer's own quotas, seen with its own API key, as JSON or as a
//! page for a browser. Looking costs no quota; guessing keys costs what it costs through the API.

use std::net::SocketAddr;

use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use tollgate_core::Clock;
use tollgate_policy::{Headers, RequestFacts};

use super::{HttpHeaders, forwarded_for, quota_page};
use crate::app::App;
use crate::pipeline::Refusal;
use crate::respond;

/// The quotas of the account whose key the request carries.
pub(crate) async fn own_quota<C: Clock + 'static>(
    app: &App<C>,
    peer: SocketAddr,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response {
    let lookup = HttpHeaders::new(headers);
    let policy = app.gate.policy();
    let raw = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let target = match policy.target(raw) {
        Ok(target) => target,
        Err(refused) => {
            return respond::refusal(Refusal::bad_path(&refused));
        }
    };
    let facts = RequestFacts {
        method: "GET",
        target: &target,
        headers: &lookup,
        client_ip: Some(policy.client_ip(peer.ip(), forwarded_for(headers).as_deref())),
        cost: Some(0),
    };
    let account = match app.gate.key_holder(&facts).await {
        Ok(account) => account,
        Err(refused) => return respond::refusal(refused),
    };
    let Some(usage) = app.gate.usage(&account, None).await else {
        let error = serde_json::json!({ "error": "unknown_account" });
        return respond::json(StatusCode::NOT_FOUND, &error);
    };
    let wants_page = lookup
        .get("accept")
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_page {
        let mut response = Response::new(quota_page::render(&usage).into());
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        return response;
    }
    respond::json(StatusCode::OK, &usage)
}
