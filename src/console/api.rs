//! The console's JSON API (`/api/v1/…`): what the pages do, for scripts run by a signed-in
//! person. Session only: an API key is refused with 401, since a key must never mint keys.
//! State-changing requests carry the session's CSRF token in `X-CSRF-Token`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderName, StatusCode, header};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::access;
use super::session::{ApiUser, SignedIn};
use crate::account::access::{AccessError, WorkspaceAccess};
use crate::account::membership;
use crate::account::user::MemberRole;
use crate::authz::{Action, Resource};
use crate::duration::parse_duration;
use crate::http::error::ApiError;
use crate::http::extract::JsonBody;
use crate::http::state::AppState;
use crate::issue::Issue;
use crate::keys::api_key::{ApiKey, ApiKeyView, IssuedKey, NewKey};
use crate::keys::grant::{Grants, Permission, Role};
use crate::keys::lifecycle::{self, Actor};
use crate::keys::metadata::KeyMetadata;
use crate::keys::object_limit::ObjectLimit;
use crate::keys::rate_limit::RateLimit;
use crate::keys::secret::Environment;
use crate::objects::handle::ObjectHandle;
use crate::store;
use crate::workspace::WorkspaceView;

/// A workspace with the caller's role in it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberWorkspace {
    #[serde(flatten)]
    pub workspace: WorkspaceView,
    pub role: MemberRole,
}

#[derive(Serialize)]
pub struct WorkspaceList {
    pub items: Vec<MemberWorkspace>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspace {
    pub handle: String,
    pub name: String,
}

#[derive(Serialize)]
pub struct ApiKeyList {
    pub items: Vec<ApiKeyView>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApiKey {
    pub name: String,
    #[serde(default)]
    pub permissions: Vec<Permission>,
    pub role: Option<Role>,
    pub environment: Option<Environment>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Metadata pairs for policies, e.g. `{"region": "EU"}`.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Object handles the key is limited to; absent for every object.
    pub objects: Option<Vec<String>>,
    /// At most so many requests per window, e.g. `"100/1m"`.
    pub rate_limit: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateApiKey {
    /// How long the old secret keeps working, e.g. `24h`; default: it stops at once.
    pub grace: Option<String>,
}

/// Parses a JSON body into `T`, a 400 naming the problem otherwise.
fn parse<T: serde::de::DeserializeOwned>(body: &JsonBody) -> Result<T, ApiError> {
    serde_json::from_value(body.parse()?)
        .map_err(|e| ApiError::Validation(vec![Issue::new(vec![], e.to_string())]))
}

#[utoipa::path(
    get,
    path = "/api/v1/workspaces",
    operation_id = "listWorkspaces",
    tag = "console",
    description = "The workspaces the signed-in user belongs to, with their role in each. Session only: an API key gets 401 `session_required`.",
    responses(
        (status = 200, description = "`{items: [{id, handle, name, createdAt, role}]}`", body = Object),
        (status = 401, description = "No signed-in session, or an API key was sent"),
    )
)]
pub async fn workspaces_list(
    State(state): State<AppState>,
    ApiUser(me): ApiUser,
) -> Result<Json<WorkspaceList>, ApiError> {
    access::decide(
        &state,
        &me,
        &access::console_principal(&me),
        Action::ListWorkspaces,
        &Resource::Console,
    )?;
    let items = store::users::find_workspaces_of_user(&state.db, &me.user.id)
        .await?
        .iter()
        .map(|(w, role)| MemberWorkspace {
            workspace: w.into(),
            role: *role,
        })
        .collect();
    Ok(Json(WorkspaceList { items }))
}

#[utoipa::path(
    post,
    path = "/api/v1/workspaces",
    operation_id = "createWorkspace",
    tag = "console",
    description = "Creates a workspace; the signed-in user becomes its admin. Needs `X-CSRF-Token`.",
    request_body(content = Object, example = json!({"handle": "acme", "name": "Acme Inc."})),
    responses(
        (status = 201, description = "The workspace, with `role: admin`", body = Object),
        (status = 400, description = "Invalid handle or name"),
        (status = 401, description = "No signed-in session, or an API key was sent"),
        (status = 403, description = "Missing or wrong CSRF token"),
        (status = 409, description = "The handle is taken"),
    )
)]
pub async fn workspaces_create(
    State(state): State<AppState>,
    ApiUser(me): ApiUser,
    body: JsonBody,
) -> Result<(StatusCode, [(HeaderName, String); 1], Json<MemberWorkspace>), ApiError> {
    access::decide(
        &state,
        &me,
        &access::console_principal(&me),
        Action::CreateWorkspace,
        &Resource::Console,
    )?;
    let request: CreateWorkspace = parse(&body)?;
    let created = membership::create_workspace_for(
        &state.db,
        &me.user,
        &request.handle,
        &request.name,
        Utc::now(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        // The workspace has no JSON resource of its own; its console page is where it lives.
        [(header::LOCATION, format!("/workspaces/{}", created.handle))],
        Json(MemberWorkspace {
            workspace: (&created).into(),
            role: MemberRole::Admin,
        }),
    ))
}

