//! The service key (it seals pending mail and derives the CSRF key): configured, or kept in
//! [`KEY_FILE`] in the data directory, private to the account that runs the service.

use std::path::Path;

use anyhow::Context;
use secrecy::ExposeSecret;
use tracing::warn;

use crate::{config::Config, service_key::ServiceKey};

/// The file in `data_dir` where `serve` keeps the key when the configuration gives none.
pub const KEY_FILE: &str = "secret.key";

/// The key `serve` uses: the configured one, or that of [`KEY_FILE`], created the first time.
pub(super) fn for_serve(config: &Config) -> anyhow::Result<ServiceKey> {
    match &config.security.secret_key {
        Some(k) => Ok(ServiceKey::from_base64(k.expose_secret())?),
        None => load_or_create_key(&config.data_dir.join(KEY_FILE)),
    }
}

/// The key an admin command uses: the same as `serve`, never a new one (the running instances
/// could not open what it seals).
pub(super) fn for_admin(config: &Config) -> anyhow::Result<ServiceKey> {
    match &config.security.secret_key {
        Some(k) => Ok(ServiceKey::from_base64(k.expose_secret())?),
        None => {
            let file = config.data_dir.join(KEY_FILE);
            let text = std::fs::read_to_string(&file).with_context(|| {
                format!(
                    "no security.secret_key configured and no {} here",
                    file.display()
                )
            })?;
            ServiceKey::from_base64(&text)
                .with_context(|| format!("{} is not a valid key", file.display()))
        }
    }
}

fn load_or_create_key(path: &Path) -> anyhow::Result<ServiceKey> {
    if path.exists() {
        // Whoever can read this key can read pending mail (live links) and forge CSRF values.
        if let Some(mode) = crate::at_rest::open_to_others(path)
            .with_context(|| format!("cannot read the permissions of {}", path.display()))?
        {
            anyhow::bail!(
                "the key file {} is accessible to other users (mode {mode:o}); run `chmod 600 {}` \
                 (and `chmod 700 {}`), then start again",
                path.display(),
                path.display(),
                path.parent()
                    .map_or(".".into(), |d| d.display().to_string()),
            );
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return ServiceKey::from_base64(&text)
            .with_context(|| format!("{} is not a valid key", path.display()));
    }
    if let Some(dir) = path.parent() {
        crate::at_rest::private_dir(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let key = ServiceKey::generate();
    write_private(path, &key.to_base64())
        .with_context(|| format!("cannot write {}", path.display()))?;
    warn!(path = %path.display(), "no security.secret_key configured: created one for pending mail; keep this file (or set the key) across restarts");
    Ok(key)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}
