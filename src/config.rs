//! One typed configuration: embedded defaults → optional TOML file → `OCTOPUS__…` environment.
//!
//! Loading has no side effects. [`Config::load`] deserialises the raw layers and validates them
//! into typed values; `check-config` runs exactly the same validation.

use std::{net::SocketAddr, path::Path, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Toml},
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use crate::{
    i18n::Locale,
    org::{Helpdesk, LocalTestClient, LockoutPolicy, Organisation, Organisations},
    reset::policy::PasswordPolicy,
};

pub const DEFAULTS: &str = include_str!("../config/defaults.toml");

/// Shortest API key or pepper accepted: 32 characters (about 190 bits when random).
pub const MIN_SECRET_LEN: usize = 32;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
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
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// A separate address for `GET /metrics` (e.g. 127.0.0.1:9464); empty = on http.listen.
    #[serde(default)]
    pub listen: String,
}

/// The web pages (/login, /forgot, /enroll, /reset/…).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Pages {
    #[serde(default)]
    pub language: PageLanguage,
}

/// Which language a page opens in before the person chooses one (a choice is remembered).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageLanguage {
    /// The organisation's default language, the others as links (as the seed's portal does).
    #[default]
    Organisation,
    /// The browser's Accept-Language, else the organisation's.
    Browser,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTab {
    pub entra_authority: String,
    pub teams_js_url: String,
    pub teams_js_integrity: Option<String>,
    pub frame_ancestors: Vec<String>,
}

/// The tab's settings, validated.
#[derive(Debug, Clone)]
pub struct TabConfig {
    pub entra_authority: Url,
    pub teams_js_url: Url,
    pub teams_js_integrity: Option<String>,
    pub frame_ancestors: Vec<String>,
    /// The Entra app whose tokens the tab accepts (teams_app.sso_app_id, else the bot's app id).
    pub sso_app_id: Option<String>,
    /// The tenant keys are cached as the bot's are (bot.key_refresh_hours, bot.unknown_key_cooldown_secs).
    pub key_max_age: Duration,
    pub unknown_key_cooldown: Duration,
}

/// What the Teams app package says about itself (checked when the package is built).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsApp {
    pub app_id: Option<String>,
    /// Environment values are parsed as TOML: `…VERSION=1.0` arrives as a number.
    #[serde(deserialize_with = "string_or_number")]
    pub version: String,
    pub short_name: String,
    pub full_name: String,
    pub developer_name: String,
    pub developer_url: Option<String>,
    pub accent_color: String,
    pub sso_app_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBot {
    #[serde(default)]
    pub app_id: String,
    pub app_password: Option<SecretString>,
    pub app_type: String,
    pub app_tenant_id: Option<String>,
    pub openid_metadata_url: String,
    pub channel_issuer: String,
    pub token_authority: String,
    pub token_scope: String,
    pub key_refresh_hours: u64,
    pub unknown_key_cooldown_secs: u64,
    pub connector_retries: u32,
    pub connector_timeout_secs: u64,
    #[serde(default)]
    pub accept_entra_channel_tokens: bool,
    #[serde(default)]
    pub bot_service_tenants: Vec<String>,
    #[serde(default)]
    pub entra_channel_callers: Vec<String>,
    #[serde(default)]
    pub connector_hosts: Vec<String>,
}

/// How the bot endpoint authenticates, decided once at start-up.
#[derive(Clone, Debug)]
pub enum BotMode {
    /// No app id: no authentication, loopback only (Teams app test tool, Bot Framework Emulator).
    LocalDev,
    Authenticated(Box<BotAuth>),
}

#[derive(Clone)]
pub struct BotAuth {
    pub app_id: String,
    pub app_password: SecretString,
    /// Entra token endpoint for the client-credential grant (the bot's tenant, or botframework.com).
    pub token_url: Url,
    pub token_scope: String,
    pub openid_metadata_url: Url,
    pub channel_issuer: String,
    pub key_max_age: Duration,
    pub unknown_key_cooldown: Duration,
    /// Entra-issued channel tokens (bot.accept_entra_channel_tokens), when accepted.
    pub entra_channel: Option<EntraChannelConfig>,
}

/// Which Entra-issued channel tokens are accepted: issuers of the Bot Service tenants (keys from
/// `authority`, the bot's token authority), from allowed callers, for connector hosts.
#[derive(Clone, Debug)]
pub struct EntraChannelConfig {
    pub authority: Url,
    pub tenants: Vec<String>,
    pub callers: Vec<String>,
    pub connector_hosts: Vec<String>,
}

impl std::fmt::Debug for BotAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotAuth")
            .field("app_id", &self.app_id)
            .field("app_password", &"[redacted]")
            .field("token_url", &self.token_url.as_str())
            .field("openid_metadata_url", &self.openid_metadata_url.as_str())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    pub listen: String,
    pub public_base_url: String,
    /// CIDR ranges of the reverse proxies in front: only their X-Forwarded-For is read.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Replaced by `trusted_proxies`; kept only to refuse it with a message that says so.
    #[serde(default)]
    pub trust_forwarded_for: Option<serde::de::IgnoredAny>,
    /// Keep a sane inbound X-Request-Id (set by your proxy) instead of making a new one.
    #[serde(default)]
    pub trust_request_id: bool,
    /// On SIGTERM, how long to wait for the bot turns in flight.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace_secs: u64,
}

