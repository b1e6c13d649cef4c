//! The cards the bot answers with: the welcome, the request form, and the error cards.

use super::cards::Card;
use serde_json::{Value, json};

use super::{Bot, admission::Trouble, cards::with_language};
use crate::model::Purpose;
use crate::{
    http::error::Refusal, i18n::Locale, org::Organisation, reset::ResetError, templates::local_time,
};

/// The cards the bot answers with: the request form, the welcome, the trouble and refusal cards.
pub(crate) struct Replies<'a> {
    core: &'a super::BotCore,
}

impl<'a> Replies<'a> {
    pub(crate) fn of(bot: &'a Bot) -> Self {
        Self { core: &bot.core }
    }
}

impl Replies<'_> {
    pub(super) fn request_card(
        &self,
        org: &Organisation,
        locale: Locale,
        purpose: Purpose,
        username: &str,
        locked: bool,
    ) -> Value {
        let hint = org.words_in(locale, &self.core.strings).username_hint;
        let card = self.core.cards.render(
            Card::Request,
            locale,
            json!({
                "orgName": org.name, "isEnroll": purpose == Purpose::Enroll,
                "username": username, "purpose": purpose.as_str(), "isLocked": locked,
                "hasUsernameHint": hint.is_some(), "usernameHint": hint.unwrap_or_default(),
            }),
        );
        with_language(card, locale)
    }

    pub(super) fn welcome(&self, org: &Organisation, locale: Locale) -> Value {
        let card = self.core.cards.render(
            Card::Welcome,
            locale,
            json!({"orgName": org.name, "portalUrl": org.portal_url.as_str()}),
        );
        with_language(card, locale)
    }

    pub(super) fn trouble_card(
        &self,
        org: Option<&Organisation>,
        locale: Locale,
        trouble: Trouble,
    ) -> Value {
        let retry_at = match (trouble, org) {
            (Trouble::RateLimited { retry_after_secs }, Some(org)) => {
                let at = self.core.clock.now()
                    + chrono::Duration::seconds(i64::try_from(retry_after_secs).unwrap_or(900));
                local_time(at, self.core.clock.now(), org.time_zone, locale)
            }
            _ => String::new(),
        };
        self.core.cards.render(
            Card::Error,
            locale,
            json!({
                "orgName": org.map_or("", |o| o.name.as_str()),
                "isRateLimited": matches!(trouble, Trouble::RateLimited { .. }),
                "isUnavailable": matches!(trouble, Trouble::Unavailable),
                "isNotAllowed": matches!(trouble, Trouble::NotAllowed),
                "isUnknownTenant": matches!(trouble, Trouble::UnknownTenant),
                "isUnknownTeam": matches!(trouble, Trouble::UnknownTeam),
                "hasRetryAt": !retry_at.is_empty(),
                "retryAt": retry_at,
            }),
        )
    }

    /// A domain error on a card, as `http::error` says cards show it.
    pub(super) fn refused_card(
        &self,
        org: Option<&Organisation>,
        locale: Locale,
        e: ResetError,
    ) -> Value {
        let trouble = match Refusal::from(e).card() {
            Some(retry_after_secs) => Trouble::RateLimited { retry_after_secs },
            None => Trouble::Unavailable,
        };
        self.trouble_card(org, locale, trouble)
    }
}
