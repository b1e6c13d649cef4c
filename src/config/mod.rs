//! One typed configuration: embedded defaults → optional TOML file → `OCTOPUS__…` environment.
//!
//! Loading has no side effects. [`Config::load`] deserialises the raw layers and validates them
//! into typed values; `check-config` runs exactly the same validation. Each `[section]` has its
//! own file holding its raw type, its validation and its lines in [`Config::describe`]; this one
//! merges the layers, refuses unknown keys ([`explain`]) and puts the sections together.

mod bot;
mod database;
mod demo;
mod explain;
mod http;
mod limits;
mod mail;
mod metrics;
mod organisations;
mod pages;
mod security;
mod tab;
mod teams_app;
mod urls;

pub use limits::Limits;
pub use security::Argon2Params;
use std::path::Path;

use figment::{
    Figment,
    providers::{Env, Format, Toml},
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

pub use self::{
    bot::{AppType, BotAuth, BotConfig, BotMode, EntraChannelConfig, RawBot},
    database::{DatabaseConfig, DatabaseKind, RawDatabase},
    demo::{DEMO_TENANT, Demo},
    explain::explain,
    http::{ForwardedHeader, HttpConfig, RawHttp},
    mail::{MailConfig, MailTransport, RawMail},
    metrics::{MetricsConfig, RawMetrics},
    organisations::RawOrganisation,
    pages::{PageLanguage, Pages},
    security::{MIN_SECRET_LEN, RawSecurity, SecurityConfig, strong_secret},
    tab::{RawTab, TabConfig},
    teams_app::TeamsApp,
    urls::redact_url,
};
use crate::org::Organisations;

pub const DEFAULTS: &str = include_str!("../../config/defaults.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Where the service keeps its files: `{data_dir}` in `database.url` and `mail.transport`
    /// stands for it, and the service key is kept there when none is configured.
    pub data_dir: String,
    pub http: RawHttp,
    pub database: RawDatabase,
    pub mail: RawMail,
    pub security: RawSecurity,
    pub limits: Limits,
    #[serde(default)]
    pub demo: Demo,
    pub bot: RawBot,
    pub teams_app: TeamsApp,
    pub tab: RawTab,
    #[serde(default)]
    pub pages: Pages,
    #[serde(default)]
    pub organisations: Vec<RawOrganisation>,
    #[serde(default)]
    pub metrics: RawMetrics,
    /// `[log]`: read before the rest (logging starts first); here so that it is checked.
    #[serde(default)]
    pub log: crate::telemetry::LogSettings,
}

#[derive(Clone)]
pub struct Config {
    /// `data_dir`: the service key file's folder, and what `{data_dir}` stood for.
    pub data_dir: std::path::PathBuf,
    /// `[log]` (read before the rest at start-up; kept here for check-config's description).
    pub log: crate::telemetry::LogSettings,
    pub http: HttpConfig,
    /// `[metrics]`: where /metrics is served and to whom.
    pub metrics: MetricsConfig,
    pub database: DatabaseConfig,
    pub mail: MailConfig,
    pub security: SecurityConfig,
    pub limits: Limits,
    pub demo: Demo,
    /// Whether the demo account is created ([`Demo::seeds`]).
    pub demo_seed: bool,
    pub bot: BotConfig,
    pub teams_app: TeamsApp,
    pub tab: TabConfig,
    pub pages: Pages,
    pub organisations: Organisations,
}

/// Every problem found in a configuration, named.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigErrors(pub Vec<String>);

impl Config {
    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let raw = Self::figment(file)
            .extract::<RawConfig>()
            .map_err(explain)?;
        Ok(raw.validate()?)
    }

    pub fn figment(file: Option<&Path>) -> Figment {
        let mut fig = Figment::from(Toml::string(DEFAULTS));
        if let Some(file) = file {
            // A file that sets organisations replaces the demo one rather than adding to it.
            fig = fig.merge(Toml::file_exact(file));
        }
        fig.merge(Env::prefixed("OCTOPUS__").split("__"))
    }

    /// Several instances share a PostgreSQL database, and mail sealed by one is opened by another:
    /// they must share the key, so it must come from the configuration, not from a local file.
    pub fn missing_shared_secret(&self) -> Option<String> {
        let postgres =
            DatabaseKind::of(self.database.url.expose_secret()) == Some(DatabaseKind::Postgres);
        (postgres && self.security.secret_key.is_none()).then(|| {
            "security.secret_key is required with PostgreSQL (every instance must open the mail \
             that another one sealed): set the same key on every instance, in the file or as \
             OCTOPUS__SECURITY__SECRET_KEY; generate one with `openssl rand -base64 32`"
                .to_string()
        })
    }

    pub fn uses_https(&self) -> bool {
        self.http.public_base_url.scheme() == "https"
    }

    /// What is allowed but weaker than a security reviewer expects, for `check-config`.
    pub fn warnings(&self) -> Vec<String> {
        let demo = self.demo.warning(&self.organisations);
        let metrics = self.metrics.warning();
        demo.into_iter()
            .chain(metrics)
            .chain(self.policy_warnings())
            .collect()
    }

    fn policy_warnings(&self) -> Vec<String> {
        self.organisations
            .iter()
            .flat_map(|org| {
                org.policy.weaknesses().into_iter().map(move |w| {
                    format!(
                        "organisations[{}].policy: {w} (organisations.policy.min_length = 8)",
                        org.slug
                    )
                })
            })
            .collect()
    }

    /// A printable view with secrets redacted, for `check-config`.
    pub fn describe(&self) -> String {
        let mut out = Description::default();
        out.line("data_dir", self.data_dir.display());
        out.line("log", format!("{:?}", self.log));
        http::describe(self, &mut out);
        database::describe(self, &mut out);
        mail::describe(self, &mut out);
        security::describe(self, &mut out);
        limits::describe(self, &mut out);
        pages::describe(self, &mut out);
        metrics::describe(self, &mut out);
        bot::describe(self, &mut out);
        organisations::describe(self, &mut out);
        out.0
    }
}

