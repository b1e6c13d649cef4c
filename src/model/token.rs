//! Reset / enrolment link tokens: 256 bits from the OS RNG, sent once in the mail, stored only as
//! their SHA-256.

use std::fmt;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::{RngCore, rngs::OsRng};
use sha2::{Digest, Sha256};

/// The plain token: goes into the emailed link and nowhere else.
#[derive(Clone, PartialEq, Eq)]
pub struct ResetToken(String);

impl ResetToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A token from a link. Anything that cannot be one of ours is refused here, so inner code
    /// only ever hashes well-formed tokens.
    pub fn parse(raw: &str) -> Option<Self> {
        let decoded = URL_SAFE_NO_PAD.decode(raw).ok()?;
        (decoded.len() == 32).then(|| Self(raw.to_string()))
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The token's text, for building the link.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ResetToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResetToken([redacted])")
    }
}

/// What the database keeps.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bits_and_distinct() {
        let a = ResetToken::generate();
        let b = ResetToken::generate();
        assert_ne!(a, b);
        assert_eq!(URL_SAFE_NO_PAD.decode(a.expose()).map(|v| v.len()), Ok(32));
        assert_eq!(ResetToken::parse(a.expose()), Some(a.clone()));
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn malformed_tokens_are_refused() {
        assert!(ResetToken::parse("short").is_none());
        assert!(ResetToken::parse("../../etc/passwd").is_none());
        assert!(ResetToken::parse(&"A".repeat(43)).is_some());
    }

    #[test]
    fn debug_shows_no_secret() {
        let t = ResetToken::generate();
        assert!(!format!("{t:?}").contains(t.expose()));
        assert_eq!(format!("{:?}", t.hash()), "TokenHash");
    }
}
