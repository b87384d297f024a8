//! API key rows. Only the SHA-256 digest of a key is stored; the lookup is by digest.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

use super::StoreError;
use super::entity::{api_key, workspace};
use crate::keys::api_key::ApiKey;
use crate::keys::grant::{Grants, Permission, Role};
use crate::keys::secret::{Environment, KeyDigest};
use crate::workspace::WorkspaceHandle;

/// What is stored for a new key.
pub struct NewKeyRow<'a> {
    pub id: &'a str,
    pub workspace_id: &'a str,
    pub name: &'a str,
    pub digest: KeyDigest,
    pub start: &'a str,
    pub grants: &'a Grants,
    pub environment: Environment,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

fn to_domain(model: api_key::Model, workspace: &workspace::Model) -> Result<ApiKey, StoreError> {
    let role = model
        .role
        .as_deref()
        .map(str::parse::<Role>)
        .transpose()
        .map_err(StoreError::Corrupt)?;
    let permissions = model
        .permissions
        .split_whitespace()
        .map(str::parse::<Permission>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(StoreError::Corrupt)?;
    Ok(ApiKey {
        grants: Grants::new(role, permissions).map_err(StoreError::Corrupt)?,
        environment: model.environment.parse().map_err(StoreError::Corrupt)?,
        workspace_handle: WorkspaceHandle::parse(&workspace.handle).map_err(StoreError::Corrupt)?,
        id: model.id,
        workspace_id: model.workspace_id,
        name: model.name,
        start: model.start,
        created_at: model.created_at,
        updated_at: model.updated_at,
        expires_at: model.expires_at,
        revoked_at: model.revoked_at,
        last_used_at: model.last_used_at,
        rotated_to: model.rotated_to,
    })
}

pub async fn insert_key(db: &impl ConnectionTrait, row: NewKeyRow<'_>) -> Result<(), StoreError> {
    let permissions: Vec<&str> = row
        .grants
        .permissions()
        .iter()
        .map(|p| p.as_str())
        .collect();
    api_key::ActiveModel {
        id: Set(row.id.to_owned()),
        workspace_id: Set(row.workspace_id.to_owned()),
        name: Set(row.name.to_owned()),
        key_hash: Set(row.digest.to_hex()),
        start: Set(row.start.to_owned()),
        role: Set(row.grants.role().map(|r| r.as_str().to_owned())),
        permissions: Set(permissions.join(" ")),
        environment: Set(row.environment.as_str().to_owned()),
        created_at: Set(row.created_at),
        updated_at: Set(row.created_at),
        expires_at: Set(row.expires_at),
        revoked_at: Set(None),
        last_used_at: Set(None),
        rotated_to: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The key with this digest, whatever its state; the caller decides what state admits.
pub async fn find_key_by_digest(
    db: &impl ConnectionTrait,
    digest: KeyDigest,
) -> Result<Option<ApiKey>, StoreError> {
    let found = api_key::Entity::find()
        .filter(api_key::Column::KeyHash.eq(digest.to_hex()))
        .find_also_related(workspace::Entity)
        .one(db)
        .await?;
    match found {
        Some((key, Some(workspace))) => Ok(Some(to_domain(key, &workspace)?)),
        Some((key, None)) => Err(StoreError::Corrupt(format!(
            "key {} has no workspace",
            key.id
        ))),
        None => Ok(None),
    }
}

pub async fn find_key(db: &impl ConnectionTrait, id: &str) -> Result<Option<ApiKey>, StoreError> {
    let found = api_key::Entity::find_by_id(id.to_owned())
        .find_also_related(workspace::Entity)
        .one(db)
        .await?;
    match found {
        Some((key, Some(workspace))) => Ok(Some(to_domain(key, &workspace)?)),
        Some((key, None)) => Err(StoreError::Corrupt(format!(
            "key {} has no workspace",
            key.id
        ))),
        None => Ok(None),
    }
}

pub async fn find_keys_in_workspace(
    db: &impl ConnectionTrait,
    workspace_id: &str,
) -> Result<Vec<ApiKey>, StoreError> {
    api_key::Entity::find()
        .filter(api_key::Column::WorkspaceId.eq(workspace_id))
        .find_also_related(workspace::Entity)
        .order_by_asc(api_key::Column::CreatedAt)
        .order_by_asc(api_key::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|(key, workspace)| match workspace {
            Some(workspace) => to_domain(key, &workspace),
            None => Err(StoreError::Corrupt(format!(
                "key {} has no workspace",
                key.id
            ))),
        })
        .collect()
}

pub async fn update_key_revoked(
    db: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    api_key::ActiveModel {
        id: Set(id.to_owned()),
        revoked_at: Set(Some(now)),
        updated_at: Set(now),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// Marks a key as replaced by `rotated_to`, expiring at `expires_at`.
pub async fn update_key_rotated(
    db: &impl ConnectionTrait,
    id: &str,
    rotated_to: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    api_key::ActiveModel {
        id: Set(id.to_owned()),
        rotated_to: Set(Some(rotated_to.to_owned())),
        expires_at: Set(Some(expires_at)),
        updated_at: Set(now),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

pub async fn update_keys_last_used(
    db: &impl ConnectionTrait,
    uses: &[(String, DateTime<Utc>)],
) -> Result<(), StoreError> {
    for (id, at) in uses {
        api_key::Entity::update_many()
            .col_expr(
                api_key::Column::LastUsedAt,
                sea_orm::sea_query::Expr::value(*at),
            )
            .filter(api_key::Column::Id.eq(id.as_str()))
            .exec(db)
            .await?;
    }
    Ok(())
}
