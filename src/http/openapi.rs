//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations.
//! Routes are registered here and documented in the same step, so the router and the
//! document cannot drift apart: `GET /api/openapi.json` serves it.

use std::sync::LazyLock;

use axum::Json;
use serde_json::{Value, json};
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{caller, definitions as handlers, health, metrics, records as data};
use crate::console;
use crate::http::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Andi",
        description = "A workspace's object definitions and records behind an HTTP API. Send a workspace API key as `Authorization: Bearer andi_live_…` or `x-api-key`. Errors are `application/problem+json` with a stable `code`; validation errors list `issues` by JSON path."
    ),
    modifiers(&Security),
    tags(
        (name = "identity", description = "The calling key and its workspace"),
        (name = "objects", description = "Object definitions"),
        (name = "records", description = "Records of an object"),
        (name = "operations", description = "Health, readiness and this document"),
        (name = "console", description = "The console's JSON API: needs a signed-in session (cookie and X-CSRF-Token), refuses API keys"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("andi_live_…")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))),
        );
    }
}

/// Every documented route of the service.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(caller::workspace_get))
        .routes(routes!(caller::key_get))
        .routes(routes!(handlers::objects_list, handlers::objects_create))
        .routes(routes!(
            handlers::object_get,
            handlers::object_patch,
            handlers::object_delete
        ))
        .routes(routes!(data::records_upsert_many))
        .routes(routes!(data::records_patch_many))
        .routes(routes!(data::records_delete_many))
        .routes(routes!(data::record_get, data::record_delete))
        .routes(routes!(data::records_query_get, data::records_query_post))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(metrics::metrics_get))
        .routes(routes!(openapi_json))
        .routes(routes!(
            console::api::workspaces_list,
            console::api::workspaces_create
        ))
        .routes(routes!(
            console::api::api_keys_list,
            console::api::api_keys_create
        ))
        .routes(routes!(console::api::api_keys_revoke))
        .routes(routes!(console::api::api_keys_rotate))
}

static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    let mut document = serde_json::to_value(routes().split_for_parts().1).unwrap_or_default();
    complete(&mut document);
    document
});

/// The answers every operation can give whatever its handler, described once here rather
/// than on each route: the problem+json body of every error, 401 on every route that takes
/// a key, the body limits on every route that takes a body, the time limit and the
/// internal error everywhere; `security: []` on the public routes, the session cookie on
/// the console's; and the server the document is served from.
fn complete(document: &mut Value) {
    document["servers"] =
        json!([{"url": "/", "description": "the server that serves this document"}]);
    let components = &mut document["components"];
    components["schemas"]["Problem"] = json!({
        "type": "object",
        "description": "An error (RFC 9457). Branch on `code`; quote `requestId` when asking for help.",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string", "description": "What went wrong and how to fix the request"},
            "code": {"type": "string", "description": "Stable machine-readable code, e.g. `validation_failed`, `insufficient_scope`, `records_denied`"},
            "requestId": {"type": "string"},
            "issues": {"type": "array", "description": "Every problem of an invalid body, by JSON path", "items": {
                "type": "object", "required": ["path", "message"],
                "properties": {"path": {"type": "array", "items": {"type": ["string", "integer"]}}, "message": {"type": "string"}}
            }},
            "action": {"type": "string", "description": "The Cedar action that was denied"},
            "missingPermission": {"type": "string"},
            "deniedRecords": {"type": "array", "items": {
                "type": "object", "required": ["index", "id", "state", "policies"],
                "properties": {
                    "index": {"type": "integer"}, "id": {"type": "string"},
                    "state": {"type": "string", "enum": ["before", "after"]},
                    "policies": {"type": "array", "items": {"type": "string"}},
                    "errors": {"type": "array", "items": {"type": "string"}}
                }
            }}
        }
    });
    components["securitySchemes"]["session"] = json!({
        "type": "apiKey", "in": "cookie", "name": console::session::SESSION_COOKIE,
        "description": "A signed-in console session; changes also need the `X-CSRF-Token` header"
    });
    let problem = |description: &str| json!({"description": description, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let Some(paths) = document["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for operation in item.values_mut().filter_map(Value::as_object_mut) {
            let console = path.starts_with("/api/v1/");
            if console {
                operation.insert("security".into(), json!([{"session": []}]));
            }
            let public = operation
                .get("security")
                .is_none_or(|s| s.as_array().is_some_and(Vec::is_empty));
            if public {
                operation.insert("security".into(), json!([]));
            }
            let takes_body = operation.contains_key("requestBody");
            let responses = operation.entry("responses").or_insert_with(|| json!({}));
            let Some(responses) = responses.as_object_mut() else {
                continue;
            };
            let mut standard = vec![
                (
                    "408",
                    "The request took longer than the server's limit (`request_timeout`)",
                ),
                (
                    "500",
                    "Internal error; the body names the request id (`internal_error`)",
                ),
            ];
            if !public {
                standard.push((
                    "401",
                    "No, a malformed, unknown, expired or revoked credential",
                ));
                standard.push((
                    "400",
                    "`Authorization` and `x-api-key` carry different keys (`conflicting_credentials`)",
                ));
                standard.push((
                    "429",
                    "The key's rate limit is used up for this window (`rate_limited`, with `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`), or too many failed authentications came from this address (`too_many_requests`); `Retry-After` says when to retry",
                ));
            }
            if takes_body {
                standard.push((
                    "400",
                    "The body is not valid JSON of the expected shape; `issues` lists each problem",
                ));
                standard.push((
                    "413",
                    "The body is larger than the server's limit (`payload_too_large`)",
                ));
                standard.push((
                    "415",
                    "The body is not `application/json` (`unsupported_media_type`)",
                ));
            }
            for (status, description) in standard {
                responses
                    .entry(status)
                    .or_insert_with(|| problem(description));
            }
            if let Some(limited) = responses.get_mut("429").filter(|_| !public) {
                let seconds = |description: &str| json!({"description": description, "schema": {"type": "integer"}});
                limited["headers"] = json!({
                    "Retry-After": seconds("Seconds until a retry can succeed"),
                    "RateLimit-Limit": seconds("Requests the key may make per window (rate limits only)"),
                    "RateLimit-Remaining": seconds("Requests left in this window (rate limits only)"),
                    "RateLimit-Reset": seconds("Seconds until the window resets (rate limits only)"),
                });
            }
            for (status, response) in responses.iter_mut() {
                let error = status.starts_with('4') || status.starts_with('5');
                if error && response.get("content").is_none() && status != "304" {
                    let description = response["description"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    *response = problem(&description);
                }
            }
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/openapi.json",
    operation_id = "openApiDocument",
    tag = "operations",
    description = "This document (OpenAPI 3.1). No key needed.",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"))
)]
pub async fn openapi_json() -> Json<&'static Value> {
    Json(&DOCUMENT)
}
