//! The object definition routes: list, create, get, patch and delete.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::Utc;

use super::object_access::{authorized_object, object_resource, relock};
use crate::authz::{Action, Resource};
use crate::http::error::ApiError;
use crate::http::extract::Authenticated;
use crate::http::extract::JsonBody;
use crate::http::state::AppState;
use crate::objects::definition::{parse_definition_patch, parse_new_definition};
use crate::objects::view::{ObjectDefinitionView, ObjectList};
use crate::objects::{define, evolve};
use crate::store::{self, StoreError};

#[utoipa::path(
    get,
    path = "/api/objects",
    tag = "objects",
    description = "The workspace's object definitions. Needs `objects.read` (action `listObjects`).",
    responses(
        (status = 200, body = ObjectList),
        (status = 401, description = "No key, or an invalid one"),
        (status = 403, description = "The key lacks `objects.read`"),
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn objects_list(
    State(state): State<AppState>,
    Authenticated {
        principal, context, ..
    }: Authenticated,
) -> Result<impl IntoResponse, ApiError> {
    let workspace = Resource::Workspace {
        id: principal.workspace.id.clone(),
    };
    state
        .authz
        .authorize(&principal, Action::ListObjects, &workspace, &context)?;
    let listing = if principal.objects.is_some() {
        // A key limited to some objects sees those the policies let it get (the limit is
        // a policy, key-object-limits.cedar); other keys get the cached listing.
        let definitions = store::objects::find_definitions(&state.db, &principal.workspace.id)
            .await?
            .into_iter()
            .filter(|definition| {
                state
                    .authz
                    .authorize(
                        &principal,
                        Action::GetObject,
                        &object_resource(definition),
                        &context,
                    )
                    .is_ok()
            })
            .collect::<Vec<_>>();
        ObjectList::render(&definitions).map_err(|e| ApiError::Internal(e.into()))?
    } else {
        state
            .definitions
            .listing(&state.db, &principal.workspace.id)
            .await?
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], listing))
}

#[utoipa::path(
    post,
    path = "/api/objects",
    tag = "objects",
    description = "Creates an object definition. `handle` defaults to the name in kebab case; `fields` is an alias of `attributes`. Needs `objects.write` (action `createObject`).",
    request_body(content = Object, example = json!({
        "name": "Invoices",
        "attributes": {
            "number": {"type": "string", "required": true, "unique": true},
            "amount": {"type": "number", "required": true},
            "status": {"type": "select", "options": [{"value": "open"}, {"value": "paid", "color": "green"}]},
            "customer": {"type": "relationship", "object": "customers"}
        }
    })),
    responses(
        (status = 201, body = ObjectDefinitionView),
        (status = 400, description = "Invalid definition; `issues` lists each problem by JSON path"),
        (status = 403, description = "The key lacks `objects.write`"),
        (status = 409, description = "The handle is taken"),
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn objects_create(
    State(state): State<AppState>,
    Authenticated {
        principal, context, ..
    }: Authenticated,
    body: JsonBody,
) -> Result<(StatusCode, Json<ObjectDefinitionView>), ApiError> {
    let workspace = Resource::Workspace {
        id: principal.workspace.id.clone(),
    };
    state
        .authz
        .authorize(&principal, Action::CreateObject, &workspace, &context)?;
    let definition = parse_new_definition(&body.parse()?, state.limits.max_attributes)
        .map_err(ApiError::Validation)?;

    let created =
        define::create_definition(&state.db, &principal.workspace.id, definition, Utc::now())
            .await?;
    state.definitions.changed(&principal.workspace.id);
    Ok((
        StatusCode::CREATED,
        Json(ObjectDefinitionView::from(&created)),
    ))
}

#[utoipa::path(
    get,
    path = "/api/objects/{handle}",
    tag = "objects",
    description = "One object definition. Needs `objects.read` (action `getObject`).",
    params(("handle" = String, Path, description = "The object's handle, e.g. `invoices`")),
    responses(
        (status = 200, body = ObjectDefinitionView),
        (status = 403, description = "The key lacks `objects.read`"),
        (status = 404, description = "No such object in the key's workspace"),
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn object_get(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(handle): Path<String>,
) -> Result<Json<ObjectDefinitionView>, ApiError> {
    let definition = authorized_object(&state, &auth, &handle, Action::GetObject).await?;
    Ok(Json(ObjectDefinitionView::from(&definition)))
}

#[utoipa::path(
    patch,
    path = "/api/objects/{handle}",
    tag = "objects",
    description = "Changes the name or description, adds or replaces attributes, and removes one with `null`. A change that live records do not satisfy is 409 and names how many block it. Needs `objects.write` (action `updateObject`).",
    params(("handle" = String, Path, description = "The object's handle")),
    request_body(content = Object, example = json!({
        "description": "Customer invoices",
        "attributes": {"dueOn": {"type": "date"}, "legacyCode": null}
    })),
    responses(
        (status = 200, body = ObjectDefinitionView),
        (status = 400, description = "Invalid change; `issues` lists each problem"),
        (status = 403, description = "The key lacks `objects.write`"),
        (status = 404, description = "No such object"),
        (status = 409, description = "Existing records block the change"),
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn object_patch(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(handle): Path<String>,
    body: JsonBody,
) -> Result<Json<ObjectDefinitionView>, ApiError> {
    let definition = authorized_object(&state, &auth, &handle, Action::UpdateObject).await?;
    let patch = parse_definition_patch(&body.parse()?).map_err(ApiError::Validation)?;
    let txn = store::begin_write(&state.db).await?;
    let definition = relock(&txn, &definition).await?;
    let updated = evolve::apply_patch(
        &txn,
        &definition,
        patch,
        state.limits.max_attributes,
        Utc::now(),
    )
    .await?;
    txn.commit().await.map_err(StoreError::from)?;
    state.definitions.changed(&definition.workspace_id);
    Ok(Json(ObjectDefinitionView::from(&updated)))
}

#[utoipa::path(
    delete,
    path = "/api/objects/{handle}",
    tag = "objects",
    description = "Deletes an object definition. While it has live records the answer is 409, unless `?cascade=true`, which deletes them with it. Needs `objects.write` (action `deleteObject`).",
    params(
        ("handle" = String, Path, description = "The object's handle"),
        ("cascade" = Option<bool>, Query, description = "Also delete the object's records"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "The key lacks `objects.write`"),
        (status = 404, description = "No such object"),
        (status = 409, description = "Live records exist, or another object's relationship points here"),
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn object_delete(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(handle): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<StatusCode, ApiError> {
    let definition = authorized_object(&state, &auth, &handle, Action::DeleteObject).await?;
    let mut cascade = false;
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match (name.as_ref(), value.as_ref()) {
            ("cascade", "true") => cascade = true,
            ("cascade", "false") => cascade = false,
            ("cascade", other) => {
                return Err(ApiError::BadRequest {
                    code: "invalid_parameter",
                    detail: format!("`cascade` must be true or false, not `{other}`"),
                });
            }
            (other, _) => {
                return Err(ApiError::BadRequest {
                    code: "invalid_parameter",
                    detail: format!("unknown parameter `{other}`; expected cascade"),
                });
            }
        }
    }
    let txn = store::begin_write(&state.db).await?;
    let definition = relock(&txn, &definition).await?;
    define::delete_definition(&txn, &definition, cascade).await?;
    txn.commit().await.map_err(StoreError::from)?;
    state.definitions.changed(&definition.workspace_id);
    Ok(StatusCode::NO_CONTENT)
}
