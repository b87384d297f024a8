//! Console rows: users, their sessions, their workspace memberships and invitations, and
//! sign-in and sign-up attempts. Sessions are looked up by the digest of the cookie value, never the value.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder,
};

use super::StoreError;
use super::entity::{invitation, login_attempt, membership, session, user, workspace};
use crate::account::user::{MemberRole, Session, User};
use crate::workspace::{Workspace, WorkspaceHandle};

fn user_to_domain(model: user::Model) -> User {
    User {
        id: model.id,
        email: model.email,
        created_at: model.created_at,
    }
}

fn role_of(stored: &str) -> Result<MemberRole, StoreError> {
    stored.parse().map_err(StoreError::Corrupt)
}

pub async fn insert_user(
    db: &impl ConnectionTrait,
    id: &str,
    email: &str,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<User, StoreError> {
    let model = user::ActiveModel {
        id: Set(id.to_owned()),
        email: Set(email.to_owned()),
        password_hash: Set(password_hash.to_owned()),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(user_to_domain(model))
}

/// The user with `email` (already normalized) and their password hash.
pub async fn find_user_credentials(
    db: &impl ConnectionTrait,
    email: &str,
) -> Result<Option<(User, String)>, StoreError> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(db)
        .await?
        .map(|model| {
            let hash = model.password_hash.clone();
            (user_to_domain(model), hash)
        }))
}

pub async fn count_users(db: &impl ConnectionTrait) -> Result<u64, StoreError> {
    Ok(user::Entity::find().count(db).await?)
}

