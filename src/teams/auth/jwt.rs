//! The one JWT decoder of the service. A token is read without trust ([`Jwt::parse`]: its header,
//! and its claims only to choose the rules and the key set), its key is looked up by `kid` in a
//! cached key set (`auth::jwks`), then the signature and the registered claims are checked
//! against the caller's [`Rules`]. Each kind of token (`auth::channel`, `auth::entra_channel`,
//! `tab::sso`) gives its rules and adds its own checks on the verified claims.

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{
    Algorithm, DecodingKey, Header, Validation, decode, decode_header, errors::ErrorKind,
};
use serde::de::DeserializeOwned;

use crate::teams::auth::jwks::{OpenIdKeys, VerifiedKey};

/// Industry-standard clock skew (the Bot Framework and Entra both document 5 minutes).
pub const CLOCK_SKEW_SECS: u64 = 300;

/// The registered claims every kind of token we accept must carry.
pub const REGISTERED_CLAIMS: [&str; 3] = ["exp", "iss", "aud"];

/// Why a token failed the checks every kind shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtError {
    /// Not a JWT, or claims that do not deserialise.
    Malformed,
    /// The header's `alg` is not one the rules allow.
    Algorithm,
    /// No `kid`, or no key with that id in the key set.
    UnknownKey,
    KeysUnavailable,
    BadSignature,
    Expired,
    NotYetValid,
    Audience,
    Issuer,
}

/// What a kind of token requires of the registered claims.
pub struct Rules<'a> {
    pub algorithms: &'a [Algorithm],
    /// Any one of these.
    pub issuers: &'a [&'a str],
    /// Any one of these.
    pub audiences: &'a [&'a str],
    /// Registered claims that must be present (usually [`REGISTERED_CLAIMS`]).
    pub required: &'a [&'a str],
    /// Seconds of clock skew allowed on `exp` and `nbf`.
    pub leeway: u64,
}

/// A token read but not yet trusted.
pub struct Jwt<'t> {
    token: &'t str,
    header: Header,
}

impl<'t> Jwt<'t> {
    /// Reads the header of `token`, refusing an `alg` outside `algorithms` before anything else.
    pub fn parse(token: &'t str, algorithms: &[Algorithm]) -> Result<Self, JwtError> {
        let header = decode_header(token).map_err(|_| JwtError::Malformed)?;
        if !algorithms.contains(&header.alg) {
            return Err(JwtError::Algorithm);
        }
        Ok(Self { token, header })
    }

