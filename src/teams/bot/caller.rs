//! Caller verification on the bot: « vérifier trej » (or « Vérifier l'appelant ») posts a
//! one-time code card in the account owner's personal chat with the bot (by mail when they have
//! none, or when the post fails); the agent's card takes the code the caller reads out; the
//! owner's « Je n'ai pas appelé » ends the check and warns the agent in their personal chat.

use super::agent::{Notice, at, said};
use super::cards::Card;
use crate::reset::caller::CallerChecks;
use serde_json::{Value, json};
use tracing::{info, warn};

use super::{
    Bot,
    activity::{Activity, OutgoingActivity},
    cards::with_language,
};
use crate::model::Username;
use crate::model::events::{DeskEvent, DeskObserver};
use crate::{
    i18n::Locale,
    org::Organisation,
    reset::{
        ResetError,
        agent::Agent,
        caller::{CallerCode, CallerState, Confirmation, Denial, DeniedCall, SentCheck, Started},
        desk_request::DeskReason,
        helpdesk::AccountStatus,
    },
};

/// The agent's caller verification and the owner's code card.
pub(crate) struct CallerCards<'a> {
    core: &'a super::BotCore,
    reset: &'a crate::reset::ResetService,
}

impl<'a> CallerCards<'a> {
    pub(crate) fn of(bot: &'a Bot) -> Self {
        Self {
            core: &bot.core,
            reset: &bot.reset,
        }
    }
}

