//! The calling identity: `GET /api/workspace` and `GET /api/key`.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::authz::{Action, Resource};
use crate::http::error::ApiError;
use crate::http::extract::Authenticated;
use crate::http::state::AppState;
use crate::keys::api_key::ApiKeyView;
use crate::keys::grant::Permission;
use crate::store;
use crate::workspace::WorkspaceView;

#[utoipa::path(
    get,
    path = "/api/workspace",
    operation_id = "readWorkspace",
    tag = "identity",
    description = "The key's workspace: `id`, `handle`, `name`, `createdAt`. Needs `workspaces.read` (action `readWorkspace`).",
    responses(
        (status = 200, description = "The workspace", body = Object),
        (status = 401, description = "No key, or an invalid one"),
        (status = 403, description = "The key lacks `workspaces.read`"),
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn workspace_get(
    State(state): State<AppState>,
    Authenticated {
        principal, context, ..
    }: Authenticated,
) -> Result<Json<WorkspaceView>, ApiError> {
    let resource = Resource::Workspace {
        id: principal.workspace.id.clone(),
    };
    state
        .authz
        .authorize(&principal, Action::ReadWorkspace, &resource, &context)?;
    let workspace = store::workspaces::find_workspace(&state.db, &principal.workspace.id)
        .await?
        .ok_or_else(|| ApiError::NotFound("the key's workspace no longer exists".to_owned()))?;
    Ok(Json(WorkspaceView::from(&workspace)))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SelfView {
    #[serde(flatten)]
    key: ApiKeyView,
    /// What the key may do: its explicit permissions and its role's.
    effective_permissions: Vec<Permission>,
}

#[utoipa::path(
    get,
    path = "/api/key",
    operation_id = "readSelf",
    tag = "identity",
    description = "The calling key's metadata (never its secret) and its effective permissions; `lastUsedAt` is this request's time. Any valid key (action `readSelf`).",
    responses(
        (status = 200, description = "The key", body = Object),
        (status = 401, description = "No key, or an invalid one"),
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn key_get(
    State(state): State<AppState>,
    Authenticated {
        principal,
        key,
        context,
    }: Authenticated,
) -> Result<Json<SelfView>, ApiError> {
    let resource = Resource::own_key(&principal);
    state
        .authz
        .authorize(&principal, Action::ReadSelf, &resource, &context)?;
    let effective_permissions = state
        .authz
        .snapshot()
        .effective_permissions(principal.role, &principal.permissions);
    // Answered from the key as verified, with no database read: revoke and rotate evict it,
    // and this request is its latest use (the stored time is written in the background).
    let mut view = ApiKeyView::new(&key, context.time);
    view.last_used_at = Some(context.time);
    Ok(Json(SelfView {
        key: view,
        effective_permissions,
    }))
}
