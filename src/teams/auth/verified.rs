//! Channel tokens whose signature and registered claims were already checked, so that the RSA
//! verification runs once per token rather than once per activity: the channel service reuses a
//! token for many activities (about an hour).
//!
//! Entries are keyed by the SHA-256 of the whole token (the token itself is never kept), hold
//! what the per-activity checks need, and are served only while the token's `exp` has not passed
//! by the service's clock. The cache is bounded; it is emptied whenever the signing keys are
//! refreshed (each refreshed key set has a new generation), so a token signed by a key the
//! publisher retired is refused after the refresh even if it was cached.

use crate::model::UnixTime;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use sha2::{Digest, Sha256};

use crate::clock::SharedClock;

/// Entries kept at most: a Teams tenant's channel service uses a handful of tokens at a time.
pub const DEFAULT_CAPACITY: usize = 1024;

type TokenHash = [u8; 32];

struct Entry<V> {
    exp: UnixTime,
    value: Arc<V>,
}

struct Inner<V> {
    generation: u64,
    entries: HashMap<TokenHash, Entry<V>>,
}

/// Verified tokens → `V` (what the per-activity checks need of the token).
pub struct VerifiedTokens<V> {
    clock: SharedClock,
    capacity: usize,
    inner: Mutex<Inner<V>>,
}

impl<V> VerifiedTokens<V> {
    pub fn new(clock: SharedClock, capacity: usize) -> Self {
        Self {
            clock,
            capacity: capacity.max(1),
            inner: Mutex::new(Inner {
                generation: 0,
                entries: HashMap::new(),
            }),
        }
    }

    fn hash(token: &str) -> TokenHash {
        Sha256::digest(token.as_bytes()).into()
    }

    /// What was recorded for `token`, if it was verified with keys of `generation` and its `exp`
    /// has not passed. A newer generation empties the cache first.
    pub fn get(&self, token: &str, generation: u64) -> Option<Arc<V>> {
        let hash = Self::hash(token);
        let now = self.clock.unix();
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.follow(generation);
        if inner.generation != generation {
            return None; // keys older than the cache's: never serve
        }
        match inner.entries.get(&hash) {
            Some(e) if now < e.exp => Some(e.value.clone()),
            Some(_) => {
                inner.entries.remove(&hash);
                None
            }
            None => None,
        }
    }

    /// Records a token verified with a key of `generation`, valid until `exp` (unix seconds).
    pub fn insert(&self, token: &str, generation: u64, exp: UnixTime, value: V) {
        let now = self.clock.unix();
        if exp <= now {
            return;
        }
        let hash = Self::hash(token);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.follow(generation);
        if inner.generation != generation {
            return; // verified with a key set that has since been replaced
        }
        if inner.entries.len() >= self.capacity && !inner.entries.contains_key(&hash) {
            inner.entries.retain(|_, e| now < e.exp);
            if inner.entries.len() >= self.capacity {
                // Full of live tokens: the one expiring first makes room.
                let first = inner
                    .entries
                    .iter()
                    .min_by_key(|(_, e)| e.exp)
                    .map(|(k, _)| *k);
                if let Some(k) = first {
                    inner.entries.remove(&k);
                }
            }
        }
        inner.entries.insert(
            hash,
            Entry {
                exp,
                value: Arc::new(value),
            },
        );
    }

    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entries
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<V> Inner<V> {
    /// Keys were refreshed since the cache last looked: nothing verified before is trusted.
    fn follow(&mut self, generation: u64) {
        if generation > self.generation {
            self.entries.clear();
            self.generation = generation;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock::{Clock, ManualClock};

    fn cache(capacity: usize) -> (VerifiedTokens<&'static str>, ManualClock) {
        let clock = ManualClock::default();
        (
            VerifiedTokens::new(Arc::new(clock.clone()), capacity),
            clock,
        )
    }

    #[test]
    fn a_verified_token_is_served_from_the_cache() {
        let (c, clock) = cache(8);
        c.insert("token-a", 1, clock.unix() + 600, "claims of a");
        assert_eq!(c.get("token-a", 1).as_deref(), Some(&"claims of a"));
    }

    #[test]
    fn a_different_token_is_not_served_from_the_cache() {
        let (c, clock) = cache(8);
        c.insert("token-a", 1, clock.unix() + 600, "claims of a");
        assert!(c.get("token-b", 1).is_none());
        assert!(c.get("token-a ", 1).is_none());
    }

    #[test]
    fn an_entry_expires_at_exp_by_the_service_clock() {
        let (c, clock) = cache(8);
        c.insert("token-a", 1, clock.unix() + 600, "a");
        clock.advance(Duration::from_secs(590));
        assert!(c.get("token-a", 1).is_some());
        clock.advance(Duration::from_secs(10));
        assert!(c.get("token-a", 1).is_none(), "exp reached");
        assert!(c.is_empty(), "the expired entry is dropped");
        c.insert("token-b", 1, clock.unix(), "b");
        assert!(c.get("token-b", 1).is_none(), "already expired: not kept");
    }

    #[test]
    fn a_key_refresh_empties_the_cache() {
        let (c, clock) = cache(8);
        c.insert("token-a", 1, clock.unix() + 600, "a");
        assert!(c.get("token-a", 2).is_none(), "keys refreshed");
        assert!(c.is_empty());
        assert!(c.get("token-a", 1).is_none(), "never back to older keys");
        c.insert("token-a", 1, clock.unix() + 600, "a");
        assert!(c.is_empty(), "verified with replaced keys: not kept");
    }

    #[test]
    fn the_cache_is_bounded_and_keeps_the_longest_lived() {
        let (c, clock) = cache(2);
        let now = clock.unix();
        c.insert("a", 1, now + 100, "a");
        c.insert("b", 1, now + 300, "b");
        c.insert("c", 1, now + 200, "c");
        assert_eq!(c.len(), 2);
        assert!(c.get("a", 1).is_none(), "the first to expire made room");
        assert!(c.get("b", 1).is_some() && c.get("c", 1).is_some());
        clock.advance(Duration::from_secs(250));
        c.insert("d", 1, now + 1000, "d");
        assert!(c.get("c", 1).is_none() && c.get("d", 1).is_some());
    }
}
