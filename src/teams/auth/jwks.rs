//! A cached key set behind an OpenID metadata document: metadata → `jwks_uri` → keys.
//!
//! Keys are refreshed when older than `max_age` (at most a day, as the Bot Framework asks), and
//! when a token names an unknown key id — at most once per cool-down, so forged key ids cannot
//! make us hammer the endpoint. When a refresh fails, the last good keys keep serving. Time comes
//! from the injected [`Clock`], so the daily refresh and the cool-down are tested without waiting.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use chrono::{DateTime, Utc};
use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use tracing::{info, warn};
use url::Url;

use crate::clock::SharedClock;

/// A signing key and what the publisher says about it.
pub struct VerifiedKey {
    pub kid: String,
    pub key: DecodingKey,
    /// Bot Framework keys list the channels they may sign for (e.g. "msteams").
    pub endorsements: Vec<String>,
    /// Entra keys name the issuer they sign for (`…/{tenant id}/v2.0`, or `…/{tenantid}/v2.0`
    /// as a template when the set is shared).
    pub issuer: Option<String>,
    /// The refresh that fetched this key (see [`OpenIdKeys::fresh_generation`]).
    pub generation: u64,
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
    issuer: Option<String>,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, Arc<VerifiedKey>>,
    fetched_at: Option<DateTime<Utc>>,
    last_attempt: Option<DateTime<Utc>>,
    /// Successful refreshes so far: what was verified with an older set is not trusted anymore.
    generation: u64,
}

pub struct OpenIdKeys {
    metadata_url: Url,
    http: reqwest::Client,
    max_age: Duration,
    cooldown: Duration,
    clock: SharedClock,
    cache: RwLock<Cache>,
    refreshing: tokio::sync::Mutex<()>,
}

impl OpenIdKeys {
    pub fn new(
        metadata_url: Url,
        http: reqwest::Client,
        max_age: Duration,
        cooldown: Duration,
        clock: SharedClock,
    ) -> Self {
        Self {
            metadata_url,
            http,
            max_age,
            cooldown,
            clock,
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
            return match self.refresh(stale).await {
                // What the refreshed set says: a key no longer published is retired.
                Ok(()) => Ok(self.look(kid).0),
                Err(e) if found.is_some() || self.has_keys() => {
                    warn!(error = %e, url = %self.metadata_url, "key refresh failed; keeping the last good keys");
                    Ok(found)
                }
                Err(e) => Err(e),
            };
        }
        Ok(None)
    }

    /// The generation of the key set when it is fresh (fetched, and younger than `max_age`);
    /// None when the next lookup must refresh it first.
    pub fn fresh_generation(&self) -> Option<u64> {
        let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
        let fresh = cache
            .fetched_at
            .is_some_and(|t| self.since(t) < self.max_age);
        fresh.then_some(cache.generation)
    }

    /// (key, set is stale, an unknown-key refresh is allowed now)
    fn look(&self, kid: &str) -> (Option<Arc<VerifiedKey>>, bool, bool) {
        let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
        let stale = cache
            .fetched_at
            .is_none_or(|t| self.since(t) >= self.max_age);
        let may_retry = cache
            .last_attempt
            .is_none_or(|t| self.since(t) >= self.cooldown);
        (cache.keys.get(kid).cloned(), stale, may_retry)
    }

    /// Time elapsed since `t` by the injected clock (zero if the clock went back).
    fn since(&self, t: DateTime<Utc>) -> Duration {
        (self.clock.now() - t).to_std().unwrap_or(Duration::ZERO)
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
            let fresh = cache
                .fetched_at
                .is_some_and(|t| self.since(t) < self.max_age);
            let just_tried = cache
                .last_attempt
                .is_some_and(|t| self.since(t) < self.cooldown);
            // A stale set whose refresh just failed keeps serving until the cool-down ends,
            // rather than every request knocking on an endpoint that is down.
            let have_keys = !cache.keys.is_empty();
            if (because_stale && fresh) || (just_tried && (!because_stale || have_keys)) {
                return Ok(());
            }
        }
        self.cache
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .last_attempt = Some(self.clock.now());
        let generation = self
            .cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .generation
            + 1;
        let keys = self.fetch(generation).await.inspect_err(|_| {
            metrics::counter!("octopus_signing_key_refreshes_total", "outcome" => "failed")
                .increment(1);
        })?;
        metrics::counter!("octopus_signing_key_refreshes_total", "outcome" => "ok").increment(1);
        info!(url = %self.metadata_url, keys = keys.len(), "signing keys refreshed");
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        cache.keys = keys;
        cache.generation = generation;
        cache.fetched_at = Some(self.clock.now());
        Ok(())
    }

    async fn fetch(&self, generation: u64) -> Result<HashMap<String, Arc<VerifiedKey>>, KeyError> {
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
                    issuer: entry.issuer,
                    generation,
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

/// One [`OpenIdKeys`] per Entra tenant, created on first use from the tenant's v2.0 discovery
/// document: `{authority}/{tenant}/v2.0/.well-known/openid-configuration`.
pub struct TenantKeys {
    authority: String,
    http: reqwest::Client,
    max_age: Duration,
    cooldown: Duration,
    clock: SharedClock,
    sets: RwLock<HashMap<String, Arc<OpenIdKeys>>>,
}

impl TenantKeys {
    pub fn new(
        authority: &Url,
        http: reqwest::Client,
        max_age: Duration,
        cooldown: Duration,
        clock: SharedClock,
    ) -> Self {
        Self {
            authority: authority.as_str().trim_end_matches('/').to_string(),
            http,
            max_age,
            cooldown,
            clock,
            sets: RwLock::default(),
        }
    }

    /// The v2.0 issuer of `tenant`: `{authority}/{tenant}/v2.0`.
    pub fn v2_issuer(&self, tenant: &str) -> String {
        format!("{}/{tenant}/v2.0", self.authority)
    }

    /// The key set of `tenant` (only call this for a tenant you trust: one cache each).
    pub fn of(&self, tenant: &str) -> Result<Arc<OpenIdKeys>, KeyError> {
        if let Some(k) = self
            .sets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
        {
            return Ok(k.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.v2_issuer(tenant)
        );
        let url = Url::parse(&url).map_err(|e| KeyError::Unavailable(e.to_string()))?;
        let keys = Arc::new(OpenIdKeys::new(
            url,
            self.http.clone(),
            self.max_age,
            self.cooldown,
            self.clock.clone(),
        ));
        Ok(self
            .sets
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(tenant.to_string())
            .or_insert(keys)
            .clone())
    }
}