fn default_shutdown_grace() -> u64 {
    20
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    pub url: SecretString,
}

fn default_mail_concurrency() -> u32 {
    16
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMail {
    pub transport: SecretString,
    pub poll_interval_secs: u64,
    pub timeout_secs: u64,
    pub max_attempts: u32,
    /// Mails sent at the same time (each on its own pooled relay connection).
    #[serde(default = "default_mail_concurrency")]
    pub concurrency: u32,
    /// A PEM file of CA certificates to trust for the relay (besides the public roots).
    #[serde(default)]
    pub tls_ca_file: Option<String>,
}

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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub requests_per_ip: u32,
    pub requests_per_account: u32,
    pub request_window_secs: u64,
    pub signins_per_ip: u32,
    pub signin_window_secs: u64,
    pub verify_per_key: u32,
    pub verify_window_secs: u64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Demo {
    #[serde(default)]
    pub seed: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOrganisation {
    pub tenant_id: String,
    pub slug: String,
    pub name: String,
    pub portal_url: String,
    pub sender: String,
    pub time_zone: String,
    pub default_locale: String,
    pub token_lifetime_minutes: u32,
    pub api_key: Option<SecretString>,
    #[serde(default)]
    pub team_ids: Vec<String>,
    /// Microsoft's local test clients this organisation serves in local-development mode
    /// (`agents-playground`, `bot-emulator`); ignored when the bot has an app id.
    #[serde(default)]
    pub local_test_clients: Vec<LocalTestClient>,
    pub policy: Option<PasswordPolicy>,
    pub lockout: Option<LockoutPolicy>,
    /// How long audit rows of this organisation are kept.
    #[serde(default = "default_audit_retention_days")]
    pub audit_retention_days: u32,
    /// The service-desk agents (`[organisations.helpdesk]`).
    #[serde(default)]
    pub helpdesk: Helpdesk,
}

fn default_audit_retention_days() -> u32 {
    365
}

/// Where mail goes.
#[derive(Clone)]
pub enum MailTransport {
    /// Each message written as an `.eml` file in this folder (development).
    Folder(std::path::PathBuf),
    /// An `smtp://` or `smtps://` URL, possibly with credentials.
    Smtp(SecretString),
}

impl std::fmt::Debug for MailTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Folder(p) => write!(f, "folder {}", p.display()),
            Self::Smtp(url) => write!(f, "{}", redact_url(url.expose_secret())),
        }
    }
}

