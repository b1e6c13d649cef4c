//! « statut trej »: the service desk's account status card, for the organisation's agents only.
//! Anyone else gets what any unknown text gets (the welcome card), before any account is looked
//! up. The card's buttons (« Renvoyer le lien », « Déverrouiller », « Actualiser ») check again,
//! at each click, that the person clicking is an agent; the card's data names the account only.
//! In a channel the card goes to the agent's personal chat: the team would see it otherwise.

use super::agent::{Notice, agent_of, at, said};
use super::cards::Card;
use super::{caller::CallerCards, conversation::Conversations, replies::Replies};
use crate::reset::helpdesk::Helpdesk;
use serde_json::{Value, json};

use super::{
    Bot,
    activity::{Activity, OutgoingActivity},
    cards::{CardVerb, with_language},
};
use crate::model::{Purpose, Username};
use crate::{
    i18n::Locale,
    org::Organisation,
    reset::{
        ResetError,
        agent::Agent,
        helpdesk::{AccountStatus, Resent},
        history::{By, Event, Happening, MailKind},
        unlock::Unlock,
    },
};

/// What an agent's command asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentAsk {
    /// « statut trej »: the account's status card.
    Status,
    /// « vérifier trej »: a one-time code for the account's owner, then the status card.
    Verify,
}

/// `statut trej` / `status trej` / `estado trej`, `vérifier trej` / `verify trej` /
/// `verificar trej`: what is asked, the username typed, and the language of the command word.
/// Exactly two words; the username is kept as typed (it may hold `.`, `-`, `@`).
pub fn agent_command(text: &str) -> Option<(AgentAsk, String, Locale)> {
    // Other mentions and Teams' non-breaking spaces are not words.
    let mut plain = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<at>") {
        plain.push_str(&rest[..start]);
        rest = rest[start..]
            .find("</at>")
            .map_or("", |end| &rest[start + end + 5..]);
    }
    plain.push_str(rest);
    let plain = plain.replace("&nbsp;", " ");
    let mut words = plain.split_whitespace();
    let (verb, username, None) = (words.next()?, words.next()?, words.next()) else {
        return None;
    };
    let (ask, locale) = match super::intent::normalise(verb).as_str() {
        "statut" => (AgentAsk::Status, Locale::FrCa),
        "status" => (AgentAsk::Status, Locale::En),
        "estado" => (AgentAsk::Status, Locale::Pt),
        "verifier" => (AgentAsk::Verify, Locale::FrCa),
        "verify" => (AgentAsk::Verify, Locale::En),
        "verificar" => (AgentAsk::Verify, Locale::Pt),
        _ => return None,
    };
    Some((ask, username.to_string(), locale))
}

/// The service desk agent's commands and cards.
pub(crate) struct AgentCards<'a> {
    bot: &'a Bot,
    core: &'a super::BotCore,
    reset: &'a crate::reset::ResetService,
}

impl<'a> AgentCards<'a> {
    pub(crate) fn of(bot: &'a Bot) -> Self {
        Self {
            bot,
            core: &bot.core,
            reset: &bot.reset,
        }
    }
}

