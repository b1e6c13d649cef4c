//! argon2id, computed on the blocking pool behind a concurrency bound so that a burst of
//! sign-ins can neither starve the async workers nor exhaust memory (19 MiB per hash, handed
//! from one hash to the next: `reset::argon`).
//!
//! An optional secret ("pepper", `security.password_pepper`) is mixed into every hash, so a copy
//! of the database alone is not enough to guess passwords offline. Hashes made with it name it by
//! a short key id (`keyid=` in the PHC string, a fingerprint, not the secret): hashes without it
//! still verify and are re-made with it at the next successful sign-in, and a hash made with a
//! pepper that is no longer configured verifies against nothing.

use crate::config::Argon2Params;
use std::sync::Arc;

use argon2::{
    KeyId, Params, ParamsBuilder, PasswordHash,
    password_hash::{SaltString, rand_core::OsRng},
};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tracing::Instrument;

use super::argon::{self, Memory};
use crate::model::NewPassword;

/// Every permit taken and the waiting line full: refuse rather than queue without bound.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the hashing queue is full")]
pub struct QueueFull;

/// What a refused caller is told to wait.
pub const RETRY_AFTER_SECS: u64 = 2;

/// The argon2 secret and its key id (the first 6 bytes of its SHA-256).
#[derive(Clone)]
pub struct Pepper {
    secret: Arc<SecretSlice<u8>>,
    keyid: [u8; 6],
}

impl Pepper {
    pub fn new(secret: &[u8]) -> Self {
        let digest = Sha256::digest(secret);
        let mut keyid = [0u8; 6];
        keyid.copy_from_slice(&digest[..6]);
        Self {
            secret: Arc::new(SecretSlice::from(secret.to_vec())),
            keyid,
        }
    }
}

impl std::fmt::Debug for Pepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pepper([redacted])")
    }
}

#[derive(Clone)]
pub struct Hasher {
    params: Argon2Params,
    pepper: Option<Pepper>,
    permits: Arc<Semaphore>,
    /// Permits in all: when all are free, no hash runs and `memory` is given back.
    capacity: usize,
    /// argon2's working memory, handed from one hash to the next (`reset::argon`).
    memory: Arc<Memory>,
    /// Callers waiting for a permit, and how many may.
    waiting: Arc<std::sync::atomic::AtomicUsize>,
    max_waiting: usize,
    /// Verified against when the account does not exist, so that path costs the same.
    dummy_hash: Arc<str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    Valid { needs_rehash: bool },
    Invalid,
}

impl Hasher {
    pub fn new(params: Argon2Params, concurrency: usize) -> anyhow::Result<Self> {
        Self::with_pepper(params, concurrency, None)
    }

    /// At most `n` callers wait for a permit; more get `QueueFull` at once.
    pub fn with_queue(mut self, n: usize) -> Self {
        self.max_waiting = n;
        self
    }

