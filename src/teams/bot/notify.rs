//! Live status cards: what becomes of a link (opened, password changed, superseded, cancelled)
//! is shown on the requester's card, updated in place, and a completed change is also told in
//! the conversation (a proactive message through the stored conversation reference).

use super::cards::Card;
use crate::model::UnixTime;
use serde_json::{Value, json};
use tracing::{debug, info, warn};

use super::{
    BotCore,
    activity::OutgoingActivity,
    cards::{CardVerb, with_language, with_refresh},
    connector::ConnectorError,
};
use crate::model::events::{LinkEvent, LinkObserver};
use crate::model::{BotRequest, Purpose, RequestState};
use crate::{i18n::Locale, org::Organisation, reset::desk_request::DeskReason};

/// The status card for a request as it stands at `now`.
pub fn status_card(
    core: &BotCore,
    org: &Organisation,
    locale: Locale,
    r: &BotRequest,
    now: UnixTime,
) -> Value {
    let pending = r.state.is_pending();
    let expired = pending && !r.token_id.is_empty() && r.expires_at <= now;
    let active = pending && !expired && !r.token_id.is_empty();
    let expires = super::local_at(&core.clock, org, locale, r.expires_at);
    let desk = super::desk::desk_offer(
        org,
        match r.state {
            RequestState::Undelivered => Some(DeskReason::Undelivered),
            RequestState::Cancelled => Some(DeskReason::NotMe),
            _ => None,
        },
    );
    let card = core.cards.render(
        Card::Status,
        locale,
        json!({
            "canAskDesk": desk.0, "deskReason": desk.1,
            "isEnroll": r.purpose == Purpose::Enroll,
            "isSent": r.state == RequestState::Sent && !expired,
            "hasMaskedEmail": r.masked_email.is_some(),
            "isUsed": r.state == RequestState::Opened && !expired,
            "isChanged": r.state == RequestState::Changed,
            "isSuperseded": r.state == RequestState::Superseded,
            "isCancelled": r.state == RequestState::Cancelled,
            "isUndelivered": r.state == RequestState::Undelivered,
            "askResetAgain": r.state == RequestState::Undelivered && r.purpose == Purpose::Reset,
            "askEnrollAgain": r.state == RequestState::Undelivered && r.purpose == Purpose::Enroll,
            "isExpired": expired,
            "linkActive": active,
            "maskedEmail": r.masked_email.clone().unwrap_or_default(),
            "expiresAt": if active { expires } else { String::new() },
            "requestId": r.token_id,
            "portalUrl": org.portal_url.as_str(),
        }),
    );
    with_language(card, locale)
}

/// The status card as its requester sees it: refreshed (Universal Actions) whenever shown.
pub fn live_status_card(
    core: &BotCore,
    org: &Organisation,
    locale: Locale,
    r: &BotRequest,
    now: UnixTime,
) -> Value {
    with_refresh(
        status_card(core, org, locale, r, now),
        CardVerb::Refresh.as_str(),
        json!({"requestId": r.token_id}),
        &r.user_id,
    )
}

impl LinkObserver for BotCore {
    fn link_event(&self, token_id: &str, event: LinkEvent) {
        let core = self.clone();
        let token_id = token_id.to_string();
        crate::metrics::spawn(async move {
            if let Err(e) = core.show(&token_id, event).await {
                warn!(error = format!("{e:#}"), "status card not updated");
            }
        });
    }
}

impl BotCore {
    async fn show(&self, token_id: &str, event: LinkEvent) -> anyhow::Result<()> {
        let state = match event {
            LinkEvent::Opened => RequestState::Opened,
            LinkEvent::Completed => RequestState::Changed,
            LinkEvent::Superseded => RequestState::Superseded,
            LinkEvent::Cancelled => RequestState::Cancelled,
            LinkEvent::Undelivered => RequestState::Undelivered,
        };
        let now = self.clock.unix();
        // Only requests made from Teams have a card; only real changes are shown.
        let Some((request, reference)) = self.records.moved(token_id, state).await? else {
            return Ok(());
        };
        let Some(reference) = reference else {
            debug!("no conversation reference for the request's card");
            return Ok(());
        };
        let Some(org) = self.orgs.by_tenant(&request.tenant_id) else {
            return Ok(());
        };
        let locale = Locale::from_tag(&request.locale).unwrap_or(org.default_locale);
        let told = async {
            if let Some(card_id) = &request.card_activity_id {
                let card = live_status_card(self, org, locale, &request, now);
                self.connector
                    .update(
                        &reference.service_url,
                        &reference.conversation_id,
                        card_id,
                        &OutgoingActivity::card(card),
                    )
                    .await?;
            }
            if event == LinkEvent::Completed {
                let text = self
                    .strings
                    .get(locale, "bot.password_changed")
                    .replace("{portal}", org.portal_url.as_str());
                let mut message = OutgoingActivity::text(text);
                message.locale = Some(locale.tag().to_string());
                self.connector
                    .send(&reference.service_url, &reference.conversation_id, &message)
                    .await?;
            }
            Ok(())
        }
        .await;
        self.unless_gone(&reference.conversation_id, &reference.tenant_id, told)
            .await?;
        Ok(())
    }

    /// A write that found the conversation closed to the bot (403: removed from the team or
    /// blocked by the user; 404: the conversation is gone) is not a failure to retry or report:
    /// the stored reference is forgotten, so no later status card or message is attempted there
    /// until the person writes again, and this is logged once, at info. Other errors pass through.
    pub async fn unless_gone<T: Default>(
        &self,
        conversation_id: &str,
        tenant_id: &str,
        result: Result<T, ConnectorError>,
    ) -> Result<T, ConnectorError> {
        let gone = match result {
            Err(e) if e.is_gone() => e,
            other => return other,
        };
        self.saved.forget(conversation_id);
        let forgotten = self.records.forget_conversation(conversation_id).await;
        match forgotten {
            Ok(held) => info!(
                tenant.id = %tenant_id,
                answer = %gone,
                reference.forgotten = held,
                "the conversation is closed to the bot (removed, blocked or deleted); not retried"
            ),
            Err(e) => warn!(
                tenant.id = %tenant_id,
                answer = %gone,
                error = format!("{e:#}"),
                "the conversation is closed to the bot; its reference could not be forgotten"
            ),
        }
        Ok(T::default())
    }
}