#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub public_base_url: Url,
    /// The reverse proxies whose X-Forwarded-For is believed (empty: the TCP peer is the client).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub trust_request_id: bool,
    pub shutdown_grace: Duration,
    /// `metrics.listen`: serve /metrics only there.
    pub metrics_listen: Option<SocketAddr>,
    pub database_url: SecretString,
    pub mail: MailTransport,
    pub mail_poll_interval: Duration,
    pub mail_timeout: Duration,
    /// PEM certificates of the private CA that signed the relay's certificate (`mail.tls_ca_file`).
    pub mail_tls_ca: Option<Vec<u8>>,
    /// Attempts after which a mail that keeps failing (4xx, connection) is dead-lettered.
    pub mail_max_attempts: u32,
    /// `mail.concurrency`: sends in flight at once (at least 1).
    pub mail_concurrency: usize,
    pub secret_key: Option<SecretString>,
    pub password_pepper: Option<SecretString>,
    pub argon2: Argon2Params,
    pub hash_queue: usize,
    pub limits: Limits,
    pub demo: Demo,
    pub bot: BotMode,
    pub connector_retries: u32,
    pub connector_timeout: Duration,
    pub teams_app: TeamsApp,
    pub tab: TabConfig,
    pub pages: Pages,
    pub organisations: Organisations,
}

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
        let db = self.database_url.expose_secret();
        let postgres = db.starts_with("postgres://") || db.starts_with("postgresql://");
        (postgres && self.secret_key.is_none()).then(|| {
            "security.secret_key is required with PostgreSQL (every instance must open the mail \
             that another one sealed): set the same key on every instance, in the file or as \
             OCTOPUS__SECURITY__SECRET_KEY; generate one with `openssl rand -base64 32`"
                .to_string()
        })
    }

    pub fn uses_https(&self) -> bool {
        self.public_base_url.scheme() == "https"
    }

    /// What is allowed but weaker than a security reviewer expects, for `check-config`.
    pub fn warnings(&self) -> Vec<String> {
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
        let mut out = String::new();
        let push = |out: &mut String, k: &str, v: String| {
            out.push_str(&format!("{k:<28} {v}\n"));
        };
        push(&mut out, "http.listen", self.listen.to_string());
        push(
            &mut out,
            "http.public_base_url",
            self.public_base_url.to_string(),
        );
        push(
            &mut out,
            "http.trusted_proxies",
            format!("{:?}", self.trusted_proxies),
        );
        push(
            &mut out,
            "database.url",
            redact_url(self.database_url.expose_secret()),
        );
        push(&mut out, "mail.transport", format!("{:?}", self.mail));
        push(
            &mut out,
            "security.secret_key",
            match self.secret_key {
                Some(_) => "[redacted]".into(),
                None => "(none: serve keeps one in data/secret.key)".into(),
            },
        );
        push(
            &mut out,
            "security.password_pepper",
            match self.password_pepper {
                Some(_) => "[redacted]".into(),
                None => "none".into(),
            },
        );
        push(&mut out, "security.argon2", format!("{:?}", self.argon2));
        push(&mut out, "limits", format!("{:?}", self.limits));
        push(
            &mut out,
            "pages.language",
            format!("{:?}", self.pages.language).to_lowercase(),
        );
        push(
            &mut out,
            "bot",
            match &self.bot {
                BotMode::LocalDev => {
                    "LOCAL DEVELOPMENT MODE: no app id, no authentication, loopback only".into()
                }
                BotMode::Authenticated(a) => format!(
                    "app id {} · password [redacted] · token {} · keys {}",
                    a.app_id, a.token_url, a.openid_metadata_url
                ),
            },
        );
        for org in self.organisations.iter() {
            push(
                &mut out,
                &format!("organisation[{}]", org.slug),
                format!(
                    "tenant {} · {} · portal {} · sender {} · tz {} · {} · link {} min · api key {}",
                    org.tenant_id,
                    org.name,
                    org.portal_url,
                    org.sender,
                    org.time_zone,
                    org.default_locale.tag(),
                    org.token_lifetime.as_secs() / 60,
                    if org.api_key.is_some() {
                        "[redacted]"
                    } else {
                        "none"
                    },
                ),
            );
            if !org.local_test_clients.is_empty() {
                let names: Vec<&str> = org.local_test_clients.iter().map(|c| c.name()).collect();
                push(
                    &mut out,
                    &format!("organisation[{}]", org.slug),
                    format!(
                        "also serves the local test clients {} (local-development mode only)",
                        names.join(", ")
                    ),
                );
            }
            push(
                &mut out,
                &format!("organisation[{}]", org.slug),
                format!(
                    "helpdesk: {} agent(s) by Entra object id may ask the bot « statut <username> »",
                    org.helpdesk.agent_object_ids.len()
                ),
            );
        }
        out
    }
}