async fn open(
    state: &AppState,
    me: &SignedIn,
    handle: &str,
    action: Action,
) -> Result<WorkspaceAccess, ApiError> {
    let opened = access::open_workspace(&state.db, me, handle).await?;
    let resource = Resource::Workspace {
        id: opened.workspace.id.clone(),
    };
    access::decide(state, me, &opened.principal, action, &resource)?;
    Ok(opened)
}

/// Opens the key `id` of workspace `handle` and authorizes `action` on it.
async fn open_key(
    state: &AppState,
    me: &SignedIn,
    handle: &str,
    id: &str,
    action: Action,
) -> Result<ApiKey, ApiError> {
    let opened = access::open_workspace(&state.db, me, handle).await?;
    let key = match store::api_keys::find_key(&state.db, id).await? {
        Some(key) if key.workspace_id == opened.workspace.id => key,
        _ => return Err(AccessError::NotFound.into()),
    };
    access::decide(
        state,
        me,
        &opened.principal,
        action,
        &Resource::api_key(&key),
    )?;
    Ok(key)
}

#[utoipa::path(
    get,
    path = "/api/v1/workspaces/{handle}/api-keys",
    operation_id = "listApiKeys",
    tag = "console",
    description = "The workspace's keys (never their secrets). Any member may list them.",
    params(("handle" = String, Path, description = "The workspace's handle")),
    responses(
        (status = 200, description = "`{items: [ApiKey]}`", body = Object),
        (status = 401, description = "No signed-in session, or an API key was sent"),
        (status = 404, description = "No such workspace among the user's"),
    )
)]
pub async fn api_keys_list(
    State(state): State<AppState>,
    ApiUser(me): ApiUser,
    Path(handle): Path<String>,
) -> Result<Json<ApiKeyList>, ApiError> {
    let opened = open(&state, &me, &handle, Action::ListApiKeys).await?;
    let now = Utc::now();
    let items = lifecycle::list_keys(&state.db, &opened.workspace)
        .await?
        .iter()
        .map(|k| ApiKeyView::new(k, now))
        .collect();
    Ok(Json(ApiKeyList { items }))
}

#[utoipa::path(
    post,
    path = "/api/v1/workspaces/{handle}/api-keys",
    operation_id = "createApiKey",
    tag = "console",
    description = "Creates a key and returns its secret, once. Admins only; needs `X-CSRF-Token`. Give at least one permission or a role.",
    params(("handle" = String, Path, description = "The workspace's handle")),
    request_body(content = Object, example = json!({"name": "billing-worker", "permissions": ["objects.read"], "environment": "live", "expiresAt": "2027-01-01T00:00:00Z", "metadata": {"region": "EU"}, "objects": ["invoices"], "rateLimit": "100/1m"})),
    responses(
        (status = 201, description = "`{key, apiKey}`: the secret (shown once) and the key", body = Object),
        (status = 400, description = "Invalid name, grants, expiry, metadata, object handles or rate limit"),
        (status = 401, description = "No signed-in session, or an API key was sent"),
        (status = 403, description = "Not an admin of the workspace, or a missing CSRF token"),
        (status = 404, description = "No such workspace among the user's"),
    )
)]
pub async fn api_keys_create(
    State(state): State<AppState>,
    ApiUser(me): ApiUser,
    Path(handle): Path<String>,
    body: JsonBody,
) -> Result<(StatusCode, [(HeaderName, String); 1], Json<IssuedKey>), ApiError> {
    let opened = open(&state, &me, &handle, Action::CreateApiKey).await?;
    let request: CreateApiKey = parse(&body)?;
    let now = Utc::now();
    let grants =
        Grants::new(request.role, request.permissions).map_err(|detail| ApiError::BadRequest {
            code: "invalid_key_request",
            detail,
        })?;
    let invalid = |detail| ApiError::BadRequest {
        code: "invalid_key_request",
        detail,
    };
    let metadata = KeyMetadata::new(request.metadata).map_err(invalid)?;
    let objects = request
        .objects
        .map(|handles| {
            handles
                .iter()
                .map(|h| ObjectHandle::parse(h))
                .collect::<Result<Vec<_>, _>>()
                .and_then(ObjectLimit::new)
        })
        .transpose()
        .map_err(invalid)?;
    let rate_limit = request
        .rate_limit
        .as_deref()
        .map(RateLimit::parse)
        .transpose()
        .map_err(invalid)?;
    let new = NewKey {
        name: request.name,
        grants,
        environment: request.environment.unwrap_or(Environment::Live),
        expires_in: request.expires_at.map(|at| at - now),
        metadata,
        objects,
        rate_limit,
    };
    let actor = Actor::User(me.user.id.clone());
    let audit = state.key_audit(&actor);
    let (secret, key) =
        lifecycle::create_key(&state.db, audit, &opened.workspace, new, now).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, key_location(&handle, &key.id))],
        Json(IssuedKey {
            key: secret.expose().to_owned(),
            api_key: ApiKeyView::new(&key, now),
        }),
    ))
}