    pub fn with_pepper(
        params: Argon2Params,
        concurrency: usize,
        pepper: Option<Pepper>,
    ) -> anyhow::Result<Self> {
        argon2_params(params, pepper.as_ref())?;
        // Verifying against this costs exactly what a real check costs (same algorithm and
        // parameters, a salt, a 32-byte output) and can never succeed: its output is random, not
        // the hash of anything. Nothing is hashed at start-up (19 MiB with OWASP parameters).
        let mut output = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut output);
        let keyid = pepper.as_ref().map_or(String::new(), |p| {
            format!(
                ",keyid={}",
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD_NO_PAD, p.keyid)
            )
        });
        let dummy = format!(
            "$argon2id$v=19$m={},t={},p={}{keyid}${}${}",
            params.memory_kib,
            params.iterations,
            params.parallelism,
            SaltString::generate(&mut OsRng).as_str(),
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD_NO_PAD, output)
        );
        PasswordHash::new(&dummy).map_err(|e| anyhow::anyhow!("dummy hash: {e}"))?;
        let blocks = argon2_params(params, pepper.as_ref())?.block_count();
        Ok(Self {
            params,
            pepper,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            capacity: concurrency.max(1),
            memory: Arc::new(Memory::new(concurrency.max(1), blocks)),
            waiting: Arc::default(),
            max_waiting: usize::MAX,
            dummy_hash: dummy.into(),
        })
    }

    pub async fn hash(&self, pw: &NewPassword) -> anyhow::Result<String> {
        let pw = pw.clone();
        let params = self.params;
        let pepper = self.pepper.clone();
        self.run(move |memory| {
            let p = argon2_params(params, pepper.as_ref())?;
            let secret = pepper.as_ref().map(|p| p.secret.expose_secret());
            argon::hash(memory, p, secret, pw.expose().as_bytes())
        })
        .await
    }

    /// Checks `pw` against `stored`, or against the dummy hash when there is none.
    pub async fn verify(&self, pw: &NewPassword, stored: Option<&str>) -> anyhow::Result<Verified> {
        let pw = pw.clone();
        let real = stored.is_some();
        let stored: String = stored.map_or_else(|| self.dummy_hash.to_string(), str::to_string);
        let params = self.params;
        let pepper = self.pepper.clone();
        let outcome = self
            .run(move |memory| {
                let parsed =
                    PasswordHash::new(&stored).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
                let keyid = Params::try_from(&parsed)
                    .map(|p| p.keyid().to_vec())
                    .unwrap_or_default();
                // The secret the hash was made with: none, ours, or one we no longer have (then
                // the check runs without it and cannot succeed).
                let secret = pepper
                    .as_ref()
                    .filter(|p| !keyid.is_empty() && keyid == p.keyid)
                    .map(|p| p.secret.expose_secret());
                let known_secret = keyid.is_empty() || secret.is_some();
                // A stored hash argon2 cannot check (a bad salt or parameter) matches nothing.
                let ok = argon::verify(memory, &parsed, secret, pw.expose().as_bytes())
                    .unwrap_or(false)
                    && known_secret;
                let current = matches_params(&parsed, params)
                    && keyid.as_slice() == pepper.as_ref().map_or(&[][..], |p| &p.keyid[..]);
                Ok((ok, !current))
            })
            .await?;
        Ok(match outcome {
            (true, needs_rehash) if real => Verified::Valid { needs_rehash },
            _ => Verified::Invalid,
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Memory) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                let _in_line = InLine::join(&self.waiting, self.max_waiting)?;
                metrics::gauge!("octopus_argon2_queue_depth").increment(1.0);
                let permit = self.permits.clone().acquire_owned().await;
                metrics::gauge!("octopus_argon2_queue_depth").decrement(1.0);
                permit?
            }
        };
        let span = tracing::Span::current();
        let started = std::time::Instant::now();
        let (memory, permits, capacity) =
            (self.memory.clone(), self.permits.clone(), self.capacity);
        // The permit goes with the hash: a caller that goes away (a dropped connection) does not
        // free it while the hash still runs, so the permits bound the hashes and their memory.
        let result = tokio::task::spawn_blocking(move || {
            let result = span.in_scope(|| job(&memory));
            drop(permit);
            // The last hash of a burst gives the working memory back to the system. (One that
            // starts meanwhile just takes a new buffer.)
            if permits.available_permits() == capacity {
                memory.release();
            }
            result
        })
        .in_current_span()
        .await
        .map_err(|e| anyhow::anyhow!("hashing task failed: {e}"));
        metrics::histogram!("octopus_argon2_hash_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        result?
    }
}

/// A place in the waiting line, left when dropped (also when the caller goes away).
struct InLine<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> InLine<'a> {
    fn join(waiting: &'a std::sync::atomic::AtomicUsize, max: usize) -> anyhow::Result<Self> {
        use std::sync::atomic::Ordering::SeqCst;
        waiting
            .fetch_update(SeqCst, SeqCst, |n| (n < max).then_some(n + 1))
            .map_err(|_| anyhow::Error::new(QueueFull))?;
        Ok(Self(waiting))
    }
}

