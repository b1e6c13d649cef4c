//! Entra ID tokens sent by the tab (`authentication.getAuthToken()`): signed by a key of the
//! token's tenant (OpenID metadata, cached like the bot's), from a configured tenant only, v1 or
//! v2 issuer, audience `api://{host}/{app id}` or the app id, within validity, with the
//! `access_as_user` scope.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, Validation, decode, decode_header, errors::ErrorKind};
use serde::Deserialize;
use url::Url;

use crate::{auth::jwks::OpenIdKeys, clock::SharedClock, org::Organisations};

pub const SCOPE: &str = "access_as_user";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SsoError {
    #[error("no bearer token")]
    Missing,
    #[error("not a JWT")]
    Malformed,
    #[error("tenant not served")]
    Tenant,
    #[error("signing key unknown")]
    UnknownKey,
    #[error("signing keys unavailable")]
    KeysUnavailable,
    #[error("bad signature")]
    Signature,
    #[error("expired")]
    Expired,
    #[error("not yet valid")]
    NotYetValid,
    #[error("audience is not this app")]
    Audience,
    #[error("issuer is not the tenant's")]
    Issuer,
    #[error("scope access_as_user missing")]
    Scope,
    #[error("single sign-on is not configured")]
    NotConfigured,
}

/// Who the token says is there.
#[derive(Debug, Clone)]
pub struct SsoUser {
    pub tenant_id: String,
    pub object_id: Option<String>,
    /// preferred_username, else upn; never the `email` claim, which is not verified.
    pub sign_in_name: Option<String>,
}

#[derive(Deserialize)]
struct Unverified {
    tid: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    tid: String,
    oid: Option<String>,
    scp: Option<String>,
    preferred_username: Option<String>,
    upn: Option<String>,
}

pub struct SsoValidator {
    authority: Url,
    http: reqwest::Client,
    audiences: Vec<String>,
    orgs: Organisations,
    /// (refresh at least this often, cool-down between unknown-key refreshes)
    cache: (Duration, Duration),
    clock: SharedClock,
    keys: RwLock<HashMap<String, Arc<OpenIdKeys>>>,
}

impl SsoValidator {
    /// `app_id` None: SSO not configured; every token is refused and the tab falls back.
    /// `cache`: (key max age, unknown-key cool-down), timed by `clock`.
    pub fn new(
        authority: Url,
        http: reqwest::Client,
        host: &str,
        app_id: Option<&str>,
        orgs: Organisations,
        cache: (Duration, Duration),
        clock: SharedClock,
    ) -> Self {
        let audiences = app_id
            .map(|id| {
                vec![
                    id.to_string(),
                    format!("api://{host}/{id}"),
                    format!("api://{id}"),
                ]
            })
            .unwrap_or_default();
        Self {
            authority,
            http,
            audiences,
            orgs,
            cache,
            clock,
            keys: RwLock::default(),
        }
    }

    fn keys_for(&self, tenant: &str) -> Arc<OpenIdKeys> {
        if let Some(k) = self
            .keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
        {
            return k.clone();
        }
        let url = format!(
            "{}/{tenant}/v2.0/.well-known/openid-configuration",
            self.authority.as_str().trim_end_matches('/')
        );
        let keys = Arc::new(OpenIdKeys::new(
            Url::parse(&url).unwrap_or_else(|_| self.authority.clone()),
            self.http.clone(),
            self.cache.0,
            self.cache.1,
            self.clock.clone(),
        ));
        self.keys
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(tenant.to_string())
            .or_insert(keys)
            .clone()
    }

    pub async fn validate(&self, authorization: Option<&str>) -> Result<SsoUser, SsoError> {
        if self.audiences.is_empty() {
            return Err(SsoError::NotConfigured);
        }
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(SsoError::Missing)?;
        let header = decode_header(token).map_err(|_| SsoError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(SsoError::Malformed);
        }
        // The tenant decides which keys may have signed: only configured tenants are looked up.
        let payload = token.split('.').nth(1).ok_or(SsoError::Malformed)?;
        let unverified: Unverified = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(SsoError::Malformed)?;
        let tenant = unverified
            .tid
            .map(|t| t.to_ascii_lowercase())
            .ok_or(SsoError::Tenant)?;
        let org = self.orgs.by_tenant(&tenant).ok_or(SsoError::Tenant)?;
        let kid = header.kid.ok_or(SsoError::UnknownKey)?;
        let key = self
            .keys_for(&org.tenant_id)
            .key(&kid)
            .await
            .map_err(|_| SsoError::KeysUnavailable)?
            .ok_or(SsoError::UnknownKey)?;

        let v2 = format!(
            "{}/{}/v2.0",
            self.authority.as_str().trim_end_matches('/'),
            org.tenant_id
        );
        let v1 = format!("https://sts.windows.net/{}/", org.tenant_id);
        let mut v = Validation::new(Algorithm::RS256);
        v.leeway = 300;
        v.validate_nbf = true;
        v.set_issuer(&[v2.as_str(), v1.as_str()]);
        v.set_audience(&self.audiences);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = decode::<Claims>(token, &key.key, &v)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => SsoError::Expired,
                ErrorKind::ImmatureSignature => SsoError::NotYetValid,
                ErrorKind::InvalidAudience => SsoError::Audience,
                ErrorKind::InvalidIssuer => SsoError::Issuer,
                ErrorKind::InvalidSignature => SsoError::Signature,
                _ => SsoError::Malformed,
            })?
            .claims;
        if !claims.tid.eq_ignore_ascii_case(&org.tenant_id) {
            return Err(SsoError::Tenant);
        }
        if !claims
            .scp
            .unwrap_or_default()
            .split(' ')
            .any(|s| s == SCOPE)
        {
            return Err(SsoError::Scope);
        }
        Ok(SsoUser {
            tenant_id: org.tenant_id.clone(),
            object_id: claims.oid,
            sign_in_name: claims.preferred_username.or(claims.upn),
        })
    }
}
