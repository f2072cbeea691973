//! The admin API's OpenAPI 3.1 document, `GET /admin/openapi.json`: generated from the handlers'
//! annotations and the types of `wire` (the very types the handlers read and write), with the
//! bearer token, the answers every guarded route may give (401, 503), and the links that say
//! which answer feeds which request (an account created is read, changed and deleted by its
//! id). No token is needed to read it.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::json;
use tollgate_core::Clock;
use tollgate_policy::Policy;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{Admin, accounts, alerts, deals, guards, keys, metrics, shadow, standing};

/// The document's paths and schemas, as the handlers declare them.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tollgate admin API",
        description = "The admin API (this port, --admin-listen): accounts, keys, packs, overrides, apps and blocks of the catalog, usage and its history, reloads and metrics; every route but /healthz and /admin/openapi.json needs `Authorization: Bearer <token>` (docs/admin-api.md). And the check API, POST /v1/check, on the public port (--listen), for the peers of server.check_from."
    ),
    paths(
        accounts::list_accounts,
        accounts::create_account,
        accounts::get_account,
        accounts::update_account,
        accounts::delete_account,
        keys::create_key,
        keys::list_keys,
        keys::revoke_key,
        standing::usage,
        standing::usage_history,
        alerts::list_alerts,
        alerts::set_receiver,
        standing::history,
        deals::buy_pack,
        deals::list_packs,
        deals::set_override,
        deals::list_overrides,
        deals::clear_override,
        guards::create_app,
        guards::list_apps,
        guards::delete_app,
        guards::add_block,
        guards::list_blocks,
        guards::remove_block,
        shadow::report,
        super::reload,
        super::healthz,
        metrics::metrics,
        crate::adapters::check::check,
    ),
    modifiers(&Guarded)
)]
struct AdminApi;

/// The bearer token, required everywhere but where a route says otherwise, and the answers a
/// guarded route may give whatever it does.
struct Guarded;

impl Modify for Guarded {
    fn modify(&self, document: &mut Document) {
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.schemas.insert(
            "ApiError".to_owned(),
            <super::wire::ApiError as utoipa::PartialSchema>::schema(),
        );
        document.security = Some(vec![SecurityRequirement::new(
            "admin_token",
            Vec::<String>::new(),
        )]);
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ApiError")))
                        .build(),
                )
                .build()
        };
        for operation in operations(document) {
            // A route that says `security(())` is open: no 401 to give.
            let open = operation
                .security
                .as_ref()
                .is_some_and(|requirements| requirements.iter().all(is_empty_requirement));
            if open {
                continue;
            }
            let responses = &mut operation.responses.responses;
            responses
                .entry("401".to_owned())
                .or_insert_with(|| error("No valid admin token").into());
            responses
                .entry("503".to_owned())
                .or_insert_with(|| error("The catalog cannot answer now").into());
        }
    }
}

/// Whether `requirement` asks for nothing (`security(())`).
fn is_empty_requirement(requirement: &SecurityRequirement) -> bool {
    serde_json::to_value(requirement)
        .is_ok_and(|value| value.as_object().is_some_and(|map| map.is_empty()))
}

/// Every operation of `document`.
fn operations(document: &mut Document) -> impl Iterator<Item = &mut Operation> {
    document.paths.paths.values_mut().flat_map(|item| {
        [
            item.get.as_mut(),
            item.put.as_mut(),
            item.post.as_mut(),
            item.delete.as_mut(),
            item.patch.as_mut(),
        ]
        .into_iter()
        .flatten()
    })
}

/// What an answer's id lets a client ask next: an account created is read, changed and deleted,
/// its keys, packs, overrides and usage read; an app or a block created is removed by its id.
/// Written as JSON: utoipa's `Link` writes `operation_id`, not the `operationId` of the
/// specification.
fn add_links(document: &mut serde_json::Value) {
    let account = [
        "get_account",
        "update_account",
        "delete_account",
        "list_keys",
        "create_key",
        "list_packs",
        "buy_pack",
        "list_overrides",
        "usage",
        "usage_history",
    ];
    link(
        document,
        "/admin/accounts",
        &account,
        "id",
        "$response.body#/id",
    );
    link(
        document,
        "/admin/accounts/{id}/keys",
        &["list_keys"],
        "id",
        "$response.body#/account",
    );
    link(
        document,
        "/admin/apps",
        &["delete_app"],
        "id",
        "$response.body#/app",
    );
    link(
        document,
        "/admin/blocks",
        &["remove_block"],
        "id",
        "$response.body#/id",
    );
}