impl CallerCards<'_> {
    /// Sends a new code to the owner of the account `typed`; the notice tells the agent where
    /// it went and until when it is valid.
    pub(super) async fn verify_caller(
        &self,
        a: &Activity,
        org: &Organisation,
        locale: Locale,
        agent: &Agent,
        typed: &str,
    ) -> anyhow::Result<Notice> {
        let Ok(username) = Username::parse(typed) else {
            return Ok(Notice::None);
        };
        let name = a
            .from
            .as_ref()
            .and_then(|f| f.name.as_deref())
            .filter(|n| !n.trim().is_empty())
            .map_or_else(|| said(self.core, locale, "an_agent"), str::to_string);
        let started = CallerChecks::of(self.reset)
            .start_caller_check(org, agent, &name, &username)
            .await?;
        // Where the code went and until when is the caller part of the card.
        match started {
            Started::NoAccount | Started::Mailed { .. } => {}
            Started::TooMany => {
                return Ok(Notice::Warning(said(self.core, locale, "code_too_many")));
            }
            Started::Teams { check, code, to } => {
                let owner = check.locale.unwrap_or(org.default_locale);
                let card = self.code_card(org, owner, &check, Some(&code), &name);
                let posted = self
                    .core
                    .connector
                    .send(&to.service_url, &to.conversation_id, &card)
                    .await;
                if let Err(e) = posted {
                    warn!(error = %e, "the caller code could not be posted in Teams; mailed");
                    if e.is_gone() {
                        self.core
                            .unless_gone(&to.conversation_id, &to.tenant_id, Err::<(), _>(e))
                            .await?;
                    }
                    CallerChecks::of(self.reset)
                        .mail_caller_code(org, &check, &code)
                        .await?;
                }
            }
        }
        Ok(Notice::None)
    }

    /// « Confirmer le code »: the code the caller read out.
    pub(super) async fn confirm_caller(
        &self,
        org: &Organisation,
        locale: Locale,
        agent: &Agent,
        username: &Username,
        code: &str,
    ) -> Result<Notice, ResetError> {
        Ok(
            match CallerChecks::of(self.reset)
                .confirm_caller(org, agent, username, code)
                .await?
            {
                // The card's caller part says it, and until when.
                Confirmation::Confirmed { .. } => Notice::None,
                Confirmation::Wrong { tries_left } => Notice::Warning(
                    said(self.core, locale, "code_wrong")
                        .replace("{tries}", &tries_left.to_string()),
                ),
                Confirmation::NeedNewCode => Notice::Warning(said(self.core, locale, "code_spent")),
                // The card itself says who denied (the account's state).
                Confirmation::Denied => Notice::None,
            },
        )
    }

    /// The owner's « Je n'ai pas appelé ». Only in their personal chat, and only the identity
    /// bound to the account: anyone else gets what an unknown button gets.
    pub(super) async fn caller_denied(
        &self,
        a: &Activity,
        org: &Organisation,
        locale: Locale,
        check_id: &str,
    ) -> anyhow::Result<Option<Value>> {
        if !a.is_personal() || check_id.is_empty() {
            return Ok(None);
        }
        let owner = a.from.as_ref().and_then(|f| f.aad_object_id.as_deref());
        let denied = match CallerChecks::of(self.reset)
            .deny_caller(org, owner, check_id)
            .await?
        {
            Denial::NotTheirs => return Ok(None),
            Denial::Already => None,
            Denial::Done(d) => Some(d),
        };
        if let Some(d) = denied {
            self.warn_agent(org, &d).await;
            self.core.desk_event(
                Some(&org.tenant_id),
                DeskEvent::CallerDenied {
                    display_name: d.display_name.clone(),
                    username: d.username.as_str().to_string(),
                    agent_name: d.agent_name.clone(),
                },
            );
        }
        Ok(Some(self.denied_card(org, locale)))
    }

    /// Tells the agent who asked for the code, in their personal chat with the bot. A failure
    /// is logged: the owner's answer is recorded (audit, the agent's card) either way.
    async fn warn_agent(&self, org: &Organisation, d: &DeniedCall) {
        let locale = org.default_locale;
        let text = said(self.core, locale, "denied_alert")
            .replace("{name}", &d.display_name)
            .replace("{username}", d.username.as_str())
            .replace("{agent}", &d.agent_name);
        let told = async {
            let Some(to) = self
                .core
                .records
                .personal_conversation(org, &d.agent_object_id)
                .await?
            else {
                info!("the agent has no personal chat with the bot: warned on their card only");
                return Ok(());
            };
            let mut message = OutgoingActivity::text(text);
            message.locale = Some(locale.tag().to_string());
            let sent = self
                .core
                .connector
                .send(&to.service_url, &to.conversation_id, &message)
                .await
                .map(|_| ());
            self.core
                .unless_gone(&to.conversation_id, &to.tenant_id, sent)
                .await?;
            anyhow::Ok(())
        }
        .await;
        if let Err(e) = told {
            warn!(
                error = format!("{e:#}"),
                "the agent could not be warned in Teams"
            );
        }
    }

    /// The owner's code card; without a code, the card after « Je n'ai pas appelé ».
    fn code_card(
        &self,
        org: &Organisation,
        locale: Locale,
        check: &SentCheck,
        code: Option<&CallerCode>,
        agent_name: &str,
    ) -> OutgoingActivity {
        let card = self.core.cards.render(
            Card::CallerCode,
            locale,
            json!({
                "isDenied": code.is_none(),
                "intro": said(self.core, locale, "code_intro").replace("{agent}", agent_name),
                "code": code.map(CallerCode::spaced).unwrap_or_default(),
                "validity": said(self.core, locale, "code_valid")
                    .replace("{time}", &at(self.core, org, locale, check.expires_at)),
                "checkId": check.id,
                "canAskDesk": false, "deskReason": "",
            }),
        );
        let mut out = OutgoingActivity::card(with_language(card, locale));
        out.locale = Some(locale.tag().to_string());
        out
    }

    fn denied_card(&self, org: &Organisation, locale: Locale) -> Value {
        let desk = super::desk::desk_offer(org, Some(DeskReason::DidNotCall));
        let card = self.core.cards.render(
            Card::CallerCode,
            locale,
            json!({"isDenied": true, "intro": "", "code": "", "validity": "", "checkId": "",
                "canAskDesk": desk.0, "deskReason": desk.1}),
        );
        with_language(card, locale)
    }

    /// The caller part of the agent's card: where the check stands, and whether a lock may be
    /// lifted (a hard lock only for a confirmed caller).
    pub(super) fn with_caller(
        &self,
        mut data: Value,
        org: &Organisation,
        locale: Locale,
        s: &AccountStatus,
    ) -> Value {
        let hard = s.locked_until == Some(crate::store::lockout::HARD_LOCK);
        let verified = matches!(s.caller, CallerState::Verified { .. });
        let text = match s.caller {
            CallerState::Pending {
                expires_at,
                by_mail,
                tries_left,
            } => said(
                self.core,
                locale,
                if by_mail {
                    "code_sent_mail"
                } else {
                    "code_sent_teams"
                },
            )
            .replace("{name}", &s.display_name)
            .replace("{email}", &s.email.masked())
            .replace("{time}", &at(self.core, org, locale, expires_at))
            .replace("{tries}", &tries_left.to_string()),
            CallerState::Verified { until } => said(self.core, locale, "identity_confirmed")
                .replace("{time}", &at(self.core, org, locale, until)),
            CallerState::Denied => {
                said(self.core, locale, "caller_denied").replace("{name}", &s.display_name)
            }
            CallerState::None | CallerState::Spent => String::new(),
        };
        let pending = matches!(s.caller, CallerState::Pending { .. });
        if let Value::Object(d) = &mut data {
            d.extend([
                ("callerText".into(), json!(text)),
                ("callerPending".into(), json!(pending)),
                ("callerVerified".into(), json!(verified)),
                (
                    "callerDenied".into(),
                    json!(s.caller == CallerState::Denied),
                ),
                ("canVerify".into(), json!(!pending && !verified)),
                (
                    "canUnlock".into(),
                    json!(s.locked_until.is_some() && (!hard || verified)),
                ),
                ("hardLockHint".into(), json!(hard && !verified)),
            ]);
        }
        data
    }
}