impl RawConfig {
    pub fn validate(self) -> Result<Config, ConfigErrors> {
        let mut errs = Vec::new();
        let listen = self
            .http
            .listen
            .parse::<SocketAddr>()
            .map_err(|e| {
                errs.push(format!(
                    "http.listen: {e} (expected host:port, e.g. 127.0.0.1:3978)"
                ))
            })
            .ok();
        let public_base_url = match Url::parse(&self.http.public_base_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
            Ok(_) => {
                errs.push("http.public_base_url: must be an http(s) URL with a host".into());
                None
            }
            Err(e) => {
                errs.push(format!("http.public_base_url: {e}"));
                None
            }
        };
        if self.http.trust_forwarded_for.is_some() {
            errs.push(
                "http.trust_forwarded_for: no longer supported; list your reverse proxies instead, \
                 e.g. http.trusted_proxies = [\"10.0.0.0/8\"] (X-Forwarded-For is then read only \
                 from them, and the client is the rightmost address that is not one of them)"
                    .into(),
            );
        }
        let mut trusted_proxies = Vec::new();
        for raw in &self.http.trusted_proxies {
            let raw = raw.trim();
            // A bare address means just that address.
            let parsed = raw.parse::<ipnet::IpNet>().or_else(|_| {
                raw.parse::<std::net::IpAddr>()
                    .map(|ip| ipnet::IpNet::from(ip.to_canonical()))
            });
            match parsed {
                Ok(net) => trusted_proxies.push(net.trunc()),
                Err(_) => errs.push(format!(
                    "http.trusted_proxies: {raw:?} is not a CIDR range (e.g. 10.0.0.0/8, fd00::/8) \
                     or an address"
                )),
            }
        }
        let metrics_listen = match self.metrics.listen.trim() {
            "" => None,
            l => l
                .parse::<SocketAddr>()
                .map_err(|e| {
                    errs.push(format!(
                        "metrics.listen: {e} (expected host:port, e.g. 127.0.0.1:9464, or empty)"
                    ))
                })
                .ok(),
        };
        let db = self.database.url.expose_secret();
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            errs.push("database.url: must start with sqlite: or postgres://".into());
        }
        let transport = self.mail.transport.expose_secret();
        let mail = if let Some(dir) = transport.strip_prefix("file:") {
            let dir = dir.trim_start_matches("//");
            if dir.is_empty() {
                errs.push("mail.transport: file: needs a folder, e.g. file:data/mail".into());
            }
            Some(MailTransport::Folder(dir.into()))
        } else if transport.starts_with("smtp://") || transport.starts_with("smtps://") {
            match Url::parse(transport) {
                Ok(u) if u.host().is_some() => {
                    Some(MailTransport::Smtp(self.mail.transport.clone()))
                }
                _ => {
                    errs.push("mail.transport: not a valid smtp:// or smtps:// URL".into());
                    None
                }
            }
        } else {
            errs.push("mail.transport: expected file:DIR, smtp://… or smtps://…".into());
            None
        };
        let mail_tls_ca = self
            .mail
            .tls_ca_file
            .as_deref()
            .filter(|f| !f.trim().is_empty())
            .and_then(|file| match relay_ca(file, transport) {
                Ok(pem) => Some(pem),
                Err(e) => {
                    errs.push(format!("mail.tls_ca_file: {e}"));
                    None
                }
            });
        if let Some(key) = &self.security.secret_key
            && crate::mail::crypto::MailKey::from_base64(key.expose_secret()).is_err()
        {
            errs.push("security.secret_key: must be the base64 of exactly 32 bytes".into());
        }
        // The hashes carry a fingerprint of the pepper (its key id): only a random one is safe
        // from guessing against it, so the same rule as the API keys.
        if let Some(p) = &self.security.password_pepper
            && let Err(why) = strong_secret(p.expose_secret())
        {
            errs.push(format!(
                "security.password_pepper: {why} (e.g. `openssl rand -base64 32`)"
            ));
        }
        let argon2 = Argon2Params {
            memory_kib: self.security.argon2_memory_kib,
            iterations: self.security.argon2_iterations,
            parallelism: self.security.argon2_parallelism,
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
        if self.limits.request_window_secs == 0
            || self.limits.signin_window_secs == 0
            || self.limits.verify_window_secs == 0
        {
            errs.push("limits: windows must be at least one second".into());
        }

        let bot = validate_bot(&self.bot, listen)
            .map_err(|p| errs.extend(p))
            .ok();
        let mut orgs = Vec::new();
        if self.organisations.is_empty() {
            errs.push("organisations: at least one organisation is required".into());
        }
        for (i, raw) in self.organisations.into_iter().enumerate() {
            match validate_org(raw) {
                Ok(mut org) => {
                    // Made-up test tenants are never served by a bot that Azure can reach.
                    if !matches!(bot, Some(BotMode::LocalDev)) {
                        org.local_test_clients.clear();
                    }
                    orgs.push(org)
                }
                Err(problems) => errs.extend(
                    problems
                        .into_iter()
                        .map(|p| format!("organisations[{i}].{p}")),
                ),
            }
        }
        if matches!(bot, Some(BotMode::LocalDev)) {
            let loopback = public_base_url.as_ref().is_none_or(|u| match u.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                None => false,
            });
            if !loopback {
                errs.push(
                    "http.public_base_url: local-development mode (bot.app_id empty) serves \
                     loopback only; set bot.app_id, or use http://127.0.0.1:PORT"
                        .into(),
                );
            }
            if !trusted_proxies.is_empty() {
                errs.push(
                    "http.trusted_proxies: local-development mode (bot.app_id empty) accepts no \
                     proxy in front; set bot.app_id, or leave trusted_proxies empty"
                        .into(),
                );
            }
        }
        if self.http.trust_request_id && trusted_proxies.is_empty() {
            errs.push(
                "http.trust_request_id: an inbound X-Request-Id is kept only from a trusted proxy; \
                 list yours in http.trusted_proxies (e.g. [\"10.0.0.0/8\"]), or set \
                 trust_request_id = false"
                    .into(),
            );
        }
        let tab = validate_tab(&self.tab, &self.teams_app, &self.bot)
            .map_err(|p| errs.extend(p))
            .ok();
        let organisations = match Organisations::new(orgs) {
            Ok(o) => Some(o),
            Err(e) => {
                errs.push(format!("organisations: {e}"));
                None
            }
        };

        match (listen, public_base_url, mail, organisations, bot, tab) {
            (
                Some(listen),
                Some(public_base_url),
                Some(mail),
                Some(organisations),
                Some(bot),
                Some(tab),
            ) if errs.is_empty() => Ok(Config {
                listen,
                public_base_url,
                trusted_proxies,
                trust_request_id: self.http.trust_request_id,
                shutdown_grace: Duration::from_secs(self.http.shutdown_grace_secs),
                metrics_listen,
                database_url: self.database.url,
                mail,
                mail_poll_interval: Duration::from_secs(self.mail.poll_interval_secs.max(1)),
                mail_timeout: Duration::from_secs(self.mail.timeout_secs.max(1)),
                mail_tls_ca,
                mail_max_attempts: self.mail.max_attempts.max(1),
                mail_concurrency: usize::try_from(self.mail.concurrency.clamp(1, 256))
                    .unwrap_or(16),
                secret_key: self.security.secret_key,
                password_pepper: self.security.password_pepper,
                argon2,
                hash_queue: self.security.hash_queue,
                limits: self.limits,
                demo: self.demo,
                bot,
                connector_retries: self.bot.connector_retries.min(10),
                connector_timeout: Duration::from_secs(
                    self.bot.connector_timeout_secs.clamp(1, 120),
                ),
                teams_app: self.teams_app,
                tab,
                pages: self.pages,
                organisations,
            }),
            _ => Err(ConfigErrors(errs)),
        }
    }
}

