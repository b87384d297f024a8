//! `GET /api/objects` and `POST /api/objects`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde::Serialize;

use super::ObjectDefinitionView;
use super::definition::parse_new_definition;
use crate::app::AppState;
use crate::auth::{Authenticated, random_base62};
use crate::authz::{Action, Resource};
use crate::body::JsonBody;
use crate::error::{ApiError, Issue, PathSegment};
use crate::store;

#[derive(Serialize)]
pub struct ObjectList {
    items: Vec<ObjectDefinitionView>,
}

pub async fn objects_list(
    State(state): State<AppState>,
    Authenticated { principal, context }: Authenticated,
) -> Result<Json<ObjectList>, ApiError> {
    let workspace = Resource::Workspace {
        id: principal.workspace.id.clone(),
    };
    state
        .authz
        .authorize(&principal, Action::ListObjects, &workspace, &context)?;
    let definitions = store::objects::find_definitions(&state.db, &principal.workspace.id).await?;
    Ok(Json(ObjectList {
        items: definitions.iter().map(ObjectDefinitionView::from).collect(),
    }))
}

pub async fn objects_create(
    State(state): State<AppState>,
    Authenticated { principal, context }: Authenticated,
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

    let mut issues = Vec::new();
    for (key, target) in definition.relationship_targets() {
        let exists = *target == definition.handle
            || store::objects::find_definition_by_handle(
                &state.db,
                &principal.workspace.id,
                target,
            )
            .await?
            .is_some();
        if !exists {
            issues.push(Issue::new(
                vec![
                    "attributes".into(),
                    PathSegment::from(key.as_str()),
                    "object".into(),
                ],
                format!("no object `{target}` in this workspace; create it first"),
            ));
        }
    }
    if !issues.is_empty() {
        return Err(ApiError::Validation(issues));
    }

    let conflict = || ApiError::Conflict {
        code: "handle_taken",
        detail: format!(
            "an object with handle `{}` already exists in this workspace",
            definition.handle
        ),
    };
    if store::objects::find_definition_by_handle(
        &state.db,
        &principal.workspace.id,
        &definition.handle,
    )
    .await?
    .is_some()
    {
        return Err(conflict());
    }
    let id = format!("obj_{}", random_base62(22));
    let created = store::objects::insert_definition(
        &state.db,
        &id,
        &principal.workspace.id,
        &definition,
        Utc::now(),
    )
    .await
    .map_err(|e| {
        if e.is_unique_violation() {
            conflict()
        } else {
            e.into()
        }
    })?;
    Ok((
        StatusCode::CREATED,
        Json(ObjectDefinitionView::from(&created)),
    ))
}
