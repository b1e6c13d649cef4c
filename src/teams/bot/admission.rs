//! Where an activity may be served (the organisation's personal chats and teams), decided
//! before anything else happens; what the admin is told about the others; the person's language.

use tracing::warn;

use super::{Bot, activity::Activity};
use crate::{i18n::Locale, org::Organisation};

/// Where the activity may be served, decided before anything else happens.
pub(super) enum Admission<'a> {
    Served(&'a Organisation),
    Refused(Refusal<'a>),
}

/// Why an activity is not served: each says so in its own words.
#[derive(Debug, Clone, Copy)]
pub(super) enum Refusal<'a> {
    /// No organisation is configured for the activity's tenant.
    UnknownTenant,
    /// The organisation's tenant, but a team it is not configured for.
    UnknownTeam(&'a Organisation),
    /// A group chat: only the personal chat and the organisation's teams are served.
    GroupChat(&'a Organisation),
}

impl<'a> Refusal<'a> {
    pub(super) fn org(self) -> Option<&'a Organisation> {
        match self {
            Self::UnknownTenant => None,
            Self::UnknownTeam(org) | Self::GroupChat(org) => Some(org),
        }
    }
}

/// The error cards.
#[derive(Debug, Clone, Copy)]
pub(super) enum Trouble {
    RateLimited {
        retry_after_secs: u64,
    },
    Unavailable,
    /// Not in this conversation (a group chat): the personal chat is.
    NotAllowed,
    /// This organisation is not set up for the service.
    UnknownTenant,
    /// This team is not set up for the service.
    UnknownTeam,
}

impl From<Refusal<'_>> for Trouble {
    fn from(r: Refusal<'_>) -> Self {
        match r {
            Refusal::UnknownTenant => Self::UnknownTenant,
            Refusal::UnknownTeam(_) => Self::UnknownTeam,
            Refusal::GroupChat(_) => Self::NotAllowed,
        }
    }
}

/// Whether an activity is served: its tenant and team, the admin warned once of a refusal, the language.
pub(crate) struct Admissions<'a> {
    core: &'a super::BotCore,
    languages: &'a std::sync::Arc<super::ConversationLanguages>,
    refusals: &'a std::sync::Arc<super::RefusalReports>,
}

impl<'a> Admissions<'a> {
    pub(crate) fn of(bot: &'a Bot) -> Self {
        Self {
            core: &bot.core,
            languages: &bot.languages,
            refusals: &bot.refusals,
        }
    }
}

impl<'a> Admissions<'a> {
    pub(super) fn admit(&self, a: &Activity) -> Admission<'a> {
        let core: &'a super::BotCore = self.core;
        let Some(org) = core.orgs.for_bot(a.tenant_id().as_deref()) else {
            return Admission::Refused(Refusal::UnknownTenant);
        };
        if a.is_personal() {
            return Admission::Served(org);
        }
        match a.team_id() {
            Some(team) if org.serves_team(team) => Admission::Served(org),
            Some(_) => Admission::Refused(Refusal::UnknownTeam(org)),
            None => Admission::Refused(Refusal::GroupChat(org)),
        }
    }

    /// Tells the admin, once an hour per tenant or team, what would serve a refused activity.
    pub(super) fn warn_admin(&self, a: &Activity, refusal: Refusal<'_>) {
        let tenant = a.tenant_id();
        let team = a.team_id();
        let team_name = a.team_name();
        match refusal {
            Refusal::GroupChat(_) => {}
            Refusal::UnknownTenant => {
                let key = format!("tenant|{}", tenant.as_deref().unwrap_or_default());
                if !self.refusals.first_in_the_hour(key, self.core.clock.unix()) {
                    return;
                }
                match &tenant {
                    Some(t) => warn!(
                        tenant.id = %t, team.id = team.unwrap_or_default(),
                        team.name = team_name.unwrap_or_default(),
                        "bot activity refused: no organisation is configured for this tenant; \
                         to serve it, add an [[organisations]] block with: {}",
                        config_line("tenant_id", toml::Value::String(t.clone()))
                    ),
                    None => warn!(
                        team.id = team.unwrap_or_default(),
                        "bot activity refused: it names no tenant (channelData.tenant.id); \
                         only Teams activities, or a local test client in local-development mode, are served"
                    ),
                }
            }
            Refusal::UnknownTeam(org) => {
                let team = team.unwrap_or_default();
                let key = format!("team|{}|{team}", org.tenant_id);
                if !self.refusals.first_in_the_hour(key, self.core.clock.unix()) {
                    return;
                }
                let ids = org.team_ids.iter().map(String::as_str).chain([team]);
                let ids = ids.map(|t| toml::Value::String(t.into())).collect();
                warn!(
                    tenant.id = %org.tenant_id, org.slug = %org.slug, team.id = team,
                    team.name = team_name.unwrap_or_default(),
                    "bot activity refused: team not configured; to serve it, set in the organisation \
                     {:?} (tenant_id = {:?}): {}",
                    org.slug, org.tenant_id, config_line("team_ids", toml::Value::Array(ids))
                );
            }
        }
    }

    /// The person's language: the activity's locale, else the Teams client's (`clientInfo`
    /// entity), else the one an earlier activity of the conversation gave (Teams sends the
    /// bot-added `conversationUpdate` without a locale, right after an `installationUpdate` with
    /// one), else the organisation's.
    pub(super) fn locale(&self, a: &Activity, org: Option<&Organisation>) -> Locale {
        a.locale
            .as_deref()
            .and_then(Locale::from_tag)
            .or_else(|| a.client_locale().and_then(Locale::from_tag))
            .or_else(|| self.languages.get(a.conversation_id()))
            .or(org.map(|o| o.default_locale))
            .unwrap_or(Locale::FrCa)
    }

    pub(super) fn remember_language(&self, a: &Activity) {
        let locale = a.locale.as_deref().or_else(|| a.client_locale());
        if let Some(locale) = locale.and_then(Locale::from_tag) {
            self.languages.remember(a.conversation_id(), locale);
        }
    }
}

/// `key = value` as it is written in the configuration file (TOML quoting and escaping).
fn config_line(key: &str, value: toml::Value) -> String {
    format!("{key} = {value}")
}