fn validate_tab(raw: &RawTab, app: &TeamsApp, bot: &RawBot) -> Result<TabConfig, Vec<String>> {
    let mut errs = Vec::new();
    let url = |key: &str, v: &str, errs: &mut Vec<String>| match Url::parse(v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
        _ => {
            errs.push(format!("tab.{key}: not an http(s) URL"));
            None
        }
    };
    let authority = url("entra_authority", &raw.entra_authority, &mut errs);
    let teams_js = url("teams_js_url", &raw.teams_js_url, &mut errs);
    for a in &raw.frame_ancestors {
        if a.contains([';', ',', ' ', '\'', '"'])
            || !(a.starts_with("https://") || a.starts_with("http://"))
        {
            errs.push(format!(
                "tab.frame_ancestors: {a:?} is not an origin like https://*.teams.microsoft.com"
            ));
        }
    }
    let sso_app_id = app
        .sso_app_id
        .clone()
        .or_else(|| Some(bot.app_id.trim().to_string()).filter(|s| !s.is_empty()));
    match (authority, teams_js) {
        (Some(entra_authority), Some(teams_js_url)) if errs.is_empty() => Ok(TabConfig {
            entra_authority,
            teams_js_url,
            teams_js_integrity: raw.teams_js_integrity.clone().filter(|s| !s.is_empty()),
            frame_ancestors: raw.frame_ancestors.clone(),
            sso_app_id,
            key_max_age: key_max_age(bot),
            unknown_key_cooldown: Duration::from_secs(bot.unknown_key_cooldown_secs),
        }),
        _ => Err(errs),
    }
}

/// Keys are refreshed at least daily, as the Bot Framework asks.
fn key_max_age(raw: &RawBot) -> Duration {
    Duration::from_secs(raw.key_refresh_hours.clamp(1, 24) * 3600)
}

fn validate_bot(raw: &RawBot, listen: Option<SocketAddr>) -> Result<BotMode, Vec<String>> {
    let mut errs = Vec::new();
    let app_id = raw.app_id.trim();
    if app_id.is_empty() {
        if listen.is_some_and(|l| !l.ip().is_loopback()) {
            errs.push(
                "bot.app_id is empty (local-development mode, no authentication): http.listen must then be a \
                 loopback address such as 127.0.0.1:3978"
                    .into(),
            );
        }
        return if errs.is_empty() {
            Ok(BotMode::LocalDev)
        } else {
            Err(errs)
        };
    }
    let url = |key: &str, v: &str, errs: &mut Vec<String>| match Url::parse(v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
        _ => {
            errs.push(format!("bot.{key}: not an http(s) URL"));
            None
        }
    };
    let password = raw.app_password.clone();
    if password
        .as_ref()
        .is_none_or(|p| p.expose_secret().is_empty())
    {
        errs.push(
            "bot.app_password: required with bot.app_id (the app registration's client secret)"
                .into(),
        );
    }
    let tenant = match raw.app_type.as_str() {
        "single_tenant" => match raw.app_tenant_id.as_deref().map(str::trim) {
            Some(t) if !t.is_empty() => Some(t.to_string()),
            _ => {
                errs.push(
                    "bot.app_tenant_id: required for a single_tenant bot (its home tenant id)"
                        .into(),
                );
                None
            }
        },
        "multi_tenant" => Some("botframework.com".to_string()),
        other => {
            errs.push(format!(
                "bot.app_type: {other:?} is not single_tenant or multi_tenant"
            ));
            None
        }
    };
    let authority = url("token_authority", &raw.token_authority, &mut errs);
    let metadata = url("openid_metadata_url", &raw.openid_metadata_url, &mut errs);
    let entra_channel = entra_channel(raw, authority.as_ref(), &mut errs);
    match (password, tenant, authority, metadata) {
        (Some(app_password), Some(tenant), Some(authority), Some(openid_metadata_url))
            if errs.is_empty() =>
        {
            let token_url = Url::parse(&format!(
                "{}/{tenant}/oauth2/v2.0/token",
                authority.as_str().trim_end_matches('/')
            ))
            .map_err(|e| vec![format!("bot.token_authority: {e}")])?;
            Ok(BotMode::Authenticated(Box::new(BotAuth {
                app_id: app_id.to_string(),
                app_password,
                token_url,
                token_scope: raw.token_scope.clone(),
                openid_metadata_url,
                channel_issuer: raw.channel_issuer.clone(),
                key_max_age: key_max_age(raw),
                unknown_key_cooldown: Duration::from_secs(raw.unknown_key_cooldown_secs),
                entra_channel,
            })))
        }
        _ => Err(errs),
    }
}

