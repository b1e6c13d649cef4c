//! Entra-issued channel tokens: what Azure Bot Service sends as it moves its channels from the
//! Bot Framework issuer to Entra ID (off unless `bot.accept_entra_channel_tokens`).
//!
//! Stricter than Microsoft's Agents SDKs, each rule against a known way round them:
//! - the issuer must be a Bot Service tenant's (v1 `https://sts.windows.net/{T}/` or v2
//!   `{authority}/{T}/v2.0`): any other tenant, the bot's own included, can mint tokens for our
//!   app id with client credentials;
//! - keys come from that tenant's discovery document and the key's own `issuer` must be that
//!   tenant's: Entra's keys are shared across tenants;
//! - `tid` must be the issuer's tenant (the cross-tenant bypass of microsoft/Agents#626);
//! - `aud` is our app id, never `https://api.botframework.com` (any Bot Framework API token);
//! - the caller (`appid` in v1 tokens, `azp` in v2) must be in an allow-list;
//! - the token's `serviceurl` must be the activity's, and without one the activity's serviceUrl
//!   host must be a Microsoft connector host: the bot sends its own token there.

use jsonwebtoken::Algorithm;
use serde::Deserialize;
use url::Url;

use crate::teams::auth::{
    jwks::TenantKeys,
    jwt::{CLOCK_SKEW_SECS, Jwt, JwtError, REGISTERED_CLAIMS, Rules},
};

const V1_ISSUER: &str = "https://sts.windows.net/";
/// Entra signs with RS256 only.
const ALGORITHMS: [Algorithm; 1] = [Algorithm::RS256];

/// Why an Entra-issued channel token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntraRefusal {
    /// `tid` is missing or is not the issuer's tenant.
    Tenant,
    /// The key's issuer is not the token's tenant.
    KeyIssuer,
    /// `appid`/`azp` missing or not in the allow-list.
    Caller,
    ServiceUrlMismatch,
    /// No `serviceurl` claim and the activity's serviceUrl is not a Microsoft connector.
    ServiceUrlHost,
    Token(JwtError),
}

/// The Bot Service tenants' issuers and what their tokens must carry.
pub struct EntraChannel {
    /// Lower-case tenant ids.
    pub tenants: Vec<String>,
    pub keys: TenantKeys,
    /// App ids that may call the bot (`appid` / `azp`).
    pub callers: Vec<String>,
    /// Lower-case hosts of Microsoft's connector (serviceUrl).
    pub connector_hosts: Vec<String>,
}

#[derive(Deserialize)]
struct Claims {
    tid: Option<String>,
    appid: Option<String>,
    azp: Option<String>,
    serviceurl: Option<String>,
}

enum Version {
    V1,
    V2,
}

impl EntraChannel {
    /// The Bot Service tenant whose issuer `iss` is, and the token version it implies.
    fn tenant_of(&self, iss: &str) -> Option<(&str, Version)> {
        self.tenants.iter().find_map(|t| {
            if iss == format!("{V1_ISSUER}{t}/") {
                Some((t.as_str(), Version::V1))
            } else if iss == self.keys.v2_issuer(t) {
                Some((t.as_str(), Version::V2))
            } else {
                None
            }
        })
    }

    /// Is `iss` one of the issuers this kind answers for?
    pub fn trusts_issuer(&self, iss: &str) -> bool {
        self.tenant_of(iss).is_some()
    }

    /// Checks a token whose (unverified) issuer is `iss` for an activity from `service_url`.
    pub async fn verify(
        &self,
        jwt: &Jwt<'_>,
        iss: &str,
        app_id: &str,
        service_url: &str,
    ) -> Result<(), EntraRefusal> {
        let (tenant, version) = self
            .tenant_of(iss)
            .ok_or(EntraRefusal::Token(JwtError::Issuer))?;
        let keys = self
            .keys
            .of(tenant)
            .map_err(|_| EntraRefusal::Token(JwtError::KeysUnavailable))?;
        let key = jwt.key(&keys).await.map_err(EntraRefusal::Token)?;
        let tenant_issuer = self.keys.v2_issuer(tenant);
        let key_issuer = key
            .issuer
            .as_deref()
            .map(|i| i.replace("{tenantid}", tenant));
        if key_issuer.as_deref() != Some(tenant_issuer.as_str()) {
            return Err(EntraRefusal::KeyIssuer);
        }
        let rules = Rules {
            algorithms: &ALGORITHMS,
            issuers: &[iss],
            audiences: &[app_id],
            required: &REGISTERED_CLAIMS,
            leeway: CLOCK_SKEW_SECS,
        };
        let claims: Claims = jwt.verify(&key.key, &rules).map_err(EntraRefusal::Token)?;
        if !claims
            .tid
            .is_some_and(|tid| tid.eq_ignore_ascii_case(tenant))
        {
            return Err(EntraRefusal::Tenant);
        }
        let caller = match version {
            Version::V1 => claims.appid,
            Version::V2 => claims.azp,
        };
        let caller = caller.unwrap_or_default();
        if !self.callers.iter().any(|a| a.eq_ignore_ascii_case(&caller)) {
            // An app id is no secret: the admin learns what to allow, if it is Microsoft's.
            tracing::info!(%iss, %caller, "Entra channel token from a caller not in bot.entra_channel_callers");
            return Err(EntraRefusal::Caller);
        }
        match claims.serviceurl {
            Some(claimed) if claimed.eq_ignore_ascii_case(service_url) => Ok(()),
            Some(_) => Err(EntraRefusal::ServiceUrlMismatch),
            None if self.is_connector(service_url) => Ok(()),
            None => Err(EntraRefusal::ServiceUrlHost),
        }
    }

    /// A serviceUrl on one of Microsoft's connector hosts (https; http only on loopback).
    fn is_connector(&self, service_url: &str) -> bool {
        let Ok(url) = Url::parse(service_url) else {
            return false;
        };
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        let loopback = host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
        (url.scheme() == "https" || (url.scheme() == "http" && loopback))
            && self.connector_hosts.contains(&host)
    }
}
