//! Key verification: a well-formed key is looked up by its digest (in the cache, else in
//! the database) and checked for revocation and expiry.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use tokio::task::JoinHandle;

use super::cache::{KeyCache, VerifiedKey};
use super::revocation::RevocationFeed;
use super::usage::UsageRecorder;
use super::{AuthError, KeyCacheConfig, VerifyError};
use crate::keys::api_key::KeyStatus;
use crate::keys::secret::KeySecret;
use crate::store::{self, StoreError};

pub struct KeyVerifier {
    db: DatabaseConnection,
    usage: UsageRecorder,
    cache: Arc<KeyCache>,
    feed: Arc<RevocationFeed>,
    poll_interval: Duration,
}

impl KeyVerifier {
    /// A verifier whose cache is used only once [`KeyVerifier::spawn_revocation_watcher`]
    /// runs: without it nothing would evict revoked keys, so every request reads the database.
    pub fn new(
        db: DatabaseConnection,
        usage: UsageRecorder,
        config: &KeyCacheConfig,
    ) -> KeyVerifier {
        let cache = Arc::new(KeyCache::new(
            config.key_cache_capacity,
            config.key_cache_ttl,
            config.key_events_poll_interval * 2,
        ));
        KeyVerifier {
            feed: Arc::new(RevocationFeed::new(db.clone(), Arc::clone(&cache))),
            db,
            usage,
            cache,
            poll_interval: config.key_events_poll_interval,
        }
    }

    pub fn usage(&self) -> &UsageRecorder {
        &self.usage
    }

    /// Reads the revocation sequence once; from then on the cache is trusted for as long as
    /// the watcher keeps reading it.
    pub async fn sync_revocations(&self) -> Result<(), StoreError> {
        self.feed.sync().await
    }

    /// Follows the revocation sequence until the returned tasks are aborted.
    pub fn spawn_revocation_watcher(&self) -> Vec<JoinHandle<()>> {
        Arc::clone(&self.feed).spawn(self.poll_interval)
    }

    pub async fn verify(
        &self,
        secret: &KeySecret,
        now: DateTime<Utc>,
    ) -> Result<VerifiedKey, VerifyError> {
        let digest = secret.digest();
        let cached = self.cache.get(&digest, Instant::now());
        crate::metrics::get().key_cache_lookup(cached.is_some());
        if let Some(cached) = cached {
            // Expiry is a matter of time, not of an event: check it on every use.
            if cached.expires_at.is_some_and(|at| at <= now) {
                return Err(AuthError::ExpiredKey.into());
            }
            self.usage.record(&cached.principal.key_id, now);
            return Ok(cached);
        }
        let generation = self.cache.generation();
        let found = store::api_keys::find_key_by_digest(&self.db, digest)
            .await?
            .ok_or(AuthError::UnknownKey)?;
        match found.status(now) {
            KeyStatus::Revoked => return Err(AuthError::RevokedKey.into()),
            KeyStatus::Expired => return Err(AuthError::ExpiredKey.into()),
            KeyStatus::Active => {}
        }
        self.usage.record(&found.key.id, now);
        let verified = VerifiedKey::new(found);
        self.cache
            .insert(digest, verified.clone(), generation, Instant::now());
        Ok(verified)
    }

    /// Drops a key from this server's cache at once. Call it after revoking or rotating the
    /// key here; other servers learn of the change from the revocation sequence.
    pub fn forget(&self, key_id: &str) {
        self.cache.evict_key_id(key_id);
    }
}
