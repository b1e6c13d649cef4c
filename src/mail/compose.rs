//! A claimed mail made into the message the relay gets: its sealed payload opened, rendered in
//! its organisation's words and language, with the headers that keep auto-replies away.

use lettre::{Message, message::MultiPart};

use super::{
    MailParams, MailTemplate,
    failure::{SendError, expiry_margin},
    render,
};
use crate::service_key::ServiceKey;
use crate::{
    clock::SharedClock,
    i18n::{Locale, Strings},
    org::{Organisations, ReturnPath},
    store::outbox,
    templates::Templates,
};

/// What composing a message takes from the worker.
pub(super) struct Composer<'a> {
    pub(super) key: &'a ServiceKey,
    pub(super) templates: &'a Templates,
    pub(super) strings: &'a Strings,
    pub(super) orgs: &'a Organisations,
    pub(super) clock: &'a SharedClock,
}

impl Composer<'_> {
    /// The message, or [`Failure::Expired`] when the link it carries would reach the person too
    /// late to be used.
    pub(super) fn build(
        &self,
        mail: &outbox::ClaimedMail,
    ) -> Result<(Message, Option<String>), SendError> {
        let params = self.open(mail).map_err(SendError::local)?;
        let margin = self
            .orgs
            .by_tenant(&mail.tenant_id)
            .map_or(120, |org| expiry_margin(org.token_lifetime));
        if let Some(expires_at) = params.expires_at
            && expires_at - self.clock.unix() < margin
        {
            return Err(SendError::expired(params.token_id.clone()));
        }
        let message = self.message(mail, &params).map_err(SendError::local)?;
        Ok((message, params.token_id))
    }

    fn open(&self, mail: &outbox::ClaimedMail) -> Result<MailParams, String> {
        let sealed = mail.payload.as_deref().ok_or("payload already erased")?;
        let plain = self
            .key
            .open(sealed, mail.outbox_id.as_bytes())
            .map_err(|e| e.to_string())?;
        serde_json::from_slice(&plain).map_err(|e| format!("payload: {e}"))
    }

    fn message(&self, mail: &outbox::ClaimedMail, params: &MailParams) -> Result<Message, String> {
        let template = MailTemplate::parse(&mail.template).ok_or("unknown template")?;
        let org = self
            .orgs
            .by_tenant(&mail.tenant_id)
            .ok_or("the organisation is no longer configured")?;
        let locale = Locale::from_tag(&mail.locale).unwrap_or(org.default_locale);
        let rendered = render::render(
            self.templates,
            self.strings,
            template,
            locale,
            org,
            params,
            self.clock.now(),
        )
        .map_err(|e| format!("render: {e}"))?;
        let to: lettre::message::Mailbox = mail
            .recipient
            .parse()
            .map_err(|_| "recipient address refused")?;
        let envelope_from = match &org.return_path {
            ReturnPath::Sender => Some(org.sender.email.clone()),
            ReturnPath::Empty => None,
            ReturnPath::Address(a) => Some(a.clone()),
        };
        let envelope = lettre::address::Envelope::new(envelope_from, vec![to.email.clone()])
            .map_err(|e| format!("envelope: {e}"))?;
        let mut builder = Message::builder()
            .from(org.sender.clone())
            .to(to)
            .subject(rendered.subject)
            .message_id(Some(mail.message_id.clone()))
            .envelope(envelope)
            // An automatic message (RFC 3834): no out-of-office or auto-reply should answer it,
            // so that an absent person's request does not open a ticket in the sender's mailbox.
            .raw_header(header("Auto-Submitted", "auto-generated"))
            .raw_header(header("X-Auto-Response-Suppress", "All"))
            .raw_header(header("Content-Language", locale.tag()));
        if let Some(reply_to) = &org.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        match rendered.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(rendered.text, html)),
            None => builder.singlepart(lettre::message::SinglePart::plain(rendered.text)),
        }
        .map_err(|e| format!("message: {e}"))
    }
}

/// A header lettre has no type for.
fn header(name: &'static str, value: &str) -> lettre::message::header::HeaderValue {
    lettre::message::header::HeaderValue::new(
        lettre::message::header::HeaderName::new_from_ascii_str(name),
        value.to_string(),
    )
}
