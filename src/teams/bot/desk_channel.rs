//! The service desk's Teams channel (`[organisations.desk_channel]`): what the desk should know
//! at once is posted there as a card, in the organisation's language. What happens together is
//! grouped: a card waits until nothing new came for `QUIET` (at most `MAX_WAIT`), and an
//! organisation gets at most one card per `min_interval_secs`. A burst of 50 dead letters is one
//! card that counts them and lists the first ten. Each instance posts what it saw. Nothing
//! secret: masked addresses, usernames.

use super::agent::{agent_of, at};
use super::cards::Card;
use crate::model::UnixTime;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Value, json};
use tracing::{info, warn};

use super::{
    Bot, BotCore,
    activity::{Activity, OutgoingActivity},
    cards::with_language,
};
use crate::model::events::{DeskEvent, DeskObserver};
use crate::{i18n::Locale, org::Organisation, reset::service::Retry};

/// A card waits until no event came for this long…
const QUIET: Duration = Duration::from_secs(2);
/// …but not longer than this after its first event.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// Events listed one by one on a card; the rest are counted.
const LISTED: usize = 10;

/// The events waiting for each organisation's next card. Cheap to clone.
#[derive(Clone, Default)]
pub struct DeskAlerts(Arc<Mutex<HashMap<String, Pending>>>);

#[derive(Default)]
struct Pending {
    /// The first `LISTED` events since the last card; the rest are only counted.
    events: Vec<(UnixTime, DeskEvent)>,
    /// Every event since the last card, by kind.
    counts: Vec<(&'static str, usize)>,
    /// The first event waiting for a card (a card is then on its way); `None`: none waits.
    first_event: Option<tokio::time::Instant>,
    last_event: Option<tokio::time::Instant>,
    last_post: Option<tokio::time::Instant>,
    /// The serviceUrl last found for the organisation: a database outage is still told.
    service_url: Option<String>,
}

impl DeskObserver for BotCore {
    fn desk_event(&self, tenant_id: Option<&str>, event: DeskEvent) {
        let now = self.clock.unix();
        let orgs: Vec<&Organisation> = match tenant_id {
            Some(t) => self.orgs.by_tenant(t).into_iter().collect(),
            None => self.orgs.iter().collect(),
        };
        for org in orgs {
            let Some(channel) = &org.desk_channel else {
                continue;
            };
            {
                let mut all = self.desk.0.lock().unwrap_or_else(|p| p.into_inner());
                let p = all.entry(org.tenant_id.clone()).or_default();
                let at = tokio::time::Instant::now();
                if p.events.len() < LISTED {
                    p.events.push((now, event.clone()));
                }
                let kind = kind_of(&event);
                match p.counts.iter_mut().find(|(k, _)| *k == kind) {
                    Some((_, n)) => *n += 1,
                    None => p.counts.push((kind, 1)),
                }
                p.last_event = Some(at);
                if p.first_event.is_some() {
                    continue;
                }
                p.first_event = Some(at);
            }
            let core = self.clone();
            let tenant = org.tenant_id.clone();
            let interval = Duration::from_secs(channel.min_interval_secs);
            crate::metrics::spawn(async move {
                while let Some(wait) = core.desk_wait(&tenant, interval) {
                    tokio::time::sleep(wait).await;
                }
                core.post_desk_card(&tenant).await;
            });
        }
    }
}

/// « Renvoyer » clicked on a desk channel card.
pub(crate) struct DeskResend<'a> {
    core: &'a super::BotCore,
    reset: &'a crate::reset::ResetService,
}

impl<'a> DeskResend<'a> {
    pub(crate) fn of(bot: &'a Bot) -> Self {
        Self {
            reset: &bot.reset,
            core: &bot.core,
        }
    }
}

