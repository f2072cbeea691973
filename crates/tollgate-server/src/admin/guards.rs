//! Registered apps and blocks.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tollgate_catalog::Block;
use tollgate_core::{Clock, NANOS_PER_SEC, epoch_seconds};

use super::wire::{ApiError, AppBody, AppSecret, BlockBody, NewApp, NewBlock};
use super::{Admin, bad_id, error, fault, parse, refreshed, removed};

/// Registers an app: requests sending its id and secret in the policy's app headers are its.
#[utoipa::path(
    post,
    path = "/admin/apps",
    tag = "apps",
    request_body = NewApp,
    responses(
        (status = 201, description = "The app and its secret, in clear, this once", body = AppSecret),
        (status = 400, description = "Not such a body, or an unfit id", body = ApiError),
        (status = 409, description = "The id is taken", body = ApiError),
    )
)]
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
            let body = AppSecret {
                app: new.id,
                secret,
                note: "shown once: only its hash is kept",
            };
            (StatusCode::CREATED, Json(body)).into_response()
        }
        Err(failure) => fault(failure),
    }
}

/// The registered apps (never a secret).
#[utoipa::path(
    get,
    path = "/admin/apps",
    tag = "apps",
    responses((status = 200, description = "The apps", body = Vec<AppBody>))
)]
pub(super) async fn list_apps<C: Clock>(State(admin): State<Arc<Admin<C>>>) -> Response {
    match admin.catalog.app_list().await {
        Ok(apps) => {
            let apps: Vec<AppBody> = apps
                .into_iter()
                .map(|app| AppBody {
                    app: app.id,
                    owner: app.owner,
                    created_at: epoch_seconds(app.created_at),
                })
                .collect();
            Json(apps).into_response()
        }
        Err(failure) => fault(failure),
    }
}

/// Removes an app.
#[utoipa::path(
    delete,
    path = "/admin/apps/{id}",
    tag = "apps",
    params(("id" = String, Path, description = "The app")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such app", body = ApiError),
    )
)]
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

/// The longest block: ten years.
const MAX_BLOCK_SECONDS: u64 = 315_360_000;

/// Refuses matching requests with 423 for a while.
#[utoipa::path(
    post,
    path = "/admin/blocks",
    tag = "blocks",
    request_body = NewBlock,
    responses(
        (status = 201, description = "The block", body = BlockBody),
        (status = 400, description = "Not such a body, or a block of nothing", body = ApiError),
    )
)]
pub(super) async fn add_block<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    body: Bytes,
) -> Response {
    let new: NewBlock = match parse(&body) {
        Ok(new) => new,
        Err(message) => return error(StatusCode::BAD_REQUEST, "bad_request", &message),
    };
    if !(1..=MAX_BLOCK_SECONDS).contains(&new.seconds) {
        let message = format!("a block lasts 1 to {MAX_BLOCK_SECONDS} seconds (ten years)");
        return error(StatusCode::BAD_REQUEST, "bad_block", &message);
    }
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
        until: now.saturating_add(new.seconds.saturating_mul(NANOS_PER_SEC)),
        reason: new.reason.unwrap_or_else(|| "blocked".to_owned()),
        set_by: new.by.unwrap_or_else(|| "admin".to_owned()),
    };
    match admin.catalog.add_block(&block).await {
        Ok(id) => {
            block.id = id;
            refreshed(&admin).await;
            (StatusCode::CREATED, Json(block_body(block))).into_response()
        }
        Err(failure) => fault(failure),
    }
}

/// The blocks in force.
#[utoipa::path(
    get,
    path = "/admin/blocks",
    tag = "blocks",
    responses((status = 200, description = "The blocks", body = Vec<BlockBody>))
)]
pub(super) async fn list_blocks<C: Clock>(State(admin): State<Arc<Admin<C>>>) -> Response {
    let now = admin.app.gate.limiter().clock().now();
    match admin.catalog.blocks(now).await {
        Ok(blocks) => Json(blocks.into_iter().map(block_body).collect::<Vec<_>>()).into_response(),
        Err(failure) => fault(failure),
    }
}

/// Lifts a block.
#[utoipa::path(
    delete,
    path = "/admin/blocks/{id}",
    tag = "blocks",
    params(("id" = String, Path, description = "The block")),
    responses(
        (status = 204, description = "Lifted"),
        (status = 404, description = "No such block", body = ApiError),
    )
)]
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

/// A block, as the admin API shows it.
fn block_body(block: Block) -> BlockBody {
    BlockBody {
        id: block.id,
        account: block.account,
        api: block.api,
        path: block.path,
        until: epoch_seconds(block.until),
        reason: block.reason,
        set_by: block.set_by,
    }
}
