//! Entra ID tokens sent by the tab (`authentication.getAuthToken()`): signed by a key of the
//! token's tenant (OpenID metadata, cached like the bot's), from a configured tenant only, v1 or
//! v2 issuer, audience `api://{host}/{app id}` or the app id, within validity, with the
//! `access_as_user` scope.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde::Deserialize;
use url::Url;

use crate::{
    clock::SharedClock,
    org::Organisations,
    teams::auth::{
        jwks::TenantKeys,
        jwt::{CLOCK_SKEW_SECS, Jwt, JwtError, REGISTERED_CLAIMS, Rules},
    },
    teams::identity::Naming,
};

pub const SCOPE: &str = "access_as_user";
/// Entra signs with RS256 only.
const ALGORITHMS: [Algorithm; 1] = [Algorithm::RS256];

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
    /// What the name fallback may use: the `upn` claim (never `preferred_username`, documented
    /// as mutable, nor `email`), the tenant, and whether the user is a guest there.
    pub naming: Naming,
    /// Their display name, when the token carries one.
    pub name: Option<String>,
}

impl From<JwtError> for SsoError {
    fn from(e: JwtError) -> Self {
        match e {
            JwtError::Malformed | JwtError::Algorithm => SsoError::Malformed,
            JwtError::UnknownKey => SsoError::UnknownKey,
            JwtError::KeysUnavailable => SsoError::KeysUnavailable,
            JwtError::BadSignature => SsoError::Signature,
            JwtError::Expired => SsoError::Expired,
            JwtError::NotYetValid => SsoError::NotYetValid,
            JwtError::Audience => SsoError::Audience,
            JwtError::Issuer => SsoError::Issuer,
        }
    }
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
    iss: String,
    upn: Option<String>,
    /// The person's display name (Entra's `name` claim), for what a person reads.
    name: Option<String>,
    /// 1: a guest of the tenant (optional claim).
    acct: Option<u8>,
    /// The identity provider, when it is not the tenant itself (a guest's home tenant).
    idp: Option<String>,
}

pub struct SsoValidator {
    audiences: Vec<String>,
    orgs: Organisations,
    keys: TenantKeys,
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
            audiences,
            orgs,
            keys: TenantKeys::new(&authority, http, cache.0, cache.1, clock),
        }
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
        let jwt = Jwt::parse(token, &ALGORITHMS)?;
        // The tenant decides which keys and issuers count: only a configured tenant, written
        // exactly as Entra writes it (a lower-case GUID, no spaces), is looked up.
        let tenant = jwt
            .unverified_claims::<Unverified>()?
            .tid
            .ok_or(SsoError::Tenant)?;
        let org = self.orgs.by_exact_tenant(&tenant).ok_or(SsoError::Tenant)?;
        let keys = self
            .keys
            .of(&org.tenant_id)
            .map_err(|_| SsoError::KeysUnavailable)?;
        let key = jwt.key(&keys).await?;

        let v2 = self.keys.v2_issuer(&org.tenant_id);
        let v1 = format!("https://sts.windows.net/{}/", org.tenant_id);
        let audiences: Vec<&str> = self.audiences.iter().map(String::as_str).collect();
        let rules = Rules {
            algorithms: &ALGORITHMS,
            issuers: &[v2.as_str(), v1.as_str()],
            audiences: &audiences,
            required: &REGISTERED_CLAIMS,
            leeway: CLOCK_SKEW_SECS,
        };
        let claims: Claims = jwt.verify(&key.key, &rules)?;
        // Checked again once verified, exactly: the organisation is the token's own tenant.
        if claims.tid != org.tenant_id {
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
        // A member's token has no `idp`, or the tenant's own issuer; a guest's names their home.
        let guest = claims.acct == Some(1)
            || claims
                .idp
                .as_deref()
                .is_some_and(|idp| idp != claims.iss && idp != v1 && idp != v2);
        Ok(SsoUser {
            tenant_id: org.tenant_id.clone(),
            object_id: claims.oid,
            name: claims.name,
            naming: Naming {
                upn: claims.upn,
                home_tenant: Some(claims.tid),
                guest,
            },
        })
    }
}