/// `None` unless bot.accept_entra_channel_tokens; then tenants, callers and hosts are required.
fn entra_channel(
    raw: &RawBot,
    authority: Option<&Url>,
    errs: &mut Vec<String>,
) -> Option<EntraChannelConfig> {
    if !raw.accept_entra_channel_tokens {
        return None;
    }
    let lower = |v: &[String]| -> Vec<String> {
        v.iter()
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let tenants = lower(&raw.bot_service_tenants);
    let callers = lower(&raw.entra_channel_callers);
    let connector_hosts = lower(&raw.connector_hosts);
    for (key, list) in [
        ("bot_service_tenants", &tenants),
        ("entra_channel_callers", &callers),
        ("connector_hosts", &connector_hosts),
    ] {
        if list.is_empty() {
            errs.push(format!(
                "bot.{key}: required (not empty) with bot.accept_entra_channel_tokens = true"
            ));
        }
    }
    if let Some(bad) = tenants.iter().find(|t| uuid::Uuid::parse_str(t).is_err()) {
        errs.push(format!(
            "bot.bot_service_tenants: {bad:?} is not a tenant id (GUID)"
        ));
    }
    Some(EntraChannelConfig {
        authority: authority?.clone(),
        tenants,
        callers,
        connector_hosts,
    })
}

fn validate_org(raw: RawOrganisation) -> Result<Organisation, Vec<String>> {
    let mut errs = Vec::new();
    if raw.tenant_id.trim().is_empty() {
        errs.push("tenant_id: required (the Entra tenant id)".into());
    }
    if raw.slug.is_empty()
        || !raw
            .slug
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        errs.push("slug: letters, digits and '-' only".into());
    }
    if raw.name.trim().is_empty() {
        errs.push("name: required".into());
    }
    let portal_url = match Url::parse(&raw.portal_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
        Ok(_) => {
            errs.push("portal_url: must be an http(s) URL".into());
            None
        }
        Err(e) => {
            errs.push(format!("portal_url: {e}"));
            None
        }
    };
    let sender = raw
        .sender
        .parse::<lettre::message::Mailbox>()
        .map_err(|e| {
            errs.push(format!(
                "sender: {e} (e.g. \"Centre de services <supportTI@example.org>\")"
            ))
        })
        .ok();
    let time_zone = raw
        .time_zone
        .parse::<chrono_tz::Tz>()
        .map_err(|_| errs.push(format!("time_zone: unknown IANA zone {:?}", raw.time_zone)))
        .ok();
    let default_locale = Locale::from_tag(&raw.default_locale)
        .ok_or_else(|| errs.push("default_locale: one of fr-CA, en, pt".into()))
        .ok();
    if !(1..=24 * 60).contains(&raw.token_lifetime_minutes) {
        errs.push("token_lifetime_minutes: between 1 and 1440".into());
    }
    let policy = raw.policy.unwrap_or_default();
    if let Err(e) = policy.validate() {
        errs.push(format!("policy: {e}"));
    }
    let lockout = raw.lockout.unwrap_or_default();
    if lockout.threshold == 0 || lockout.hard_limit < lockout.threshold || lockout.hard_limit > 100
    {
        errs.push("lockout: need 1 ≤ threshold ≤ hard_limit ≤ 100".into());
    }
    let team_ids: Vec<String> = raw.team_ids.iter().map(|t| team_id(t)).collect();
    for (i, t) in team_ids.iter().enumerate() {
        if !(t.starts_with("19:") && t.contains("@thread.")) {
            errs.push(format!(
                "team_ids[{i}]: a team id looks like 19:…@thread.tacv2 (from the team's \"Get link to team\")"
            ));
        }
    }
    if let Some(key) = &raw.api_key
        && let Err(why) = strong_secret(key.expose_secret())
    {
        errs.push(format!(
            "api_key: {why} (make one with `openssl rand -base64 32`)"
        ));
    }
    if !(1..=36_500).contains(&raw.audit_retention_days) {
        errs.push("audit_retention_days: between 1 and 36500".into());
    }
    let helpdesk = raw.helpdesk.validated().map_err(|e| errs.extend(e)).ok();
    match (portal_url, sender, time_zone, default_locale, helpdesk) {
        (Some(portal_url), Some(sender), Some(time_zone), Some(default_locale), Some(helpdesk))
            if errs.is_empty() =>
        {
            Ok(Organisation {
                tenant_id: raw.tenant_id.trim().to_ascii_lowercase(),
                slug: raw.slug,
                name: raw.name,
                portal_url,
                sender,
                time_zone,
                default_locale,
                token_lifetime: Duration::from_secs(u64::from(raw.token_lifetime_minutes) * 60),
                api_key: raw.api_key,
                team_ids,
                local_test_clients: raw.local_test_clients,
                policy,
                lockout,
                audit_retention: Duration::from_secs(u64::from(raw.audit_retention_days) * 86_400),
                helpdesk,
            })
        }
        _ => Err(errs),
    }
}

