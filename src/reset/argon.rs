//! argon2id hashes and checks in PHC strings, computed on working memory handed from one hash to
//! the next (`Memory`) rather than allocated and freed by each.
//!
//! Why: with OWASP parameters each hash needs 19 MiB. Allocated per hash, that memory goes back
//! to the allocator, which returns it to the system only after a delay: in a burst the next hash
//! (on another blocking thread) allocated its own 19 MiB before the last was returned, and 100
//! simultaneous password changes on one core peaked well above what one hash at a time needs
//! (`benches/load.sh`, BENCHMARKS.md). Handed over, memory is bounded by the hashes running at
//! once (the hasher's permits), and given back to the system when none is running.
//!
//! The PHC strings are the ones `argon2`'s `PasswordHasher` writes and reads (the tests check
//! both ways): `$argon2id$v=19$m=…,t=…,p=…[,keyid=…]$salt$hash`.

use std::sync::Mutex;

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, Version,
    password_hash::{Output, ParamsString, SaltString, rand_core::OsRng},
};

/// Working memory kept between hashes: at most one buffer per hash that may run at once, each
/// of the configured size. Buffers are wiped before they are freed (they hold blocks derived
/// from passwords).
#[derive(Debug)]
pub struct Memory {
    spare: Mutex<Vec<Vec<Block>>>,
    /// Buffers kept at most (the hasher's permits).
    most: usize,
    /// The size of a buffer worth keeping (today's parameters); a larger one, for a stored
    /// hash made with more memory, is freed after its check.
    blocks: usize,
}

impl Memory {
    pub fn new(most: usize, blocks: usize) -> Self {
        Self {
            spare: Mutex::default(),
            most,
            blocks,
        }
    }

    /// A buffer of `blocks` blocks: a spare one if there is one (its content does not matter:
    /// argon2's first pass writes every block before reading it), else a new one.
    fn take(&self, blocks: usize) -> Vec<Block> {
        let spare = self.spare.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut buffer = match spare {
            Some(buffer) if buffer.capacity() >= blocks => buffer,
            // Too small for this hash (made with more memory): growing it would free the old
            // allocation unwiped.
            Some(mut small) => {
                wipe(&mut small);
                Vec::new()
            }
            None => Vec::new(),
        };
        buffer.resize(blocks, Block::default());
        buffer
    }

    fn give_back(&self, mut buffer: Vec<Block>) {
        if buffer.capacity() <= self.blocks {
            let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
            if spare.len() < self.most {
                spare.push(buffer);
                return;
            }
        }
        wipe(&mut buffer);
    }

    /// Wipes and frees every spare buffer (when no hash is running).
    pub fn release(&self) {
        let spare = std::mem::take(&mut *self.spare.lock().unwrap_or_else(|p| p.into_inner()));
        for mut buffer in spare {
            wipe(&mut buffer);
        }
    }

