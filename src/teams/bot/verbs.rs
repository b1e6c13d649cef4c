//! The buttons of the bot's cards, by verb (Action.Execute) or `action` (Action.Submit): each
//! returns the card that replaces the one clicked and, for a new request, its id.

use super::{
    account::OwnAccount, caller::CallerCards, desk::DeskAsk, desk_channel::DeskResend,
    helpdesk::AgentCards, replies::Replies, submit::Submissions,
};
use crate::teams::identity::TeamsIdentities;
use serde_json::Value;
use tracing::debug;

use super::{Bot, activity::Activity, cards::CardVerb, notify::live_status_card};
use crate::{i18n::Locale, model::Purpose, org::Organisation};

/// The card verbs: which click does what.
pub(crate) struct CardVerbs<'a> {
    bot: &'a Bot,
    core: &'a super::BotCore,
    reset: &'a crate::reset::ResetService,
}

impl<'a> CardVerbs<'a> {
    pub(crate) fn of(bot: &'a Bot) -> Self {
        Self {
            bot,
            core: &bot.core,
            reset: &bot.reset,
        }
    }
}

impl CardVerbs<'_> {
    /// A card button, from Action.Execute (verb) or Action.Submit (`action`). Returns the card
    /// that replaces the clicked one and, for a new request, its id.
    pub(super) async fn card_action(
        &self,
        a: &Activity,
        org: &Organisation,
        locale: Locale,
        verb: &str,
        data: &Value,
    ) -> anyhow::Result<(Option<Value>, Option<String>)> {
        let Ok(verb) = verb.parse::<CardVerb>() else {
            debug!("a card button with an unknown verb is not answered");
            return Ok((None, None));
        };
        let text = |key: &str| data.get(key).and_then(Value::as_str).unwrap_or_default();
        let card = match verb {
            CardVerb::Forgot => self.form(a, org, locale, Purpose::Reset).await?,
            CardVerb::Enroll => self.form(a, org, locale, Purpose::Enroll).await?,
            CardVerb::Submit => return self.submitted_form(a, org, locale, data).await,
            CardVerb::Cancel => Some(Replies::of(self.bot).welcome(org, locale)),
            CardVerb::Unlock if !a.is_personal() => {
                OwnAccount::of(self.bot)
                    .offer_unlock(a, org, locale)
                    .await?;
                None
            }
            CardVerb::Unlock => Some(OwnAccount::of(self.bot).unlock_own(a, org, locale).await?),
            CardVerb::NotMe => self.not_me(a, org, locale, text("requestId")).await?,
            CardVerb::Refresh => self.own_status(a, org, locale, text("requestId")).await?,
            CardVerb::HelpdeskStatus
            | CardVerb::HelpdeskResend
            | CardVerb::HelpdeskUnlock
            | CardVerb::HelpdeskVerify
            | CardVerb::HelpdeskConfirm => {
                AgentCards::of(self.bot)
                    .helpdesk_action(a, org, locale, verb, data)
                    .await?
            }
            CardVerb::CallerDenied => {
                CallerCards::of(self.bot)
                    .caller_denied(a, org, locale, text("check"))
                    .await?
            }
            CardVerb::DeskRequest => {
                DeskAsk::of(self.bot)
                    .desk_request(a, org, locale, text("reason"))
                    .await?
            }
            CardVerb::DeskResend => {
                DeskResend::of(self.bot)
                    .desk_resend(a, org, text("mail"))
                    .await?
            }
        };
        Ok((card, None))
    }

    /// « Mot de passe oublié » / « M'inscrire » on the welcome card: it turns into the form
    /// (in a channel, the form goes to the personal chat).
    async fn form(
        &self,
        a: &Activity,
        org: &Organisation,
        locale: Locale,
        purpose: Purpose,
    ) -> anyhow::Result<Option<Value>> {
        if !a.is_personal() {
            self.bot.offer_request(a, org, locale, purpose).await?;
            return Ok(None);
        }
        let (username, locked) = OwnAccount::of(self.bot).own_account_state(a, org).await;
        Ok(Some(
            Replies::of(self.bot).request_card(org, locale, purpose, &username, locked),
        ))
    }

    /// The form sent: its purpose must be one of ours (a card never sends another).
    async fn submitted_form(
        &self,
        a: &Activity,
        org: &Organisation,
        locale: Locale,
        data: &Value,
    ) -> anyhow::Result<(Option<Value>, Option<String>)> {
        let purpose = data
            .get("purpose")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Ok(purpose) = purpose.parse::<Purpose>() else {
            tracing::info!("a submitted form with an unknown purpose is refused");
            return Ok((None, None));
        };
        let typed = data
            .get("username")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (card, id) = Submissions::of(self.bot)
            .submit(a, org, locale, purpose, typed)
            .await?;
        Ok((Some(card), id))
    }

    /// "Ce n'était pas moi" on the requester's own status card.
    async fn not_me(
        &self,
        a: &Activity,
        org: &Organisation,
        locale: Locale,
        request_id: &str,
    ) -> anyhow::Result<Option<Value>> {
        let Some(from) = &a.from else { return Ok(None) };
        match TeamsIdentities::of(self.reset)
            .cancel_from_card(org, request_id, &from.id)
            .await
        {
            Ok(request) => Ok(request
                .map(|r| live_status_card(self.core, org, locale, &r, self.core.clock.unix()))),
            Err(e) => Ok(Some(Replies::of(self.bot).refused_card(
                Some(org),
                locale,
                e,
            ))),
        }
    }

    /// « Actualiser »: the requester's own status card as it stands now.
    async fn own_status(
        &self,
        a: &Activity,
        org: &Organisation,
        locale: Locale,
        request_id: &str,
    ) -> anyhow::Result<Option<Value>> {
        let Some(from) = &a.from else { return Ok(None) };
        let request = self.core.records.own_request(request_id, &from.id).await?;
        Ok(request.map(|r| live_status_card(self.core, org, locale, &r, self.core.clock.unix())))
    }
}
