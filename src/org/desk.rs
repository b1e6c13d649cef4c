//! Where self-service ends: the organisation's service desk, its agents, the requests opened in
//! Octopus and the desk's Teams channel.

use serde::Deserialize;
use url::Url;

use super::Localized;

/// `[organisations.service_desk]`: shown wherever self-service ends and a person must call.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDesk {
    pub phone: Option<String>,
    pub extension: Option<String>,
    #[serde(default)]
    pub hours: Localized,
    pub url: Option<Url>,
}

impl ServiceDesk {
    pub fn is_set(&self) -> bool {
        self.phone.is_some() || self.url.is_some()
    }
}

/// `[organisations.octopus_requests]`: where self-service ends, the person may open a request at
/// the service desk: a mail to the mailbox Octopus's MailIntegration reads, which it turns into an
/// incident, or a service request when the body is enclosed in its `NewSRBodyEnclosingToken`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OctopusRequests {
    /// The mailbox MailIntegration reads.
    pub mailbox: String,
    #[serde(default)]
    pub mode: RequestMode,
    /// MailIntegration's `NewSRBodyEnclosingToken` (`CreateSR` in Octopus's example); required
    /// in `service_request` mode.
    #[serde(default)]
    pub enclosing_token: Option<String>,
    /// Lines written first in the body, as they are (the service-request form's fields,
    /// `Catégorie: Accès`…).
    #[serde(default)]
    pub field_lines: Vec<String>,
    /// The same event of the same person opens one request per window.
    #[serde(default = "default_request_window_hours")]
    pub window_hours: u32,
}

fn default_request_window_hours() -> u32 {
    24
}

/// What MailIntegration makes of the mail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestMode {
    #[default]
    Incident,
    ServiceRequest,
}

impl OctopusRequests {
    /// The problems, named by key.
    pub fn problems(&self) -> Vec<String> {
        let mut errs = Vec::new();
        if crate::model::EmailAddress::parse(&self.mailbox).is_err() {
            errs.push("octopus_requests.mailbox: the address MailIntegration reads".into());
        }
        let token = self.enclosing_token.as_deref().map(str::trim);
        match (self.mode, token) {
            (RequestMode::ServiceRequest, None | Some("")) => errs.push(
                "octopus_requests.enclosing_token: required in service_request mode \
                 (MailIntegration's NewSRBodyEnclosingToken, e.g. CreateSR)"
                    .into(),
            ),
            (_, Some(t)) if t.chars().any(char::is_whitespace) => errs.push(
                "octopus_requests.enclosing_token: one word, as MailIntegration has it".into(),
            ),
            _ => {}
        }
        if self.field_lines.iter().any(|l| l.contains(['\r', '\n'])) {
            errs.push("octopus_requests.field_lines: one line each".into());
        }
        if !(1..=24).contains(&self.window_hours) {
            errs.push("octopus_requests.window_hours: between 1 and 24".into());
        }
        errs
    }
}

/// `[organisations.desk_channel]`: a Teams channel of the service desk where the bot posts
/// what the desk should know at once (a mail given up on, a hard lock, a caller who says they did
/// not call, the relay or the database down and back). The bot must be installed in that team.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeskChannel {
    /// The team's id (`19:…@thread.tacv2`), as "Get link to team" gives it.
    pub team_id: String,
    /// The channel's id (`19:…@thread.tacv2`; the General channel's is the team's).
    pub channel_id: String,
    /// Where the Bot Connector serves the tenant (`https://smba.trafficmanager.net/amer/`…);
    /// unset, the one of the organisation's latest activity, which needs the database.
    #[serde(default)]
    pub service_url: Option<Url>,
    /// At most one card per this many seconds: what happens meanwhile is grouped in the next.
    #[serde(default = "default_desk_interval")]
    pub min_interval_secs: u64,
    /// Requests refused by the rate limits within 10 minutes that make a card (0: never).
    #[serde(default = "default_refusal_burst")]
    pub refusal_burst: u32,
}

fn default_refusal_burst() -> u32 {
    100
}

fn default_desk_interval() -> u64 {
    60
}

impl DeskChannel {
    /// The problems, named by key.
    pub fn problems(&self) -> Vec<String> {
        let thread = |id: &str| id.starts_with("19:") && id.contains("@thread.");
        let mut errs = Vec::new();
        if !thread(&self.team_id) {
            errs.push("desk_channel.team_id: a team id looks like 19:…@thread.tacv2".into());
        }
        if !thread(&self.channel_id) {
            errs.push("desk_channel.channel_id: a channel id looks like 19:…@thread.tacv2".into());
        }
        if !(1..=3600).contains(&self.min_interval_secs) {
            errs.push("desk_channel.min_interval_secs: between 1 and 3600".into());
        }
        errs
    }
}

/// `[organisations.helpdesk]`: the service-desk agents, by Entra object id. A bot activity
/// carries the sender's object id (`from.aadObjectId`, inside the Bot Framework's signed
/// envelope) but no group membership, and this service does not call Microsoft Graph: agents are
/// listed one by one, so that the check needs nothing but the activity itself.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Helpdesk {
    /// Lower-case Entra object ids (GUIDs) of the agents.
    #[serde(default)]
    pub agent_object_ids: Vec<String>,
}

impl Helpdesk {
    /// The ids in lower case, each checked to be a GUID; the problems, named by key, otherwise.
    pub fn validated(mut self) -> Result<Self, Vec<String>> {
        let mut errs = Vec::new();
        for (i, oid) in self.agent_object_ids.iter_mut().enumerate() {
            // One spelling (hyphenated, lower case), as Teams sends aadObjectId: braces, a urn or
            // the bare 32 digits would otherwise pass here and never match.
            match uuid::Uuid::try_parse(oid.trim()) {
                Ok(id) => *oid = id.hyphenated().to_string(),
                Err(_) => errs.push(format!(
                    "helpdesk.agent_object_ids[{i}]: an Entra object id (a GUID, the user's \
                     \"Object ID\" in the Entra admin center)"
                )),
            }
        }
        if errs.is_empty() { Ok(self) } else { Err(errs) }
    }

    /// Whether the holder of this Entra object id is an agent of the organisation.
    pub fn is_agent(&self, object_id: Option<&str>) -> bool {
        object_id.is_some_and(|oid| {
            self.agent_object_ids
                .iter()
                .any(|a| a.eq_ignore_ascii_case(oid.trim()))
        })
    }
}
