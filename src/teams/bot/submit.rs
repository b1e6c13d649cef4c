//! The request form's "submit", from an invoke (Action.Execute) or a message (Action.Submit):
//! a link and its mail, at most once per activity whatever Teams redelivers. The domain
//! (`reset::teams`) records the activity as handled in the transaction that issues the link,
//! and answers a redelivery with the request the first delivery made.

use super::{conversation::Conversations, replies::Replies};
use crate::teams::identity::TeamsIdentities;
use serde_json::Value;

use super::{
    Bot,
    activity::Activity,
    notify::{live_status_card, status_card},
};
use crate::model::{BotRequest, Purpose, Username};
use crate::{i18n::Locale, org::Organisation, teams::identity::CardAsk};

/// A request made from the bot's form.
pub(crate) struct Submissions<'a> {
    bot: &'a Bot,
    core: &'a super::BotCore,
    reset: &'a crate::reset::ResetService,
}

impl<'a> Submissions<'a> {
    pub(crate) fn of(bot: &'a Bot) -> Self {
        Self {
            bot,
            core: &bot.core,
            reset: &bot.reset,
        }
    }
}

impl Submissions<'_> {
    /// Sends the link (through the domain's uniform request) and builds the answer card, with
    /// the id of the request it shows (to remember which card shows it).
    pub(super) async fn submit(
        &self,
        a: &Activity,
        org: &Organisation,
        locale: Locale,
        purpose: Purpose,
        typed: &str,
    ) -> anyhow::Result<(Value, Option<String>)> {
        let from = a.from.clone().unwrap_or_default();
        let Ok(username) = Username::parse(typed) else {
            return Ok((self.uniform(org, locale, purpose), None));
        };
        // An activity without an id cannot be redelivered as itself: a key of its own.
        let key = Conversations::activity_key(a)
            .unwrap_or_else(|| format!("unkeyed|{}", uuid::Uuid::new_v4()));
        let ask = CardAsk {
            key: &key,
            conversation_id: a.conversation_id(),
            card_activity_id: a.reply_to_id.as_deref(),
            user_id: &from.id,
            aad_object_id: from.aad_object_id.as_deref(),
            username: &username,
            purpose,
            locale,
        };
        Ok(
            match TeamsIdentities::of(self.reset)
                .request_from_card(org, &ask)
                .await
            {
                Ok(Some(request)) => {
                    let locale = Locale::from_tag(&request.locale).unwrap_or(locale);
                    let now = self.core.clock.unix();
                    let card = live_status_card(self.core, org, locale, &request, now);
                    (card, Some(request.token_id))
                }
                Ok(None) => (self.uniform(org, locale, purpose), None),
                Err(e) => (
                    Replies::of(self.bot).refused_card(Some(org), locale, e),
                    None,
                ),
            },
        )
    }

    /// The uniform answer: no address, no live status.
    fn uniform(&self, org: &Organisation, locale: Locale, purpose: Purpose) -> Value {
        let request = BotRequest::uniform(locale, purpose);
        status_card(self.core, org, locale, &request, self.core.clock.unix())
    }
}
