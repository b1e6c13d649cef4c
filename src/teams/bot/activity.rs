//! The Bot Framework activity, only the fields we use.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    #[serde(rename = "type", default)]
    pub kind: ActivityKind,
    pub id: Option<String>,
    pub service_url: Option<String>,
    pub channel_id: Option<String>,
    pub from: Option<ChannelAccount>,
    pub recipient: Option<ChannelAccount>,
    pub conversation: Option<ConversationAccount>,
    pub text: Option<String>,
    pub locale: Option<String>,
    pub value: Option<Value>,
    pub name: Option<String>,
    pub reply_to_id: Option<String>,
    #[serde(default)]
    pub entities: Vec<Value>,
    pub channel_data: Option<Value>,
    #[serde(default)]
    pub members_added: Vec<ChannelAccount>,
    pub action: Option<String>,
}

/// An activity's `type`, as far as the bot tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(from = "String")]
pub enum ActivityKind {
    /// No type, or an empty one: the activity is refused.
    #[default]
    Missing,
    Message,
    ConversationUpdate,
    Invoke,
    InstallationUpdate,
    MessageReaction,
    Typing,
    /// Any other type: acknowledged, nothing done.
    Other,
}

impl From<String> for ActivityKind {
    fn from(kind: String) -> Self {
        match kind.as_str() {
            "" => ActivityKind::Missing,
            "message" => ActivityKind::Message,
            "conversationUpdate" => ActivityKind::ConversationUpdate,
            "invoke" => ActivityKind::Invoke,
            "installationUpdate" => ActivityKind::InstallationUpdate,
            "messageReaction" => ActivityKind::MessageReaction,
            "typing" => ActivityKind::Typing,
            _ => ActivityKind::Other,
        }
    }
}

impl ActivityKind {
    /// The `type` label of `octopus_bot_activities_total`: the Bot Framework's own name, or
    /// `other`.
    pub fn label(self) -> &'static str {
        match self {
            ActivityKind::Message => "message",
            ActivityKind::ConversationUpdate => "conversationUpdate",
            ActivityKind::Invoke => "invoke",
            ActivityKind::InstallationUpdate => "installationUpdate",
            ActivityKind::MessageReaction => "messageReaction",
            ActivityKind::Typing => "typing",
            ActivityKind::Missing | ActivityKind::Other => "other",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelAccount {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aad_object_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationAccount {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_group: Option<bool>,
}

impl Activity {
    /// The Entra tenant: `channelData.tenant.id`, else `conversation.tenantId`.
    pub fn tenant_id(&self) -> Option<String> {
        self.channel_data
            .as_ref()
            .and_then(|d| d.pointer("/tenant/id"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| self.conversation.as_ref().and_then(|c| c.tenant_id.clone()))
            .map(|t| t.trim().to_ascii_lowercase())
    }

    /// The team (`channelData.team.id`) when the activity comes from a team's channel.
    pub fn team_id(&self) -> Option<&str> {
        self.channel_data.as_ref()?.pointer("/team/id")?.as_str()
    }

    /// The team's display name (`channelData.team.name`), which Teams sends on some activities.
    pub fn team_name(&self) -> Option<&str> {
        self.channel_data.as_ref()?.pointer("/team/name")?.as_str()
    }

    /// The Teams client's language (`clientInfo` entity), for activities without `locale`.
    pub fn client_locale(&self) -> Option<&str> {
        self.entities
            .iter()
            .find(|e| e.get("type").and_then(Value::as_str) == Some("clientInfo"))
            .and_then(|e| e.get("locale"))
            .and_then(Value::as_str)
            .filter(|l| !l.is_empty())
    }

    /// Personal chat, or a team channel / group chat where others can read along.
    pub fn is_personal(&self) -> bool {
        let conv = self.conversation.as_ref();
        let kind = conv.and_then(|c| c.conversation_type.as_deref());
        match kind {
            Some(k) => k == "personal",
            None => !conv.and_then(|c| c.is_group).unwrap_or(false) && self.team_id().is_none(),
        }
    }

    pub fn conversation_id(&self) -> &str {
        self.conversation.as_ref().map_or("", |c| c.id.as_str())
    }

    /// The text with the bot's own @mention removed (Teams puts `<at>Bot</at>` in channel messages).
    pub fn text_without_mention(&self) -> String {
        let mut text = self.text.clone().unwrap_or_default();
        let me = self.recipient.as_ref().map(|r| r.id.as_str());
        for e in &self.entities {
            let is_mention = e
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("mention"));
            let mentioned = e.pointer("/mentioned/id").and_then(Value::as_str);
            if !is_mention || mentioned != me {
                continue;
            }
            let shown = e
                .get("text")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| {
                    e.pointer("/mentioned/name")
                        .and_then(Value::as_str)
                        .map(|n| format!("<at>{n}</at>"))
                });
            if let Some(shown) = shown {
                text = text.replacen(&shown, "", 1);
            }
        }
        text.trim().to_string()
    }
}

/// What the bot posts: a message with at most one Adaptive Card.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutgoingActivity {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<ChannelAccount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<ChannelAccount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationAccount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub content_type: &'static str,
    pub content: Value,
}

pub const ADAPTIVE_CARD: &str = "application/vnd.microsoft.card.adaptive";

impl OutgoingActivity {
    pub fn card(card: Value) -> Self {
        Self {
            kind: "message",
            id: None,
            from: None,
            recipient: None,
            conversation: None,
            reply_to_id: None,
            locale: None,
            text: None,
            attachments: vec![Attachment {
                content_type: ADAPTIVE_CARD,
                content: card,
            }],
        }
    }

    pub fn text(text: String) -> Self {
        Self {
            text: Some(text),
            attachments: Vec::new(),
            ..Self::card(Value::Null)
        }
    }

    /// Addressed as a reply in the conversation of `to`.
    pub fn replying_to(mut self, to: &Activity) -> Self {
        self.from = to.recipient.clone();
        self.recipient = to.from.clone();
        self.conversation = to.conversation.clone();
        self.reply_to_id = to.id.clone();
        self.locale = to.locale.clone();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_bot_s_mention_is_removed_and_others_are_kept() {
        let a: Activity = serde_json::from_value(json!({
            "type": "message",
            "text": "<at>Octopus</at> mot de passe oublié <at>Marc</at>",
            "recipient": {"id": "28:bot"},
            "entities": [
                {"type": "mention", "text": "<at>Octopus</at>", "mentioned": {"id": "28:bot", "name": "Octopus"}},
                {"type": "mention", "text": "<at>Marc</at>", "mentioned": {"id": "29:marc", "name": "Marc"}}
            ]
        }))
        .expect("activity");
        assert_eq!(
            a.text_without_mention(),
            "mot de passe oublié <at>Marc</at>"
        );
    }

    #[test]
    fn tenant_and_scope_are_read_from_teams_fields() {
        let a: Activity = serde_json::from_value(json!({
            "type": "message",
            "conversation": {"id": "19:x@thread.tacv2", "conversationType": "channel", "tenantId": "T2"},
            "channelData": {"tenant": {"id": "T1"}, "team": {"id": "19:team@thread.tacv2"}}
        }))
        .expect("activity");
        assert_eq!(a.tenant_id().as_deref(), Some("t1"));
        assert_eq!(a.team_id(), Some("19:team@thread.tacv2"));
        assert!(!a.is_personal());
    }
}
