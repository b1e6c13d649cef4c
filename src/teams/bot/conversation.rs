//! The bot's side of a conversation: answering in it, updating a card in place, moving to the
//! personal chat, and keeping the conversation reference (which a cache spares rewriting when
//! nothing changed).

use serde_json::Value;
use tracing::info;

use super::{
    Bot,
    activity::{Activity, OutgoingActivity},
};
use crate::{i18n::Locale, model::ConversationRef};

/// Conversation references kept, 1:1 chats opened, replies posted and cards updated.
pub(crate) struct Conversations<'a> {
    core: &'a super::BotCore,
}

impl<'a> Conversations<'a> {
    pub(crate) fn of(bot: &'a Bot) -> Self {
        Self { core: &bot.core }
    }
}

impl Conversations<'_> {
    /// The key under which an activity is remembered as handled.
    pub(super) fn activity_key(a: &Activity) -> Option<String> {
        a.id.as_ref()
            .map(|id| format!("{}|{id}", a.conversation_id()))
    }

    pub(super) async fn remember_conversation(&self, a: &Activity) -> anyhow::Result<()> {
        let Some(reference) = reference_of(a) else {
            return Ok(());
        };
        if self.core.saved.unchanged(&reference) {
            return Ok(());
        }
        self.core.records.save_conversation(&reference).await?;
        self.core.saved.remember(reference);
        Ok(())
    }

    /// Answers in the channel without personal data, and continues in a 1:1 chat.
    pub(super) async fn move_to_private(
        &self,
        a: &Activity,
        locale: Locale,
        card: Value,
    ) -> anyhow::Result<()> {
        if a.service_url.is_none() || a.from.is_none() || a.recipient.is_none() {
            return Ok(());
        }
        let Some(tenant) = a.tenant_id() else {
            return Ok(());
        };
        let notice = self.core.strings.get(locale, "bot.moved_to_private");
        self.reply(a, OutgoingActivity::text(notice)).await?;
        let Some(reference) = self.open_private(a, tenant).await? else {
            return Ok(());
        };
        self.core.records.save_conversation(&reference).await?;
        let mut out = OutgoingActivity::card(card);
        out.locale = a.locale.clone();
        let conversation = &reference.conversation_id;
        let sent = self
            .core
            .connector
            .send(&reference.service_url, conversation, &out)
            .await;
        self.core
            .unless_gone(conversation, &reference.tenant_id, sent)
            .await?;
        Ok(())
    }

    /// The personal chat with the sender, opened (or found) through the connector. `None` when
    /// the person blocked the bot: there is no 1:1 chat to open; nothing to forget either.
    async fn open_private(
        &self,
        a: &Activity,
        tenant: String,
    ) -> anyhow::Result<Option<ConversationRef>> {
        let (Some(service_url), Some(from), Some(me)) = (&a.service_url, &a.from, &a.recipient)
        else {
            return Ok(None);
        };
        let conversation = match self
            .core
            .connector
            .personal_conversation(service_url, &me.id, &from.id, &tenant)
            .await
        {
            Err(e) if e.is_gone() => {
                info!(tenant.id = %tenant, answer = %e, "no private chat with this person (the bot is blocked); the form is not sent");
                return Ok(None);
            }
            other => other?,
        };
        Ok(Some(ConversationRef {
            conversation_id: conversation,
            tenant_id: tenant,
            service_url: service_url.clone(),
            bot_id: me.id.clone(),
            user_id: Some(from.id.clone()),
            aad_object_id: from.aad_object_id.clone(),
            conversation_type: Some("personal".into()),
        }))
    }

    pub(super) async fn reply(
        &self,
        a: &Activity,
        out: OutgoingActivity,
    ) -> anyhow::Result<Option<String>> {
        let Some(service_url) = &a.service_url else {
            return Ok(None);
        };
        let out = out.replying_to(a);
        let sent = self
            .core
            .connector
            .send(service_url, a.conversation_id(), &out)
            .await;
        let tenant = a.tenant_id().unwrap_or_default();
        Ok(self
            .core
            .unless_gone(a.conversation_id(), &tenant, sent)
            .await?)
    }

    pub(super) async fn update(
        &self,
        a: &Activity,
        activity_id: &str,
        out: OutgoingActivity,
    ) -> anyhow::Result<()> {
        let Some(service_url) = &a.service_url else {
            return Ok(());
        };
        let mut out = out.replying_to(a);
        out.reply_to_id = None;
        let updated = self
            .core
            .connector
            .update(service_url, a.conversation_id(), activity_id, &out)
            .await;
        let tenant = a.tenant_id().unwrap_or_default();
        Ok(self
            .core
            .unless_gone(a.conversation_id(), &tenant, updated)
            .await?)
    }
}

/// The activity's conversation, as the bot keeps it (the sender only in a personal chat).
fn reference_of(a: &Activity) -> Option<ConversationRef> {
    let (Some(service_url), Some(tenant), Some(recipient)) =
        (&a.service_url, a.tenant_id(), &a.recipient)
    else {
        return None;
    };
    let personal = a.is_personal();
    let from = a.from.as_ref().filter(|_| personal);
    Some(ConversationRef {
        conversation_id: a.conversation_id().to_string(),
        tenant_id: tenant,
        service_url: service_url.clone(),
        bot_id: recipient.id.clone(),
        user_id: from.map(|f| f.id.clone()),
        aad_object_id: from.and_then(|f| f.aad_object_id.clone()),
        conversation_type: a
            .conversation
            .as_ref()
            .and_then(|c| c.conversation_type.clone()),
    })
}
