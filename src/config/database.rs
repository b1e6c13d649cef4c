//! `[database]`: SQLite or PostgreSQL, chosen by the URL's scheme.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::redact_url;
use super::{Config, Description};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    pub url: SecretString,
    /// How long `serve` waits for a PostgreSQL that does not answer yet (started before it, as
    /// after a host's reboot), trying again with a growing pause, before it gives up.
    pub startup_wait_secs: u64,
}

/// The database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// `sqlite:…`
    Sqlite,
    /// `postgres://…` or `postgresql://…`
    Postgres,
}

impl DatabaseKind {
    /// `None` for a scheme the service does not speak.
    pub fn of(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

/// `[database]`, checked.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: SecretString,
    /// `database.startup_wait_secs`.
    pub startup_wait: Duration,
}

impl From<RawDatabase> for DatabaseConfig {
    fn from(raw: RawDatabase) -> Self {
        DatabaseConfig {
            url: raw.url,
            startup_wait: Duration::from_secs(raw.startup_wait_secs),
        }
    }
}

impl RawDatabase {
    pub(super) fn validate(&self, errs: &mut Vec<String>) {
        if DatabaseKind::of(self.url.expose_secret()).is_none() {
            errs.push("database.url: must start with sqlite: or postgres://".into());
        }
    }
}

pub(super) fn describe(cfg: &Config, out: &mut Description) {
    let db = &cfg.database;
    out.line("database.url", redact_url(db.url.expose_secret()));
    out.line("database.startup_wait_secs", db.startup_wait.as_secs());
}
