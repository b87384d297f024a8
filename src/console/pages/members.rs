//! A workspace's members and invitations.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use minijinja::context;

use crate::account::access::WorkspaceAccess;
use crate::account::user::MemberRole;
use crate::account::{AccountError, membership};
use crate::authz::{Action, Resource};
use crate::console::access;
use crate::console::session::{PageUser, SignedIn};
use crate::console::view::{PageError, render};
use crate::http::state::AppState;
use crate::store;

use super::{SubmittedForm, capitalize, chrome, workspace_context};

/// `GET /workspaces/{handle}/members`
pub async fn members_page(
    State(state): State<AppState>,
    PageUser(me): PageUser,
    Path(handle): Path<String>,
) -> Result<Response, PageError> {
    let opened = access::open_workspace(&state.db, &me, &handle).await?;
    members_view(&state, &me, &opened, StatusCode::OK, None).await
}

async fn members_view(
    state: &AppState,
    me: &SignedIn,
    opened: &WorkspaceAccess,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, PageError> {
    let resource = Resource::Workspace {
        id: opened.workspace.id.clone(),
    };
    access::decide(state, me, &opened.principal, Action::ListMembers, &resource)?;
    let now = Utc::now();
    let members: Vec<minijinja::Value> =
        store::users::find_members(&state.db, &opened.workspace.id)
            .await?
            .iter()
            .map(|(u, role)| {
                context! {
                    email => u.email,
                    role => role.as_str(),
                    you => u.id == me.user.id,
                    joined => crate::console::view::when(Some(u.created_at), now, "—"),
                }
            })
            .collect();
    let invited: Vec<minijinja::Value> =
        store::users::find_invitations(&state.db, &opened.workspace.id)
            .await?
            .iter()
            .map(|(email, role, at)| {
                context! {
                    email => email,
                    role => role.as_str(),
                    invited => crate::console::view::when(Some(*at), now, "—"),
                }
            })
            .collect();
    render(
        status,
        "members.html",
        context! {
            me => chrome(me),
            workspace => workspace_context(opened, "members"),
            members => members,
            invited => invited,
            error => error,
        },
    )
}

/// `POST /workspaces/{handle}/members`: invites an email as admin or member.
pub async fn member_add(
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
    access::decide(&state, me, &opened.principal, Action::AddMember, &resource)?;
    let role = form.fields.get("role").parse::<MemberRole>();
    let added = match role {
        Ok(role) => {
            membership::add_member(
                &state.db,
                &opened.workspace,
                &me.user,
                form.fields.get("email"),
                role,
                Utc::now(),
            )
            .await
        }
        Err(message) => Err(AccountError::Invalid(message)),
    };
    match added {
        Ok(_) => Ok(
            Redirect::to(&format!("/workspaces/{}/members", opened.workspace.handle))
                .into_response(),
        ),
        Err(AccountError::Invalid(message)) => {
            members_view(
                &state,
                me,
                &opened,
                StatusCode::BAD_REQUEST,
                Some(capitalize(&message)),
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}
