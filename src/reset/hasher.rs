//! argon2id, computed on the blocking pool behind a concurrency bound so that a burst of
//! sign-ins can neither starve the async workers nor exhaust memory (19 MiB per hash).

use std::sync::Arc;

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier, Version,
    password_hash::{SaltString, rand_core::OsRng},
};
use tokio::sync::Semaphore;
use tracing::Instrument;

use super::model::NewPassword;
use crate::config::Argon2Params;

#[derive(Clone)]
pub struct Hasher {
    params: Argon2Params,
    permits: Arc<Semaphore>,
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
        argon2(params)?;
        // Verifying against this costs exactly what a real check costs (same algorithm and
        // parameters, a salt, a 32-byte output) and can never succeed: its output is random, not
        // the hash of anything. Nothing is hashed at start-up (19 MiB with OWASP parameters).
        let mut output = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut output);
        let dummy = format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            params.memory_kib,
            params.iterations,
            params.parallelism,
            SaltString::generate(&mut OsRng).as_str(),
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD_NO_PAD, output)
        );
        PasswordHash::new(&dummy).map_err(|e| anyhow::anyhow!("dummy hash: {e}"))?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: dummy.into(),
        })
    }

    pub async fn hash(&self, pw: &NewPassword) -> anyhow::Result<String> {
        let pw = pw.clone();
        let params = self.params;
        self.run(move || {
            argon2(params)?
                .hash_password(pw.expose().as_bytes(), &SaltString::generate(&mut OsRng))
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("argon2 hash: {e}"))
        })
        .await
    }

    /// Checks `pw` against `stored`, or against the dummy hash when there is none.
    pub async fn verify(&self, pw: &NewPassword, stored: Option<&str>) -> anyhow::Result<Verified> {
        let pw = pw.clone();
        let real = stored.is_some();
        let stored: String = stored.map_or_else(|| self.dummy_hash.to_string(), str::to_string);
        let params = self.params;
        let outcome = self
            .run(move || {
                let parsed =
                    PasswordHash::new(&stored).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
                let ok = Argon2::default()
                    .verify_password(pw.expose().as_bytes(), &parsed)
                    .is_ok();
                Ok((ok, !matches_params(&parsed, params)))
            })
            .await?;
        Ok(match outcome {
            (true, needs_rehash) if real => Verified::Valid { needs_rehash },
            _ => Verified::Invalid,
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        metrics::gauge!("octopus_argon2_queue_depth").increment(1.0);
        let permit = self.permits.clone().acquire_owned().await;
        metrics::gauge!("octopus_argon2_queue_depth").decrement(1.0);
        let _permit = permit?;
        let span = tracing::Span::current();
        let started = std::time::Instant::now();
        let result = tokio::task::spawn_blocking(move || span.in_scope(job))
            .in_current_span()
            .await
            .map_err(|e| anyhow::anyhow!("hashing task failed: {e}"))?;
        metrics::histogram!("octopus_argon2_hash_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        result
    }
}

fn argon2(p: Argon2Params) -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(p.memory_kib, p.iterations, p.parallelism, None)
        .map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
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
}
