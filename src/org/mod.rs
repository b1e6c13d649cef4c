//! Organisations served by this deployment, keyed by Entra tenant id.

mod desk;
mod lockout;
mod words;

pub use desk::*;
pub use lockout::*;
pub use words::*;

use std::{collections::HashMap, sync::Arc, time::Duration};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;

use crate::{i18n::Locale, model::policy::PasswordPolicy};

/// Microsoft's local clients for trying a bot without Teams. They send fixed, made-up tenant and
/// team ids (or none), so an organisation serves them only when it lists them, and only in
/// local-development mode (no bot app id): configuration validation drops them otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LocalTestClient {
    /// The Microsoft 365 Agents Playground (npm `@microsoft/m365agentsplayground`, formerly the
    /// Teams App Test Tool), on its built-in configuration.
    AgentsPlayground,
    /// The Bot Framework Emulator, which sends no tenant at all.
    BotEmulator,
}

impl LocalTestClient {
    /// The tenant the client sends; `None`: it sends none.
    pub fn tenant_id(self) -> Option<&'static str> {
        match self {
            // 13 digits in the last group: not even a valid GUID, so never a real tenant.
            Self::AgentsPlayground => Some("00000000-0000-0000-0000-0000000000001"),
            Self::BotEmulator => None,
        }
    }

    /// The team whose channels the client shows.
    pub fn team_ids(self) -> &'static [&'static str] {
        match self {
            Self::AgentsPlayground => &["team-id"],
            Self::BotEmulator => &[],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::AgentsPlayground => "agents-playground",
            Self::BotEmulator => "bot-emulator",
        }
    }
}

#[derive(Clone)]
pub struct Organisation {
    pub tenant_id: String,
    pub slug: String,
    pub name: String,
    pub portal_url: Url,
    pub sender: lettre::message::Mailbox,
    pub time_zone: chrono_tz::Tz,
    pub default_locale: Locale,
    pub token_lifetime: Duration,
    pub api_key: Option<SecretString>,
    pub team_ids: Vec<String>,
    /// Local test clients served as this organisation (local-development mode only).
    pub local_test_clients: Vec<LocalTestClient>,
    pub policy: PasswordPolicy,
    pub lockout: LockoutPolicy,
    /// Audit rows older than this are deleted (default 365 days).
    pub audit_retention: Duration,
    /// Who may ask the bot for an account's status (« statut trej »).
    pub helpdesk: Helpdesk,
    /// Reach accounts with no Entra object id bound by the person's UPN (members of this tenant
    /// only), binding the object id at the first match. Off: only a bound object id counts.
    pub teams_name_fallback: bool,
    /// The Bot Connector's allowance for this app in this tenant, requests per second.
    pub teams_requests_per_second: f64,
    /// `Reply-To` of every mail (the service desk's mailbox, so that a reply reaches a person).
    pub reply_to: Option<lettre::message::Mailbox>,
    /// The envelope sender of every mail.
    pub return_path: ReturnPath,
    /// The organisation's own words (`[organisations.words]`).
    pub words: Words,
    /// How a person reaches the service desk (`[organisations.service_desk]`).
    pub service_desk: ServiceDesk,
    /// Requests opened in Octopus by mail (`[organisations.octopus_requests]`); none when unset.
    pub octopus_requests: Option<OctopusRequests>,
    /// The service desk's Teams channel for alerts (`[organisations.desk_channel]`).
    pub desk_channel: Option<DeskChannel>,
    /// The person responsible for the protection of personal information (`[organisations.privacy]`).
    pub privacy: Privacy,
    /// How SCIM provisioning maps onto the accounts (`[organisations.scim]`).
    pub provisioning: Provisioning,
}

/// `[organisations.privacy]`: who answers for personal information (Québec's Loi 25).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Privacy {
    /// A name or a title (« Responsable de la protection des renseignements personnels »).
    pub officer: Option<String>,
    /// How to reach them: an address, a phone number, a web page.
    pub contact: Option<String>,
}

/// `[organisations.scim]`: how Entra ID's provisioning (SCIM) maps onto the accounts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Provisioning {
    /// Where the Octopus username comes from.
    pub username: UsernameFrom,
    /// A GUID in `externalId` is the person's Entra object id (map `objectId` → `externalId` in
    /// Entra): it is bound to the account, which Teams and the tab then recognise.
    pub object_id_from_external_id: bool,
}