/// Links from the 201 answer of `POST path` to each of `operations`, its parameter `name` read
/// by `expression`.
fn link(
    document: &mut serde_json::Value,
    path: &str,
    operations: &[&str],
    name: &str,
    expression: &str,
) {
    let Some(created) = document
        .pointer_mut(&format!(
            "/paths/{}/post/responses/201",
            path.replace('/', "~1")
        ))
        .and_then(serde_json::Value::as_object_mut)
    else {
        return;
    };
    let links: serde_json::Map<String, serde_json::Value> = operations
        .iter()
        .map(|operation| {
            let link = serde_json::json!({
                "operationId": operation,
                "parameters": { name: expression },
            });
            ((*operation).to_owned(), link)
        })
        .collect();
    created.insert("links".to_owned(), links.into());
}

/// The document, as served for `policy` (to the holder of the admin token): the plans, packs
/// and limits it names, and the time zones Tollgate knows, are the values their fields take.
pub(crate) fn admin_document(policy: Option<&Policy>) -> serde_json::Value {
    let mut document = serde_json::to_value(AdminApi::openapi()).unwrap_or_default();
    add_links(&mut document);
    let Some(policy) = policy else {
        return document;
    };
    let plans: Vec<serde_json::Value> = policy.plans().iter().map(|plan| json!(&**plan)).collect();
    let zones: Vec<serde_json::Value> = jiff::tz::db()
        .available()
        .map(|zone| json!(zone.as_str()))
        .collect();
    let packs: Vec<serde_json::Value> = policy.packs().map(|pack| json!(pack)).collect();
    let limits: Vec<serde_json::Value> = policy
        .limits()
        .iter()
        .map(|limit| json!(limit.name()))
        .collect();
    for body in ["NewAccount", "AccountChanges"] {
        let properties = format!("/components/schemas/{body}/properties");
        one_of(&mut document, &format!("{properties}/plan"), &plans, true);
        one_of(
            &mut document,
            &format!("{properties}/time_zone"),
            &zones,
            true,
        );
    }
    one_of(
        &mut document,
        "/components/schemas/BuyPack/properties/pack",
        &packs,
        false,
    );
    parameter_one_of(&mut document, "/admin/accounts", "get", "plan", &plans);
    for method in ["put", "delete"] {
        let path = "/admin/accounts/{id}/overrides/{limit}";
        parameter_one_of(&mut document, path, method, "limit", &limits);
    }
    // The check API is served on the public port.
    if let Some(check) = document.pointer_mut("/paths/~1v1~1check") {
        let listen = policy
            .server()
            .listen
            .as_deref()
            .unwrap_or("127.0.0.1:8080");
        check["servers"] = json!([{
            "url": "http://{public}",
            "description": "the public port (--listen), not the admin port",
            "variables": { "public": { "default": listen } },
        }]);
    }
    // A block names at least one of account, api and path.
    if let Some(block) = document.pointer_mut("/components/schemas/NewBlock") {
        let named = |field: &str| json!({ "required": [field], "properties": { field: { "type": "string" } } });
        block["anyOf"] = json!([named("account"), named("api"), named("path")]);
    }
    document
}

/// Makes the schema at `pointer` take only `values` (and `null` when `nullable`).
fn one_of(
    document: &mut serde_json::Value,
    pointer: &str,
    values: &[serde_json::Value],
    nullable: bool,
) {
    if let Some(schema) = document.pointer_mut(pointer) {
        let mut values = values.to_vec();
        if nullable {
            values.push(serde_json::Value::Null);
        }
        schema["enum"] = values.into();
    }
}

/// Makes parameter `name` of `method path` take only `values`.
fn parameter_one_of(
    document: &mut serde_json::Value,
    path: &str,
    method: &str,
    name: &str,
    values: &[serde_json::Value],
) {
    let pointer = format!("/paths/{}/{method}/parameters", path.replace('/', "~1"));
    let Some(parameters) = document
        .pointer_mut(&pointer)
        .and_then(|p| p.as_array_mut())
    else {
        return;
    };
    for parameter in parameters.iter_mut().filter(|p| p["name"] == name) {
        parameter["schema"]["enum"] = values.to_vec().into();
    }
}

/// `GET /admin/openapi.json`: the document of the types alone to anyone; with the admin token,
/// filled with the policy's plans, packs and limit names (which may be a provider's own
/// business) and its public address.
pub(super) async fn document<C: Clock>(
    State(admin): State<Arc<Admin<C>>>,
    headers: axum::http::HeaderMap,
) -> Json<serde_json::Value> {
    let policy = super::carries_token(&admin, &headers).then(|| admin.app.gate.policy());
    Json(admin_document(policy.as_deref()))
}