impl AgentCards<'_> {
    /// Answers « statut … » from an agent and returns true; returns false, having done nothing,
    /// for anyone else (the caller then answers as it answers any text).
    pub(super) async fn helpdesk_command(
        &self,
        a: &Activity,
        org: &Organisation,
        text: &str,
    ) -> anyhow::Result<bool> {
        let Some((ask, typed, locale)) = agent_command(text) else {
            return Ok(false);
        };
        let Some(agent) = agent_of(a, org) else {
            return Ok(false);
        };
        let notice = match ask {
            AgentAsk::Status => Notice::None,
            AgentAsk::Verify => {
                CallerCards::of(self.bot)
                    .verify_caller(a, org, locale, &agent, &typed)
                    .await?
            }
        };
        let card = self
            .helpdesk_card(org, locale, &agent, &typed, notice)
            .await?;
        if a.is_personal() {
            Conversations::of(self.bot)
                .reply(a, OutgoingActivity::card(card))
                .await?;
        } else {
            Conversations::of(self.bot)
                .move_to_private(a, locale, card)
                .await?;
        }
        Ok(true)
    }

    /// A button of the card (`helpdesk.*` verbs). `None` (the answer to an unknown button) when
    /// the person clicking is not an agent now, whatever the card says.
    // Long: one arm per button of the agent's card.
    pub(super) async fn helpdesk_action(
        &self,
        a: &Activity,
        org: &Organisation,
        locale: Locale,
        verb: CardVerb,
        data: &Value,
    ) -> anyhow::Result<Option<Value>> {
        let Some(agent) = agent_of(a, org) else {
            return Ok(None);
        };
        // The card is only ever posted in the agent's 1:1 chat; a click anywhere else (a copy of
        // the card in a channel) would show the account's history to everyone there.
        if !a.is_personal() {
            return Ok(None);
        }
        let typed = data
            .get("username")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let done = match (verb, Username::parse(typed)) {
            (CardVerb::HelpdeskResend, Ok(username)) => {
                self.resend(org, locale, &agent, &username).await
            }
            (CardVerb::HelpdeskUnlock, Ok(username)) => {
                let name = a.from.as_ref().and_then(|f| f.name.as_deref());
                self.unlock_for(org, locale, &agent, name.unwrap_or_default(), &username)
                    .await
            }
            (CardVerb::HelpdeskVerify, Ok(_)) => {
                return Ok(Some(
                    self.helpdesk_card(
                        org,
                        locale,
                        &agent,
                        typed,
                        CallerCards::of(self.bot)
                            .verify_caller(a, org, locale, &agent, typed)
                            .await?,
                    )
                    .await?,
                ));
            }
            (CardVerb::HelpdeskConfirm, Ok(username)) => {
                let code = data.get("code").and_then(Value::as_str).unwrap_or_default();
                CallerCards::of(self.bot)
                    .confirm_caller(org, locale, &agent, &username, code)
                    .await
            }
            (
                CardVerb::HelpdeskStatus
                | CardVerb::HelpdeskResend
                | CardVerb::HelpdeskUnlock
                | CardVerb::HelpdeskVerify
                | CardVerb::HelpdeskConfirm,
                _,
            ) => Ok(Notice::None),
            _ => return Ok(None),
        };
        let notice = match done {
            Ok(notice) => notice,
            Err(e @ ResetError::RateLimited { .. }) => {
                return Ok(Some(Replies::of(self.bot).refused_card(
                    Some(org),
                    locale,
                    e,
                )));
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Some(
            self.helpdesk_card(org, locale, &agent, typed, notice)
                .await?,
        ))
    }

    /// « Renvoyer le lien »: a fresh link to the account's address.
    async fn resend(
        &self,
        org: &Organisation,
        locale: Locale,
        agent: &Agent,
        username: &Username,
    ) -> Result<Notice, ResetError> {
        let resent = Helpdesk::of(self.reset)
            .resend_for_agent(org, agent, username, locale)
            .await?;
        Ok(self.resent_notice(org, locale, resent))
    }

    /// « Déverrouiller »: the account's sign-in lock lifted, in the agent's name.
    async fn unlock_for(
        &self,
        org: &Organisation,
        locale: Locale,
        agent: &Agent,
        name: &str,
        username: &Username,
    ) -> Result<Notice, ResetError> {
        Ok(
            match Helpdesk::of(self.reset)
                .unlock_for_agent(org, agent, name, username)
                .await?
            {
                Unlock::Unlocked => Notice::Text(said(self.core, locale, "unlocked_notice")),
                Unlock::NotLocked => Notice::Text(said(self.core, locale, "not_locked_notice")),
                Unlock::HardLocked => {
                    Notice::Warning(said(self.core, locale, "hard_lock_needs_caller"))
                }
                // An agent's unlock is never counted: these are self-service's.
                Unlock::NoAccount | Unlock::NotOwner | Unlock::TooManyUnlocks => Notice::None,
            },
        )
    }

    fn resent_notice(&self, org: &Organisation, locale: Locale, resent: Resent) -> Notice {
        match resent {
            Resent::Sent { email, expires_at } => Notice::Text(
                said(self.core, locale, "resent")
                    .replace("{email}", &email.masked())
                    .replace("{time}", &at(self.core, org, locale, expires_at)),
            ),
            Resent::AccountLimited => Notice::Text(said(self.core, locale, "resend_limited")),
            Resent::NoAccount => Notice::None,
        }
    }

    async fn helpdesk_card(
        &self,
        org: &Organisation,
        locale: Locale,
        agent: &Agent,
        typed: &str,
        notice: Notice,
    ) -> anyhow::Result<Value> {
        let status = match Username::parse(typed) {
            Ok(username) => {
                Helpdesk::of(self.reset)
                    .account_status(org, agent, &username)
                    .await?
            }
            Err(_) => None,
        };
        let (notice, warning) = match notice {
            Notice::Text(t) => (t, String::new()),
            Notice::Warning(w) => (String::new(), w),
            Notice::None => (String::new(), String::new()),
        };
        // Every name the template binds, even those a `$when` hides.
        let mut data = json!({
            "found": false, "username": typed.chars().take(Username::MAX_LEN).collect::<String>(),
            "displayName": "", "maskedEmail": "", "enrolled": "", "locked": "", "isLocked": false,
            "lastSignin": "", "activeLink": "", "hasEvents": false, "events": [],
            "asOf": said(self.core, locale, "as_of").replace("{time}", &at(self.core, org, locale, self.core.clock.unix())),
            "hasNotice": !notice.is_empty(), "notice": notice,
            "hasWarning": !warning.is_empty(), "warning": warning,
            "canUnlock": false, "hardLockHint": false, "canVerify": false,
            "callerPending": false, "callerVerified": false, "callerDenied": false, "callerText": "",
        });
        if let Some(s) = status {
            self.fill_status(&mut data, org, locale, &s);
        }
        let card = self.core.cards.render(Card::Helpdesk, locale, data);
        Ok(with_language(card, locale))
    }

    fn fill_status(&self, data: &mut Value, org: &Organisation, locale: Locale, s: &AccountStatus) {
        let yes_no = |b: bool| said(self.core, locale, if b { "yes" } else { "no" });
        let locked = match s.locked_until {
            None => said(self.core, locale, "not_locked"),
            Some(crate::store::lockout::HARD_LOCK) => said(self.core, locale, "locked_until_reset"),
            Some(t) => said(self.core, locale, "locked_until")
                .replace("{time}", &at(self.core, org, locale, t)),
        };
        let link = match s.active_link_until {
            None => said(self.core, locale, "no_link"),
            Some(t) => said(self.core, locale, "link_until")
                .replace("{time}", &at(self.core, org, locale, t)),
        };
        let events: Vec<Value> = s
            .events
            .iter()
            .map(|e| json!({"title": at(self.core, org, locale, e.at), "value": self.happening(locale, e)}))
            .collect();
        let extra = json!({
            "found": true,
            "username": s.username.as_str(),
            "displayName": s.display_name,
            "maskedEmail": s.email.masked(),
            "enrolled": yes_no(s.enrolled),
            "locked": locked,
            "isLocked": s.locked_until.is_some(),
            "lastSignin": s.last_signin.map_or_else(|| said(self.core, locale, "never"), |t| at(self.core, org, locale, t)),
            "activeLink": link,
            "hasEvents": !events.is_empty(),
            "events": events,
        });
        let extra = CallerCards::of(self.bot).with_caller(extra, org, locale, s);
        if let (Value::Object(d), Value::Object(x)) = (data, extra) {
            d.extend(x);
        }
    }

    /// One timeline line, in the card's language.
    fn happening(&self, locale: Locale, e: &Event) -> String {
        let by = |by: By| {
            said(
                self.core,
                locale,
                match by {
                    By::Person => "by_person",
                    By::Agent => "by_agent",
                    By::Operator => "by_operator",
                },
            )
        };
        let mail = |m: MailKind| {
            said(
                self.core,
                locale,
                match m {
                    MailKind::Reset => "mail_reset",
                    MailKind::Enroll => "mail_enroll",
                    MailKind::Changed => "mail_changed",
                    MailKind::Unlocked => "mail_unlocked",
                    MailKind::Other => "mail_other",
                },
            )
        };
        match e.what {
            Happening::Requested { purpose, by: who } => {
                let key = match purpose {
                    Purpose::Reset => "requested_reset",
                    Purpose::Enroll => "requested_enroll",
                };
                said(self.core, locale, key).replace("{by}", &by(who))
            }
            Happening::MailQueued(m) => {
                said(self.core, locale, "mail_queued").replace("{mail}", &mail(m))
            }
            Happening::MailSent(m) => {
                said(self.core, locale, "mail_sent").replace("{mail}", &mail(m))
            }
            Happening::MailRetrying { mail: m, attempts } => {
                said(self.core, locale, "mail_retrying")
                    .replace("{mail}", &mail(m))
                    .replace("{attempts}", &attempts.to_string())
            }
            Happening::MailDead(m) => {
                said(self.core, locale, "mail_dead").replace("{mail}", &mail(m))
            }
            Happening::LinkOpened => said(self.core, locale, "link_opened"),
            Happening::LinkUsed => said(self.core, locale, "link_used"),
            Happening::LinkExpired => said(self.core, locale, "link_expired"),
            Happening::LinkSuperseded => said(self.core, locale, "link_superseded"),
            Happening::LinkCancelled => said(self.core, locale, "link_cancelled"),
            Happening::PasswordChanged => said(self.core, locale, "password_changed"),
            Happening::Enrolled => said(self.core, locale, "enrolled"),
            Happening::SignInLocked => said(self.core, locale, "signin_locked"),
            Happening::Unlocked { by: who } => {
                said(self.core, locale, "unlocked").replace("{by}", &by(who))
            }
            Happening::EmailChanged => said(self.core, locale, "email_changed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_command_in_three_languages() {
        let got = |t: &str| {
            agent_command(t)
                .filter(|(ask, ..)| *ask == AgentAsk::Status)
                .map(|(_, u, l)| (u, l.tag()))
        };
        assert_eq!(got("statut trej"), Some(("trej".into(), "fr-CA")));
        assert_eq!(got("  Statut   TreJ "), Some(("TreJ".into(), "fr-CA")));
        assert_eq!(
            got("STATUS julie.tremblay"),
            Some(("julie.tremblay".into(), "en"))
        );
        assert_eq!(got("estado gagm"), Some(("gagm".into(), "pt")));
        assert_eq!(
            got("<at>Octopus</at>&nbsp;statut&nbsp;trej"),
            Some(("trej".into(), "fr-CA"))
        );
        assert_eq!(agent_command("statut"), None);
        assert_eq!(agent_command("statut de trej"), None);
        assert_eq!(agent_command("mot de passe oublié"), None);
        let verify = |t: &str| agent_command(t).map(|(ask, u, l)| (ask, u, l.tag()));
        for (text, lang) in [
            ("vérifier trej", "fr-CA"),
            ("Verifier trej", "fr-CA"),
            ("verify trej", "en"),
            ("verificar trej", "pt"),
        ] {
            assert_eq!(
                verify(text),
                Some((AgentAsk::Verify, "trej".into(), lang)),
                "{text}"
            );
        }
    }
}