    /// Spare buffers kept.
    #[cfg(test)]
    pub(crate) fn kept(&self) -> usize {
        self.spare.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Runs `argon2` into `out` on a buffer from here.
    fn hash_into(
        &self,
        argon2: &Argon2<'_>,
        params: &Params,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> argon2::Result<()> {
        let mut buffer = self.take(params.block_count());
        let done = argon2.hash_password_into_with_memory(password, salt, out, &mut buffer);
        self.give_back(buffer);
        done
    }
}

/// A new argon2id hash of `password` with `params` (and the secret, if any), with a fresh salt.
pub fn hash(
    memory: &Memory,
    params: Params,
    secret: Option<&[u8]>,
    password: &[u8],
) -> anyhow::Result<String> {
    let argon2 = with_secret(secret, Algorithm::Argon2id, Version::V0x13, params.clone())?;
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow::anyhow!("argon2 salt: {e}"))?;
    let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let output = Output::init_with(len, |out| {
        Ok(memory.hash_into(&argon2, &params, password, salt_bytes, out)?)
    })
    .map_err(|e| anyhow::anyhow!("argon2 hash: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)
            .map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Whether `password` (with the secret, if any) gives `stored`'s output under `stored`'s own
/// algorithm, version and parameters. The outputs are compared in constant time (`Output`'s
/// equality). A hash without salt or output matches nothing.
pub fn verify(
    memory: &Memory,
    stored: &PasswordHash<'_>,
    secret: Option<&[u8]>,
    password: &[u8],
) -> anyhow::Result<bool> {
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
        return Ok(false);
    };
    let algorithm = Algorithm::try_from(stored.algorithm)
        .map_err(|e| anyhow::anyhow!("stored hash algorithm: {e}"))?;
    let version = stored
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| anyhow::anyhow!("stored hash version: {e}"))?
        .unwrap_or_default();
    let params =
        Params::try_from(stored).map_err(|e| anyhow::anyhow!("stored hash params: {e}"))?;
    let argon2 = with_secret(secret, algorithm, version, params.clone())?;
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow::anyhow!("stored hash salt: {e}"))?;
    let computed = Output::init_with(expected.len(), |out| {
        Ok(memory.hash_into(&argon2, &params, password, salt_bytes, out)?)
    });
    Ok(computed.is_ok_and(|computed| computed == *expected))
}

/// Zeroes the whole allocation, spare capacity included (blocks past `len` are left from
/// larger hashes).
fn wipe(buffer: &mut Vec<Block>) {
    use zeroize::Zeroize;
    buffer.zeroize();
}

fn with_secret<'k>(
    secret: Option<&'k [u8]>,
    algorithm: Algorithm,
    version: Version,
    params: Params,
) -> anyhow::Result<Argon2<'k>> {
    match secret {
        Some(s) => Argon2::new_with_secret(s, algorithm, version, params)
            .map_err(|e| anyhow::anyhow!("argon2 secret: {e}")),
        None => Ok(Argon2::new(algorithm, version, params)),
    }
}

#[cfg(test)]
mod tests {
    use argon2::{PasswordHasher, PasswordVerifier};

    use super::*;

    fn cheap() -> Params {
        Params::new(1024, 1, 1, None).expect("params")
    }

    fn memory() -> Memory {
        Memory::new(1, cheap().block_count())
    }

    /// "abc123" hashed by argon2's own `PasswordHasher`.
    fn library_hash(params: Params) -> String {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"abc123", &SaltString::generate(&mut OsRng))
            .expect("hash")
            .to_string()
    }

    #[test]
    fn our_hashes_are_argon2s_phc_strings_both_ways() {
        let memory = memory();
        let ours = hash(&memory, cheap(), None, b"abc123").expect("hash");
        assert!(ours.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{ours}");
        let parsed = PasswordHash::new(&ours).expect("parse");
        let library = Argon2::new(Algorithm::Argon2id, Version::V0x13, cheap());
        assert!(library.verify_password(b"abc123", &parsed).is_ok());
        assert!(library.verify_password(b"abc124", &parsed).is_err());

        let theirs = library_hash(cheap());
        let parsed = PasswordHash::new(&theirs).expect("parse");
        assert!(verify(&memory, &parsed, None, b"abc123").expect("verify"));
        assert!(!verify(&memory, &parsed, None, b"abc124").expect("verify"));
    }

    #[test]
    fn a_secret_takes_part_and_memory_is_handed_over() {
        let memory = memory();
        let secret = b"0123456789abcdef0123456789abcdef";
        let peppered = hash(&memory, cheap(), Some(secret), b"abc123").expect("hash");
        let parsed = PasswordHash::new(&peppered).expect("parse");
        assert!(verify(&memory, &parsed, Some(secret), b"abc123").expect("verify"));
        assert!(!verify(&memory, &parsed, None, b"abc123").expect("verify"));
        // One hash at a time: one buffer, kept until released.
        assert_eq!(memory.kept(), 1);
        memory.release();
        assert_eq!(memory.kept(), 0);
        // A check of a hash made with more memory does not keep its larger buffer.
        let big = Params::new(2048, 1, 1, None).expect("params");
        let theirs = library_hash(big);
        let parsed = PasswordHash::new(&theirs).expect("parse");
        assert!(verify(&memory, &parsed, None, b"abc123").expect("verify"));
        assert_eq!(memory.kept(), 0);
    }
}
