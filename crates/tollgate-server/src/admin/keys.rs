//! An account's API keys: created (shown once), listed as digests, revoked.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tollgate_core::{Clock, epoch_seconds};

use super::wire::{ApiError, NewKey, StoredKeyBody};
use super::{
    Admin, fault, owned_by_file, refreshed, removal_owned_by_file, removed, require_account,
};

/// Creates a key for account `id`: shown in clear this once, its SHA-256 kept.
#[utoipa::path(
    post,
    path = "/admin/accounts/{id}/keys",
    tag = "keys",
    params(("id" = String, Path, description = "The account")),
    responses(
        (status = 201, description = "The key, in clear, this once", body = NewKey),
        (status = 404, description = "No such account", body = ApiError),
        (status = 409, description = "The policy file defines the account and its keys", body = ApiError),
    )
)]
pub(super) async fn create_key<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
) -> Response {
    if let Some(refusal) = owned_by_file(&admin, &id, "keys") {
        return refusal;
    }
    let now = admin.app.gate.limiter().clock().now();
    let key = match admin.catalog.create_key(&id, now).await {
        Ok(key) => key,
        Err(failure) => return fault(failure),
    };
    refreshed(&admin).await;
    let body = NewKey {
        account: id,
        key,
        note: "shown once: only its hash is kept",
    };
    (StatusCode::CREATED, Json(body)).into_response()
}

/// The keys of account `id`, as digests (a key of the policy file has no time of creation).
#[utoipa::path(
    get,
    path = "/admin/accounts/{id}/keys",
    tag = "keys",
    params(("id" = String, Path, description = "The account")),
    responses(
        (status = 200, description = "Its keys", body = Vec<StoredKeyBody>),
        (status = 404, description = "No such account", body = ApiError),
    )
)]
pub(super) async fn list_keys<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path(id): Path<String>,
) -> Response {
    if let Err(refusal) = require_account(&admin, &id).await {
        return refusal;
    }
    let policy = admin.app.gate.policy();
    if let Some(account) = policy.file_accounts().into_iter().find(|a| a.id == id) {
        let keys: Vec<StoredKeyBody> = account
            .key_sha256
            .into_iter()
            .map(|key_sha256| StoredKeyBody {
                key_sha256,
                created_at: None,
            })
            .collect();
        return Json(keys).into_response();
    }
    match admin.catalog.keys(&id).await {
        Ok(keys) => {
            let keys: Vec<StoredKeyBody> = keys
                .into_iter()
                .map(|key| StoredKeyBody {
                    key_sha256: key.sha256,
                    created_at: Some(epoch_seconds(key.created_at)),
                })
                .collect();
            Json(keys).into_response()
        }
        Err(failure) => fault(failure),
    }
}

/// Revokes the key whose SHA-256 is `hash`.
#[utoipa::path(
    delete,
    path = "/admin/accounts/{id}/keys/{hash}",
    tag = "keys",
    params(
        ("id" = String, Path, description = "The account"),
        ("hash" = String, Path, description = "The key's SHA-256, in hex"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such key on this account", body = ApiError),
        (status = 409, description = "The policy file defines the account and its keys", body = ApiError),
    )
)]
pub(super) async fn revoke_key<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    Path((id, hash)): Path<(String, String)>,
) -> Response {
    if let Some(refusal) = removal_owned_by_file(&admin, &id, "keys").await {
        return refusal;
    }
    removed(
        &admin,
        admin.catalog.revoke_key(&id, &hash).await,
        "unknown_key",
        "no such key on this account",
    )
    .await
}