impl DeskResend<'_> {
    /// « Renvoyer » on a dead letter's card in the desk's channel: for the organisation's agents
    /// only (anyone else gets what an unknown button gets); the card becomes what was done.
    pub(super) async fn desk_resend(
        &self,
        a: &Activity,
        org: &Organisation,
        outbox_id: &str,
    ) -> anyhow::Result<Option<Value>> {
        let Some(agent) = agent_of(a, org) else {
            return Ok(None);
        };
        let locale = org.default_locale;
        let now = self.core.clock.unix();
        let name = a
            .from
            .as_ref()
            .and_then(|f| f.name.clone())
            .unwrap_or_default();
        let line = match self
            .reset
            .retry_dead_letter(outbox_id, Some(&agent))
            .await?
        {
            Retry::Reissued(d) => self
                .core
                .ds(locale, "resent")
                .replace("{agent}", &name)
                .replace("{to}", &d.email.masked())
                .replace("{time}", &at(self.core, org, locale, d.expires_at)),
            Retry::NotDead => self.core.ds(locale, "not_dead"),
            Retry::NothingToResend(_) | Retry::NoAccount => {
                self.core.ds(locale, "nothing_to_resend")
            }
        };
        Ok(Some(self.core.alert_card(
            locale,
            json!({
                "isGrouped": false, "summary": [], "hasMore": false, "more": "",
                "events": [{"title": at(self.core, org, locale, now), "value": line}],
                "canResend": false, "mailId": "",
            }),
        )))
    }
}

impl BotCore {
    /// How much longer the organisation's next card waits; `None`: post it now.
    fn desk_wait(&self, tenant_id: &str, interval: Duration) -> Option<Duration> {
        let all = self.desk.0.lock().unwrap_or_else(|p| p.into_inner());
        let p = all.get(tenant_id)?;
        let (first, last) = (p.first_event?, p.last_event?);
        let grouped = (last + QUIET).min(first + MAX_WAIT);
        let allowed = p.last_post.map_or(grouped, |at| at + interval);
        let due = grouped.max(allowed);
        due.checked_duration_since(tokio::time::Instant::now())
            .filter(|d| !d.is_zero())
    }

    /// Posts what waited for the organisation, as one card.
    async fn post_desk_card(&self, tenant_id: &str) {
        let (Some(org), events, counts, cached) = ({
            let mut all = self.desk.0.lock().unwrap_or_else(|p| p.into_inner());
            let p = all.entry(tenant_id.to_string()).or_default();
            p.first_event = None;
            p.last_post = Some(tokio::time::Instant::now());
            (
                self.orgs.by_tenant(tenant_id),
                std::mem::take(&mut p.events),
                std::mem::take(&mut p.counts),
                p.service_url.clone(),
            )
        }) else {
            return;
        };
        let Some(channel) = &org.desk_channel else {
            return;
        };
        if events.is_empty() {
            return;
        }
        let service_url = match &channel.service_url {
            Some(url) => Some(url.to_string()),
            None => match self.records.latest_service_url(org).await {
                Ok(Some(url)) => {
                    let mut all = self.desk.0.lock().unwrap_or_else(|p| p.into_inner());
                    all.entry(tenant_id.to_string()).or_default().service_url = Some(url.clone());
                    Some(url)
                }
                Ok(None) | Err(_) => cached,
            },
        };
        let Some(service_url) = service_url else {
            warn!(
                tenant.id = %tenant_id,
                events = total(&counts),
                "no serviceUrl for the desk channel yet (set desk_channel.service_url): not posted"
            );
            return;
        };
        let locale = org.default_locale;
        let card = self.desk_card(org, locale, &events, &counts);
        let mut out = OutgoingActivity::card(card);
        out.locale = Some(locale.tag().to_string());
        match self
            .connector
            .send(&service_url, &channel.channel_id, &out)
            .await
        {
            Ok(_) => info!(tenant.id = %tenant_id, events = total(&counts), "desk channel told"),
            Err(e) => warn!(
                tenant.id = %tenant_id,
                events = total(&counts),
                error = %e,
                "the desk channel could not be told (is the bot installed in its team?)"
            ),
        }
    }

