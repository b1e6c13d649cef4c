//! Inbound authentication of `POST /api/messages`, as the Bot Framework specifies: a Bearer JWT
//! issued by the channel service, signed by a key from the channel's OpenID metadata whose
//! endorsements include the activity's channel, for our app id, within its validity (5 minutes
//! of clock skew), and naming the activity's `serviceUrl`. Anything else: 401, nothing processed.
//! With `bot.accept_entra_channel_tokens`, tokens from the Bot Service tenants' Entra issuers are
//! accepted too, under their own rules (`auth::entra_channel`). The axum side (the
//! `VerifiedActivity` extractor) is in `bot`.

use std::sync::Arc;

use jsonwebtoken::Algorithm;
use serde::Deserialize;

use crate::teams::auth::{
    entra_channel::{EntraChannel, EntraRefusal},
    jwks::{OpenIdKeys, VerifiedKey},
    jwt::{CLOCK_SKEW_SECS, Jwt, JwtError, REGISTERED_CLAIMS, Rules},
    verified::VerifiedTokens,
};

const ALLOWED: [Algorithm; 3] = [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512];

/// Why a request was refused. Every kind answers 401; the kind is logged at debug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no Authorization header")]
    MissingHeader,
    #[error("the Authorization header is not 'Bearer <jwt>' or the token is not a JWT")]
    Malformed,
    #[error("signing algorithm not allowed")]
    Algorithm,
    #[error("issuer not trusted")]
    Issuer,
    #[error("signing key unknown")]
    UnknownKey,
    #[error("signing keys unavailable")]
    KeysUnavailable,
    #[error("bad signature")]
    BadSignature,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("audience is not this bot")]
    Audience,
    #[error("the signing key is not endorsed for the activity's channel")]
    NotEndorsed,
    #[error("the token carries no serviceurl claim")]
    ServiceUrlMissing,
    #[error("the token's serviceurl differs from the activity's")]
    ServiceUrlMismatch,
    #[error("the token's tid is not its issuer's tenant")]
    Tenant,
    #[error("the signing key belongs to another issuer")]
    KeyIssuer,
    #[error("the calling app (appid/azp) is not allowed")]
    Caller,
    #[error("no serviceurl claim and the activity's serviceUrl is not a Microsoft connector")]
    ServiceUrlHost,
}

impl From<JwtError> for AuthError {
    fn from(e: JwtError) -> Self {
        match e {
            JwtError::Malformed => AuthError::Malformed,
            JwtError::Algorithm => AuthError::Algorithm,
            JwtError::UnknownKey => AuthError::UnknownKey,
            JwtError::KeysUnavailable => AuthError::KeysUnavailable,
            JwtError::BadSignature => AuthError::BadSignature,
            JwtError::Expired => AuthError::Expired,
            JwtError::NotYetValid => AuthError::NotYetValid,
            JwtError::Audience => AuthError::Audience,
            JwtError::Issuer => AuthError::Issuer,
        }
    }
}

impl From<EntraRefusal> for AuthError {
    fn from(e: EntraRefusal) -> Self {
        match e {
            EntraRefusal::Tenant => AuthError::Tenant,
            EntraRefusal::KeyIssuer => AuthError::KeyIssuer,
            EntraRefusal::Caller => AuthError::Caller,
            EntraRefusal::ServiceUrlMismatch => AuthError::ServiceUrlMismatch,
            EntraRefusal::ServiceUrlHost => AuthError::ServiceUrlHost,
            EntraRefusal::Token(t) => t.into(),
        }
    }
}

