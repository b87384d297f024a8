//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations.
//! Routes are registered here and documented in the same step, so the router and the
//! document cannot drift apart: `GET /api/openapi.json` serves it.

use std::sync::LazyLock;

use axum::Json;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{HeaderBuilder, OpenApi as Document, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{caller, definitions as handlers, health, records as data};
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

static DOCUMENT: LazyLock<Document> = LazyLock::new(|| {
    let mut document = routes().split_for_parts().1;
    document_rate_limits(&mut document);
    document
});

/// Every route that takes a key may answer 429 `rate_limited` when the key carries a rate
/// limit; added here once rather than on each route, so no route can miss it.
fn document_rate_limits(document: &mut Document) {
    let seconds = |description: &str| {
        HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::Integer))
            .description(Some(description))
            .build()
    };
    let limited = ResponseBuilder::new()
        .description("The key's rate limit (`rateLimit`) is used up for this window: problem+json with code `rate_limited`")
        .header("Retry-After", seconds("Seconds until the window resets"))
        .header("RateLimit-Limit", seconds("Requests the key may make per window"))
        .header("RateLimit-Remaining", seconds("Requests left in this window (0)"))
        .header("RateLimit-Reset", seconds("Seconds until the window resets"))
        .build();
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            let keyed = operation
                .security
                .as_ref()
                .is_some_and(|security| !security.is_empty());
            if keyed {
                operation
                    .responses
                    .responses
                    .insert("429".to_owned(), RefOr::T(limited.clone()));
            }
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "operations",
    description = "This document (OpenAPI 3.1). No key needed.",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"))
)]
pub async fn openapi_json() -> Json<&'static Document> {
    Json(&DOCUMENT)
}
