//! The service key (`security.secret_key`, or the key file `serve` keeps): the keys of the CSRF
//! values and of caller codes are derived from it ([`ServiceKey::derive`]), and pending mail is
//! sealed under it. Pending mail carries the plain link, which must not sit readable in the
//! database: the payload is sealed with ChaCha20-Poly1305, bound to its outbox id, and erased
//! once sent. Rows sealed before the binding (pending at the upgrade) no longer open:
//! the worker reports them like a wrong key, and their links expire with the token lifetime.

use base64::{Engine, engine::general_purpose::STANDARD};
use chacha20poly1305::{
    ChaCha20Poly1305, KeyInit, Nonce,
    aead::{Aead, AeadCore, OsRng, Payload},
};

#[derive(Clone)]
pub struct ServiceKey(chacha20poly1305::Key);

impl std::fmt::Debug for ServiceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceKey([redacted])")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the key must be the base64 of exactly 32 bytes")]
    Format,
    #[error("a sealed payload could not be opened (wrong key or damaged row)")]
    Open,
}

impl ServiceKey {
    pub fn generate() -> Self {
        Self(ChaCha20Poly1305::generate_key(&mut OsRng))
    }

    pub fn from_base64(s: &str) -> Result<Self, KeyError> {
        let bytes = STANDARD.decode(s.trim()).map_err(|_| KeyError::Format)?;
        if bytes.len() != 32 {
            return Err(KeyError::Format);
        }
        Ok(Self(*chacha20poly1305::Key::from_slice(&bytes)))
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.as_slice())
    }

    /// A key for another purpose, derived from this one (HMAC-SHA256 of the purpose's name), so
    /// the service key itself is used for one thing only.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        use hmac::Mac;
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as hmac::digest::KeyInit>::new_from_slice(self.0.as_slice())
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// nonce (12 bytes) ‖ ciphertext. `bound_to` (the outbox id) is authenticated with it: the
    /// payload opens only for that row, so one moved or copied to another row does not.
    pub fn seal(&self, plain: &[u8], bound_to: &[u8]) -> Vec<u8> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut out = nonce.to_vec();
        // Encryption with a fresh nonce and an in-memory buffer cannot fail.
        out.extend(
            ChaCha20Poly1305::new(&self.0)
                .encrypt(
                    &nonce,
                    Payload {
                        msg: plain,
                        aad: bound_to,
                    },
                )
                .unwrap_or_default(),
        );
        out
    }

    pub fn open(&self, sealed: &[u8], bound_to: &[u8]) -> Result<Vec<u8>, KeyError> {
        if sealed.len() < 12 {
            return Err(KeyError::Open);
        }
        let (nonce, ct) = sealed.split_at(12);
        ChaCha20Poly1305::new(&self.0)
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: bound_to,
                },
            )
            .map_err(|_| KeyError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_and_tamper_detection() {
        let k = ServiceKey::generate();
        let sealed = k.seal(b"https://x/reset/abc", b"row-1");
        assert!(!sealed.windows(5).any(|w| w == b"reset"));
        assert_eq!(
            k.open(&sealed, b"row-1").expect("opens"),
            b"https://x/reset/abc"
        );
        assert!(k.open(&sealed, b"row-2").is_err(), "bound to its row");
        assert!(k.open(&sealed, b"").is_err());
        let mut bad = sealed.clone();
        bad[20] ^= 1;
        assert!(k.open(&bad, b"row-1").is_err());
        assert!(ServiceKey::generate().open(&sealed, b"row-1").is_err());
        assert!(ServiceKey::from_base64(&k.to_base64()).is_ok());
        assert!(ServiceKey::from_base64("c2hvcnQ=").is_err());
    }
}
