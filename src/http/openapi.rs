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
        .routes(routes!(handlers::object_change_get))
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
    for (name, schema) in body_schemas() {
        components["schemas"][name] = schema;
    }
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
            let id = operation
                .get("operationId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if let Some(body) = operation.get_mut("requestBody") {
                type_request_body(&id, body);
            }
            for parameter in operation
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                // RFC 9110: `*` or a list of entity tags, as the ETag header gives them; a
                // malformed If-Match is refused with 400 `invalid_if_match`. (An If-None-Match
                // that names no current tag, well-formed or not, just reads.)
                if parameter["name"] == "If-Match" {
                    parameter["schema"] = json!({"type": "string", "pattern": r#"^(\*|(W/)?"[\x21\x23-\x7e]*"(\s*,\s*(W/)?"[\x21\x23-\x7e]*")*)$"#});
                }
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
            describe_headers(path, &id, responses);
        }
    }
}

/// The request body schema of each operation that takes one, by operation id.
const BODIES: [(&str, &str); 9] = [
    ("createObject", "NewObject"),
    ("updateObject", "ObjectPatch"),
    ("upsertRecords", "UpsertBody"),
    ("patchRecords", "PatchBody"),
    ("deleteRecords", "DeleteBody"),
    ("queryRecordsWithBody", "QueryBody"),
    ("createWorkspace", "NewWorkspace"),
    ("createApiKey", "NewApiKey"),
    ("rotateApiKey", "RotationBody"),
];

/// Gives the body of operation `id` its schema; the handlers' annotations carry only the
/// examples, since the parsers read bodies as JSON values to report every issue by path.
fn type_request_body(id: &str, body: &mut Value) {
    let Some((_, schema)) = BODIES.iter().find(|(operation, _)| *operation == id) else {
        return;
    };
    body["required"] = json!(id != "rotateApiKey");
    body["content"]["application/json"]["schema"] =
        json!({"$ref": format!("#/components/schemas/{schema}")});
}

/// The headers each answer carries: `Location` on a 201, the `ETag` of a definition or a
/// record, `Cache-Control: no-store` wherever a key's data is returned (every answer of
/// those routes, as `app.rs` sets it).
fn describe_headers(path: &str, id: &str, responses: &mut serde_json::Map<String, Value>) {
    let header =
        |description: &str| json!({"description": description, "schema": {"type": "string"}});
    let keyed = path == "/api/key" || path.contains("/api-keys");
    let versioned = matches!(
        id,
        "createObject" | "getObject" | "updateObject" | "getRecord"
    );
    for (status, response) in responses.iter_mut() {
        let Some(response) = response.as_object_mut() else {
            continue;
        };
        let headers = response.entry("headers").or_insert_with(|| json!({}));
        if status == "201" {
            headers["Location"] =
                header("Where the created resource is read (or, for a key, revoked)");
        }
        if versioned && (status == "200" || status == "201") {
            headers["ETag"] = header(
                "The version returned; send it as `If-Match` to change exactly this version",
            );
        }
        if keyed {
            headers["Cache-Control"] = json!({"description": "Always `no-store`: a key's data is kept by no cache", "schema": {"type": "string", "const": "no-store"}});
        }
        if headers.as_object().is_some_and(serde_json::Map::is_empty) {
            response.remove("headers");
        }
    }
}

/// A string the server trims and then wants 1-`max` characters long.
fn text(max: u32) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": max, "pattern": "\\S"})
}

fn or_null(schema: Value) -> Value {
    json!({"anyOf": [schema, {"type": "null"}]})
}

