//! An API key as stored and shown: metadata, grants and status, never the secret.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::grant::{Grants, Permission, Role};
use super::metadata::KeyMetadata;
use super::object_limit::ObjectLimit;
use super::rate_limit::RateLimit;
use super::secret::Environment;
use crate::workspace::WorkspaceHandle;

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
    pub metadata: KeyMetadata,
    /// The objects the key may act on; `None` for every object.
    pub objects: Option<ObjectLimit>,
    pub rate_limit: Option<RateLimit>,
    /// Who created it (see [`crate::keys::lifecycle::Actor`]); `None` for keys older than
    /// that record.
    pub created_by: Option<String>,
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

/// A key as found by one of its secrets: the key, and when that secret stops working. A
/// secret gets an expiry when the key is rotated away from it (the end of the grace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBySecret {
    pub key: ApiKey,
    pub secret_expires_at: Option<DateTime<Utc>>,
}

impl KeyBySecret {
    /// When a request with this secret stops being accepted: the key's expiry or the
    /// secret's, whichever comes first.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        match (self.key.expires_at, self.secret_expires_at) {
            (Some(key), Some(secret)) => Some(key.min(secret)),
            (key, secret) => key.or(secret),
        }
    }

    /// The key's status as this secret presents it: a secret past its grace is expired.
    pub fn status(&self, now: DateTime<Utc>) -> KeyStatus {
        match self.key.status(now) {
            KeyStatus::Active if self.expires_at().is_some_and(|at| at <= now) => {
                KeyStatus::Expired
            }
            status => status,
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
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    pub last_used_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    pub revoked_at: Option<DateTime<Utc>>,
    pub metadata: KeyMetadata,
    /// The object handles the key is limited to; absent for a key that may use every object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objects: Option<ObjectLimit>,
    /// `{requests, windowSecs}`; absent for a key without a rate limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// Who created the key: a console user's id (`usr_…`) or `cli:` and the operating-system
    /// user; `null` for keys created before creators were recorded.
    pub created_by: Option<String>,
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
            metadata: key.metadata.clone(),
            objects: key.objects.clone(),
            rate_limit: key.rate_limit,
            created_by: key.created_by.clone(),
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
    pub metadata: KeyMetadata,
    pub objects: Option<ObjectLimit>,
    pub rate_limit: Option<RateLimit>,
}
