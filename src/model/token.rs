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

/// Why a link stopped working before it was used, stored as this text (`revoked_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// A newer link of the account replaced it.
    Superseded,
    /// Another link of the account was used.
    Completed,
    /// « Ce n'était pas moi ».
    Cancelled,
    /// Its mail could not be sent in time.
    Undelivered,
    /// The directory gave the account another address.
    EmailChanged,
    /// The directory gave the account another Teams identity.
    IdentityChanged,
    /// The account left the directory.
    Disabled,
}

impl Revoked {
    pub const ALL: [Revoked; 7] = [
        Revoked::Superseded,
        Revoked::Completed,
        Revoked::Cancelled,
        Revoked::Undelivered,
        Revoked::EmailChanged,
        Revoked::IdentityChanged,
        Revoked::Disabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Revoked::Superseded => "superseded",
            Revoked::Completed => "completed",
            Revoked::Cancelled => "cancelled",
            Revoked::Undelivered => "undelivered",
            Revoked::EmailChanged => "email_changed",
            Revoked::IdentityChanged => "identity_changed",
            Revoked::Disabled => "disabled",
        }
    }
}

impl std::str::FromStr for Revoked {
    type Err = super::UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Revoked::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(super::UnknownName)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocation_reasons_read_back_as_stored() {
        for r in Revoked::ALL {
            assert_eq!(r.as_str().parse::<Revoked>(), Ok(r));
        }
        assert!("stolen".parse::<Revoked>().is_err());
    }

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
