//! The request form's "submit", from an invoke (Action.Execute) or a message (Action.Submit):
//! a link and its mail, at most once per activity whatever Teams redelivers. The activity is
//! recorded as handled in the transaction that issues the link (see `reset::request`); a
//! delivery that finds it handled answers with the card the first one earned, re-read from the
//! stored request.

use serde_json::Value;
use tracing::{info, warn};

use super::{
    Bot,
    activity::Activity,
    handlers::{Trouble, teams_requester},
    notify::{live_status_card, status_card},
};
use crate::{
    i18n::Locale,
    org::Organisation,
    reset::{
        ResetError,
        model::{Purpose, Username},
        request::{Asked, Once},
        service::Delivery,
    },
    store::bot as store,
};

impl Bot {
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
        let who = teams_requester(org, from.aad_object_id.as_deref(), &from.id);
        // Who is asking, as the connector knows them: looked up for every submission, whatever
        // the username, so the outbound calls say nothing about which accounts exist.
        let sender_names = self.member_upns(a).await;
        let Ok(username) = Username::parse(typed) else {
            return Ok((self.uniform(org, locale, purpose), None));
        };
        // An activity without an id cannot be redelivered as itself: a key of its own.
        let key =
            Self::activity_key(a).unwrap_or_else(|| format!("unkeyed|{}", uuid::Uuid::new_v4()));
        let keep = |d: &Delivery| {
            is_owner(d, from.aad_object_id.as_deref(), &sender_names).then(|| store::BotRequest {
                token_id: d.token_id.clone(),
                tenant_id: org.tenant_id.clone(),
                conversation_id: a.conversation_id().to_string(),
                card_activity_id: a.reply_to_id.clone(),
                user_id: from.id.clone(),
                aad_object_id: from.aad_object_id.clone(),
                locale: locale.tag().to_string(),
                purpose: purpose.as_str().to_string(),
                masked_email: Some(d.email.masked()),
                expires_at: d.expires_at,
                state: "sent".into(),
            })
        };
        let once = Once {
            key: &key,
            keep: &keep,
        };
        let asked = self
            .reset
            .request_once(org, &who, &username, purpose, locale, &once)
            .await;
        match asked {
            Ok(Asked::First {
                kept: Some(request),
                ..
            }) => {
                let now = self.core.clock.unix();
                let card = live_status_card(&self.core, org, locale, &request, now);
                Ok((card, Some(request.token_id)))
            }
            Ok(Asked::First { kept: None, .. }) => Ok((self.uniform(org, locale, purpose), None)),
            Ok(Asked::Repeat) => {
                info!("redelivered submission answered from what its first delivery did");
                self.as_before(&key, org, locale, purpose).await
            }
            Err(ResetError::RateLimited { retry_after_secs }) => Ok((
                self.trouble_card(Some(org), locale, Trouble::RateLimited { retry_after_secs }),
                None,
            )),
            Err(e) => {
                warn!(error = format!("{e:#}"), "request from Teams failed");
                Ok((
                    self.trouble_card(Some(org), locale, Trouble::Unavailable),
                    None,
                ))
            }
        }
    }

    /// The answer a handled submission earned: the live status of the request it made (as it
    /// stands now), or the uniform card.
    async fn as_before(
        &self,
        key: &str,
        org: &Organisation,
        locale: Locale,
        purpose: Purpose,
    ) -> anyhow::Result<(Value, Option<String>)> {
        let mut conn = self.core.store.conn().await?;
        let made = store::handled_activity(&mut conn, key).await?.flatten();
        let request = match made {
            Some(id) => store::request(&mut conn, &id).await?,
            None => None,
        };
        drop(conn);
        Ok(match request {
            Some(r) => {
                let locale = Locale::from_tag(&r.locale).unwrap_or(locale);
                let card = live_status_card(&self.core, org, locale, &r, self.core.clock.unix());
                (card, Some(r.token_id))
            }
            None => (self.uniform(org, locale, purpose), None),
        })
    }

    /// The uniform answer: no address, no live status.
    fn uniform(&self, org: &Organisation, locale: Locale, purpose: Purpose) -> Value {
        let request = store::BotRequest {
            token_id: String::new(),
            tenant_id: String::new(),
            conversation_id: String::new(),
            card_activity_id: None,
            user_id: String::new(),
            aad_object_id: None,
            locale: locale.tag().to_string(),
            purpose: purpose.as_str().to_string(),
            masked_email: None,
            expires_at: 0,
            state: "sent".into(),
        };
        status_card(&self.core, org, locale, &request, self.core.clock.unix())
    }
}

/// The address, and the live status, only for the account's owner: by Entra object id when the
/// account has one bound; by UPN / email only when it has none.
fn is_owner(d: &Delivery, aad_object_id: Option<&str>, sender_names: &[String]) -> bool {
    match &d.entra_object_id {
        Some(theirs) => aad_object_id.is_some_and(|mine| mine.eq_ignore_ascii_case(theirs)),
        None => d
            .upn
            .iter()
            .map(String::as_str)
            .chain([d.email.full()])
            .any(|known| sender_names.iter().any(|u| u.eq_ignore_ascii_case(known))),
    }
}