    /// The claims WITHOUT checking anything: only to choose the rules and the key set.
    pub fn unverified_claims<C: DeserializeOwned>(&self) -> Result<C, JwtError> {
        let payload = self.token.split('.').nth(1).ok_or(JwtError::Malformed)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|_| JwtError::Malformed)?;
        serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
    }

    /// The key named by the header's `kid` in `keys` (refreshed as `OpenIdKeys` decides).
    pub async fn key(&self, keys: &OpenIdKeys) -> Result<Arc<VerifiedKey>, JwtError> {
        let kid = self.header.kid.as_deref().ok_or(JwtError::UnknownKey)?;
        keys.key(kid)
            .await
            .map_err(|_| JwtError::KeysUnavailable)?
            .ok_or(JwtError::UnknownKey)
    }

    /// Signature, algorithm, issuer, audience, the required claims, `exp` and `nbf` (with the
    /// leeway), then the claims as `C`.
    pub fn verify<C: DeserializeOwned>(
        &self,
        key: &DecodingKey,
        rules: &Rules<'_>,
    ) -> Result<C, JwtError> {
        if !rules.algorithms.contains(&self.header.alg) {
            return Err(JwtError::Algorithm);
        }
        let mut v = Validation::new(self.header.alg);
        v.algorithms = rules.algorithms.to_vec();
        v.leeway = rules.leeway;
        v.validate_nbf = true;
        v.set_issuer(rules.issuers);
        v.set_audience(rules.audiences);
        v.set_required_spec_claims(rules.required);
        decode::<C>(self.token, key, &v)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => JwtError::Expired,
                ErrorKind::ImmatureSignature => JwtError::NotYetValid,
                ErrorKind::InvalidAudience => JwtError::Audience,
                ErrorKind::InvalidIssuer => JwtError::Issuer,
                ErrorKind::InvalidAlgorithm => JwtError::Algorithm,
                ErrorKind::InvalidSignature => JwtError::BadSignature,
                ErrorKind::MissingRequiredClaim(c) if c == "aud" => JwtError::Audience,
                _ => JwtError::Malformed,
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test set-up")]

    use std::time::{SystemTime, UNIX_EPOCH};

    use jsonwebtoken::{EncodingKey, encode};
    use serde_json::{Value, json};

    use super::*;

    const SECRET: &[u8] = b"a test secret, not a key of the service";
    const HS: [Algorithm; 1] = [Algorithm::HS256];

    fn now() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default()
    }

    fn mint(claims: Value, secret: &[u8]) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    fn claims() -> Value {
        json!({ "iss": "https://issuer", "aud": "app", "exp": now() + 600, "sub": "s" })
    }

    fn check(token: &str) -> Result<Value, JwtError> {
        let rules = Rules {
            algorithms: &HS,
            issuers: &["https://issuer"],
            audiences: &["app"],
            required: &REGISTERED_CLAIMS,
            leeway: CLOCK_SKEW_SECS,
        };
        Jwt::parse(token, &HS)?.verify(&DecodingKey::from_secret(SECRET), &rules)
    }

    fn with(key: &str, value: Value) -> Value {
        let mut c = claims();
        c[key] = value;
        c
    }

    #[test]
    fn a_token_meeting_the_rules_gives_its_claims() {
        let c = check(&mint(claims(), SECRET)).unwrap();
        assert_eq!(c["sub"], "s");
    }

    #[test]
    fn an_algorithm_outside_the_list_is_refused_when_parsed() {
        let token = mint(claims(), SECRET);
        assert_eq!(
            Jwt::parse(&token, &[Algorithm::RS256]).err(),
            Some(JwtError::Algorithm)
        );
        assert_eq!(
            Jwt::parse("not a jwt", &HS).err(),
            Some(JwtError::Malformed)
        );
    }

    #[test]
    fn the_unverified_claims_are_read_without_a_key() {
        let token = mint(claims(), b"another secret");
        let jwt = Jwt::parse(&token, &HS).unwrap();
        let c: Value = jwt.unverified_claims().unwrap();
        assert_eq!(c["iss"], "https://issuer");
        let (head, _) = token.split_once('.').unwrap();
        let broken = format!("{head}.!!!.sig");
        let jwt = Jwt::parse(&broken, &HS).unwrap();
        assert_eq!(
            jwt.unverified_claims::<Value>().err(),
            Some(JwtError::Malformed)
        );
    }

    #[test]
    fn each_failed_rule_has_its_error() {
        let cases = [
            (mint(claims(), b"another secret"), JwtError::BadSignature),
            (
                mint(with("exp", json!(now() - 400)), SECRET),
                JwtError::Expired,
            ),
            (
                mint(with("nbf", json!(now() + 400)), SECRET),
                JwtError::NotYetValid,
            ),
            (
                mint(with("aud", json!("other")), SECRET),
                JwtError::Audience,
            ),
            (
                mint(with("iss", json!("https://other")), SECRET),
                JwtError::Issuer,
            ),
        ];
        for (token, error) in cases {
            assert_eq!(check(&token).err(), Some(error));
        }
        let mut no_aud = claims();
        no_aud.as_object_mut().unwrap().remove("aud");
        assert_eq!(check(&mint(no_aud, SECRET)).err(), Some(JwtError::Audience));
        let mut no_exp = claims();
        no_exp.as_object_mut().unwrap().remove("exp");
        assert_eq!(
            check(&mint(no_exp, SECRET)).err(),
            Some(JwtError::Malformed)
        );
    }

    #[test]
    fn the_leeway_covers_clock_skew() {
        let token = mint(with("exp", json!(now() - 200)), SECRET);
        assert!(check(&token).is_ok());
    }
}