impl Default for Provisioning {
    fn default() -> Self {
        Self {
            username: UsernameFrom::UpnLocalPart,
            object_id_from_external_id: true,
        }
    }
}

/// The SCIM attribute an account's username is taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsernameFrom {
    /// `userName` before its `@` (Entra sends the UPN there: `julie.tremblay@…` →
    /// `julie.tremblay`); the whole UPN is kept to recognise the person.
    UpnLocalPart,
    /// `userName` as sent (map the attribute that holds the Octopus username, e.g.
    /// `mailNickname`, onto `userName` in Entra).
    UserName,
    /// The enterprise extension's `employeeNumber` (Entra's `employeeId` by default).
    EmployeeNumber,
}

/// Where bounces of the service's mail go (the SMTP envelope's `MAIL FROM`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ReturnPath {
    /// The sender's address (`sender`).
    #[default]
    Sender,
    /// None: `MAIL FROM:<>`. No bounce comes back, and SPF then checks the HELO name: use it
    /// only with a relay that signs with DKIM (DMARC alignment).
    Empty,
    /// A bounce-handling mailbox.
    Address(lettre::Address),
}

impl Organisation {
    /// The tenants whose Teams chats are this organisation's: its own, and in local development
    /// the made-up one a test client files its chats under.
    pub fn chat_tenants(&self) -> Vec<&str> {
        std::iter::once(self.tenant_id.as_str())
            .chain(self.local_test_clients.iter().filter_map(|c| c.tenant_id()))
            .collect()
    }

    /// Whether the bot serves this team's channels: a configured team, or a local test client's.
    /// The teams listed in `team_ids`, the desk channel's team (its cards' buttons are clicked
    /// there), and a local test client's.
    pub fn serves_team(&self, team_id: &str) -> bool {
        self.team_ids.iter().any(|t| t == team_id)
            || self
                .desk_channel
                .as_ref()
                .is_some_and(|d| d.team_id == team_id)
            || self
                .local_test_clients
                .iter()
                .any(|c| c.team_ids().contains(&team_id))
    }
}

impl std::fmt::Debug for Organisation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Organisation")
            .field("tenant_id", &self.tenant_id)
            .field("slug", &self.slug)
            .finish_non_exhaustive()
    }
}

/// All organisations; the first one is the default for pages reached without `?org=`.
#[derive(Clone, Debug)]
pub struct Organisations {
    list: Arc<Vec<Organisation>>,
    by_tenant: Arc<HashMap<String, usize>>,
    by_slug: Arc<HashMap<String, usize>>,
    /// The tenants of local test clients (and `None` for one that sends no tenant) → organisation.
    by_test_client_tenant: Arc<HashMap<Option<String>, usize>>,
    /// SHA-256 of each API key → organisation, so a lookup compares digests, not secrets.
    by_api_key: Arc<HashMap<[u8; 32], usize>>,
}

impl Organisations {
    pub fn new(list: Vec<Organisation>) -> Result<Self, String> {
        if list.is_empty() {
            return Err("none configured".into());
        }
        let mut by_tenant = HashMap::new();
        let mut by_slug = HashMap::new();
        let mut by_api_key = HashMap::new();
        let mut by_test_client_tenant = HashMap::new();
        for (i, org) in list.iter().enumerate() {
            for client in &org.local_test_clients {
                let tenant = client.tenant_id().map(str::to_string);
                if by_test_client_tenant
                    .insert(tenant, i)
                    .is_some_and(|j| j != i)
                {
                    return Err(format!(
                        "local test client {} is listed by two organisations",
                        client.name()
                    ));
                }
            }
            if by_tenant.insert(org.tenant_id.clone(), i).is_some() {
                return Err(format!("tenant id {} appears twice", org.tenant_id));
            }
            if by_slug.insert(org.slug.clone(), i).is_some() {
                return Err(format!("slug {} appears twice", org.slug));
            }
            if let Some(key) = &org.api_key
                && by_api_key
                    .insert(api_key_digest(key.expose_secret()), i)
                    .is_some()
            {
                return Err(format!(
                    "organisation {} reuses another one's api_key",
                    org.slug
                ));
            }
        }
        Ok(Self {
            list: Arc::new(list),
            by_tenant: Arc::new(by_tenant),
            by_slug: Arc::new(by_slug),
            by_test_client_tenant: Arc::new(by_test_client_tenant),
            by_api_key: Arc::new(by_api_key),
        })
    }

    pub fn default_org(&self) -> &Organisation {
        &self.list[0]
    }