#[utoipa::path(
    delete,
    path = "/api/v1/workspaces/{handle}/api-keys/{id}",
    operation_id = "revokeApiKey",
    tag = "console",
    description = "Revokes a key at once. Admins only; needs `X-CSRF-Token`.",
    params(
        ("handle" = String, Path, description = "The workspace's handle"),
        ("id" = String, Path, description = "The key's id (`key_…`)"),
    ),
    responses(
        (status = 200, description = "The revoked key", body = Object),
        (status = 401, description = "No signed-in session, or an API key was sent"),
        (status = 403, description = "Not an admin of the workspace, or a missing CSRF token"),
        (status = 404, description = "No such key in the workspace"),
    )
)]
pub async fn api_keys_revoke(
    State(state): State<AppState>,
    ApiUser(me): ApiUser,
    Path((handle, id)): Path<(String, String)>,
) -> Result<Json<ApiKeyView>, ApiError> {
    let key = open_key(&state, &me, &handle, &id, Action::RevokeApiKey).await?;
    let now = Utc::now();
    let actor = Actor::User(me.user.id.clone());
    let revoked = state.revoke_key(&actor, &key.id, now).await?;
    Ok(Json(ApiKeyView::new(&revoked, now)))
}

#[utoipa::path(
    post,
    path = "/api/v1/workspaces/{handle}/api-keys/{id}/rotate",
    operation_id = "rotateApiKey",
    tag = "console",
    description = "Issues a new secret with the same grants and returns it once; the old one works for `grace` (e.g. `24h`), by default not at all. Admins only; needs `X-CSRF-Token`.",
    params(
        ("handle" = String, Path, description = "The workspace's handle"),
        ("id" = String, Path, description = "The key's id (`key_…`)"),
    ),
    request_body(content = Object, example = json!({"grace": "24h"})),
    responses(
        (status = 201, description = "`{key, apiKey}` of the new key", body = Object),
        (status = 401, description = "No signed-in session, or an API key was sent"),
        (status = 403, description = "Not an admin of the workspace, or a missing CSRF token"),
        (status = 404, description = "No such key in the workspace"),
        (status = 409, description = "The key is revoked or expired"),
    )
)]
pub async fn api_keys_rotate(
    State(state): State<AppState>,
    ApiUser(me): ApiUser,
    Path((handle, id)): Path<(String, String)>,
    body: JsonBody,
) -> Result<(StatusCode, [(HeaderName, String); 1], Json<IssuedKey>), ApiError> {
    let key = open_key(&state, &me, &handle, &id, Action::RotateApiKey).await?;
    let request: RotateApiKey = if body.is_empty() {
        RotateApiKey::default()
    } else {
        parse(&body)?
    };
    let grace = match request.grace.as_deref() {
        None => chrono::Duration::zero(),
        Some(text) => parse_duration(text).map_err(|detail| ApiError::BadRequest {
            code: "invalid_grace",
            detail,
        })?,
    };
    let now = Utc::now();
    let actor = Actor::User(me.user.id.clone());
    let (secret, new) = state.rotate_key(&actor, &key.id, grace, now).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, key_location(&handle, &new.id))],
        Json(IssuedKey {
            key: secret.expose().to_owned(),
            api_key: ApiKeyView::new(&new, now),
        }),
    ))
}

/// Where a key of the session API lives (its `DELETE` revokes it).
fn key_location(workspace: &str, key_id: &str) -> String {
    format!("/api/v1/workspaces/{workspace}/api-keys/{key_id}")
}
