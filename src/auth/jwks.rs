//! A cached key set behind an OpenID metadata document: metadata → `jwks_uri` → keys.
//!
//! Keys are refreshed when older than `max_age` (at most a day, as the Bot Framework asks), and
//! when a token names an unknown key id — at most once per cool-down, so forged key ids cannot
//! make us hammer the endpoint. When a refresh fails, the last good keys keep serving.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use tracing::{info, warn};
use url::Url;

/// A signing key and what the publisher says about it.
pub struct VerifiedKey {
    pub kid: String,
    pub key: DecodingKey,
    /// Bot Framework keys list the channels they may sign for (e.g. "msteams").
    pub endorsements: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("signing keys unavailable: {0}")]
    Unavailable(String),
}

#[derive(Deserialize)]
struct Metadata {
    jwks_uri: String,
}

#[derive(Deserialize)]
struct KeySetDoc {
    keys: Vec<JwkEntry>,
}

/// One JWK, keeping the `endorsements` that generic JWK types drop.
#[derive(Deserialize)]
struct JwkEntry {
    kid: Option<String>,
    kty: Option<String>,
    n: Option<String>,
    e: Option<String>,
    #[serde(default)]
    endorsements: Vec<String>,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, Arc<VerifiedKey>>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
}

pub struct OpenIdKeys {
    metadata_url: Url,
    http: reqwest::Client,
    max_age: Duration,
    cooldown: Duration,
    cache: RwLock<Cache>,
    refreshing: tokio::sync::Mutex<()>,
}

impl OpenIdKeys {
    pub fn new(
        metadata_url: Url,
        http: reqwest::Client,
        max_age: Duration,
        cooldown: Duration,
    ) -> Self {
        Self {
            metadata_url,
            http,
            max_age,
            cooldown,
            cache: RwLock::default(),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// The key with id `kid`, refreshing the set if it is stale or (rate limited) if `kid` is new.
    pub async fn key(&self, kid: &str) -> Result<Option<Arc<VerifiedKey>>, KeyError> {
        let (found, stale, may_retry) = self.look(kid);
        if let Some(key) = found.as_ref().filter(|_| !stale) {
            return Ok(Some(key.clone()));
        }
        if stale || may_retry {
            if let Err(e) = self.refresh(stale).await {
                if found.is_some() || self.has_keys() {
                    warn!(error = %e, url = %self.metadata_url, "key refresh failed; keeping the last good keys");
                } else {
                    return Err(e);
                }
            }
            return Ok(self.look(kid).0.or(found));
        }
        Ok(None)
    }

    /// (key, set is stale, an unknown-key refresh is allowed now)
    fn look(&self, kid: &str) -> (Option<Arc<VerifiedKey>>, bool, bool) {
        let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
        let stale = cache.fetched_at.is_none_or(|t| t.elapsed() >= self.max_age);
        let may_retry = cache
            .last_attempt
            .is_none_or(|t| t.elapsed() >= self.cooldown);
        (cache.keys.get(kid).cloned(), stale, may_retry)
    }

    fn has_keys(&self) -> bool {
        !self
            .cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys
            .is_empty()
    }

    async fn refresh(&self, because_stale: bool) -> Result<(), KeyError> {
        let _one_at_a_time = self.refreshing.lock().await;
        // Someone else may have refreshed while we waited.
        {
            let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
            let fresh = cache.fetched_at.is_some_and(|t| t.elapsed() < self.max_age);
            let just_tried = cache
                .last_attempt
                .is_some_and(|t| t.elapsed() < self.cooldown);
            if (because_stale && fresh) || (!because_stale && just_tried) {
                return Ok(());
            }
        }
        self.cache
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .last_attempt = Some(Instant::now());
        let keys = self.fetch().await.inspect_err(|_| {
            metrics::counter!("octopus_signing_key_refreshes_total", "outcome" => "failed")
                .increment(1);
        })?;
        metrics::counter!("octopus_signing_key_refreshes_total", "outcome" => "ok").increment(1);
        info!(url = %self.metadata_url, keys = keys.len(), "signing keys refreshed");
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        cache.keys = keys;
        cache.fetched_at = Some(Instant::now());
        Ok(())
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<VerifiedKey>>, KeyError> {
        let unavailable =
            |what: &str, e: &dyn std::fmt::Display| KeyError::Unavailable(format!("{what}: {e}"));
        let meta: Metadata = self
            .http
            .get(self.metadata_url.clone())
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| unavailable("metadata", &e))?
            .json()
            .await
            .map_err(|e| unavailable("metadata document", &e))?;
        let doc: KeySetDoc = self
            .http
            .get(&meta.jwks_uri)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| unavailable("jwks", &e))?
            .json()
            .await
            .map_err(|e| unavailable("jwks document", &e))?;
        let mut keys = HashMap::new();
        for entry in doc.keys {
            // Only RSA keys with their modulus and exponent can verify RS256/384/512.
            let (Some(kid), Some(n), Some(e)) = (entry.kid, entry.n, entry.e) else {
                continue;
            };
            if entry.kty.as_deref().is_some_and(|k| k != "RSA") {
                continue;
            }
            let Ok(key) = DecodingKey::from_rsa_components(&n, &e) else {
                continue;
            };
            keys.insert(
                kid.clone(),
                Arc::new(VerifiedKey {
                    kid,
                    key,
                    endorsements: entry.endorsements,
                }),
            );
        }
        if keys.is_empty() {
            return Err(KeyError::Unavailable(
                "the key set holds no usable RSA key".into(),
            ));
        }
        Ok(keys)
    }
}
