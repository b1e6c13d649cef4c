//! « Ouvrir une demande au Centre de services » on the cards where self-service ends: the
//! person's click (their consent, the card says what is sent) mails the organisation's Octopus
//! MailIntegration mailbox, and the card turns into « Demande envoyée ».

use super::cards::Card;
use crate::reset::desk_request::DeskRequests;
use crate::teams::identity::requester;
use serde_json::{Value, json};
use tracing::debug;

use super::{Bot, activity::Activity, cards::with_language};
use crate::{
    i18n::Locale,
    org::Organisation,
    reset::desk_request::{Asker, DeskReason, DeskRequest},
};

/// The `canAskDesk` and `deskReason` a card binds: the button shows where self-service ended
/// for `reason` and the organisation takes requests by mail.
pub fn desk_offer(org: &Organisation, reason: Option<DeskReason>) -> (bool, &'static str) {
    match reason {
        Some(r) if org.octopus_requests.is_some() => (true, r.as_str()),
        _ => (false, ""),
    }
}

/// « Ouvrir une demande » from the bot's cards.
pub(crate) struct DeskAsk<'a> {
    core: &'a super::BotCore,
    reset: &'a crate::reset::ResetService,
}

impl<'a> DeskAsk<'a> {
    pub(crate) fn of(bot: &'a Bot) -> Self {
        Self {
            core: &bot.core,
            reset: &bot.reset,
        }
    }
}

impl DeskAsk<'_> {
    /// The click on « Ouvrir une demande au Centre de services »: only in the person's personal
    /// chat, where the cards that carry it are shown.
    pub(super) async fn desk_request(
        &self,
        a: &Activity,
        org: &Organisation,
        locale: Locale,
        reason: &str,
    ) -> anyhow::Result<Option<Value>> {
        let (Ok(reason), Some(from)) = (reason.parse::<DeskReason>(), a.from.as_ref()) else {
            return Ok(None);
        };
        if !a.is_personal() || org.octopus_requests.is_none() {
            return Ok(None);
        }
        let asker = Asker {
            requester: requester(org, from.aad_object_id.as_deref(), &from.id),
            aad_object_id: from.aad_object_id.clone(),
            display_name: from.name.clone().unwrap_or_default(),
            upn: self.upn_of(a).await,
        };
        let done = DeskRequests::of(self.reset)
            .open_desk_request(org, &asker, reason)
            .await?;
        if done == DeskRequest::NotOffered {
            return Ok(None);
        }
        let contact = org.words_in(locale, &self.core.strings).contact;
        let card = self.core.cards.render(
            Card::DeskRequest,
            locale,
            json!({
                "isSent": done == DeskRequest::Sent,
                "isAlready": done == DeskRequest::AlreadySent,
                "hasContact": contact.is_some(),
                "contact": contact.unwrap_or_default(),
            }),
        );
        Ok(Some(with_language(card, locale)))
    }

    /// The person's UPN as Teams gives it for the conversation's member; `None` when Teams
    /// does not answer (the request then says « inconnu »).
    async fn upn_of(&self, a: &Activity) -> Option<String> {
        let (service_url, from) = (a.service_url.as_deref()?, a.from.as_ref()?);
        match self
            .core
            .connector
            .member(service_url, a.conversation_id(), &from.id)
            .await
        {
            Ok(member) => member.user_principal_name,
            Err(e) => {
                debug!(error = %e, "no UPN from Teams for the desk request");
                None
            }
        }
    }
}