/// A configuration that does not deserialise, explained key by key: an unknown key is named
/// with its section path, where it came from, and the closest known key.
pub fn explain(err: figment::Error) -> ConfigErrors {
    ConfigErrors(err.into_iter().map(|e| explain_one(&e)).collect())
}

fn explain_one(e: &figment::Error) -> String {
    use figment::error::Kind;
    let from = match &e.metadata {
        Some(m) if m.name.contains("environment") => {
            " (from the environment variable OCTOPUS__{})".to_string()
        }
        Some(m) => match &m.source {
            Some(source) => format!(" (in {source})"),
            None => format!(" (from {})", m.name),
        },
        None => String::new(),
    };
    let key_of = |field: &str| {
        let mut path = e.path.clone();
        if path.last().map(String::as_str) != Some(field) {
            path.push(field.to_string());
        }
        path
    };
    let env_name = |path: &[String]| {
        path.iter()
            .map(|k| k.to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join("__")
    };
    match &e.kind {
        Kind::UnknownField(field, expected) => {
            let path = key_of(field);
            let key = path.join(".");
            let section = path[..path.len() - 1].join(".");
            let near = expected
                .iter()
                .min_by_key(|k| strsim::levenshtein(field, k))
                .map(|k| {
                    if section.is_empty() {
                        format!("; did you mean {k}?")
                    } else {
                        format!("; did you mean {section}.{k}?")
                    }
                })
                .unwrap_or_default();
            format!(
                "unknown key {key}{}{near} (known here: {})",
                from.replace("OCTOPUS__{}", &format!("OCTOPUS__{}", env_name(&path))),
                expected.join(", ")
            )
        }
        Kind::MissingField(field) => {
            let path = key_of(field);
            format!("missing key {}", path.join("."))
        }
        _ => {
            let key = e.path.join(".");
            let from = from.replace("OCTOPUS__{}", &format!("OCTOPUS__{}", env_name(&e.path)));
            if key.is_empty() {
                format!("{}{from}", e.kind)
            } else {
                format!("{key}: {}{from}", e.kind)
            }
        }
    }
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        S(String),
        F(f64),
        I(i64),
    }
    Ok(match Either::deserialize(d)? {
        Either::S(s) => s,
        Either::F(f) => f.to_string(),
        Either::I(i) => i.to_string(),
    })
}

/// A team id as configured: as Teams shows it (`19:…@thread.tacv2`) or as "Get link to team"
/// copies it, URL-encoded (`19%3a…%40thread.tacv2`).
fn team_id(raw: &str) -> String {
    percent_encoding::percent_decode_str(raw.trim())
        .decode_utf8_lossy()
        .into_owned()
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

/// `scheme://user:***@host/…`: never print a password that sits in a URL.
pub fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "[unparsable URL redacted]".into(),
    }
}

