//! Registered apps and blocks.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tollgate_catalog::Block;
use tollgate_core::Clock;

use super::{Admin, bad_id, error, fault, parse, refreshed, removed};

/// `POST /admin/apps` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewApp {
    id: String,
    /// The account that owns it (a third party's app acts for whichever account's key it sends).
    owner: Option<String>,
}

pub(super) async fn create_app<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    body: Bytes,
) -> Response {
    let new: NewApp = match parse(&body) {
        Ok(new) => new,
        Err(message) => return error(StatusCode::BAD_REQUEST, "bad_request", &message),
    };
    if let Some(refusal) = bad_id(&new.id, "app") {
        return refusal;
    }
    let now = admin.app.gate.limiter().clock().now();
    match admin
        .catalog
        .create_app(&new.id, new.owner.as_deref(), now)
        .await
    {
        Ok(secret) => {
            refreshed(&admin).await;
            let body = serde_json::json!({ "app": new.id, "secret": secret, "note": "shown once: only its hash is kept" });
            (StatusCode::CREATED, Json(body)).into_response()
        }
        Err(failure) => fault(failure),
    }
}

pub(super) async fn list_apps<C: Clock>(State(admin): State<Arc<Admin<C>>>) -> Response {
    match admin.catalog.app_list().await {
        Ok(apps) => {
            let apps: Vec<serde_json::Value> = apps
                .into_iter()
                .map(|app| {
                    serde_json::json!({ "app": app.id, "owner": app.owner, "created_at": app.created_at / tollgate_core::NANOS_PER_SEC })
                })
                .collect();
            Json(apps).into_response()
        }
        Err(failure) => fault(failure),
    }
}

pub(super) async fn delete_app<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
) -> Response {
    removed(
        &admin,
        admin.catalog.delete_app(&id).await,
        "unknown_app",
        "no such app",
    )
    .await
}

/// `POST /admin/blocks` body: what to refuse (every field given must match), for how long.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBlock {
    account: Option<String>,
    api: Option<String>,
    path: Option<String>,
    seconds: u64,
    reason: Option<String>,
    by: Option<String>,
}

pub(super) async fn add_block<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    body: Bytes,
) -> Response {
    let new: NewBlock = match parse(&body) {
        Ok(new) => new,
        Err(message) => return error(StatusCode::BAD_REQUEST, "bad_request", &message),
    };
    if new.account.is_none() && new.api.is_none() && new.path.is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_block",
            "a block names an account, an api or a path",
        );
    }
    // The path in the form requests are counted in, the policy's case rule and typed
    // parameters included.
    let path = match new.path.as_deref().map(|path| {
        admin
            .app
            .gate
            .policy()
            .block_target(path)
            .map(|t| t.path().to_owned())
    }) {
        None => None,
        Some(Ok(path)) => Some(path),
        Some(Err(refused)) => {
            let message = format!("the block's path is refused as a request's would be: {refused}");
            return error(StatusCode::BAD_REQUEST, "bad_block", &message);
        }
    };
    let now = admin.app.gate.limiter().clock().now();
    let mut block = Block {
        id: String::new(),
        account: new.account,
        api: new.api,
        path,
        until: now.saturating_add(new.seconds.saturating_mul(tollgate_core::NANOS_PER_SEC)),
        reason: new.reason.unwrap_or_else(|| "blocked".to_owned()),
        set_by: new.by.unwrap_or_else(|| "admin".to_owned()),
    };
    match admin.catalog.add_block(&block).await {
        Ok(id) => {
            block.id = id;
            refreshed(&admin).await;
            (StatusCode::CREATED, Json(block_json(&block))).into_response()
        }
        Err(failure) => fault(failure),
    }
}

pub(super) async fn list_blocks<C: Clock>(State(admin): State<Arc<Admin<C>>>) -> Response {
    let now = admin.app.gate.limiter().clock().now();
    match admin.catalog.blocks(now).await {
        Ok(blocks) => Json(blocks.iter().map(block_json).collect::<Vec<_>>()).into_response(),
        Err(failure) => fault(failure),
    }
}

pub(super) async fn remove_block<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
) -> Response {
    removed(
        &admin,
        admin.catalog.remove_block(&id).await,
        "unknown_block",
        "no such block",
    )
    .await
}

fn block_json(block: &Block) -> serde_json::Value {
    serde_json::json!({
        "id": block.id,
        "account": block.account,
        "api": block.api,
        "path": block.path,
        "until": block.until / tollgate_core::NANOS_PER_SEC,
        "reason": block.reason,
        "set_by": block.set_by,
    })
}
