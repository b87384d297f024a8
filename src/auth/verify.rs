//! Key verification: a well-formed key is looked up by its digest and checked for
//! revocation and expiry.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use super::{AuthError, KeySecret, Principal, UsageRecorder, WorkspaceRef};
use crate::error::ApiError;
use crate::keys::KeyStatus;
use crate::store;

pub struct KeyVerifier {
    db: DatabaseConnection,
    usage: UsageRecorder,
}

impl KeyVerifier {
    pub fn new(db: DatabaseConnection, usage: UsageRecorder) -> KeyVerifier {
        KeyVerifier { db, usage }
    }

    pub fn usage(&self) -> &UsageRecorder {
        &self.usage
    }

    pub async fn verify(
        &self,
        secret: &KeySecret,
        now: DateTime<Utc>,
    ) -> Result<Principal, ApiError> {
        let key = store::api_keys::find_key_by_digest(&self.db, secret.digest())
            .await?
            .ok_or(AuthError::UnknownKey)?;
        match key.status(now) {
            KeyStatus::Revoked => return Err(AuthError::RevokedKey.into()),
            KeyStatus::Expired => return Err(AuthError::ExpiredKey.into()),
            KeyStatus::Active => {}
        }
        self.usage.record(&key.id, now);
        Ok(Principal {
            key_id: key.id,
            workspace: WorkspaceRef {
                id: key.workspace_id,
                handle: key.workspace_handle.to_string(),
            },
            role: key.grants.role(),
            permissions: key.grants.permissions().to_vec(),
            environment: key.environment,
        })
    }
}
