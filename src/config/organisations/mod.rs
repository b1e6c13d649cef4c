//! `[[organisations]]`: the organisations served, each keyed by its Entra tenant.

use std::time::Duration;

use lettre::message::Mailbox;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

mod describe;

pub(super) use self::describe::describe;

use super::{security::strong_secret, urls::http_url};
use crate::{
    i18n::Locale,
    model::policy::PasswordPolicy,
    org::{
        DeskChannel, Helpdesk, LocalTestClient, LockoutPolicy, OctopusRequests, Organisation,
        Privacy, Provisioning, ReturnPath, ServiceDesk, Words,
    },
};

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
    /// Reach accounts imported without an Entra object id by the person's UPN (binding it).
    #[serde(default)]
    pub teams_name_fallback: bool,
    /// Requests per second Teams allows this app in this tenant (the Bot Connector's limit per
    /// app per tenant; Microsoft's page says about 30). A campaign keeps under it.
    #[serde(default = "default_teams_requests_per_second")]
    pub teams_requests_per_second: f64,
    /// Where replies to the service's mail go (e.g. the service desk's mailbox); none: nowhere
    /// but the sender.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// The envelope sender (where bounces go): unset = the sender's address; "" = an empty
    /// return path (`MAIL FROM:<>`, no bounce at all); an address = that address.
    #[serde(default)]
    pub return_path: Option<String>,
    #[serde(default)]
    pub words: Words,
    #[serde(default)]
    pub service_desk: ServiceDesk,
    #[serde(default)]
    pub octopus_requests: Option<OctopusRequests>,
    #[serde(default)]
    pub desk_channel: Option<DeskChannel>,
    #[serde(default)]
    pub privacy: Privacy,
    #[serde(default)]
    pub scim: Provisioning,
}

fn default_audit_retention_days() -> u32 {
    365
}

fn default_teams_requests_per_second() -> f64 {
    30.0
}

