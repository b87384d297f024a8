//! A workspace's API keys: the table, creating, revoking and rotating, and the secret shown
//! once after create or rotate.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use minijinja::context;

use crate::account::access::WorkspaceAccess;
use crate::authz::{Action, Resource};
use crate::console::access;
use crate::console::form::FormFields;
use crate::console::session::{PageUser, SignedIn, cookie, set_cookie_at};
use crate::console::view::{KeyRow, PageError, render};
use crate::duration::parse_duration;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::keys::api_key::{ApiKey, NewKey};
use crate::keys::grant::{Grants, Permission, Role};
use crate::keys::lifecycle::{self, Actor, KeyError};
use crate::keys::metadata::KeyMetadata;
use crate::keys::object_limit::ObjectLimit;
use crate::keys::rate_limit::RateLimit;
use crate::keys::secret::Environment;
use crate::store;

use super::{SubmittedForm, capitalize, chrome, see_other, workspace_context};

/// Carries a new key's secret across the redirect after create or rotate, to the one page
/// that shows it; that page clears it, so a reload shows nothing. It lives a minute, only
/// in the browser that asked for the key, and only on that workspace's keys page.
const ISSUED_COOKIE: &str = "andi_issued";

fn keys_path(opened: &WorkspaceAccess) -> String {
    format!("/workspaces/{}/api-keys", opened.workspace.handle)
}

/// What the create form sent back, to fill it again after an error.
#[derive(Default, serde::Serialize)]
struct KeyDraft {
    name: String,
    permissions: Vec<String>,
    role: String,
    environment: String,
    expires_in: String,
    metadata: String,
    objects: String,
    rate_limit: String,
}

/// `GET /workspaces/{handle}/api-keys`: the keys table, the create form, and a secret just
/// issued (once).
pub async fn api_keys_page(
    State(state): State<AppState>,
    PageUser(me): PageUser,
    Path(handle): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let opened = access::open_workspace(&state.db, &me, &handle).await?;
    let issued = cookie(&headers, ISSUED_COOKIE).and_then(|value| value.split_once(':'));
    let mut response = keys_view(
        &state,
        &me,
        &opened,
        StatusCode::OK,
        None,
        KeyDraft::default(),
        issued,
    )
    .await?;
    if issued.is_some() {
        response.headers_mut().append(
            header::SET_COOKIE,
            set_cookie_at(&state.console, ISSUED_COOKIE, "", 0, &keys_path(&opened)),
        );
    }
    Ok(response)
}

async fn keys_view(
    state: &AppState,
    me: &SignedIn,
    opened: &WorkspaceAccess,
    status: StatusCode,
    error: Option<String>,
    draft: KeyDraft,
    issued: Option<(&str, &str)>,
) -> Result<Response, PageError> {
    let resource = Resource::Workspace {
        id: opened.workspace.id.clone(),
    };
    access::decide(state, me, &opened.principal, Action::ListApiKeys, &resource)?;
    let now = Utc::now();
    let keys = lifecycle::list_keys(&state.db, &opened.workspace)
        .await
        .map_err(ApiError::from)?;
    let issued = issued.and_then(|(id, secret)| {
        keys.iter()
            .find(|k| k.id == id)
            .map(|k| context! { name => k.name, id => k.id, secret => secret })
    });
    let rows: Vec<KeyRow> = keys.iter().map(|k| KeyRow::new(k, now)).collect();
    let draft = if draft.environment.is_empty() {
        KeyDraft {
            environment: "live".to_owned(),
            ..draft
        }
    } else {
        draft
    };
    render(
        status,
        "api_keys.html",
        context! {
            me => chrome(me),
            workspace => workspace_context(opened, "api-keys"),
            keys => rows,
            issued => issued,
            error => error,
            draft => draft,
            permissions => Permission::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            roles => Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        },
    )
}

/// Parses the create form into a new key, or says what to fix.
fn parse_new_key(form: &FormFields) -> Result<NewKey, String> {
    let permissions = form
        .all("permission")
        .into_iter()
        .map(str::parse::<Permission>)
        .collect::<Result<Vec<_>, _>>()?;
    let role = match form.get("role") {
        "" => None,
        role => Some(role.parse::<Role>()?),
    };
    let grants = Grants::new(role, permissions)?;
    let environment = match form.get("environment") {
        "" => Environment::Live,
        env => env.parse::<Environment>()?,
    };
    let expires_in = match form.get("expires_in") {
        "" | "never" => None,
        text => Some(parse_duration(text)?),
    };
    // One `key=value` a line; blank lines are ignored.
    let metadata = KeyMetadata::parse_pairs(
        form.get("metadata")
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty()),
    )?;
    let objects = match form.get("objects").trim() {
        "" => None,
        list => Some(ObjectLimit::parse_list(list)?),
    };
    let rate_limit = match form.get("rate_limit").trim() {
        "" => None,
        text => Some(RateLimit::parse(text)?),
    };
    Ok(NewKey {
        name: form.get("name").to_owned(),
        grants,
        environment,
        expires_in,
        metadata,
        objects,
        rate_limit,
    })
}

fn issued_cookie(
    state: &AppState,
    opened: &WorkspaceAccess,
    key: &ApiKey,
    secret: &str,
) -> HeaderValue {
    set_cookie_at(
        &state.console,
        ISSUED_COOKIE,
        &format!("{}:{secret}", key.id),
        60,
        &keys_path(opened),
    )
}

