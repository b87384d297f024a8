//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations.
//! Routes are registered here and documented in the same step, so the router and the
//! document cannot drift apart: `GET /api/openapi.json` serves it.

use std::sync::LazyLock;

use axum::Json;
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

static DOCUMENT: LazyLock<Document> = LazyLock::new(|| routes().split_for_parts().1);

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
