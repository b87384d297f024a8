//! The key lifecycle: create, list, revoke, rotate, for the CLI and the console alike.
//! The secret exists in memory only between its creation and the one response that hands
//! it over; what is stored is its digest.

use chrono::{DateTime, Duration, Utc};
use sea_orm::DatabaseConnection;

use super::api_key::{ApiKey, KeyStatus, NewKey};
use super::secret::KeySecret;
use crate::id::new_id;
use crate::store::api_keys::NewKeyRow;
use crate::store::key_events::KeyEventKind;
use crate::store::{self, StoreError};
use crate::workspace::{Workspace, parse_name};

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
    let id = new_id("key");
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
            metadata: &new.metadata,
            objects: new.objects.as_ref(),
            rate_limit: new.rate_limit,
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

/// Issues a new secret for the key, which keeps its id, grants and metadata, so policies
/// that name it keep applying. The secrets it had keep working for `grace`, then expire (at
/// once when `grace` is zero). Both changes land together or not at all.
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
    let key = store::api_keys::find_key(&txn, id)
        .await?
        .ok_or_else(|| KeyError::NotFound(id.to_owned()))?;
    match key.status(now) {
        KeyStatus::Revoked => return Err(KeyError::Revoked(id.to_owned())),
        KeyStatus::Expired => return Err(KeyError::Expired(id.to_owned())),
        KeyStatus::Active => {}
    }
    let secret = KeySecret::generate(key.environment);
    store::api_keys::update_key_rotated(
        &txn,
        id,
        secret.digest(),
        secret.start(),
        now + grace,
        now,
    )
    .await?;
    store::key_events::insert_key_event(&txn, id, KeyEventKind::Rotated, now).await?;
    let rotated = store::api_keys::find_key(&txn, id)
        .await?
        .ok_or_else(|| KeyError::NotFound(id.to_owned()))?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok((secret, rotated))
}