/// Reads the relay's private CA (PEM) and checks that it holds a certificate and that the
/// transport uses TLS at all (a CA for a plain connection would be a silent misconfiguration).
fn relay_ca(file: &str, transport: &str) -> Result<Vec<u8>, String> {
    let tls = transport.starts_with("smtps://")
        || (transport.starts_with("smtp://") && transport.contains("tls="));
    if !tls {
        return Err("set, but mail.transport does not use TLS (smtps:// or ?tls=required)".into());
    }
    let pem = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(format!("{file} holds no PEM certificate"));
    }
    lettre::transport::smtp::client::Certificate::from_pem(&pem)
        .map_err(|e| format!("{file}: {e}"))?;
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_defaults_are_valid() {
        let raw: RawConfig = Config::figment(None).extract().expect("defaults parse");
        let cfg = raw.validate().expect("defaults validate");
        assert_eq!(cfg.listen.to_string(), "127.0.0.1:3978");
        assert_eq!(cfg.argon2, Argon2Params::OWASP);
        assert_eq!(cfg.organisations.iter().count(), 1);
    }

    #[test]
    fn problems_are_all_named() {
        let mut raw: RawConfig = Config::figment(None).extract().expect("defaults parse");
        raw.http.listen = "nowhere".into();
        raw.organisations[0].time_zone = "Mars/Olympus".into();
        raw.organisations[0].sender = "not an address".into();
        let err = raw.validate().err().expect("invalid");
        let text = err.to_string();
        assert!(text.contains("http.listen"), "{text}");
        assert!(text.contains("organisations[0].time_zone"), "{text}");
        assert!(text.contains("organisations[0].sender"), "{text}");
    }

    #[test]
    fn a_team_id_is_accepted_as_shown_or_as_copied_from_its_link() {
        let mut raw: RawConfig = Config::figment(None).extract().expect("defaults parse");
        raw.organisations[0].team_ids = vec![
            "19:abc@thread.tacv2".into(),
            "19%3aDEF%40thread.tacv2".into(),
        ];
        let cfg = raw.validate().expect("valid");
        let org = cfg.organisations.iter().next().expect("one org");
        assert_eq!(org.team_ids, ["19:abc@thread.tacv2", "19:DEF@thread.tacv2"]);

        let mut raw: RawConfig = Config::figment(None).extract().expect("defaults parse");
        raw.organisations[0].team_ids = vec!["Teaméo".into()];
        let text = raw.validate().err().expect("invalid").to_string();
        assert!(text.contains("organisations[0].team_ids[0]"), "{text}");
    }

    fn unknown(toml: &str) -> String {
        Config::figment(None)
            .merge(Toml::string(toml))
            .extract::<RawConfig>()
            .map_err(explain)
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn an_unknown_key_is_named_with_its_section_and_the_closest_known_key() {
        let text = unknown("[mail]\ntransprot = \"smtp://x\"\n");
        assert!(text.contains("unknown key mail.transprot"), "{text}");
        assert!(text.contains("did you mean mail.transport?"), "{text}");
        let text = unknown(
            "[[organisations]]\ntenant_id = \"t\"\nslug = \"s\"\nname = \"n\"\nportal_url = \"https://p\"\nsender = \"a@b.c\"\ntime_zone = \"UTC\"\ndefault_locale = \"en\"\ntoken_lifetime_minutes = 5\n[organisations.policy]\nmin_lenght = 4\nmax_length = 9\nrequire_letter = true\nrequire_digit = true\n",
        );
        assert!(text.contains("organisations.0.policy.min_lenght"), "{text}");
        assert!(
            text.contains("did you mean organisations.0.policy.min_length?"),
            "{text}"
        );
        let text = unknown("[telemetry]\nformat = \"json\"\n");
        assert!(text.contains("unknown key telemetry"), "{text}");
    }

    #[test]
    fn a_relay_ca_needs_tls_and_a_readable_pem_file() {
        let mut raw: RawConfig = Config::figment(None).extract().expect("defaults parse");
        raw.mail.transport = SecretString::from("smtp://relay.example.org:25");
        raw.mail.tls_ca_file = Some("/nonexistent/relay-ca.pem".into());
        let text = raw.validate().err().expect("invalid").to_string();
        assert!(text.contains("mail.tls_ca_file"), "{text}");
        assert!(text.contains("does not use TLS"), "{text}");

        let mut raw: RawConfig = Config::figment(None).extract().expect("defaults parse");
        raw.mail.transport = SecretString::from("smtps://relay.example.org:465");
        raw.mail.tls_ca_file = Some("/nonexistent/relay-ca.pem".into());
        let text = raw.validate().err().expect("invalid").to_string();
        assert!(text.contains("mail.tls_ca_file: cannot read"), "{text}");

        let dir = tempfile::tempdir().expect("tempdir");
        let not_pem = dir.path().join("ca.pem");
        std::fs::write(&not_pem, "not a certificate").expect("write");
        let mut raw: RawConfig = Config::figment(None).extract().expect("defaults parse");
        raw.mail.transport = SecretString::from("smtp://relay.example.org:587?tls=required");
        raw.mail.tls_ca_file = Some(not_pem.display().to_string());
        let text = raw.validate().err().expect("invalid").to_string();
        assert!(text.contains("holds no PEM certificate"), "{text}");
    }

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

    #[test]
    fn the_local_test_clients_are_served_in_local_development_mode_only() {
        let playground = LocalTestClient::AgentsPlayground.tenant_id();
        let raw: RawConfig = Config::figment(None).extract().expect("defaults parse");
        let cfg = raw.validate().expect("defaults validate");
        let demo = cfg
            .organisations
            .for_bot(playground)
            .expect("playground served");
        assert_eq!(demo.slug, "demo");
        assert!(demo.serves_team("team-id"));
        assert!(
            cfg.organisations.for_bot(None).is_some(),
            "the Emulator sends no tenant"
        );
        assert!(
            cfg.organisations
                .for_bot(Some("11111111-2222-3333-4444-555555555555"))
                .is_none()
        );

        let mut raw: RawConfig = Config::figment(None).extract().expect("defaults parse");
        raw.bot.app_id = "6f1c1a2e-0000-4000-8000-00000000b07".into();
        raw.bot.app_password = Some(SecretString::from("secret"));
        raw.bot.app_tenant_id = Some("00000000-0000-0000-0000-000000000000".into());
        let cfg = raw.validate().expect("valid");
        assert!(cfg.organisations.for_bot(playground).is_none());
        assert!(cfg.organisations.for_bot(None).is_none());
        let demo = cfg.organisations.default_org();
        assert!(!demo.serves_team("team-id"));
        assert!(cfg.organisations.for_bot(Some(&demo.tenant_id)).is_some());
    }

    #[test]
    fn passwords_in_urls_are_redacted() {
        let shown = redact_url("smtps://bot:hunter2@mail.example.org:465");
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("***"));
    }
}