    pub fn iter(&self) -> impl Iterator<Item = &Organisation> {
        self.list.iter()
    }

    pub fn by_tenant(&self, tenant_id: &str) -> Option<&Organisation> {
        self.by_tenant
            .get(&tenant_id.trim().to_ascii_lowercase())
            .map(|&i| &self.list[i])
    }

    /// The organisation whose tenant id is exactly `tenant_id` (a signed token's `tid`: no
    /// trimming, no case folding).
    pub fn by_exact_tenant(&self, tenant_id: &str) -> Option<&Organisation> {
        self.by_tenant.get(tenant_id).map(|&i| &self.list[i])
    }

    /// The organisation a bot activity from `tenant` belongs to: the configured tenant, else the
    /// organisation that serves the local test client sending that tenant (or no tenant).
    pub fn for_bot(&self, tenant: Option<&str>) -> Option<&Organisation> {
        tenant.and_then(|t| self.by_tenant(t)).or_else(|| {
            let key = tenant.map(|t| t.trim().to_ascii_lowercase());
            self.by_test_client_tenant.get(&key).map(|&i| &self.list[i])
        })
    }

    pub fn by_slug(&self, slug: &str) -> Option<&Organisation> {
        self.by_slug.get(slug).map(|&i| &self.list[i])
    }

    /// The organisation named by `?org=` (slug or tenant id), else the default one.
    pub fn pick(&self, hint: Option<&str>) -> &Organisation {
        hint.and_then(|h| self.by_slug(h).or_else(|| self.by_tenant(h)))
            .unwrap_or_else(|| self.default_org())
    }

    pub fn by_api_key(&self, presented: &str) -> Option<&Organisation> {
        self.by_api_key
            .get(&api_key_digest(presented))
            .map(|&i| &self.list[i])
    }
}

fn api_key_digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_are_guids_compared_without_case_and_unknown_keys_are_refused() {
        let hd = Helpdesk {
            agent_object_ids: vec![" AAAAAAAA-aaaa-4aaa-8aaa-aaaaaaaaaaaa ".into()],
        }
        .validated()
        .expect("a GUID");
        assert!(hd.is_agent(Some("aaaaaaaa-AAAA-4aaa-8aaa-aaaaaaaaaaaa")));
        assert!(!hd.is_agent(Some("bbbbbbbb-aaaa-4aaa-8aaa-aaaaaaaaaaaa")));
        assert!(!hd.is_agent(None));
        assert!(!Helpdesk::default().is_agent(Some("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa")));
        let errs = Helpdesk {
            agent_object_ids: vec!["julie.tremblay@cegepsi.ca".into()],
        }
        .validated()
        .expect_err("not a GUID");
        assert!(
            errs[0].starts_with("helpdesk.agent_object_ids[0]"),
            "{errs:?}"
        );
        // Other spellings of the same GUID are kept in the one Teams sends.
        for spelling in [
            "{AAAAAAAA-AAAA-4AAA-8AAA-AAAAAAAAAAAA}",
            "urn:uuid:aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
            "aaaaaaaaaaaa4aaa8aaaaaaaaaaaaaaa",
        ] {
            let hd = Helpdesk {
                agent_object_ids: vec![spelling.into()],
            }
            .validated()
            .expect("a GUID");
            assert!(
                hd.is_agent(Some("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa")),
                "{spelling}"
            );
        }
        // Groups cannot be honoured (no group claim in bot activities): not a key.
        let refused = toml::from_str::<Helpdesk>("agent_group_ids = [\"x\"]");
        assert!(refused.is_err());
    }

    #[test]
    fn lock_delay_grows_and_caps() {
        let p = LockoutPolicy::default();
        let n = |consecutive, in_window| crate::store::lockout::Failures {
            consecutive,
            in_window,
        };
        assert_eq!(p.lock_for(n(4, 4)), None);
        assert_eq!(p.lock_for(n(5, 5)), Some(Some(Duration::from_secs(60))));
        assert_eq!(p.lock_for(n(6, 6)), Some(Some(Duration::from_secs(120))));
        assert_eq!(p.lock_for(n(12, 12)), Some(Some(Duration::from_secs(3600))));
        assert_eq!(p.lock_for(n(99, 99)), Some(Some(Duration::from_secs(3600))));
        assert_eq!(p.lock_for(n(100, 100)), Some(None));
        assert_eq!(
            p.lock_for(n(3, 100)),
            Some(None),
            "failures counted across unlocks reach the hard lock"
        );
    }
}
