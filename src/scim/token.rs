//! Provisioning tokens: 256 bits from the OS RNG, shown once to the admin who pastes them into
//! Entra ID as the "Secret Token", stored only as their SHA-256.

use crate::model::UnixTime;
use std::{fmt, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::{RngCore, rngs::OsRng};
use sha2::{Digest, Sha256};

use crate::{
    model::TokenHash,
    org::Organisation,
    store::{Store, StoreError, scim_tokens},
};

/// Marks the text as an octopus-teams provisioning token (for secret scanners and people).
const PREFIX: &str = "octscim_";

pub struct ProvisioningToken(String);

impl ProvisioningToken {
    fn generate() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        Self(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// A presented token; anything that cannot be one is refused before any lookup.
    pub fn parse(raw: &str) -> Option<Self> {
        let body = raw.strip_prefix(PREFIX)?;
        let decoded = URL_SAFE_NO_PAD.decode(body).ok()?;
        (decoded.len() == 32).then(|| Self(raw.to_string()))
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The text to show the admin, once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ProvisioningToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProvisioningToken([redacted])")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(
        "organisation {0} already has a provisioning token: --rotate makes a new one (the \
         previous one keeps working for the grace period), --revoke ends them all"
    )]
    Exists(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new token for the organisation. With `rotate`, the tokens it had keep working for that
/// long (while the Entra admin pastes the new one); without, it must have none.
pub async fn issue(
    store: &Store,
    org: &Organisation,
    rotate: Option<Duration>,
    now: UnixTime,
) -> Result<ProvisioningToken, TokenError> {
    let mut tx = store.begin().await?;
    let live = scim_tokens::live(&mut tx, &org.tenant_id, now).await?;
    match rotate {
        None if live > 0 => return Err(TokenError::Exists(org.slug.clone())),
        None => {}
        Some(grace) => {
            let until = now.plus(i64::try_from(grace.as_secs()).unwrap_or(i64::MAX));
            scim_tokens::expire_all(&mut tx, &org.tenant_id, until).await?;
        }
    }
    // Tokens that ended long ago are of no use to anyone.
    scim_tokens::purge(&mut tx, now - 86_400).await?;
    let token = ProvisioningToken::generate();
    scim_tokens::insert(&mut tx, &org.tenant_id, &token.hash(), now).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(token)
}

/// Ends every token of the organisation now.
pub async fn revoke(store: &Store, org: &Organisation, now: UnixTime) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    scim_tokens::expire_all(&mut tx, &org.tenant_id, now).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_reads_back_and_nothing_else_does() {
        let t = ProvisioningToken::generate();
        assert!(t.expose().starts_with(PREFIX));
        let again = ProvisioningToken::parse(t.expose()).expect("its own text");
        assert_eq!(again.hash(), t.hash());
        assert!(ProvisioningToken::parse("octscim_short").is_none());
        assert!(ProvisioningToken::parse(&t.expose()[PREFIX.len()..]).is_none());
        assert_eq!(format!("{t:?}"), "ProvisioningToken([redacted])");
    }
}