impl Drop for InLine<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

fn argon2_params(p: Argon2Params, pepper: Option<&Pepper>) -> anyhow::Result<Params> {
    let mut b = ParamsBuilder::new();
    b.m_cost(p.memory_kib)
        .t_cost(p.iterations)
        .p_cost(p.parallelism);
    if let Some(pepper) = pepper {
        b.keyid(KeyId::new(&pepper.keyid).map_err(|e| anyhow::anyhow!("argon2 key id: {e}"))?);
    }
    b.build().map_err(|e| anyhow::anyhow!("argon2 params: {e}"))
}

/// Does a stored hash use today's algorithm and parameters? If not, it is upgraded at the next
/// successful sign-in.
fn matches_params(h: &PasswordHash<'_>, p: Argon2Params) -> bool {
    let Ok(stored) = Params::try_from(h) else {
        return false;
    };
    h.algorithm.as_str() == "argon2id"
        && h.version == Some(0x13)
        && stored.m_cost() == p.memory_kib
        && stored.t_cost() == p.iterations
        && stored.p_cost() == p.parallelism
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: Argon2Params = Argon2Params {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };

    #[tokio::test]
    async fn hashes_verify_and_old_parameters_ask_for_an_upgrade() {
        let pw = NewPassword::new("abc123".into());
        let old = Hasher::new(CHEAP, 2).expect("hasher");
        let hash = old.hash(&pw).await.expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        // No hash running: the working memory went back to the system.
        assert_eq!(old.memory.kept(), 0);
        assert_eq!(
            old.verify(&pw, Some(&hash)).await.expect("verify"),
            Verified::Valid {
                needs_rehash: false
            }
        );
        let owasp = Hasher::new(Argon2Params::OWASP, 2).expect("hasher");
        assert_eq!(
            owasp.verify(&pw, Some(&hash)).await.expect("verify"),
            Verified::Valid { needs_rehash: true }
        );
        let wrong = NewPassword::new("abc124".into());
        assert_eq!(
            owasp.verify(&wrong, Some(&hash)).await.expect("verify"),
            Verified::Invalid
        );
        assert_eq!(
            owasp.verify(&pw, None).await.expect("verify"),
            Verified::Invalid
        );
    }

    #[tokio::test]
    async fn a_pepper_upgrades_old_hashes_and_is_needed_for_new_ones() {
        let pw = NewPassword::new("abc123".into());
        let plain = Hasher::new(CHEAP, 2).expect("hasher");
        let pepper = Pepper::new(b"0123456789abcdef0123456789abcdef");
        let peppered = Hasher::with_pepper(CHEAP, 2, Some(pepper)).expect("hasher");
        let old = plain.hash(&pw).await.expect("hash");
        assert_eq!(
            peppered.verify(&pw, Some(&old)).await.expect("verify"),
            Verified::Valid { needs_rehash: true }
        );
        let new = peppered.hash(&pw).await.expect("hash");
        assert!(new.contains(",keyid="), "{new}");
        assert_eq!(
            peppered.verify(&pw, Some(&new)).await.expect("verify"),
            Verified::Valid {
                needs_rehash: false
            }
        );
        assert_eq!(
            peppered
                .verify(&NewPassword::new("abc124".into()), Some(&new))
                .await
                .expect("verify"),
            Verified::Invalid
        );
        // Without the pepper, or with another one, the peppered hash verifies against nothing.
        assert_eq!(
            plain.verify(&pw, Some(&new)).await.expect("verify"),
            Verified::Invalid
        );
        let other = Hasher::with_pepper(
            CHEAP,
            2,
            Some(Pepper::new(b"another pepper, 32 bytes long...")),
        )
        .expect("hasher");
        assert_eq!(
            other.verify(&pw, Some(&new)).await.expect("verify"),
            Verified::Invalid
        );
        // Unknown accounts cost a peppered check too, and never succeed.
        assert_eq!(
            peppered.verify(&pw, None).await.expect("verify"),
            Verified::Invalid
        );
    }
}
