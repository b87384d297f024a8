//! Who may do what in the account's workspaces: loads a user's membership of the workspace a
//! request is about and puts the action to Cedar.

use sea_orm::DatabaseConnection;

use super::user::{MemberRole, User};
use crate::authz::{Action, Authz, RequestContext, Resource, UserAuthzError};
use crate::principal::UserPrincipal;
use crate::store::{self, StoreError};
use crate::workspace::{Workspace, WorkspaceHandle};

/// A workspace the signed-in user is a member of.
pub struct WorkspaceAccess {
    pub workspace: Workspace,
    pub role: MemberRole,
    pub principal: UserPrincipal,
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// No such workspace or key, or the user is not a member: the two look alike.
    #[error("no such workspace or key among yours")]
    NotFound,
    #[error("{0}")]
    Denied(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

/// The principal of a user acting on no workspace.
pub fn console_principal(user: &User) -> UserPrincipal {
    UserPrincipal {
        id: user.id.clone(),
        email: user.email.clone(),
        member_of: Vec::new(),
        admin_of: Vec::new(),
    }
}

/// Opens workspace `handle` for `user`, or `NotFound` when they are no member.
pub async fn open_workspace(
    db: &DatabaseConnection,
    user: &User,
    handle: &str,
) -> Result<WorkspaceAccess, AccessError> {
    let handle = WorkspaceHandle::parse(handle).map_err(|_| AccessError::NotFound)?;
    let workspace = store::workspaces::find_workspace_by_handle(db, &handle)
        .await?
        .ok_or(AccessError::NotFound)?;
    let role = store::users::find_membership(db, &workspace.id, &user.id)
        .await?
        .ok_or(AccessError::NotFound)?;
    let mut principal = console_principal(user);
    principal.member_of.push(workspace.id.clone());
    if role == MemberRole::Admin {
        principal.admin_of.push(workspace.id.clone());
    }
    Ok(WorkspaceAccess {
        workspace,
        role,
        principal,
    })
}

/// Asks Cedar; a denial says what the user lacks.
pub fn decide(
    authz: &Authz,
    context: &RequestContext,
    principal: &UserPrincipal,
    action: Action,
    resource: &Resource,
) -> Result<(), AccessError> {
    authz
        .authorize_user(principal, action, resource, context)
        .map_err(|error| match error {
            UserAuthzError::Denied(action) => AccessError::Denied(denial_message(action)),
            UserAuthzError::Internal(message) => AccessError::Internal(message),
        })
}

fn denial_message(action: Action) -> String {
    let what = match action {
        Action::CreateApiKey => "create API keys",
        Action::RevokeApiKey => "revoke API keys",
        Action::RotateApiKey => "rotate API keys",
        Action::AddMember => "add members",
        _ => return format!("a policy denies `{}` to you", action.as_str()),
    };
    format!(
        "only admins of this workspace can {what}; ask an admin to do it or to make you an admin"
    )
}
