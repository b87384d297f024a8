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

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::{KeyDigest, Principal};

/// A key as verified from the database: who it is and when it stops working.
#[derive(Debug, Clone)]
pub struct VerifiedKey {
    pub principal: Principal,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug)]
struct Entry {
    key: VerifiedKey,
    cached_at: Instant,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<KeyDigest, Entry>,
    /// Bumped by every eviction; an insert carries the value it saw before its database read.
    generation: u64,
}

/// A bounded map from key digest to verified key.
#[derive(Debug)]
pub struct KeyCache {
    entries: RwLock<Entries>,
    capacity: usize,
    ttl: Duration,
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
            entries: RwLock::new(Entries::default()),
            capacity,
            ttl,
            max_staleness,
            epoch: Instant::now(),
            synced_at: AtomicU64::new(0),
        }
    }

    fn enabled(&self) -> bool {
        self.capacity > 0 && !self.ttl.is_zero()
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
        if !self.enabled() || !self.fresh(now) {
            return None;
        }
        let entries = self.entries.read().ok()?;
        let entry = entries.map.get(digest)?;
        (now.saturating_duration_since(entry.cached_at) < self.ttl).then(|| entry.key.clone())
    }

    /// The value to hand back to [`KeyCache::insert`] after reading a key from the database.
    pub fn generation(&self) -> u64 {
        self.entries.read().map_or(u64::MAX, |e| e.generation)
    }

    /// Caches a key verified from the database, unless an eviction happened since
    /// `generation` was taken (the key may have been revoked meanwhile).
    pub fn insert(&self, digest: KeyDigest, key: VerifiedKey, generation: u64, now: Instant) {
        if !self.enabled() {
            return;
        }
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.generation != generation {
            return;
        }
        if entries.map.len() >= self.capacity && !entries.map.contains_key(&digest) {
            let ttl = self.ttl;
            entries
                .map
                .retain(|_, e| now.saturating_duration_since(e.cached_at) < ttl);
            if entries.map.len() >= self.capacity {
                // Every entry is a live, verified key: drop any one of them; it is read
                // again on its next use.
                let victim = entries.map.keys().next().copied();
                if let Some(victim) = victim {
                    entries.map.remove(&victim);
                }
            }
        }
        entries.map.insert(
            digest,
            Entry {
                key,
                cached_at: now,
            },
        );
    }

    /// Drops the keys with these digests (revoked or rotated elsewhere).
    pub fn evict(&self, digests: impl IntoIterator<Item = KeyDigest>) {
        if let Ok(mut entries) = self.entries.write() {
            for digest in digests {
                entries.map.remove(&digest);
            }
            entries.generation += 1;
        }
    }

    /// Drops the key with this id (revoked or rotated by this server).
    pub fn evict_key_id(&self, key_id: &str) {
        if let Ok(mut entries) = self.entries.write() {
            entries.map.retain(|_, e| e.key.principal.key_id != key_id);
            entries.generation += 1;
        }
    }

    /// Drops every key.
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.map.clear();
            entries.generation += 1;
        }
    }
}

#[cfg(test)]
impl KeyCache {
    fn len(&self) -> usize {
        self.entries.read().map_or(0, |e| e.map.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Environment, KeySecret, WorkspaceRef};

    fn key(id: &str) -> (KeyDigest, VerifiedKey) {
        let secret = KeySecret::generate(Environment::Live);
        let principal = Principal {
            key_id: id.to_owned(),
            workspace: WorkspaceRef {
                id: "ws_1".to_owned(),
                handle: "acme".to_owned(),
            },
            role: None,
            permissions: vec![],
            environment: Environment::Live,
        };
        (
            secret.digest(),
            VerifiedKey {
                principal,
                expires_at: None,
            },
        )
    }

    fn synced_cache(capacity: usize) -> (KeyCache, Instant) {
        let cache = KeyCache::new(capacity, Duration::from_secs(30), Duration::from_secs(1));
        let now = Instant::now();
        cache.mark_synced(now);
        (cache, now)
    }

    #[test]
    fn a_cached_key_is_found_until_its_lifetime_ends() {
        let (cache, now) = synced_cache(10);
        let (digest, verified) = key("key_a");
        cache.insert(digest, verified, cache.generation(), now);
        assert!(cache.get(&digest, now).is_some());
        cache.mark_synced(now + Duration::from_secs(31));
        assert!(cache.get(&digest, now + Duration::from_secs(31)).is_none());
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
    fn an_insert_that_raced_with_an_eviction_is_dropped() {
        let (cache, now) = synced_cache(10);
        let (digest, verified) = key("key_a");
        let before_read = cache.generation();
        cache.evict([digest]);
        cache.insert(digest, verified, before_read, now);
        assert!(cache.get(&digest, now).is_none());
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

    #[test]
    fn the_cache_never_holds_more_than_its_capacity() {
        let (cache, now) = synced_cache(3);
        for i in 0..10 {
            let (digest, verified) = key(&format!("key_{i}"));
            cache.insert(digest, verified, cache.generation(), now);
        }
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn a_zero_capacity_turns_the_cache_off() {
        let (cache, now) = synced_cache(0);
        let (digest, verified) = key("key_a");
        cache.insert(digest, verified, cache.generation(), now);
        assert!(cache.get(&digest, now).is_none());
    }
}
