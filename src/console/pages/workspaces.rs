//! The list of a person's workspaces, creating one, and opening one.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use minijinja::context;

use crate::account::membership;
use crate::authz::{Action, Resource};
use crate::console::access;
use crate::console::session::{PageUser, SignedIn};
use crate::console::view::{PageError, render};
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::store;
use crate::workspace::create::WorkspaceError;

use super::{SubmittedForm, capitalize, chrome};

/// `GET /workspaces`
pub async fn workspaces_page(
    State(state): State<AppState>,
    PageUser(me): PageUser,
) -> Result<Response, PageError> {
    workspaces_view(&state, &me, StatusCode::OK, None, "", "").await
}

async fn workspaces_view(
    state: &AppState,
    me: &SignedIn,
    status: StatusCode,
    error: Option<String>,
    handle: &str,
    name: &str,
) -> Result<Response, PageError> {
    access::decide(
        state,
        me,
        &access::console_principal(me),
        Action::ListWorkspaces,
        &Resource::Console,
    )?;
    let mine = store::users::find_workspaces_of_user(&state.db, &me.user.id).await?;
    let items: Vec<minijinja::Value> = mine
        .iter()
        .map(|(w, role)| {
            context! { handle => w.handle.as_str(), name => w.name, role => role.as_str() }
        })
        .collect();
    render(
        status,
        "workspaces.html",
        context! { me => chrome(me), workspaces => items, error => error, handle => handle, name => name },
    )
}

/// `POST /workspaces`: creates a workspace with the user as its admin.
pub async fn workspace_create(
    State(state): State<AppState>,
    user: PageUser,
    form: SubmittedForm,
) -> Result<Response, PageError> {
    user.check_form(form.fields.get("csrf"))?;
    let me = &user.0;
    access::decide(
        &state,
        me,
        &access::console_principal(me),
        Action::CreateWorkspace,
        &Resource::Console,
    )?;
    let (handle, name) = (form.fields.get("handle"), form.fields.get("name"));
    match membership::create_workspace_for(&state.db, &me.user, handle, name, Utc::now()).await {
        Ok(created) => {
            Ok(Redirect::to(&format!("/workspaces/{}/api-keys", created.handle)).into_response())
        }
        Err(error @ (WorkspaceError::Invalid(_) | WorkspaceError::Exists(_))) => {
            let message = error.to_string();
            let status = ApiError::from(error).status();
            workspaces_view(&state, me, status, Some(capitalize(&message)), handle, name).await
        }
        Err(other) => Err(other.into()),
    }
}

/// `GET /workspaces/{handle}`: a workspace opens on its API keys.
pub async fn workspace_open(
    State(state): State<AppState>,
    PageUser(me): PageUser,
    Path(handle): Path<String>,
) -> Result<Response, PageError> {
    let opened = access::open_workspace(&state.db, &me, &handle).await?;
    let resource = Resource::Workspace {
        id: opened.workspace.id.clone(),
    };
    access::decide(
        &state,
        &me,
        &opened.principal,
        Action::ViewWorkspace,
        &resource,
    )?;
    Ok(Redirect::to(&format!("/workspaces/{}/api-keys", opened.workspace.handle)).into_response())
}
