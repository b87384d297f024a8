//! Workspaces and their members: the creator becomes an admin; admins add others.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use super::AccountError;
use super::password::normalize_email;
use super::user::{MemberRole, User};
use crate::store;
use crate::workspace::create::{WorkspaceError, create_workspace};
use crate::workspace::{Workspace, WorkspaceHandle};

/// Creates a workspace with `creator` as its admin.
pub async fn create_workspace_for(
    db: &DatabaseConnection,
    creator: &User,
    handle: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Workspace, WorkspaceError> {
    let handle = WorkspaceHandle::parse(handle.trim()).map_err(WorkspaceError::Invalid)?;
    let created = create_workspace(db, handle, name, now).await?;
    store::users::insert_membership(db, &created.id, &creator.id, MemberRole::Admin, now).await?;
    Ok(created)
}

/// Adds an existing account to a workspace.
pub async fn add_member(
    db: &DatabaseConnection,
    workspace: &Workspace,
    email: &str,
    role: MemberRole,
    now: DateTime<Utc>,
) -> Result<User, AccountError> {
    let email = normalize_email(email).map_err(AccountError::Invalid)?;
    let Some((user, _)) = store::users::find_user_credentials(db, &email).await? else {
        return Err(AccountError::Invalid(format!(
            "no account uses {email}; ask them to sign up first, then add them"
        )));
    };
    if store::users::find_membership(db, &workspace.id, &user.id)
        .await?
        .is_some()
    {
        return Err(AccountError::Invalid(format!(
            "{email} is already a member of {}",
            workspace.handle
        )));
    }
    store::users::insert_membership(db, &workspace.id, &user.id, role, now).await?;
    Ok(user)
}
