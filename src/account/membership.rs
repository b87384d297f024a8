//! Workspaces and their members: the creator becomes an admin; admins add others.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use super::AccountError;
use super::password::normalize_email;
use super::user::{MemberRole, User};
use crate::store::{self, StoreError};
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

/// Invites `email` into a workspace as `role`. The answer is the same whether or not an
/// account uses the email, so the members form tells no one who has an account: the person
/// becomes a member the next time they use the console signed in with that email, signing
/// up first if they must ([`accept_invitations`]).
pub async fn add_member(
    db: &DatabaseConnection,
    workspace: &Workspace,
    inviter: &User,
    email: &str,
    role: MemberRole,
    now: DateTime<Utc>,
) -> Result<(), AccountError> {
    let email = normalize_email(email).map_err(AccountError::Invalid)?;
    // The member list is the admin's to see already, so refusing a member says nothing new.
    let members = store::users::find_members(db, &workspace.id).await?;
    if members.iter().any(|(member, _)| member.email == email) {
        return Err(AccountError::Invalid(format!(
            "{email} is already a member of {}",
            workspace.handle
        )));
    }
    store::users::upsert_invitation(db, &workspace.id, &email, role, &inviter.id, now).await?;
    Ok(())
}

/// Turns the invitations of `user`'s email into memberships, in one transaction. Called
/// for every signed-in console request, so an invitation takes effect on the invitee's
/// next page.
pub async fn accept_invitations(
    db: &DatabaseConnection,
    user: &User,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let invitations = store::users::find_invitations_for_email(db, &user.email).await?;
    if invitations.is_empty() {
        return Ok(());
    }
    let txn = store::begin_write(db).await?;
    // Two requests of one person may accept at once; the second finds the membership made.
    for (workspace_id, role) in invitations {
        store::users::insert_membership_unless_member(&txn, &workspace_id, &user.id, role, now)
            .await?;
        store::users::delete_invitation(&txn, &workspace_id, &user.email).await?;
    }
    txn.commit().await?;
    Ok(())
}