/// Every organisation checked, its problems named `organisations[i].key`. Made-up test tenants
/// are served only in local-development mode (never by a bot that Azure can reach).
pub(super) fn validate_all(
    raw: Vec<RawOrganisation>,
    local_dev: bool,
    errs: &mut Vec<String>,
) -> Vec<Organisation> {
    let mut orgs = Vec::new();
    if raw.is_empty() {
        errs.push("organisations: at least one organisation is required".into());
    }
    for (i, raw) in raw.into_iter().enumerate() {
        match raw.validate() {
            Ok(mut org) => {
                if !local_dev {
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
    orgs
}

impl RawOrganisation {
    // Long: the checks are the small functions below; what stays is the organisation's 25
    // fields, each placed once.
    fn validate(self) -> Result<Organisation, Vec<String>> {
        let mut errs = Vec::new();
        self.check_names(&mut errs);
        let portal_url = http_url("portal_url", &self.portal_url, &mut errs);
        let (sender, reply_to, return_path) = self.addresses(&mut errs);
        let time_zone = self
            .time_zone
            .parse::<chrono_tz::Tz>()
            .map_err(|_| errs.push(format!("time_zone: unknown IANA zone {:?}", self.time_zone)))
            .ok();
        let default_locale = Locale::from_tag(&self.default_locale)
            .ok_or_else(|| errs.push("default_locale: one of fr-CA, en, pt".into()))
            .ok();
        if !(1..=24 * 60).contains(&self.token_lifetime_minutes) {
            errs.push("token_lifetime_minutes: between 1 and 1440".into());
        }
        let policy = self.policy.clone().unwrap_or_default();
        if let Err(e) = policy.validate() {
            errs.push(format!("policy: {e}"));
        }
        let lockout = self.lockout.unwrap_or_default();
        check_lockout(&lockout, &mut errs);
        self.check_words(&mut errs);
        let team_ids = self.team_ids(&mut errs);
        self.check_numbers(&mut errs);
        if let Some(r) = &self.octopus_requests {
            errs.extend(r.problems());
        }
        let desk_channel = self.desk_channel.clone().map(|mut d| {
            d.team_id = team_id(&d.team_id);
            d.channel_id = team_id(&d.channel_id);
            errs.extend(d.problems());
            d
        });
        let helpdesk = self.helpdesk.validated().map_err(|e| errs.extend(e)).ok();
        match (portal_url, sender, time_zone, default_locale, helpdesk) {
            (
                Some(portal_url),
                Some(sender),
                Some(time_zone),
                Some(default_locale),
                Some(helpdesk),
            ) if errs.is_empty() => Ok(Organisation {
                tenant_id: self.tenant_id.trim().to_ascii_lowercase(),
                slug: self.slug,
                name: self.name,
                portal_url,
                sender,
                time_zone,
                default_locale,
                token_lifetime: Duration::from_secs(u64::from(self.token_lifetime_minutes) * 60),
                api_key: self.api_key,
                team_ids,
                local_test_clients: self.local_test_clients,
                policy,
                lockout,
                audit_retention: Duration::from_secs(u64::from(self.audit_retention_days) * 86_400),
                helpdesk,
                teams_name_fallback: self.teams_name_fallback,
                teams_requests_per_second: self.teams_requests_per_second,
                reply_to,
                return_path,
                words: self.words,
                service_desk: self.service_desk,
                octopus_requests: self.octopus_requests,
                desk_channel,
                privacy: self.privacy,
                provisioning: self.scim,
            }),
            _ => Err(errs),
        }
    }

    /// The tenant id (a GUID), the slug and the name.
    fn check_names(&self, errs: &mut Vec<String>) {
        if self.tenant_id.trim().is_empty() {
            errs.push("tenant_id: required (the Entra tenant id)".into());
        } else if uuid::Uuid::parse_str(self.tenant_id.trim()).is_err() {
            errs.push(format!(
                "tenant_id: {:?} is not a GUID; the tenant id is the GUID that Entra admin center \
                 → Overview shows as « Tenant ID » (not the domain name)",
                self.tenant_id.trim()
            ));
        }
        if self.slug.is_empty()
            || !self
                .slug
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            errs.push("slug: letters, digits and '-' only".into());
        }
        if self.name.trim().is_empty() {
            errs.push("name: required".into());
        }
    }

    /// The mail's sender, reply-to and return path.
    fn addresses(&self, errs: &mut Vec<String>) -> (Option<Mailbox>, Option<Mailbox>, ReturnPath) {
        let sender = self
            .sender
            .parse::<Mailbox>()
            .map_err(|e| {
                errs.push(format!(
                    "sender: {e} (e.g. \"Centre de services <supportTI@example.org>\")"
                ))
            })
            .ok();
        let reply_to = self.reply_to.as_deref().and_then(|r| {
            r.parse::<Mailbox>()
                .map_err(|e| {
                    errs.push(format!(
                        "reply_to: {e} (e.g. \"Centre de services <csti@example.org>\")"
                    ))
                })
                .ok()
        });
        let return_path = match self.return_path.as_deref().map(str::trim) {
            None => ReturnPath::Sender,
            Some("") => ReturnPath::Empty,
            Some(a) => match a.parse::<lettre::Address>() {
                Ok(addr) => ReturnPath::Address(addr),
                Err(e) => {
                    errs.push(format!(
                        "return_path: {e} (an address such as bounces@example.org, or \"\" for none)"
                    ));
                    ReturnPath::Sender
                }
            },
        };
        (sender, reply_to, return_path)
    }

    /// The API key, the Teams pace and the audit's retention.
    fn check_numbers(&self, errs: &mut Vec<String>) {
        if let Some(key) = &self.api_key
            && let Err(why) = strong_secret(key.expose_secret())
        {
            errs.push(format!(
                "api_key: {why} (make one with `openssl rand -base64 32`)"
            ));
        }
        if !(1.0..=1000.0).contains(&self.teams_requests_per_second) {
            errs.push("teams_requests_per_second: between 1 and 1000".into());
        }
        if !(1..=36_500).contains(&self.audit_retention_days) {
            errs.push("audit_retention_days: between 1 and 36500".into());
        }
    }

    /// Every text given per language names a language the service speaks.
    fn check_words(&self, errs: &mut Vec<String>) {
        for (key, text) in [
            ("words.username_hint", &self.words.username_hint),
            ("words.account_term", &self.words.account_term),
            ("words.name_in_sentence", &self.words.name_in_sentence),
            ("service_desk.hours", &self.service_desk.hours),
        ] {
            for lang in text.unknown_languages() {
                errs.push(format!("{key}: {lang:?} is not one of fr-CA, en, pt"));
            }
        }
    }

    /// The teams whose members may ask, as Teams writes their ids.
    fn team_ids(&self, errs: &mut Vec<String>) -> Vec<String> {
        let team_ids: Vec<String> = self.team_ids.iter().map(|t| team_id(t)).collect();
        for (i, t) in team_ids.iter().enumerate() {
            if !(t.starts_with("19:") && t.contains("@thread.")) {
                errs.push(format!(
                    "team_ids[{i}]: a team id looks like 19:…@thread.tacv2 (from the team's \"Get link to team\")"
                ));
            }
        }
        team_ids
    }
}

/// The lockout's thresholds and window.
fn check_lockout(lockout: &LockoutPolicy, errs: &mut Vec<String>) {
    if lockout.threshold == 0 || lockout.hard_limit < lockout.threshold || lockout.hard_limit > 100
    {
        errs.push("lockout: need 1 ≤ threshold ≤ hard_limit ≤ 100".into());
    }
    if lockout.hard_limit_window_hours == 0 {
        errs.push(
            "lockout.hard_limit_window_hours: at least 1 (failures count toward the hard \
             lock over this window, across self-service unlocks)"
                .into(),
        );
    }
}

/// A team id as configured: as Teams shows it (`19:…@thread.tacv2`) or as "Get link to team"
/// copies it, URL-encoded (`19%3a…%40thread.tacv2`).
fn team_id(raw: &str) -> String {
    percent_encoding::percent_decode_str(raw.trim())
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;
    use crate::config::tests::defaults;

    #[test]
    fn a_team_id_is_accepted_as_shown_or_as_copied_from_its_link() {
        let mut raw = defaults();
        raw.organisations[0].team_ids = vec![
            "19:abc@thread.tacv2".into(),
            "19%3aDEF%40thread.tacv2".into(),
        ];
        let cfg = raw.validate().expect("valid");
        let org = cfg.organisations.iter().next().expect("one org");
        assert_eq!(org.team_ids, ["19:abc@thread.tacv2", "19:DEF@thread.tacv2"]);

        let mut raw = defaults();
        raw.organisations[0].team_ids = vec!["Teaméo".into()];
        let text = raw.validate().err().expect("invalid").to_string();
        assert!(text.contains("organisations[0].team_ids[0]"), "{text}");
    }

    #[test]
    fn the_local_test_clients_are_served_in_local_development_mode_only() {
        let playground = LocalTestClient::AgentsPlayground.tenant_id();
        let cfg = defaults().validate().expect("defaults validate");
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

        let mut raw = defaults();
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
}
