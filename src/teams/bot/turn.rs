//! Messages and membership updates, after the HTTP answer: the welcome, typed intents, and
//! the buttons of cards sent with Action.Submit (clients without Universal Actions).

use super::activity::ActivityKind;
use super::{
    account::OwnAccount, admission::Admissions, conversation::Conversations, helpdesk::AgentCards,
    replies::Replies, verbs::CardVerbs,
};
use serde_json::Value;

use super::{
    Bot,
    activity::{Activity, OutgoingActivity},
    admission::Admission,
    cards::language_of,
    intent::{Intent, intent_and_language},
};
use crate::{i18n::Locale, model::Purpose, org::Organisation};

impl Bot {
    /// A message or a membership update, after the HTTP answer.
    pub async fn turn(&self, a: Activity) -> anyhow::Result<()> {
        if a.service_url.is_none() || a.conversation.is_none() {
            return Ok(());
        }
        // A redelivery does it all again, but for the one effect that must not repeat: a card's
        // submission is recorded with the link it issues (bot::submit), and answered from it.
        Conversations::of(self).remember_conversation(&a).await?;
        let org = match Admissions::of(self).admit(&a) {
            Admission::Served(org) => org,
            Admission::Refused(refusal) => {
                Admissions::of(self).warn_admin(&a, refusal);
                // Say so once, politely, where asked (not on silent membership events of others).
                if a.kind == ActivityKind::Message || self.bot_was_added(&a) {
                    let org = refusal.org();
                    let card = Replies::of(self).trouble_card(
                        org,
                        Admissions::of(self).locale(&a, org),
                        refusal.into(),
                    );
                    Conversations::of(self)
                        .reply(&a, OutgoingActivity::card(card))
                        .await?;
                }
                return Ok(());
            }
        };
        let locale = Admissions::of(self).locale(&a, Some(org));
        match a.kind {
            ActivityKind::ConversationUpdate if self.bot_was_added(&a) => {
                Conversations::of(self)
                    .reply(
                        &a,
                        OutgoingActivity::card(Replies::of(self).welcome(org, locale)),
                    )
                    .await?;
            }
            ActivityKind::Message => self.message(&a, org, locale).await?,
            _ => {}
        }
        Ok(())
    }

    fn bot_was_added(&self, a: &Activity) -> bool {
        let me = a.recipient.as_ref().map(|r| r.id.as_str());
        a.members_added.iter().any(|m| Some(m.id.as_str()) == me)
    }

    async fn message(
        &self,
        a: &Activity,
        org: &Organisation,
        locale: Locale,
    ) -> anyhow::Result<()> {
        // Action.Submit (cards on clients without Universal Actions): a message with a value.
        if let Some(value) = a.value.as_ref().filter(|v| v.is_object()) {
            return self.submitted(a, org, locale, value).await;
        }
        // « statut trej » from a service-desk agent; from anyone else, text like any other.
        if AgentCards::of(self)
            .helpdesk_command(a, org, &a.text_without_mention())
            .await?
        {
            return Ok(());
        }
        // Someone who writes in one of our languages is answered in it.
        let (intent, written_in) = intent_and_language(&a.text_without_mention());
        let locale = written_in.unwrap_or(locale);
        match intent {
            Intent::ForgotPassword => self.offer_request(a, org, locale, Purpose::Reset).await,
            Intent::Enroll => self.offer_request(a, org, locale, Purpose::Enroll).await,
            Intent::ForgotUsername => OwnAccount::of(self).remind_username(a, org, locale).await,
            Intent::Unlock => OwnAccount::of(self).offer_unlock(a, org, locale).await,
            Intent::Help | Intent::Portal | Intent::Unknown => Conversations::of(self)
                .reply(
                    a,
                    OutgoingActivity::card(Replies::of(self).welcome(org, locale)),
                )
                .await
                .map(|_| ()),
        }
    }

    /// A card's button through Action.Submit: its answer replaces the card in a personal chat
    /// (and a new request remembers that card, to update it later), else comes as a reply.
    async fn submitted(
        &self,
        a: &Activity,
        org: &Organisation,
        locale: Locale,
        value: &Value,
    ) -> anyhow::Result<()> {
        // The answer is in the language of the card clicked.
        let locale = language_of(value).unwrap_or(locale);
        let action = value
            .get("action")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (card, new_request) = CardVerbs::of(self)
            .card_action(a, org, locale, action, value)
            .await?;
        let Some(card) = card else { return Ok(()) };
        let shown_in = match (&a.reply_to_id, a.is_personal()) {
            (Some(card_id), true) => {
                Conversations::of(self)
                    .update(a, card_id, OutgoingActivity::card(card))
                    .await?;
                Some(card_id.clone())
            }
            _ => {
                Conversations::of(self)
                    .reply(a, OutgoingActivity::card(card))
                    .await?
            }
        };
        if let (Some(request), Some(card_id)) = (new_request, shown_in) {
            self.core.records.set_card(&request, &card_id).await?;
        }
        Ok(())
    }

    /// The request card, in the personal chat: in a channel others would see the username.
    pub(super) async fn offer_request(
        &self,
        a: &Activity,
        org: &Organisation,
        locale: Locale,
        purpose: Purpose,
    ) -> anyhow::Result<()> {
        let (username, locked) = OwnAccount::of(self).own_account_state(a, org).await;
        let card = Replies::of(self).request_card(org, locale, purpose, &username, locked);
        if a.is_personal() {
            Conversations::of(self)
                .reply(a, OutgoingActivity::card(card))
                .await?;
            return Ok(());
        }
        Conversations::of(self)
            .move_to_private(a, locale, card)
            .await
    }
}
