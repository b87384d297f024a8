//! The object definition routes: list, create, get, patch and delete.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{SubsecRound, Utc};
use tokio::time::Instant;

use super::object_access::{authorized_object, object_not_found, placeholder_id, relock};
use crate::authz::{Action, Resource, attribute_keys};
use crate::http::error::ApiError;
use crate::http::etag::ETag;
use crate::http::extract::Authenticated;
use crate::http::extract::JsonBody;
use crate::http::state::AppState;
use crate::issue::Issue;
use crate::objects::attribute::Attribute;
use crate::objects::change::{self, DefinitionChangeView};
use crate::objects::definition::{ObjectDefinition, parse_definition_patch, parse_new_definition};
use crate::objects::evolve::Patched;
use crate::objects::handle::AttributeKey;
use crate::objects::view::{ObjectDefinitionView, ObjectList};
use crate::objects::{define, evolve};
use crate::store::definition_changes::{self, DefinitionChange, Phase};
use crate::store::{self, StoreError};

/// Definition times are kept to the microsecond, the precision both databases store, so an
/// answer's ETag and times equal those of the stored definition read back.
fn now() -> chrono::DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[utoipa::path(
    get,
    path = "/api/objects",
    operation_id = "listObjects",
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
                        &Resource::object(definition),
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
    operation_id = "createObject",
    tag = "objects",
    description = "Creates an object definition. `handle` defaults to the name in kebab case; `fields` is an alias of `attributes`. Needs `objects.write` (action `createObject`).",
    request_body(content = Object, example = json!({
        "name": "Invoices",
        "attributes": {
            "number": {"type": "string", "required": true, "unique": true},
            "amount": {"type": "number", "required": true},
            "status": {"type": "select", "options": [{"value": "open"}, {"value": "paid", "color": "green"}]}
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
) -> Result<impl IntoResponse, ApiError> {
    let definition = parse_new_definition(&body.parse()?, state.limits.max_attributes)
        .map_err(ApiError::Validation)?;
    // The new definition is asked about as a placeholder: it has no id until it is stored.
    let new = Resource::ObjectDefinition {
        id: placeholder_id(definition.handle.as_str()),
        handle: definition.handle.to_string(),
        workspace_id: principal.workspace.id.clone(),
        attribute_keys: Some(attribute_keys(&definition.attributes)),
    };
    state
        .authz
        .authorize(&principal, Action::CreateObject, &new, &context)?;
    readable_by_policies(&state, &definition.attributes)?;

    let created =
        define::create_definition(&state.db, &principal.workspace.id, definition, now()).await?;
    state.definitions.changed(&principal.workspace.id);
    store::attribute_indexes::sync_attribute_indexes(&state.db, None, Some(&created)).await?;
    let view = ObjectDefinitionView::from(&created);
    let location = format!("/api/objects/{}", created.handle);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        [ETag::of(&view)?.header()],
        Json(view),
    ))
}

/// Refuses attributes whose type cannot be read as the policy schema declares that
/// attribute, by JSON path, naming both sides.
fn readable_by_policies<'a>(
    state: &AppState,
    attributes: impl IntoIterator<Item = (&'a AttributeKey, &'a Attribute)>,
) -> Result<(), ApiError> {
    let problems = state
        .authz
        .snapshot()
        .record_attributes
        .check_definition(attributes);
    if problems.is_empty() {
        return Ok(());
    }
    Err(ApiError::Validation(
        problems
            .into_iter()
            .map(|(key, message)| {
                Issue::new(
                    vec!["attributes".into(), key.as_str().into(), "type".into()],
                    message,
                )
            })
            .collect(),
    ))
}

#[utoipa::path(
    get,
    path = "/api/objects/{handle}",
    operation_id = "getObject",
    tag = "objects",
    description = "One object definition. Needs `objects.read` (action `getObject`).",
    params(
        ("handle" = String, Path, description = "The object's handle, e.g. `invoices`"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag read before; 304 when the version is still the same"),
    ),
    responses(
        (status = 200, body = ObjectDefinitionView, headers(("ETag" = String, description = "The version read; send it as If-Match to change exactly this version"))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 403, description = "The key lacks `objects.read`"),
        (status = 404, description = "No such object in the key's workspace"),
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn object_get(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(handle): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let definition = authorized_object(&state, &auth, &handle, Action::GetObject).await?;
    let view = ObjectDefinitionView::from(&definition);
    let etag = ETag::of(&view)?;
    if etag.not_modified(&headers) {
        return Ok((StatusCode::NOT_MODIFIED, [etag.header()]).into_response());
    }
    Ok(([etag.header()], Json(view)).into_response())
}

#[utoipa::path(
    patch,
    path = "/api/objects/{handle}",
    operation_id = "updateObject",
    tag = "objects",
    description = "Changes the name or description, adds or replaces attributes, and removes one with `null` (its values leave the records in the background; until then adding it again is 409 `attribute_being_removed`). A change the records must fit (a new type, a newly required or unique attribute) is checked against them in steps that never hold the object's readers or writers for long: the answer is 200 once it applied, 409 naming how many records block it, or 202 with its progress and a `Location` to follow (`getObjectChange`) when the check outlasts most of the request's time limit. While it is pending, writes must fit it too, and another change is 409 `definition_change_in_progress`. Needs `objects.write` (action `updateObject`).",
    params(
        ("handle" = String, Path, description = "The object's handle"),
        ("If-Match" = Option<String>, Header, description = "Apply only if the current version has this ETag (or `*`); 412 otherwise"),
    ),
    request_body(content = Object, example = json!({
        "description": "Customer invoices",
        "attributes": {"dueOn": {"type": "date"}}
    })),
    responses(
        (status = 200, body = ObjectDefinitionView),
        (status = 202, body = DefinitionChangeView, description = "The records are still being checked; follow `Location`", headers(("Location" = String, description = "The change's progress: `/api/objects/{handle}/change`"))),
        (status = 412, description = "If-Match names another version: it changed since it was read (`precondition_failed`)"),
        (status = 400, description = "Invalid change; `issues` lists each problem"),
        (status = 403, description = "The key lacks `objects.write`"),
        (status = 404, description = "No such object"),
        (status = 409, description = "Existing records block the change (`records_block_change`), another change is still being checked (`definition_change_in_progress`), or an attribute added again is still being removed from the records (`attribute_being_removed`)"),
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn object_patch(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(handle): Path<String>,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let definition = authorized_object(&state, &auth, &handle, Action::UpdateObject).await?;
    let patch = parse_definition_patch(&body.parse()?).map_err(ApiError::Validation)?;
    readable_by_policies(
        &state,
        patch
            .attributes
            .iter()
            .filter_map(|(key, attribute)| Some((key, attribute.as_ref()?))),
    )?;
    let txn = store::begin_write(&state.db).await?;
    let definition = relock(&txn, &definition).await?;
    ETag::of(&ObjectDefinitionView::from(&definition))?.check_if_match(&headers)?;
    let patched =
        evolve::apply_patch(&txn, &definition, patch, state.limits.max_attributes, now()).await?;
    txn.commit().await.map_err(StoreError::from)?;
    let updated = match patched {
        Patched::Applied {
            definition: updated,
            swept,
        } => {
            state.definitions.changed(&definition.workspace_id);
            if swept {
                state.sweeper.wake();
            }
            // After the commit, so the build holds neither the definition's lock nor its
            // records.
            store::attribute_indexes::sync_attribute_indexes(
                &state.db,
                Some(&definition),
                Some(&updated),
            )
            .await?;
            updated
        }
        Patched::Pending => {
            state.changes.wake();
            let change = await_change(&state, &definition, change_wait(&state)).await?;
            match change.phase {
                Phase::Checking | Phase::Rewriting | Phase::Releasing => {
                    let location = format!("/api/objects/{}/change", definition.handle);
                    return Ok((
                        StatusCode::ACCEPTED,
                        [(header::LOCATION, location)],
                        Json(DefinitionChangeView::from(&change)),
                    )
                        .into_response());
                }
                Phase::Refused => return Err(change::refusal(&change).into()),
                Phase::Applied => {
                    state.definitions.changed(&definition.workspace_id);
                    store::objects::find_definition_by_id(
                        &state.db,
                        &definition.workspace_id,
                        &definition.id,
                    )
                    .await?
                    .ok_or_else(|| object_not_found(definition.handle.as_str()))?
                }
            }
        }
    };
    let view = ObjectDefinitionView::from(&updated);
    Ok(([ETag::of(&view)?.header()], Json(view)).into_response())
}

/// How long a definition change that must check the records is awaited before the answer
/// is 202 with where to follow it: well inside the request's time limit.
fn change_wait(state: &AppState) -> Duration {
    state.limits.request_timeout * 3 / 4
}

/// The object's change once it is no longer pending, or as it stands after `wait`.
async fn await_change(
    state: &AppState,
    definition: &ObjectDefinition,
    wait: Duration,
) -> Result<DefinitionChange, ApiError> {
    let deadline = Instant::now() + wait;
    let mut runs = state.changes.runs();
    loop {
        let change = definition_changes::find(&state.db, &definition.id)
            .await?
            .ok_or_else(|| object_not_found(definition.handle.as_str()))?;
        let left = deadline.saturating_duration_since(Instant::now());
        if !change.phase.is_pending() || left.is_zero() {
            return Ok(change);
        }
        // Another server may be the one carrying it out, and notifies no one here.
        let _ = tokio::time::timeout(left.min(Duration::from_secs(1)), runs.changed()).await;
    }
}

#[utoipa::path(
    get,
    path = "/api/objects/{handle}/change",
    operation_id = "getObjectChange",
    tag = "objects",
    description = "The object's latest definition change that had to be checked against its records (a new type, a newly required or unique attribute): its progress while pending (`checking`, then `rewriting` for a new integer or datetime type, or `releasing` the unique values it claimed once records block it) and its outcome (`applied` or `refused`, with the records that block it). Needs `objects.read` (action `getObject`).",
    params(("handle" = String, Path, description = "The object's handle")),
    responses(
        (status = 200, body = DefinitionChangeView),
        (status = 403, description = "The key lacks `objects.read`"),
        (status = 404, description = "No such object, or no such change of it"),
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn object_change_get(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(handle): Path<String>,
) -> Result<Json<DefinitionChangeView>, ApiError> {
    let definition = authorized_object(&state, &auth, &handle, Action::GetObject).await?;
    let change = definition_changes::find(&state.db, &definition.id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "`{handle}` has had no change that its records had to be checked against"
            ))
        })?;
    Ok(Json(DefinitionChangeView::from(&change)))
}

#[utoipa::path(
    delete,
    path = "/api/objects/{handle}",
    operation_id = "deleteObject",
    tag = "objects",
    description = "Deletes an object definition. While it has live records the answer is 409, unless `?cascade=true`, which deletes them with it. Needs `objects.write` (action `deleteObject`).",
    params(
        ("handle" = String, Path, description = "The object's handle"),
        ("cascade" = Option<bool>, Query, description = "Also delete the object's records"),
        ("If-Match" = Option<String>, Header, description = "Apply only if the current version has this ETag (or `*`); 412 otherwise"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 412, description = "If-Match names another version: it changed since it was read (`precondition_failed`)"),
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
    headers: HeaderMap,
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
    ETag::of(&ObjectDefinitionView::from(&definition))?.check_if_match(&headers)?;
    define::delete_definition(&txn, &definition, cascade).await?;
    txn.commit().await.map_err(StoreError::from)?;
    state.definitions.changed(&definition.workspace_id);
    store::attribute_indexes::sync_attribute_indexes(&state.db, Some(&definition), None).await?;
    Ok(StatusCode::NO_CONTENT)
}