impl AuthError {
    /// A short stable name for metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            AuthError::MissingHeader => "missing_header",
            AuthError::Malformed => "malformed",
            AuthError::Algorithm => "algorithm",
            AuthError::Issuer => "issuer",
            AuthError::UnknownKey => "unknown_key",
            AuthError::KeysUnavailable => "keys_unavailable",
            AuthError::BadSignature => "bad_signature",
            AuthError::Expired => "expired",
            AuthError::NotYetValid => "not_yet_valid",
            AuthError::Audience => "audience",
            AuthError::NotEndorsed => "not_endorsed",
            AuthError::ServiceUrlMissing => "service_url_missing",
            AuthError::ServiceUrlMismatch => "service_url_mismatch",
            AuthError::Tenant => "tenant",
            AuthError::KeyIssuer => "key_issuer",
            AuthError::Caller => "caller",
            AuthError::ServiceUrlHost => "service_url_host",
        }
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default)]
    serviceurl: Option<String>,
    exp: i64,
}

/// A channel token whose signature, issuer, audience and validity were checked: what the checks
/// that depend on the activity still need.
pub struct VerifiedChannelToken {
    key: Arc<VerifiedKey>,
    serviceurl: Option<String>,
}

impl VerifiedChannelToken {
    /// The checks against this activity, run for every activity, cached token or not.
    fn admits(&self, channel_id: &str, service_url: &str) -> Result<(), AuthError> {
        if !self.key.endorsements.iter().any(|e| e == channel_id) {
            return Err(AuthError::NotEndorsed);
        }
        let claimed = self
            .serviceurl
            .as_deref()
            .ok_or(AuthError::ServiceUrlMissing)?;
        if !claimed.eq_ignore_ascii_case(service_url) {
            return Err(AuthError::ServiceUrlMismatch);
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct UnverifiedIssuer {
    iss: Option<String>,
}

pub struct ChannelAuth {
    pub keys: Arc<OpenIdKeys>,
    pub app_id: String,
    pub issuer: String,
    /// Entra-issued channel tokens, when `bot.accept_entra_channel_tokens` is on.
    pub entra: Option<EntraChannel>,
    /// Channel tokens already verified (Bot Framework issuer), until their `exp`.
    pub verified: VerifiedTokens<VerifiedChannelToken>,
}

impl ChannelAuth {
    /// Checks the `Authorization` header for an activity of `channel_id` from `service_url`.
    pub async fn verify(
        &self,
        header: Option<&str>,
        channel_id: &str,
        service_url: &str,
    ) -> Result<(), AuthError> {
        let header = header.ok_or(AuthError::MissingHeader)?;
        let mut parts = header.split(' ');
        let token = match (parts.next(), parts.next(), parts.next()) {
            (Some("Bearer"), Some(t), None) if !t.is_empty() => t,
            _ => return Err(AuthError::Malformed),
        };
        // A token seen before, with keys still fresh: its signature is not checked again.
        if let Some(generation) = self.keys.fresh_generation()
            && let Some(seen) = self.verified.get(token, generation)
        {
            return seen.admits(channel_id, service_url);
        }
        let jwt = Jwt::parse(token, &ALLOWED)?;
        // Before fetching any key: is this even from the channel service?
        let iss = jwt
            .unverified_claims::<UnverifiedIssuer>()?
            .iss
            .ok_or(AuthError::Issuer)?;
        if iss != self.issuer {
            return match &self.entra {
                Some(entra) if entra.trusts_issuer(&iss) => {
                    Ok(entra.verify(&jwt, &iss, &self.app_id, service_url).await?)
                }
                _ => Err(AuthError::Issuer),
            };
        }
        let key = jwt.key(&self.keys).await?;
        let rules = Rules {
            algorithms: &ALLOWED,
            issuers: &[&self.issuer],
            audiences: &[&self.app_id],
            required: &REGISTERED_CLAIMS,
            leeway: CLOCK_SKEW_SECS,
        };
        let claims: Claims = jwt.verify(&key.key, &rules)?;
        let generation = key.generation;
        let verified = VerifiedChannelToken {
            key,
            serviceurl: claims.serviceurl,
        };
        let admitted = verified.admits(channel_id, service_url);
        self.verified.insert(
            token,
            generation,
            crate::model::UnixTime(claims.exp),
            verified,
        );
        admitted
    }
}