pub async fn insert_session(
    db: &impl ConnectionTrait,
    digest: &str,
    user_id: &str,
    csrf_token: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    session::ActiveModel {
        id: Set(digest.to_owned()),
        user_id: Set(user_id.to_owned()),
        csrf_token: Set(csrf_token.to_owned()),
        created_at: Set(now),
        expires_at: Set(expires_at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The live session with this digest, and its user.
pub async fn find_session(
    db: &impl ConnectionTrait,
    digest: &str,
    now: DateTime<Utc>,
) -> Result<Option<(Session, User)>, StoreError> {
    let Some(found) = session::Entity::find_by_id(digest.to_owned())
        .filter(session::Column::ExpiresAt.gt(now))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let Some(owner) = user::Entity::find_by_id(found.user_id.clone())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some((
        Session {
            csrf_token: found.csrf_token,
            expires_at: found.expires_at,
        },
        user_to_domain(owner),
    )))
}

pub async fn delete_session(db: &impl ConnectionTrait, digest: &str) -> Result<(), StoreError> {
    session::Entity::delete_by_id(digest.to_owned())
        .exec(db)
        .await?;
    Ok(())
}

pub async fn insert_membership(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    user_id: &str,
    role: MemberRole,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    membership::ActiveModel {
        workspace_id: Set(workspace_id.to_owned()),
        user_id: Set(user_id.to_owned()),
        role: Set(role.as_str().to_owned()),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Makes the user a member as `role` unless they are one already (whatever their role).
pub async fn insert_membership_unless_member(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    user_id: &str,
    role: MemberRole,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    membership::Entity::insert(membership::ActiveModel {
        workspace_id: Set(workspace_id.to_owned()),
        user_id: Set(user_id.to_owned()),
        role: Set(role.as_str().to_owned()),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([membership::Column::WorkspaceId, membership::Column::UserId])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The user's role in one workspace; `None` when they are not a member.
pub async fn find_membership(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    user_id: &str,
) -> Result<Option<MemberRole>, StoreError> {
    membership::Entity::find_by_id((workspace_id.to_owned(), user_id.to_owned()))
        .one(db)
        .await?
        .map(|m| role_of(&m.role))
        .transpose()
}

/// The workspaces a user belongs to, by handle, with their role in each.
pub async fn find_workspaces_of_user(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Vec<(Workspace, MemberRole)>, StoreError> {
    let memberships = membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .all(db)
        .await?;
    let ids: Vec<String> = memberships.iter().map(|m| m.workspace_id.clone()).collect();
    let workspaces = workspace::Entity::find()
        .filter(workspace::Column::Id.is_in(ids))
        .order_by_asc(workspace::Column::Handle)
        .all(db)
        .await?;
    workspaces
        .into_iter()
        .filter_map(|w| {
            let role = memberships.iter().find(|m| m.workspace_id == w.id)?;
            Some((w, role.role.clone()))
        })
        .map(|(w, role)| {
            Ok((
                Workspace {
                    handle: WorkspaceHandle::parse(&w.handle).map_err(StoreError::Corrupt)?,
                    id: w.id,
                    name: w.name,
                    created_at: w.created_at,
                },
                role_of(&role)?,
            ))
        })
        .collect()
}

/// A workspace's members, admins first, then by email.
pub async fn find_members(
    db: &impl ConnectionTrait,
    workspace_id: &str,
) -> Result<Vec<(User, MemberRole)>, StoreError> {
    let memberships = membership::Entity::find()
        .filter(membership::Column::WorkspaceId.eq(workspace_id))
        .all(db)
        .await?;
    let ids: Vec<String> = memberships.iter().map(|m| m.user_id.clone()).collect();
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .order_by_asc(user::Column::Email)
        .all(db)
        .await?;
    let mut members = Vec::with_capacity(users.len());
    for u in users {
        if let Some(m) = memberships.iter().find(|m| m.user_id == u.id) {
            members.push((user_to_domain(u), role_of(&m.role)?));
        }
    }
    members.sort_by_key(|(_, role)| *role != MemberRole::Admin);
    Ok(members)
}

/// Records an attempt (sign-in or sign-up) by `subject`; the new row's id.
pub async fn insert_login_attempt(
    db: &impl ConnectionTrait,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let model = login_attempt::ActiveModel {
        subject: Set(subject.to_owned()),
        attempted_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(model.id)
}

/// Attempts by `subject` since `since`, and the oldest of them.
pub async fn find_login_attempts(
    db: &impl ConnectionTrait,
    subject: &str,
    since: DateTime<Utc>,
) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
    let attempts = login_attempt::Entity::find()
        .filter(login_attempt::Column::Subject.eq(subject))
        .filter(login_attempt::Column::AttemptedAt.gt(since))
        .order_by_asc(login_attempt::Column::AttemptedAt)
        .all(db)
        .await?;
    Ok((
        attempts.len() as u64,
        attempts.first().map(|a| a.attempted_at),
    ))
}

/// Forgets a subject's failed attempts, and every attempt older than `before`.
pub async fn delete_login_attempts(
    db: &impl ConnectionTrait,
    subject: &str,
    before: DateTime<Utc>,
) -> Result<(), StoreError> {
    login_attempt::Entity::delete_many()
        .filter(
            Condition::any()
                .add(login_attempt::Column::Subject.eq(subject))
                .add(login_attempt::Column::AttemptedAt.lte(before)),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// How many of `subject`'s attempts since `since` are numbered `id` or lower.
pub async fn count_login_attempts_through(
    db: &impl ConnectionTrait,
    subject: &str,
    since: DateTime<Utc>,
    id: i64,
) -> Result<u64, StoreError> {
    Ok(login_attempt::Entity::find()
        .filter(login_attempt::Column::Subject.eq(subject))
        .filter(login_attempt::Column::AttemptedAt.gt(since))
        .filter(login_attempt::Column::Id.lte(id))
        .count(db)
        .await?)
}

/// Takes back the attempts with these ids.
pub async fn delete_login_attempts_with_ids(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    login_attempt::Entity::delete_many()
        .filter(login_attempt::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

/// Invites `email` into a workspace as `role`; inviting it again replaces the role.
pub async fn upsert_invitation(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    email: &str,
    role: MemberRole,
    invited_by: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    invitation::Entity::insert(invitation::ActiveModel {
        workspace_id: Set(workspace_id.to_owned()),
        email: Set(email.to_owned()),
        role: Set(role.as_str().to_owned()),
        invited_by: Set(invited_by.to_owned()),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([invitation::Column::WorkspaceId, invitation::Column::Email])
            .update_columns([
                invitation::Column::Role,
                invitation::Column::InvitedBy,
                invitation::Column::CreatedAt,
            ])
            .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

/// A workspace's open invitations: email, role and when, oldest first.
pub async fn find_invitations(
    db: &impl ConnectionTrait,
    workspace_id: &str,
) -> Result<Vec<(String, MemberRole, DateTime<Utc>)>, StoreError> {
    invitation::Entity::find()
        .filter(invitation::Column::WorkspaceId.eq(workspace_id))
        .order_by_asc(invitation::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|i| Ok((i.email, role_of(&i.role)?, i.created_at)))
        .collect()
}

/// The workspaces `email` is invited to, with the role of each.
pub async fn find_invitations_for_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> Result<Vec<(String, MemberRole)>, StoreError> {
    invitation::Entity::find()
        .filter(invitation::Column::Email.eq(email))
        .all(db)
        .await?
        .into_iter()
        .map(|i| Ok((i.workspace_id, role_of(&i.role)?)))
        .collect()
}

pub async fn delete_invitation(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    email: &str,
) -> Result<(), StoreError> {
    invitation::Entity::delete_by_id((workspace_id.to_owned(), email.to_owned()))
        .exec(db)
        .await?;
    Ok(())
}
