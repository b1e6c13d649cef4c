//! `[bot]`: the Azure Bot's app registration, how its channel tokens are checked and how it
//! reaches the Bot Connector. No app id means local-development mode ([`BotMode::LocalDev`]).

use std::{net::SocketAddr, str::FromStr, time::Duration};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::{Config, Description, urls::http_url};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBot {
    #[serde(default)]
    pub app_id: String,
    pub app_password: Option<SecretString>,
    pub app_type: AppType,
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

/// How the bot's app registration was created in Azure (`bot.app_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum AppType {
    /// Azure's default since 2025: tokens come from the bot's home tenant (`bot.app_tenant_id`).
    SingleTenant,
    /// Tokens come from botframework.com.
    MultiTenant,
}

impl AppType {
    /// As written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SingleTenant => "single_tenant",
            Self::MultiTenant => "multi_tenant",
        }
    }
}

impl FromStr for AppType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "single_tenant" => Ok(Self::SingleTenant),
            "multi_tenant" => Ok(Self::MultiTenant),
            other => Err(format!("{other:?} is not single_tenant or multi_tenant")),
        }
    }
}

impl TryFrom<String> for AppType {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// `[bot]`, checked: how the bot authenticates and how it reaches the Bot Connector.
#[derive(Clone, Debug)]
pub struct BotConfig {
    pub mode: BotMode,
    pub connector_retries: u32,
    pub connector_timeout: Duration,
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

impl RawBot {
    /// Keys are refreshed at least daily, as the Bot Framework asks.
    pub(super) fn key_max_age(&self) -> Duration {
        Duration::from_secs(self.key_refresh_hours.clamp(1, 24) * 3600)
    }

    pub(super) fn unknown_key_cooldown(&self) -> Duration {
        Duration::from_secs(self.unknown_key_cooldown_secs)
    }

    /// The section, checked into `mode`.
    pub(super) fn with_mode(&self, mode: BotMode) -> BotConfig {
        BotConfig {
            mode,
            connector_retries: self.connector_retries.min(10),
            connector_timeout: Duration::from_secs(self.connector_timeout_secs.clamp(1, 120)),
        }
    }

    // Long: every [bot] check, each naming its key, for one list of problems.
    pub(super) fn validate(&self, listen: Option<SocketAddr>) -> Result<BotMode, Vec<String>> {
        let mut errs = Vec::new();
        let app_id = self.app_id.trim();
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
        let password = self.app_password.clone();
        if password
            .as_ref()
            .is_none_or(|p| p.expose_secret().is_empty())
        {
            errs.push(
                "bot.app_password: required with bot.app_id (the app registration's client secret)"
                    .into(),
            );
        }
        let tenant = match self.app_type {
            AppType::SingleTenant => match self.app_tenant_id.as_deref().map(str::trim) {
                Some(t) if !t.is_empty() => Some(t.to_string()),
                _ => {
                    errs.push(
                        "bot.app_tenant_id: required for a single_tenant bot (its home tenant id)"
                            .into(),
                    );
                    None
                }
            },
            AppType::MultiTenant => Some("botframework.com".to_string()),
        };
        let authority = http_url("bot.token_authority", &self.token_authority, &mut errs);
        let metadata = http_url(
            "bot.openid_metadata_url",
            &self.openid_metadata_url,
            &mut errs,
        );
        let entra_channel = self.entra_channel(authority.as_ref(), &mut errs);
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
                    token_scope: self.token_scope.clone(),
                    openid_metadata_url,
                    channel_issuer: self.channel_issuer.clone(),
                    key_max_age: self.key_max_age(),
                    unknown_key_cooldown: self.unknown_key_cooldown(),
                    entra_channel,
                })))
            }
            _ => Err(errs),
        }
    }

    /// `None` unless bot.accept_entra_channel_tokens; then tenants, callers and hosts are required.
    fn entra_channel(
        &self,
        authority: Option<&Url>,
        errs: &mut Vec<String>,
    ) -> Option<EntraChannelConfig> {
        if !self.accept_entra_channel_tokens {
            return None;
        }
        let lower = |v: &[String]| -> Vec<String> {
            v.iter()
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let tenants = lower(&self.bot_service_tenants);
        let callers = lower(&self.entra_channel_callers);
        let connector_hosts = lower(&self.connector_hosts);
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
}

pub(super) fn describe(cfg: &Config, out: &mut Description) {
    out.line(
        "bot",
        match &cfg.bot.mode {
            BotMode::LocalDev => {
                "LOCAL DEVELOPMENT MODE: no app id, no authentication, loopback only".into()
            }
            BotMode::Authenticated(a) => format!(
                "app id {} · password [redacted] · token {} · keys {}",
                a.app_id, a.token_url, a.openid_metadata_url
            ),
        },
    );
}

#[cfg(test)]
mod tests {
    use figment::providers::{Format, Toml};

    use super::*;
    use crate::config::{RawConfig, explain};

    #[test]
    fn the_app_type_is_one_of_two_spellings_and_anything_else_is_refused_by_name() {
        assert_eq!("single_tenant".parse(), Ok(AppType::SingleTenant));
        assert_eq!("multi_tenant".parse(), Ok(AppType::MultiTenant));
        for t in [AppType::SingleTenant, AppType::MultiTenant] {
            assert_eq!(t.as_str().parse(), Ok(t));
        }
        let text = Config::figment(None)
            .merge(Toml::string("[bot]\napp_type = \"multitenant\"\n"))
            .extract::<RawConfig>()
            .map_err(explain)
            .expect_err("refused")
            .to_string();
        assert!(
            text.contains("bot.app_type: \"multitenant\" is not single_tenant or multi_tenant"),
            "{text}"
        );
    }
}