/// The request body schemas, written to accept exactly what the parsers accept
/// (`objects::definition`, `objects::attribute`, `objects::batch::parse`,
/// `objects::query::parse`, `console::api`), as far as JSON Schema can say it: what depends on
/// the stored definitions (attribute values, relationship targets, uniqueness) is checked by
/// the server and answered with `issues`.
fn body_schemas() -> Vec<(&'static str, Value)> {
    let handle = json!({"type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", "description": "1-63 lower-case letters, digits and dashes, not starting or ending with a dash"});
    let attribute_key = json!({"type": "string", "pattern": "^[a-z][A-Za-z0-9_]{0,63}$", "description": "A lower-case letter, then up to 63 letters, digits or underscores"});
    let record_id = json!({"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,128}$"});
    let flag = json!({"type": ["boolean", "null"]});
    let option = json!({
        "type": "object", "additionalProperties": false, "required": ["value"],
        "properties": {
            "value": {"type": "string", "minLength": 1, "maxLength": 200},
            "label": or_null(text(200)), "color": or_null(text(200))
        }
    });
    let attribute_variants: Vec<Value> = crate::objects::attribute::TYPE_NAMES
        .iter()
        .map(|type_name| {
            let mut properties = json!({
                "type": {"const": type_name},
                "name": or_null(text(200)),
                "description": or_null(text(2_000)),
                "required": flag,
                "unique": flag,
            });
            let mut required = vec!["type"];
            match *type_name {
                "boolean" | "multiselect" | "json" => {
                    properties["unique"] = json!({"enum": [false, null], "description": "cannot be unique"});
                }
                _ => {}
            }
            match *type_name {
                "select" | "multiselect" => {
                    properties["options"] = json!({"type": "array", "minItems": 1, "items": option, "description": "Each `value` once"});
                    required.push("options");
                }
                "relationship" => {
                    properties["object"] = json!({"allOf": [handle, {"description": "An object of the workspace (or the one being created)"}]});
                    required.push("object");
                }
                _ => {}
            }
            json!({"type": "object", "additionalProperties": false, "required": required, "properties": properties})
        })
        .collect();
    let attributes = |value: Value| json!({"type": "object", "propertyNames": attribute_key, "additionalProperties": value, "maxProperties": 200, "description": "Attribute key to definition (at most `ANDI_MAX_ATTRIBUTES`, 200 by default)"});
    let not_both = json!({"not": {"required": ["attributes", "fields"]}, "description": "`fields` is an alias of `attributes`; send one"});
    let record = |id_required: bool| {
        let mut record = json!({
            "type": "object", "additionalProperties": false,
            "properties": {
                "id": if id_required { record_id.clone() } else { or_null(record_id.clone()) },
                "name": or_null(text(200)),
                "attributes": or_null(json!({"type": "object", "description": "Attribute key to value, typed by the object's definition"}))
            }
        });
        if id_required {
            record["required"] = json!(["id"]);
        }
        record
    };
    let batch = |items: Value| json!({"type": "array", "maxItems": 1_000, "items": items, "description": "At most `ANDI_MAX_BATCH_RECORDS` (1,000 by default)"});
    let scalar = json!({"type": ["string", "number", "boolean"]});
    let ordered = json!({"type": ["string", "number"]});
    let condition = json!({
        "type": "object", "additionalProperties": false, "minProperties": 1,
        "properties": {
            "eq": scalar, "ne": scalar, "gt": ordered, "gte": ordered, "lt": ordered, "lte": ordered,
            "contains": {"type": "string"},
            "in": {"type": "array", "items": scalar}, "exists": {"type": "boolean"}
        },
        "description": "Operator to value; the value has the field's JSON type"
    });
    let name = json!({"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f]*\\S[^\\x00-\\x1f\\x7f-\\x9f]*$", "description": "1-200 printable characters"});
    vec![
        ("Attribute", json!({"oneOf": attribute_variants})),
        (
            "NewObject",
            json!({
                "type": "object", "additionalProperties": false, "required": ["name"],
                "properties": {
                    "name": text(200),
                    "handle": or_null(handle.clone()),
                    "description": or_null(text(2_000)),
                    "attributes": attributes(json!({"$ref": "#/components/schemas/Attribute"})),
                    "fields": attributes(json!({"$ref": "#/components/schemas/Attribute"}))
                },
                "allOf": [
                    not_both,
                    {"anyOf": [
                        {"required": ["handle"], "properties": {"handle": {"type": "string"}}},
                        {"properties": {"name": {"pattern": "[A-Za-z0-9]"}}}
                    ], "description": "Without a `handle`, the name must hold a letter or digit to derive one from"}
                ]
            }),
        ),
        (
            "ObjectPatch",
            json!({
                "type": "object", "additionalProperties": false,
                "properties": {
                    "name": text(200),
                    "description": or_null(text(2_000)),
                    "attributes": attributes(or_null(json!({"$ref": "#/components/schemas/Attribute"}))),
                    "fields": attributes(or_null(json!({"$ref": "#/components/schemas/Attribute"})))
                },
                "allOf": [not_both],
                "description": "What to change; `null` removes the description or an attribute"
            }),
        ),
        (
            "UpsertBody",
            json!({
                "type": "object", "additionalProperties": false, "required": ["records"],
                "properties": {
                    "records": batch(record(false)),
                    "matchOn": or_null(json!({"type": "string", "description": "`id` (the default) or the key of a unique attribute"}))
                }
            }),
        ),
        (
            "PatchBody",
            json!({
                "type": "object", "additionalProperties": false, "required": ["records"],
                "properties": {"records": batch(record(true))}
            }),
        ),
        (
            "DeleteBody",
            json!({
                "type": "object", "additionalProperties": false, "required": ["ids"],
                "properties": {"ids": batch(record_id.clone())}
            }),
        ),
        (
            "QueryBody",
            json!({
                "type": "object", "additionalProperties": false,
                "properties": {
                    "where": or_null(json!({"type": "object", "additionalProperties": condition, "description": "Field to condition"})),
                    "sort": or_null(json!({"anyOf": [
                        {"type": "array", "items": {"type": "string"}},
                        {"type": "string", "description": "Comma-separated"}
                    ], "description": "Field names, `-` in front for descending"})),
                    "limit": or_null(json!({"type": "integer", "minimum": 1, "maximum": 1_000})),
                    "cursor": or_null(json!({"type": "string", "description": "`nextCursor` of the previous page"}))
                }
            }),
        ),
        (
            "NewWorkspace",
            json!({
                "type": "object", "additionalProperties": false, "required": ["handle", "name"],
                "properties": {
                    "handle": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"},
                    "name": name.clone()
                }
            }),
        ),
        (
            "NewApiKey",
            json!({
                "type": "object", "additionalProperties": false, "required": ["name"],
                "properties": {
                    "name": name,
                    "permissions": {"type": "array", "items": {"enum": ["objects.read", "objects.write", "workspaces.read"]}},
                    "role": or_null(json!({"enum": ["admin", "editor", "viewer"]})),
                    "environment": or_null(json!({"enum": ["live", "test"]})),
                    "expiresAt": or_null(json!({"type": "string", "format": "date-time", "description": "In the future"})),
                    "metadata": {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 16},
                    "objects": or_null(json!({"type": "array", "items": handle, "minItems": 1})),
                    "rateLimit": or_null(json!({"type": "string", "description": "Requests per window, e.g. `100/1m`"}))
                },
                "description": "At least one permission or a role"
            }),
        ),
        (
            "RotationBody",
            json!({
                "type": "object", "additionalProperties": false,
                "properties": {"grace": or_null(json!({"type": "string", "description": "How long the old secret keeps working, e.g. `24h`; default: it stops at once"}))}
            }),
        ),
    ]
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
