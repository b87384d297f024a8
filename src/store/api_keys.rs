//! API key rows and their secrets. A key keeps its id across rotations; each of its secrets
//! is a row of `api_key_secrets`. Only the SHA-256 digest of a secret is stored; the lookup
//! is by digest.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::StoreError;
use super::entity::{api_key, api_key_secret, workspace};
use crate::keys::api_key::{ApiKey, KeyBySecret};
use crate::keys::grant::{Grants, Permission, Role};
use crate::keys::metadata::KeyMetadata;
use crate::keys::object_limit::ObjectLimit;
use crate::keys::rate_limit::RateLimit;
use crate::keys::secret::{Environment, KeyDigest};
use crate::objects::handle::ObjectHandle;
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
    pub metadata: &'a KeyMetadata,
    pub objects: Option<&'a ObjectLimit>,
    pub rate_limit: Option<RateLimit>,
    pub created_by: &'a str,
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
    let metadata = serde_json::from_value(model.metadata)
        .map_err(|e| e.to_string())
        .and_then(KeyMetadata::new)
        .map_err(|e| StoreError::Corrupt(format!("key {}: metadata: {e}", model.id)))?;
    let objects = model
        .objects
        .map(|objects| {
            serde_json::from_value::<Vec<String>>(objects)
                .map_err(|e| e.to_string())?
                .iter()
                .map(|h| ObjectHandle::parse(h))
                .collect::<Result<Vec<_>, _>>()
                .and_then(ObjectLimit::new)
        })
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("key {}: objects: {e}", model.id)))?;
    let rate_limit = match (model.rate_limit_requests, model.rate_limit_window_secs) {
        (Some(requests), Some(window)) => Some(
            u32::try_from(requests)
                .ok()
                .zip(u32::try_from(window).ok())
                .ok_or_else(|| "negative".to_owned())
                .and_then(|(r, w)| RateLimit::new(r, w))
                .map_err(|e| StoreError::Corrupt(format!("key {}: rate limit: {e}", model.id)))?,
        ),
        _ => None,
    };
    Ok(ApiKey {
        metadata,
        objects,
        rate_limit,
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
        created_by: model.created_by,
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
        start: Set(row.start.to_owned()),
        role: Set(row.grants.role().map(|r| r.as_str().to_owned())),
        permissions: Set(permissions.join(" ")),
        environment: Set(row.environment.as_str().to_owned()),
        created_at: Set(row.created_at),
        updated_at: Set(row.created_at),
        expires_at: Set(row.expires_at),
        revoked_at: Set(None),
        last_used_at: Set(None),
        metadata: Set(serde_json::json!(row.metadata)),
        objects: Set(row.objects.map(|objects| serde_json::json!(objects))),
        rate_limit_requests: Set(row
            .rate_limit
            .and_then(|l| i32::try_from(l.requests()).ok())),
        rate_limit_window_secs: Set(row
            .rate_limit
            .and_then(|l| i32::try_from(l.window_secs()).ok())),
        created_by: Set(Some(row.created_by.to_owned())),
    }
    .insert(db)
    .await?;
    insert_key_secret(db, row.id, row.digest, row.created_at).await
}

/// Adds a secret to key `key_id`, without expiry: it works for as long as the key does.
pub async fn insert_key_secret(
    db: &impl ConnectionTrait,
    key_id: &str,
    digest: KeyDigest,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    api_key_secret::ActiveModel {
        key_hash: Set(digest.to_hex()),
        key_id: Set(key_id.to_owned()),
        created_at: Set(now),
        expires_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The key one of whose secrets has this digest, whatever its state; the caller decides
/// what state admits. One query: the secret, its key and the key's workspace.
pub async fn find_key_by_digest(
    db: &impl ConnectionTrait,
    digest: KeyDigest,
) -> Result<Option<KeyBySecret>, StoreError> {
    let found = api_key_secret::Entity::find_by_id(digest.to_hex())
        .find_also_related(api_key::Entity)
        .and_also_related(workspace::Entity)
        .one(db)
        .await?;
    match found {
        Some((secret, Some(key), Some(workspace))) => Ok(Some(KeyBySecret {
            key: to_domain(key, &workspace)?,
            secret_expires_at: secret.expires_at,
        })),
        Some((secret, _, _)) => Err(StoreError::Corrupt(format!(
            "the secret of key {} has no key or no workspace",
            secret.key_id
        ))),
        None => Ok(None),
    }
}

/// The digests of every secret of key `key_id`, expired or not: what a server's key cache
/// may hold the key by.
pub async fn find_key_digests(
    db: &impl ConnectionTrait,
    key_id: &str,
) -> Result<Vec<KeyDigest>, StoreError> {
    let hashes: Vec<String> = api_key_secret::Entity::find()
        .select_only()
        .column(api_key_secret::Column::KeyHash)
        .filter(api_key_secret::Column::KeyId.eq(key_id))
        .into_tuple()
        .all(db)
        .await?;
    hashes
        .iter()
        .map(|hash| {
            KeyDigest::from_hex(hash)
                .ok_or_else(|| StoreError::Corrupt(format!("key {key_id} has a bad digest")))
        })
        .collect()
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

/// Rotates key `id` to the secret `digest`: the secrets it has now stop working at
/// `grace_ends` (or earlier, if they already were to), and the new one becomes current.
pub async fn update_key_rotated(
    db: &impl ConnectionTrait,
    id: &str,
    digest: KeyDigest,
    start: &str,
    grace_ends: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    api_key_secret::Entity::update_many()
        .col_expr(
            api_key_secret::Column::ExpiresAt,
            Expr::value(Some(grace_ends)),
        )
        .filter(api_key_secret::Column::KeyId.eq(id))
        .filter(
            Condition::any()
                .add(api_key_secret::Column::ExpiresAt.is_null())
                .add(api_key_secret::Column::ExpiresAt.gt(grace_ends)),
        )
        .exec(db)
        .await?;
    insert_key_secret(db, id, digest, now).await?;
    api_key::ActiveModel {
        id: Set(id.to_owned()),
        start: Set(start.to_owned()),
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
            .col_expr(api_key::Column::LastUsedAt, Expr::value(*at))
            .filter(api_key::Column::Id.eq(id.as_str()))
            .exec(db)
            .await?;
    }
    Ok(())
}
