//! A bounded in-memory map whose entries live for a fixed time, for values read from the
//! database that the hot path should not read again on every request (verified keys, a
//! workspace's definitions).
//!
//! An insert that raced with an eviction is dropped: a reader takes [`TtlCache::generation`]
//! before its database read and hands it back to [`TtlCache::insert`]; every eviction bumps
//! the generation, so a value read before a change was committed and evicted can never be
//! cached after it.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Entry<V> {
    value: V,
    cached_at: Instant,
}

#[derive(Debug)]
struct Entries<K, V> {
    map: HashMap<K, Entry<V>>,
    generation: u64,
}

#[derive(Debug)]
pub struct TtlCache<K, V> {
    entries: RwLock<Entries<K, V>>,
    capacity: usize,
    ttl: Duration,
}

impl<K: Hash + Eq + Clone, V: Clone> TtlCache<K, V> {
    /// At most `capacity` entries, each kept for `ttl`. A zero capacity or lifetime turns
    /// the cache off: nothing is kept.
    pub fn new(capacity: usize, ttl: Duration) -> TtlCache<K, V> {
        TtlCache {
            entries: RwLock::new(Entries {
                map: HashMap::new(),
                generation: 0,
            }),
            capacity,
            ttl,
        }
    }

    fn enabled(&self) -> bool {
        self.capacity > 0 && !self.ttl.is_zero()
    }

    /// The value for `key`, if it is there and young enough.
    pub fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q, now: Instant) -> Option<V>
    where
        K: Borrow<Q>,
    {
        if !self.enabled() {
            return None;
        }
        let entries = self.entries.read().ok()?;
        let entry = entries.map.get(key)?;
        (now.saturating_duration_since(entry.cached_at) < self.ttl).then(|| entry.value.clone())
    }

    /// The value to hand back to [`TtlCache::insert`] after reading from the database.
    pub fn generation(&self) -> u64 {
        self.entries.read().map_or(u64::MAX, |e| e.generation)
    }

    /// Caches a value read from the database, unless an eviction happened since
    /// `generation` was taken (the value may have changed meanwhile). When full, expired
    /// entries go first, then any one entry: it is read again on its next use.
    pub fn insert(&self, key: K, value: V, generation: u64, now: Instant) {
        if !self.enabled() {
            return;
        }
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.generation != generation {
            return;
        }
        if entries.map.len() >= self.capacity && !entries.map.contains_key(&key) {
            let ttl = self.ttl;
            entries
                .map
                .retain(|_, e| now.saturating_duration_since(e.cached_at) < ttl);
            if entries.map.len() >= self.capacity {
                let victim = entries.map.keys().next().cloned();
                if let Some(victim) = victim {
                    entries.map.remove(&victim);
                }
            }
        }
        entries.map.insert(
            key,
            Entry {
                value,
                cached_at: now,
            },
        );
    }

    /// Drops these keys.
    pub fn evict(&self, keys: impl IntoIterator<Item = K>) {
        if let Ok(mut entries) = self.entries.write() {
            for key in keys {
                entries.map.remove(&key);
            }
            entries.generation += 1;
        }
    }

    /// Drops every entry whose value matches.
    pub fn evict_where(&self, matches: impl Fn(&V) -> bool) {
        if let Ok(mut entries) = self.entries.write() {
            entries.map.retain(|_, e| !matches(&e.value));
            entries.generation += 1;
        }
    }

    /// Drops every entry.
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.map.clear();
            entries.generation += 1;
        }
    }

    /// How many entries are held, expired or not.
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.entries.read().map_or(0, |e| e.map.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(capacity: usize) -> (TtlCache<&'static str, u32>, Instant) {
        (
            TtlCache::new(capacity, Duration::from_secs(30)),
            Instant::now(),
        )
    }

    #[test]
    fn a_value_is_found_until_its_lifetime_ends() {
        let (cache, now) = cache(10);
        cache.insert("a", 1, cache.generation(), now);
        assert_eq!(cache.get(&"a", now), Some(1));
        assert_eq!(cache.get(&"a", now + Duration::from_secs(31)), None);
    }

    #[test]
    fn an_insert_that_raced_with_an_eviction_is_dropped() {
        let (cache, now) = cache(10);
        let before_read = cache.generation();
        cache.evict(["a"]);
        cache.insert("a", 1, before_read, now);
        assert_eq!(cache.get(&"a", now), None);
    }

    #[test]
    fn eviction_by_key_and_by_value_removes_the_entry() {
        let (cache, now) = cache(10);
        cache.insert("a", 1, cache.generation(), now);
        cache.insert("b", 2, cache.generation(), now);
        cache.evict(["a"]);
        assert_eq!(cache.get(&"a", now), None);
        cache.evict_where(|v| *v == 2);
        assert_eq!(cache.get(&"b", now), None);
        assert_eq!(cache.held(), 0);
    }

    #[test]
    fn the_cache_never_holds_more_than_its_capacity() {
        let (cache, now) = cache(3);
        for key in ["a", "b", "c", "d", "e", "f"] {
            cache.insert(key, 0, cache.generation(), now);
        }
        assert_eq!(cache.held(), 3);
        assert_eq!(cache.get(&"f", now), Some(0), "the newest entry is kept");
    }

    #[test]
    fn a_zero_capacity_or_lifetime_turns_the_cache_off() {
        let (off, now) = cache(0);
        off.insert("a", 1, off.generation(), now);
        assert_eq!(off.get(&"a", now), None);
        let no_lifetime = TtlCache::new(10, Duration::ZERO);
        no_lifetime.insert("a", 1, no_lifetime.generation(), now);
        assert_eq!(no_lifetime.get(&"a", now), None);
    }
}
