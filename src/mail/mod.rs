//! Mail: what to send (enqueued in the caller's transaction), how it looks, how it leaves.

mod compose;
mod direct;
pub mod failure;
pub mod outcome;
pub mod render;
pub mod transport;
pub mod worker;

use crate::model::UnixTime;
use crate::store::Conn;
use serde::{Deserialize, Serialize};

use crate::service_key::ServiceKey;
use crate::{
    i18n::Locale,
    model::EmailAddress,
    store::{StoreError, outbox},
};

/// The emails the service sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailTemplate {
    /// "Changement de mot de passe" link.
    Reset,
    /// "M'inscrire au service" link.
    Enroll,
    /// The password was changed ("si ce n'était pas vous…").
    Changed,
    /// « Nom d'utilisateur oublié ? »: the username(s) of the address; no link that grants anything.
    Username,
    /// « Votre compte a été déverrouillé »: a sign-in lock lifted without a new password.
    Unlocked,
    /// « Votre code pour le Centre de services »: a caller-verification code, when the owner has
    /// no Teams chat with the bot.
    CallerCode,
    /// A request for the service desk, to the organisation's Octopus MailIntegration mailbox.
    DeskRequest,
}

impl MailTemplate {
    pub fn name(self) -> &'static str {
        match self {
            MailTemplate::Reset => "reset",
            MailTemplate::Enroll => "enroll",
            MailTemplate::Changed => "changed",
            MailTemplate::Username => "username",
            MailTemplate::Unlocked => "unlocked",
            MailTemplate::CallerCode => "caller_code",
            MailTemplate::DeskRequest => "desk_request",
        }
    }

    /// Plain text only: read by a program (Octopus's MailIntegration), which takes the body as
    /// it is.
    pub fn is_plain(self) -> bool {
        self == MailTemplate::DeskRequest
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "reset" => Some(MailTemplate::Reset),
            "enroll" => Some(MailTemplate::Enroll),
            "changed" => Some(MailTemplate::Changed),
            "username" => Some(MailTemplate::Username),
            "unlocked" => Some(MailTemplate::Unlocked),
            "caller_code" => Some(MailTemplate::CallerCode),
            "desk_request" => Some(MailTemplate::DeskRequest),
            _ => None,
        }
    }
}

/// Everything a template needs. Sealed in the outbox row because it carries the link.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MailParams {
    pub name: String,
    pub link: Option<String>,
    pub cancel_link: Option<String>,
    pub expires_at: Option<UnixTime>,
    pub occurred_at: Option<UnixTime>,
    pub login_url: Option<String>,
    /// The usernames of a username reminder (several when accounts share the address).
    #[serde(default)]
    pub usernames: Vec<String>,
    /// An unlock done by a service-desk agent (not by the person).
    #[serde(default)]
    pub by_agent: bool,
    /// The link's id (not the link): a mail that could not be sent in time says so on its card.
    #[serde(default)]
    pub token_id: Option<String>,
    /// A caller-verification code, as read out (`123 456`).
    #[serde(default)]
    pub code: Option<String>,
    /// The service-desk agent who asked for the code, as Teams names them.
    #[serde(default)]
    pub agent_name: Option<String>,
    /// A request for the service desk (`DeskRequest`).
    #[serde(default)]
    pub desk: Option<DeskMail>,
}

/// What a request to the service desk's Octopus mailbox says besides the person's name and
/// when: facts only, never a link, a token, a code or a password.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeskMail {
    /// Where self-service ended (`reset::desk_request::DeskReason`).
    pub reason: String,
    pub upn: Option<String>,
    pub username: Option<String>,
    pub object_id: Option<String>,
    /// The account's recent audit rows: (when, event), newest first.
    pub references: Vec<(UnixTime, String)>,
    /// The organisation's lines, written first.
    pub field_lines: Vec<String>,
    /// MailIntegration's `NewSRBodyEnclosingToken`: the body is enclosed in it (a service
    /// request); `None`: an incident.
    pub enclosing_token: Option<String>,
}

pub struct OutgoingMail<'a> {
    pub template: MailTemplate,
    pub to: &'a EmailAddress,
    pub locale: Locale,
    pub tenant_id: &'a str,
    pub params: MailParams,
}

/// Writes the outbox row inside the caller's transaction: the mail exists if and only if what
/// it announces was committed.
pub async fn enqueue(
    conn: &mut Conn,
    key: &ServiceKey,
    mail: OutgoingMail<'_>,
    message_domain: &str,
    now: UnixTime,
) -> Result<String, StoreError> {
    let sealed = Sealed::new(key, &mail, message_domain)?;
    outbox::insert(conn, &sealed.row(&mail, now)).await?;
    Ok(sealed.outbox_id)
}

/// `enqueue` for the account `account`, written only if that account exists (`None` if not).
/// The same sealing and the same statement either way: the work says nothing about accounts.
pub async fn enqueue_for_account(
    conn: &mut Conn,
    key: &ServiceKey,
    mail: OutgoingMail<'_>,
    message_domain: &str,
    now: UnixTime,
    account: &crate::model::AccountId,
) -> Result<Option<String>, StoreError> {
    let sealed = Sealed::new(key, &mail, message_domain)?;
    let written = outbox::insert_for_account(conn, &sealed.row(&mail, now), &account.0).await?;
    Ok(written.then_some(sealed.outbox_id))
}

struct Sealed {
    outbox_id: String,
    message_id: String,
    payload: Vec<u8>,
}

impl Sealed {
    fn new(
        key: &ServiceKey,
        mail: &OutgoingMail<'_>,
        message_domain: &str,
    ) -> Result<Self, StoreError> {
        let outbox_id = uuid::Uuid::new_v4().to_string();
        let message_id = format!("<{outbox_id}@{message_domain}>");
        let payload =
            serde_json::to_vec(&mail.params).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let payload = key.seal(&payload, outbox_id.as_bytes());
        Ok(Self {
            outbox_id,
            message_id,
            payload,
        })
    }

    fn row<'a>(&'a self, mail: &'a OutgoingMail<'_>, now: UnixTime) -> outbox::NewMail<'a> {
        outbox::NewMail {
            outbox_id: &self.outbox_id,
            template: mail.template.name(),
            recipient: mail.to.full(),
            locale: mail.locale.tag(),
            tenant_id: mail.tenant_id,
            payload: &self.payload,
            message_id: &self.message_id,
            now,
        }
    }
}