/// [`Config::describe`]'s text, one `key  value` line at a time.
#[derive(Default)]
struct Description(String);

impl Description {
    fn line(&mut self, key: &str, value: impl std::fmt::Display) {
        self.0.push_str(&format!("{key:<28} {value}\n"));
    }
}

impl RawConfig {
    pub fn validate(mut self) -> Result<Config, ConfigErrors> {
        let mut errs = Vec::new();
        let data_dir = self.data_dir.trim().to_string();
        if data_dir.is_empty() {
            errs.push("data_dir: a folder is required (e.g. /var/lib/octopus-teams)".into());
        }
        let placed = |s: &SecretString| {
            SecretString::from(s.expose_secret().replace("{data_dir}", &data_dir))
        };
        self.database.url = placed(&self.database.url);
        self.mail.transport = placed(&self.mail.transport);
        let http = self.http.validate(&mut errs);
        let metrics = self.metrics.validate(&mut errs);
        self.database.validate(&mut errs);
        let mail = self.mail.validate(&mut errs);
        let security = self.security.validate(&mut errs);
        limits::validate(&self.limits, &mut errs);
        let bot = self
            .bot
            .validate(http.listen)
            .map_err(|p| errs.extend(p))
            .ok();
        let local_dev = matches!(bot, Some(BotMode::LocalDev));
        let orgs = organisations::validate_all(self.organisations, local_dev, &mut errs);
        http.check_with_bot(local_dev, &mut errs);
        let tab = self
            .tab
            .validate(&self.teams_app, &self.bot)
            .map_err(|p| errs.extend(p))
            .ok();
        // An organisation refused above is already named: an empty list is no second problem.
        let refused = orgs.is_empty() && !errs.is_empty();
        let organisations = Organisations::new(orgs)
            .map_err(|e| {
                if !refused {
                    errs.push(format!("organisations: {e}"));
                }
            })
            .ok();

        match (http.whole(), mail, organisations, bot, tab) {
            (Some(http), Some(mail), Some(organisations), Some(mode), Some(tab))
                if errs.is_empty() =>
            {
                Ok(Config {
                    data_dir: data_dir.into(),
                    log: self.log,
                    http,
                    metrics,
                    database: self.database.into(),
                    mail,
                    security,
                    limits: self.limits,
                    demo_seed: self.demo.seeds(local_dev, &organisations),
                    demo: self.demo,
                    bot: self.bot.with_mode(mode),
                    teams_app: self.teams_app,
                    tab,
                    pages: self.pages,
                    organisations,
                })
            }
            _ => Err(ConfigErrors(errs)),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The embedded defaults, deserialised (not validated).
    pub(crate) fn defaults() -> RawConfig {
        Config::figment(None).extract().expect("defaults parse")
    }

    #[test]
    fn the_embedded_defaults_are_valid() {
        let cfg = defaults().validate().expect("defaults validate");
        assert_eq!(cfg.http.listen.to_string(), "127.0.0.1:3978");
        assert_eq!(cfg.security.argon2, Argon2Params::OWASP);
        assert_eq!(cfg.organisations.iter().count(), 1);
    }

    #[test]
    fn problems_are_all_named() {
        let mut raw = defaults();
        raw.http.listen = "nowhere".into();
        raw.organisations[0].time_zone = "Mars/Olympus".into();
        raw.organisations[0].sender = "not an address".into();
        let err = raw.validate().err().expect("invalid");
        let text = err.to_string();
        assert!(text.contains("http.listen"), "{text}");
        assert!(text.contains("organisations[0].time_zone"), "{text}");
        assert!(text.contains("organisations[0].sender"), "{text}");
    }
}
