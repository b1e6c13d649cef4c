//! `[security]`: the key that seals pending mail, the password pepper, argon2's parameters;
//! and the rule every key that callers present must meet ([`strong_secret`]).

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// argon2id's cost: memory, passes, lanes (`security.argon2_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Argon2Params {
    /// OWASP's argon2id recommendation: m = 19 MiB, t = 2, p = 1.
    pub const OWASP: Self = Self {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };
}

use super::{Config, Description};

/// Shortest API key or pepper accepted: 32 characters (about 190 bits when random).
pub const MIN_SECRET_LEN: usize = 32;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecurity {
    pub secret_key: Option<SecretString>,
    /// argon2 secret mixed into every password hash (at least 32 characters).
    #[serde(default)]
    pub password_pepper: Option<SecretString>,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Callers that may wait for a hashing slot; past it, 503 with Retry-After.
    #[serde(default = "default_hash_queue")]
    pub hash_queue: usize,
}

fn default_hash_queue() -> usize {
    64
}

/// `[security]`, checked: the keys and how passwords are hashed.
#[derive(Debug, Clone)]
pub struct SecurityConfig {
    pub secret_key: Option<SecretString>,
    pub password_pepper: Option<SecretString>,
    pub argon2: Argon2Params,
    /// Callers that may wait for a hashing slot.
    pub hash_queue: usize,
}

impl RawSecurity {
    pub(super) fn validate(self, errs: &mut Vec<String>) -> SecurityConfig {
        if let Some(key) = &self.secret_key
            && crate::service_key::ServiceKey::from_base64(key.expose_secret()).is_err()
        {
            errs.push("security.secret_key: must be the base64 of exactly 32 bytes".into());
        }
        // The hashes carry a fingerprint of the pepper (its key id): only a random one is safe
        // from guessing against it, so the same rule as the API keys.
        if let Some(p) = &self.password_pepper
            && let Err(why) = strong_secret(p.expose_secret())
        {
            errs.push(format!(
                "security.password_pepper: {why} (e.g. `openssl rand -base64 32`)"
            ));
        }
        let argon2 = Argon2Params {
            memory_kib: self.argon2_memory_kib,
            iterations: self.argon2_iterations,
            parallelism: self.argon2_parallelism,
        };
        if argon2::Params::new(
            argon2.memory_kib,
            argon2.iterations,
            argon2.parallelism,
            None,
        )
        .is_err()
        {
            errs.push("security.argon2_*: parameters refused by argon2".into());
        }
        SecurityConfig {
            secret_key: self.secret_key,
            password_pepper: self.password_pepper,
            argon2,
            hash_queue: self.hash_queue,
        }
    }
}

/// A key that callers present must be long and not a placeholder left from an example.
pub fn strong_secret(key: &str) -> Result<(), String> {
    if key.chars().count() < MIN_SECRET_LEN {
        return Err(format!("at least {MIN_SECRET_LEN} characters"));
    }
    let squashed: String = key
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect::<String>()
        .to_lowercase();
    const PLACEHOLDERS: [&str; 9] = [
        "changeme",
        "replace",
        "placeholder",
        "example",
        "yourkey",
        "yourapikey",
        "secretkey",
        "xxxxxxxx",
        "todo",
    ];
    if PLACEHOLDERS.iter().any(|p| squashed.contains(p)) {
        return Err("looks like a placeholder, not a random key".into());
    }
    let mut distinct: Vec<char> = key.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 10 {
        return Err("too few different characters to be a random key".into());
    }
    Ok(())
}

pub(super) fn describe(cfg: &Config, out: &mut Description) {
    out.line(
        "security.secret_key",
        match cfg.security.secret_key {
            Some(_) => "[redacted]",
            None => "(none: serve keeps one in {data_dir}/secret.key)",
        },
    );
    out.line(
        "security.password_pepper",
        match cfg.security.password_pepper {
            Some(_) => "[redacted]",
            None => "none",
        },
    );
    out.line("security.argon2", format!("{:?}", cfg.security.argon2));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_and_short_api_keys_are_refused() {
        for bad in [
            "short",
            "change-me-change-me-change-me-change-me",
            "REPLACE-WITH-A-LONG-RANDOM-KEY-FOR-THE-PORTAL",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "0123456789abcdef0123456789abcde",
        ] {
            assert!(strong_secret(bad).is_err(), "{bad}");
        }
        assert!(strong_secret("q3Jx9-vLw2_Tn8RcYb4HmZ7pKd1fGs6e").is_ok());
    }
}
