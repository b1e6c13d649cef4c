//! `[tab]`: the Teams tab's pages and its single sign-on.

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::{bot::RawBot, teams_app::TeamsApp, urls::http_url};

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

impl RawTab {
    pub(super) fn validate(&self, app: &TeamsApp, bot: &RawBot) -> Result<TabConfig, Vec<String>> {
        let mut errs = Vec::new();
        let authority = http_url("tab.entra_authority", &self.entra_authority, &mut errs);
        let teams_js = http_url("tab.teams_js_url", &self.teams_js_url, &mut errs);
        for a in &self.frame_ancestors {
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
                teams_js_integrity: self.teams_js_integrity.clone().filter(|s| !s.is_empty()),
                frame_ancestors: self.frame_ancestors.clone(),
                sso_app_id,
                key_max_age: bot.key_max_age(),
                unknown_key_cooldown: bot.unknown_key_cooldown(),
            }),
            _ => Err(errs),
        }
    }
}