/// `POST /workspaces/{handle}/api-keys`
pub async fn api_key_create(
    State(state): State<AppState>,
    user: PageUser,
    Path(handle): Path<String>,
    form: SubmittedForm,
) -> Result<Response, PageError> {
    user.check_form(form.fields.get("csrf"))?;
    let me = &user.0;
    let opened = access::open_workspace(&state.db, me, &handle).await?;
    let resource = Resource::Workspace {
        id: opened.workspace.id.clone(),
    };
    access::decide(
        &state,
        me,
        &opened.principal,
        Action::CreateApiKey,
        &resource,
    )?;
    let fields = &form.fields;
    let draft = KeyDraft {
        name: fields.get("name").to_owned(),
        permissions: fields
            .all("permission")
            .into_iter()
            .map(str::to_owned)
            .collect(),
        role: fields.get("role").to_owned(),
        environment: fields.get("environment").to_owned(),
        expires_in: fields.get("expires_in").to_owned(),
        metadata: fields.get("metadata").to_owned(),
        objects: fields.get("objects").to_owned(),
        rate_limit: fields.get("rate_limit").to_owned(),
    };
    let created = match parse_new_key(fields) {
        Ok(new) => {
            let actor = Actor::User(me.user.id.clone());
            let audit = state.key_audit(&actor);
            lifecycle::create_key(&state.db, audit, &opened.workspace, new, Utc::now()).await
        }
        Err(message) => Err(KeyError::Invalid(message)),
    };
    match created {
        Ok((secret, key)) => {
            let cookie = issued_cookie(&state, &opened, &key, secret.expose());
            Ok(see_other(&keys_path(&opened), &[cookie]))
        }
        Err(KeyError::Invalid(message)) => {
            keys_view(
                &state,
                me,
                &opened,
                StatusCode::BAD_REQUEST,
                Some(capitalize(&message)),
                draft,
                None,
            )
            .await
        }
        Err(other) => Err(ApiError::from(other).into()),
    }
}

/// A key of the opened workspace; another workspace's key is not found.
async fn key_in(state: &AppState, opened: &WorkspaceAccess, id: &str) -> Result<ApiKey, PageError> {
    match store::api_keys::find_key(&state.db, id).await? {
        Some(key) if key.workspace_id == opened.workspace.id => Ok(key),
        _ => Err(PageError::not_found()),
    }
}

/// `GET …/api-keys/{id}/revoke`: the confirmation step.
pub async fn revoke_confirm(
    State(state): State<AppState>,
    PageUser(me): PageUser,
    Path((handle, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    confirm_page(&state, &me, &handle, &id, Action::RevokeApiKey).await
}

/// `GET …/api-keys/{id}/rotate`: the rotation form, with its grace period.
pub async fn rotate_form(
    State(state): State<AppState>,
    PageUser(me): PageUser,
    Path((handle, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    confirm_page(&state, &me, &handle, &id, Action::RotateApiKey).await
}

async fn confirm_page(
    state: &AppState,
    me: &SignedIn,
    handle: &str,
    id: &str,
    action: Action,
) -> Result<Response, PageError> {
    let opened = access::open_workspace(&state.db, me, handle).await?;
    let key = key_in(state, &opened, id).await?;
    access::decide(
        state,
        me,
        &opened.principal,
        action,
        &Resource::api_key(&key),
    )?;
    render(
        StatusCode::OK,
        "confirm.html",
        context! {
            me => chrome(me),
            workspace => workspace_context(&opened, "api-keys"),
            key => KeyRow::new(&key, Utc::now()),
            rotate => action == Action::RotateApiKey,
        },
    )
}

/// `POST …/api-keys/{id}/revoke`
pub async fn api_key_revoke(
    State(state): State<AppState>,
    user: PageUser,
    Path((handle, id)): Path<(String, String)>,
    form: SubmittedForm,
) -> Result<Response, PageError> {
    user.check_form(form.fields.get("csrf"))?;
    let opened = access::open_workspace(&state.db, &user.0, &handle).await?;
    let key = key_in(&state, &opened, &id).await?;
    access::decide(
        &state,
        &user.0,
        &opened.principal,
        Action::RevokeApiKey,
        &Resource::api_key(&key),
    )?;
    state
        .revoke_key(&Actor::User(user.0.user.id.clone()), &key.id, Utc::now())
        .await
        .map_err(ApiError::from)?;
    Ok(Redirect::to(&keys_path(&opened)).into_response())
}

/// `POST …/api-keys/{id}/rotate`
pub async fn api_key_rotate(
    State(state): State<AppState>,
    user: PageUser,
    Path((handle, id)): Path<(String, String)>,
    form: SubmittedForm,
) -> Result<Response, PageError> {
    user.check_form(form.fields.get("csrf"))?;
    let opened = access::open_workspace(&state.db, &user.0, &handle).await?;
    let key = key_in(&state, &opened, &id).await?;
    access::decide(
        &state,
        &user.0,
        &opened.principal,
        Action::RotateApiKey,
        &Resource::api_key(&key),
    )?;
    let grace = match form.fields.get("grace") {
        "" => chrono::Duration::zero(),
        text => parse_duration(text).map_err(|m| PageError::Status(StatusCode::BAD_REQUEST, m))?,
    };
    let (secret, new) = state
        .rotate_key(
            &Actor::User(user.0.user.id.clone()),
            &key.id,
            grace,
            Utc::now(),
        )
        .await
        .map_err(ApiError::from)?;
    let cookie = issued_cookie(&state, &opened, &new, secret.expose());
    Ok(see_other(&keys_path(&opened), &[cookie]))
}
