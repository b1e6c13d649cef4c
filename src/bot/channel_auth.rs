//! Inbound authentication of `POST /api/messages`, as the Bot Framework specifies: a Bearer JWT
//! issued by the channel service, signed by a key from the channel's OpenID metadata whose
//! endorsements include the activity's channel, for our app id, within its validity (5 minutes
//! of clock skew), and naming the activity's `serviceUrl`. Anything else: 401, nothing processed.

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, Validation, decode, decode_header, errors::ErrorKind};
use serde::Deserialize;

use crate::auth::jwks::OpenIdKeys;

/// Industry-standard clock skew, as the Bot Framework documents.
pub const CLOCK_SKEW_SECS: u64 = 300;
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
        }
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default)]
    serviceurl: Option<String>,
}

#[derive(Deserialize)]
struct UnverifiedIssuer {
    iss: Option<String>,
}

pub struct ChannelAuth {
    pub keys: Arc<OpenIdKeys>,
    pub app_id: String,
    pub issuer: String,
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
        let jwt_header = decode_header(token).map_err(|_| AuthError::Malformed)?;
        if !ALLOWED.contains(&jwt_header.alg) {
            return Err(AuthError::Algorithm);
        }
        // Before fetching any key: is this even from the channel service?
        if unverified_issuer(token)? != self.issuer {
            return Err(AuthError::Issuer);
        }
        let kid = jwt_header.kid.as_deref().ok_or(AuthError::UnknownKey)?;
        let key = self
            .keys
            .key(kid)
            .await
            .map_err(|_| AuthError::KeysUnavailable)?
            .ok_or(AuthError::UnknownKey)?;

        let mut v = Validation::new(jwt_header.alg);
        v.algorithms = ALLOWED.to_vec();
        v.leeway = CLOCK_SKEW_SECS;
        v.validate_nbf = true;
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.app_id]);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = decode::<Claims>(token, &key.key, &v).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::ImmatureSignature => AuthError::NotYetValid,
            ErrorKind::InvalidAudience => AuthError::Audience,
            ErrorKind::InvalidIssuer => AuthError::Issuer,
            ErrorKind::InvalidAlgorithm => AuthError::Algorithm,
            ErrorKind::InvalidSignature => AuthError::BadSignature,
            ErrorKind::MissingRequiredClaim(c) if c == "aud" => AuthError::Audience,
            _ => AuthError::Malformed,
        })?;

        if !key.endorsements.iter().any(|e| e == channel_id) {
            return Err(AuthError::NotEndorsed);
        }
        let claimed = claims
            .claims
            .serviceurl
            .ok_or(AuthError::ServiceUrlMissing)?;
        if !claimed.eq_ignore_ascii_case(service_url) {
            return Err(AuthError::ServiceUrlMismatch);
        }
        Ok(())
    }
}

fn unverified_issuer(token: &str) -> Result<String, AuthError> {
    let payload = token.split('.').nth(1).ok_or(AuthError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| AuthError::Malformed)?;
    let claims: UnverifiedIssuer =
        serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)?;
    claims.iss.ok_or(AuthError::Issuer)
}