    fn desk_card(
        &self,
        org: &Organisation,
        locale: Locale,
        events: &[(UnixTime, DeskEvent)],
        counts: &[(&'static str, usize)],
    ) -> Value {
        let listed: Vec<Value> = events
            .iter()
            .map(|(t, e)| json!({"title": super::local_at(&self.clock, org, locale, *t), "value": self.desk_line(org, locale, e)}))
            .collect();
        let summary: Vec<Value> = counts
            .iter()
            .map(|(kind, n)| json!({"title": self.ds(locale, &format!("kind_{kind}")), "value": n.to_string()}))
            .collect();
        let all = total(counts);
        let more = all.saturating_sub(events.len());
        // A dead letter alone on its card can be re-sent from it.
        let resend = match events {
            [(_, DeskEvent::MailDead { outbox_id, .. })] if all == 1 => Some(outbox_id.as_str()),
            _ => None,
        };
        self.alert_card(
            locale,
            json!({
                "isGrouped": all > 1,
                "summary": summary,
                "events": listed,
                "hasMore": more > 0,
                "more": self.ds(locale, "more").replace("{n}", &more.to_string()),
                "canResend": resend.is_some(),
                "mailId": resend.unwrap_or_default(),
            }),
        )
    }

    fn alert_card(&self, locale: Locale, data: Value) -> Value {
        with_language(self.cards.render(Card::DeskAlert, locale, data), locale)
    }

    fn desk_line(&self, org: &Organisation, locale: Locale, e: &DeskEvent) -> String {
        match e {
            DeskEvent::MailDead {
                template,
                to,
                queued_at,
                ..
            } => {
                let kind = match template.as_str() {
                    "reset" | "enroll" | "changed" | "unlocked" => {
                        format!("helpdesk.mail_{template}")
                    }
                    _ => "helpdesk.mail_other".to_string(),
                };
                let since = super::local_at(&self.clock, org, locale, *queued_at);
                self.ds(locale, "mail_dead")
                    .replace("{mail}", &self.strings.get(locale, &kind))
                    .replace("{to}", to)
                    .replace("{since}", &since)
            }
            DeskEvent::HardLock { username } => {
                self.ds(locale, "hard_lock").replace("{username}", username)
            }
            DeskEvent::CallerDenied {
                display_name,
                username,
                agent_name,
            } => self
                .ds(locale, "caller_denied")
                .replace("{name}", display_name)
                .replace("{username}", username)
                .replace("{agent}", agent_name),
            DeskEvent::RefusalBurst { refusals, minutes } => self
                .ds(locale, "refusal_burst")
                .replace("{n}", &refusals.to_string())
                .replace("{minutes}", &minutes.to_string()),
            DeskEvent::RelayDown => self.ds(locale, "relay_down"),
            DeskEvent::RelayUp => self.ds(locale, "relay_up"),
            DeskEvent::DatabaseDown => self.ds(locale, "database_down"),
            DeskEvent::DatabaseUp => self.ds(locale, "database_up"),
        }
    }

    fn ds(&self, locale: Locale, key: &str) -> String {
        self.strings.get(locale, &format!("desk.{key}"))
    }
}

fn total(counts: &[(&'static str, usize)]) -> usize {
    counts.iter().map(|(_, n)| n).sum()
}

fn kind_of(e: &DeskEvent) -> &'static str {
    match e {
        DeskEvent::MailDead { .. } => "mail_dead",
        DeskEvent::HardLock { .. } => "hard_lock",
        DeskEvent::CallerDenied { .. } => "caller_denied",
        DeskEvent::RefusalBurst { .. } => "refusals",
        DeskEvent::RelayDown | DeskEvent::RelayUp => "relay",
        DeskEvent::DatabaseDown | DeskEvent::DatabaseUp => "database",
    }
}
