//! The verified-key cache: keys that passed verification, held in memory by digest for a
//! short lifetime, so a known key costs no database read.
//!
//! Security-sensitive: a cached key must never outlive its revocation by more than the
//! bound the service promises. Three rules keep it so:
//! - only verified, active keys are inserted; an unknown, revoked or expired key never is, so
//!   a flood of made-up keys cannot fill the cache or push known keys out;
//! - entries are trusted only while the revocation sequence was read recently
//!   ([`KeyCache::mark_synced`]); a server whose reads stall falls back to the database;
//! - an insert that raced with an eviction is dropped (the generation check), so a key read
//!   just before its revocation cannot be cached after the revocation was applied.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::keys::api_key::{ApiKey, KeyBySecret};
use crate::keys::secret::KeyDigest;
use crate::principal::KeyPrincipal;
use crate::ttl_cache::TtlCache;

/// A key as verified from the database by one of its secrets: who it is, its row as read
/// then (name, expiry, grants; a key's grants never change, and revoke and rotate evict
/// it), and when the presented secret stops working.
#[derive(Debug, Clone)]
pub struct VerifiedKey {
    pub principal: KeyPrincipal,
    pub key: Arc<ApiKey>,
    /// The key's expiry or the secret's (the end of its grace after a rotation), whichever
    /// comes first: checked on every use, since expiry is a matter of time, not of an event.
    pub expires_at: Option<DateTime<Utc>>,
}

impl VerifiedKey {
    pub fn new(found: KeyBySecret) -> VerifiedKey {
        VerifiedKey {
            principal: KeyPrincipal::from(&found.key),
            expires_at: found.expires_at(),
            key: Arc::new(found.key),
        }
    }
}

/// A bounded map from key digest to verified key.
#[derive(Debug)]
pub struct KeyCache {
    entries: TtlCache<KeyDigest, VerifiedKey>,
    max_staleness: Duration,
    epoch: Instant,
    /// Milliseconds from `epoch` to the start of the last successful read of the revocation
    /// sequence, plus one; 0 until the first one.
    synced_at: AtomicU64,
}

impl KeyCache {
    /// A cache of at most `capacity` keys, each kept for `ttl`, trusted only while the
    /// revocation sequence was read less than `max_staleness` ago. A zero capacity or
    /// lifetime turns it off.
    pub fn new(capacity: usize, ttl: Duration, max_staleness: Duration) -> KeyCache {
        KeyCache {
            entries: TtlCache::new(capacity, ttl),
            max_staleness,
            epoch: Instant::now(),
            synced_at: AtomicU64::new(0),
        }
    }

    fn millis(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether the revocation sequence was read recently enough to trust the entries.
    fn fresh(&self, now: Instant) -> bool {
        let synced = self.synced_at.load(Ordering::Acquire);
        synced != 0
            && self.millis(now).saturating_sub(synced - 1)
                < u64::try_from(self.max_staleness.as_millis()).unwrap_or(u64::MAX)
    }

    /// Records that a read of the revocation sequence that began at `started` has been applied.
    pub fn mark_synced(&self, started: Instant) {
        self.synced_at
            .fetch_max(self.millis(started) + 1, Ordering::AcqRel);
    }

    /// The cached key for `digest`, if it is there, young enough and trustworthy.
    pub fn get(&self, digest: &KeyDigest, now: Instant) -> Option<VerifiedKey> {
        if !self.fresh(now) {
            return None;
        }
        self.entries.get(digest, now)
    }

    /// The value to hand back to [`KeyCache::insert`] after reading a key from the database.
    pub fn generation(&self) -> u64 {
        self.entries.generation()
    }

    /// Caches a key verified from the database, unless an eviction happened since
    /// `generation` was taken (the key may have been revoked meanwhile). When full, any one
    /// entry is dropped: every entry is a live, verified key, read again on its next use.
    pub fn insert(&self, digest: KeyDigest, key: VerifiedKey, generation: u64, now: Instant) {
        self.entries.insert(digest, key, generation, now);
    }

    /// Drops the secrets with these digests (their key revoked or rotated elsewhere).
    pub fn evict(&self, digests: impl IntoIterator<Item = KeyDigest>) {
        self.entries.evict(digests);
    }

    /// Drops the key with this id, by whichever of its secrets it is held (revoked or rotated
    /// by this server).
    pub fn evict_key_id(&self, key_id: &str) {
        self.entries
            .evict_where(|verified| verified.principal.key_id == key_id);
    }

    /// Drops every key.
    pub fn clear(&self) {
        self.entries.clear();
    }
}

#[cfg(test)]
impl KeyCache {
    fn len(&self) -> usize {
        self.entries.held()
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::keys::grant::{Grants, Permission};
    use crate::keys::secret::{Environment, KeySecret};
    use crate::workspace::WorkspaceHandle;

    fn key(id: &str) -> (KeyDigest, VerifiedKey) {
        let secret = KeySecret::generate(Environment::Live);
        let now = Utc::now();
        let key = ApiKey {
            id: id.to_owned(),
            workspace_id: "ws_1".to_owned(),
            workspace_handle: WorkspaceHandle::parse("acme").unwrap(),
            name: "test".to_owned(),
            start: secret.start().to_owned(),
            grants: Grants::new(None, vec![Permission::ObjectsRead]).unwrap(),
            environment: Environment::Live,
            metadata: Default::default(),
            objects: None,
            rate_limit: None,
            created_by: None,
            created_at: now,
            updated_at: now,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        };
        (
            secret.digest(),
            VerifiedKey::new(KeyBySecret {
                key,
                secret_expires_at: None,
            }),
        )
    }

    fn synced_cache(capacity: usize) -> (KeyCache, Instant) {
        let cache = KeyCache::new(capacity, Duration::from_secs(30), Duration::from_secs(1));
        let now = Instant::now();
        cache.mark_synced(now);
        (cache, now)
    }

    #[test]
    fn entries_are_not_trusted_when_the_revocation_sequence_was_not_read_recently() {
        let cache = KeyCache::new(10, Duration::from_secs(30), Duration::from_secs(1));
        let now = Instant::now();
        let (digest, verified) = key("key_a");
        cache.insert(digest, verified, cache.generation(), now);
        assert!(cache.get(&digest, now).is_none(), "never synced");
        cache.mark_synced(now);
        assert!(cache.get(&digest, now).is_some(), "just synced");
        assert!(
            cache
                .get(&digest, now + Duration::from_millis(1500))
                .is_none(),
            "the last read is older than the staleness bound"
        );
    }

    #[test]
    fn eviction_by_digest_and_by_id_removes_the_key() {
        let (cache, now) = synced_cache(10);
        let (a, key_a) = key("key_a");
        let (b, key_b) = key("key_b");
        cache.insert(a, key_a, cache.generation(), now);
        cache.insert(b, key_b, cache.generation(), now);
        cache.evict([a]);
        assert!(cache.get(&a, now).is_none());
        cache.evict_key_id("key_b");
        assert!(cache.get(&b, now).is_none());
        assert_eq!(cache.len(), 0);
    }
}
