//! What the service desk agent is told: the words of the helpdesk cards, times in the
//! organisation's zone, the notice above a card; and who is an agent.

use super::{BotCore, activity::Activity};
use crate::model::UnixTime;
use crate::{i18n::Locale, org::Organisation, reset::agent::Agent};

/// What the card says above the account, after a button.
pub(super) enum Notice {
    None,
    /// Done as asked.
    Text(String),
    /// Not done, or a warning for the agent.
    Warning(String),
}

/// A helpdesk card's words (`helpdesk.<key>`) in `locale`.
pub(super) fn said(core: &BotCore, locale: Locale, key: &str) -> String {
    core.strings.get(locale, &format!("helpdesk.{key}"))
}

/// A moment in the organisation's time zone, as its people read it.
pub(super) fn at(core: &BotCore, org: &Organisation, locale: Locale, unix: UnixTime) -> String {
    super::local_at(&core.clock, org, locale, unix)
}

/// The agent who sent the activity, if the organisation lists them.
pub(super) fn agent_of(a: &Activity, org: &Organisation) -> Option<Agent> {
    Agent::of(
        org,
        a.from.as_ref().and_then(|f| f.aad_object_id.as_deref()),
    )
}
