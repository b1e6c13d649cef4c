//! The one JWT decoder of the service: a look at the claims before any key is fetched (to pick
//! the rules and the key set), then the signature and the registered claims checked against a
//! key from `auth::jwks`. Each caller (a kind of token) adds its own rules on the claims.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{
    Algorithm, DecodingKey, Header, Validation, decode, decode_header, errors::ErrorKind,
};
use serde::de::DeserializeOwned;

/// Industry-standard clock skew (the Bot Framework and Entra both document 5 minutes).
pub const CLOCK_SKEW_SECS: u64 = 300;

/// Why a token failed the checks every kind shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    Algorithm,
    BadSignature,
    Expired,
    NotYetValid,
    Audience,
    Issuer,
}

/// What a kind of token requires of the registered claims.
pub struct Rules<'a> {
    pub algorithms: &'a [Algorithm],
    pub issuers: &'a [&'a str],
    /// Any one of these.
    pub audiences: &'a [&'a str],
}

/// The header of `token`, if it is a JWT at all.
pub fn header(token: &str) -> Result<Header, TokenError> {
    decode_header(token).map_err(|_| TokenError::Malformed)
}

/// The claims of `token` WITHOUT checking anything: only to choose the rules and keys.
pub fn peek<C: DeserializeOwned>(token: &str) -> Result<C, TokenError> {
    let payload = token.split('.').nth(1).ok_or(TokenError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

/// Signature, algorithm, issuer, audience, `exp` and `nbf` (with the skew), then the claims.
pub fn verify<C: DeserializeOwned>(
    token: &str,
    header: &Header,
    key: &DecodingKey,
    rules: &Rules<'_>,
) -> Result<C, TokenError> {
    if !rules.algorithms.contains(&header.alg) {
        return Err(TokenError::Algorithm);
    }
    let mut v = Validation::new(header.alg);
    v.algorithms = rules.algorithms.to_vec();
    v.leeway = CLOCK_SKEW_SECS;
    v.validate_nbf = true;
    v.set_issuer(rules.issuers);
    v.set_audience(rules.audiences);
    v.set_required_spec_claims(&["exp", "iss", "aud"]);
    decode::<C>(token, key, &v)
        .map(|d| d.claims)
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::ImmatureSignature => TokenError::NotYetValid,
            ErrorKind::InvalidAudience => TokenError::Audience,
            ErrorKind::InvalidIssuer => TokenError::Issuer,
            ErrorKind::InvalidAlgorithm => TokenError::Algorithm,
            ErrorKind::InvalidSignature => TokenError::BadSignature,
            ErrorKind::MissingRequiredClaim(c) if c == "aud" => TokenError::Audience,
            _ => TokenError::Malformed,
        })
}
