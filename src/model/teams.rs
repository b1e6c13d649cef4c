//! The records the bot keeps of its requests (what each status card shows) and of the
//! conversations it may write to later. Plain values: the rules that write them are in
//! `reset::teams`, the rows in `store::bot`.

use super::UnixTime;
use std::str::FromStr;

use super::{Purpose, UnknownName};
use crate::i18n::Locale;

/// Where a request made from Teams stands, as its status card shows it. Stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestState {
    Sent,
    Opened,
    Changed,
    Superseded,
    Cancelled,
    /// The mail could not be sent before the link expired.
    Undelivered,
}

impl RequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Opened => "opened",
            Self::Changed => "changed",
            Self::Superseded => "superseded",
            Self::Cancelled => "cancelled",
            Self::Undelivered => "undelivered",
        }
    }

    /// Waiting for its link to be used: the card may still show the address and the expiry.
    pub fn is_pending(self) -> bool {
        matches!(self, Self::Sent | Self::Opened)
    }
}

impl FromStr for RequestState {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "sent" => Self::Sent,
            "opened" => Self::Opened,
            "changed" => Self::Changed,
            "superseded" => Self::Superseded,
            "cancelled" => Self::Cancelled,
            "undelivered" => Self::Undelivered,
            _ => return Err(UnknownName),
        })
    }
}

/// A request made from a Teams card, as its status card shows it.
#[derive(Debug, Clone)]
pub struct BotRequest {
    pub token_id: String,
    pub tenant_id: String,
    pub conversation_id: String,
    pub card_activity_id: Option<String>,
    pub user_id: String,
    pub aad_object_id: Option<String>,
    pub locale: String,
    pub purpose: Purpose,
    pub masked_email: Option<String>,
    pub expires_at: UnixTime,
    pub state: RequestState,
}

impl BotRequest {
    /// What a card shows when the requester is not known to own the account: no address, no
    /// live status.
    pub fn uniform(locale: Locale, purpose: Purpose) -> Self {
        Self {
            token_id: String::new(),
            tenant_id: String::new(),
            conversation_id: String::new(),
            card_activity_id: None,
            user_id: String::new(),
            aad_object_id: None,
            locale: locale.tag().to_string(),
            purpose,
            masked_email: None,
            expires_at: UnixTime::EPOCH,
            state: RequestState::Sent,
        }
    }
}

/// Where the bot can write to a person or a team later (proactive messages, card updates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRef {
    pub conversation_id: String,
    pub tenant_id: String,
    pub service_url: String,
    pub bot_id: String,
    pub user_id: Option<String>,
    pub aad_object_id: Option<String>,
    pub conversation_type: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_states_are_stored_as_their_names() {
        use RequestState::*;
        for s in [Sent, Opened, Changed, Superseded, Cancelled] {
            assert_eq!(s.as_str().parse(), Ok(s));
        }
        assert_eq!("Sent".parse::<RequestState>(), Err(UnknownName));
        assert!(Sent.is_pending() && Opened.is_pending() && !Changed.is_pending());
    }
}
