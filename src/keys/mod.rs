//! The key lifecycle: create, list, revoke, rotate. Used by the CLI (and the console).
//! The secret exists in memory only between its creation and the one response that hands
//! it over; what is stored is its digest.

mod duration;
mod grant;

use chrono::{DateTime, Duration, Utc};
use sea_orm::DatabaseConnection;
use serde::Serialize;

pub use duration::parse_duration;
pub use grant::{Grants, Permission, Role};

use crate::auth::{Environment, KeySecret, random_base62};
use crate::store::key_events::KeyEventKind;
use crate::store::{self, StoreError, api_keys::NewKeyRow};
use crate::workspace::{Workspace, WorkspaceHandle, parse_name};

/// A stored key (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub workspace_id: String,
    pub workspace_handle: WorkspaceHandle,
    pub name: String,
    pub start: String,
    pub grants: Grants,
    pub environment: Environment,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub rotated_to: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    Expired,
    Revoked,
}

impl ApiKey {
    pub fn status(&self, now: DateTime<Utc>) -> KeyStatus {
        if self.revoked_at.is_some() {
            KeyStatus::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now) {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        }
    }
}

/// A key as the API and the CLI show it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    pub start: String,
    pub workspace: String,
    pub workspace_id: String,
    pub role: Option<Role>,
    pub permissions: Vec<Permission>,
    pub environment: Environment,
    pub status: KeyStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub rotated_to: Option<String>,
}

impl ApiKeyView {
    pub fn new(key: &ApiKey, now: DateTime<Utc>) -> ApiKeyView {
        ApiKeyView {
            id: key.id.clone(),
            name: key.name.clone(),
            start: key.start.clone(),
            workspace: key.workspace_handle.to_string(),
            workspace_id: key.workspace_id.clone(),
            role: key.grants.role(),
            permissions: key.grants.permissions().to_vec(),
            environment: key.environment,
            status: key.status(now),
            created_at: key.created_at,
            updated_at: key.updated_at,
            expires_at: key.expires_at,
            last_used_at: key.last_used_at,
            revoked_at: key.revoked_at,
            rotated_to: key.rotated_to.clone(),
        }
    }
}

/// The answer to create and rotate: the secret, once, and the key's metadata.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedKey {
    pub key: String,
    pub api_key: ApiKeyView,
}

/// What a new key should be.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub name: String,
    pub grants: Grants,
    pub environment: Environment,
    pub expires_in: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Invalid(String),
    #[error("no key with id `{0}`")]
    NotFound(String),
    #[error("key `{0}` is revoked; a revoked key cannot be rotated, create a new one")]
    Revoked(String),
    #[error("key `{0}` has expired; an expired key cannot be rotated, create a new one")]
    Expired(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates a key in `workspace` and returns its secret, which is not stored.
pub async fn create_key(
    db: &DatabaseConnection,
    workspace: &Workspace,
    new: NewKey,
    now: DateTime<Utc>,
) -> Result<(KeySecret, ApiKey), KeyError> {
    let name = parse_name("the key name", &new.name).map_err(KeyError::Invalid)?;
    if new.expires_in.is_some_and(|d| d <= Duration::zero()) {
        return Err(KeyError::Invalid(
            "the expiry must be in the future".to_owned(),
        ));
    }
    let secret = KeySecret::generate(new.environment);
    let id = new_key_id();
    let txn = store::begin_write(db).await?;
    store::api_keys::insert_key(
        &txn,
        NewKeyRow {
            id: &id,
            workspace_id: &workspace.id,
            name: &name,
            digest: secret.digest(),
            start: secret.start(),
            grants: &new.grants,
            environment: new.environment,
            created_at: now,
            expires_at: new.expires_in.map(|d| now + d),
        },
    )
    .await?;
    let key = store::api_keys::find_key(&txn, &id)
        .await?
        .ok_or_else(|| KeyError::NotFound(id.clone()))?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok((secret, key))
}

pub async fn list_keys(
    db: &DatabaseConnection,
    workspace: &Workspace,
) -> Result<Vec<ApiKey>, KeyError> {
    Ok(store::api_keys::find_keys_in_workspace(db, &workspace.id).await?)
}

/// Revokes a key at once. Revoking a revoked key changes nothing.
pub async fn revoke_key(
    db: &DatabaseConnection,
    id: &str,
    now: DateTime<Utc>,
) -> Result<ApiKey, KeyError> {
    // The revocation and its event commit together, so no server can miss it.
    let txn = store::begin_write(db).await?;
    let key = store::api_keys::find_key(&txn, id)
        .await?
        .ok_or_else(|| KeyError::NotFound(id.to_owned()))?;
    if key.revoked_at.is_none() {
        store::api_keys::update_key_revoked(&txn, id, now).await?;
        store::key_events::insert_key_event(&txn, id, KeyEventKind::Revoked, now).await?;
    }
    let key = store::api_keys::find_key(&txn, id)
        .await?
        .ok_or_else(|| KeyError::NotFound(id.to_owned()))?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(key)
}

/// Issues a new secret with the same grants; the old key keeps working for `grace`, then
/// expires (at once when `grace` is zero). Both changes land together or not at all.
pub async fn rotate_key(
    db: &DatabaseConnection,
    id: &str,
    grace: Duration,
    now: DateTime<Utc>,
) -> Result<(KeySecret, ApiKey), KeyError> {
    if grace < Duration::zero() {
        return Err(KeyError::Invalid(
            "the grace period cannot be negative".to_owned(),
        ));
    }
    let txn = store::begin_write(db).await?;
    let old = store::api_keys::find_key(&txn, id)
        .await?
        .ok_or_else(|| KeyError::NotFound(id.to_owned()))?;
    match old.status(now) {
        KeyStatus::Revoked => return Err(KeyError::Revoked(id.to_owned())),
        KeyStatus::Expired => return Err(KeyError::Expired(id.to_owned())),
        KeyStatus::Active => {}
    }
    let secret = KeySecret::generate(old.environment);
    let new_id = new_key_id();
    store::api_keys::insert_key(
        &txn,
        NewKeyRow {
            id: &new_id,
            workspace_id: &old.workspace_id,
            name: &old.name,
            digest: secret.digest(),
            start: secret.start(),
            grants: &old.grants,
            environment: old.environment,
            created_at: now,
            expires_at: old.expires_at,
        },
    )
    .await?;
    let grace_ends = old.expires_at.map_or(now + grace, |at| at.min(now + grace));
    store::api_keys::update_key_rotated(&txn, id, &new_id, grace_ends, now).await?;
    store::key_events::insert_key_event(&txn, id, KeyEventKind::Rotated, now).await?;
    let new = store::api_keys::find_key(&txn, &new_id)
        .await?
        .ok_or_else(|| KeyError::NotFound(new_id.clone()))?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok((secret, new))
}

fn new_key_id() -> String {
    format!("key_{}", random_base62(22))
}
