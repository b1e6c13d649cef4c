//! The person's own account, by their Teams identity (bot::identity): « nom d'utilisateur
//! oublié » and « Déverrouiller mon compte ». Whoever the identity matches no account for gets
//! the same answer, whatever the reason. Nothing here takes a username from what was typed or
//! from a card's data.

use super::cards::Card;
use super::{conversation::Conversations, identity::Identities, replies::Replies};
use crate::reset::reminder::Reminders;
use crate::reset::unlock::Unlocks;
use crate::teams::identity::requester;
use serde_json::{Value, json};
use tracing::warn;

use super::{
    Bot,
    activity::{Activity, OutgoingActivity},
    cards::with_language,
};
use crate::model::Account;
use crate::{
    i18n::Locale,
    org::Organisation,
    reset::{agent::Actor, desk_request::DeskReason, unlock::Unlock},
};

/// What the account card says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Username,
    Unlinked,
    Locked,
    NotLocked,
    Unlocked,
    /// Self-service unlock refused: too many failures, across unlocks.
    HardLocked,
    /// Self-service unlock refused: the day's unlocks are used up.
    UnlockLimit,
}

/// The person's own account from their 1:1 chat: its state, the username reminder, the unlock.
pub(crate) struct OwnAccount<'a> {
    bot: &'a Bot,
    core: &'a super::BotCore,
    reset: &'a crate::reset::ResetService,
}

impl<'a> OwnAccount<'a> {
    pub(crate) fn of(bot: &'a Bot) -> Self {
        Self {
            bot,
            core: &bot.core,
            reset: &bot.reset,
        }
    }
}

impl OwnAccount<'_> {
    /// The sender's username (for the form's prefill) and whether their account is locked now.
    pub(super) async fn own_account_state(
        &self,
        a: &Activity,
        org: &Organisation,
    ) -> (String, bool) {
        let Some(account) = Identities::of(self.bot)
            .linked_account(a, org)
            .await
            .ok()
            .flatten()
        else {
            return (String::new(), false);
        };
        let locked = self.is_locked(org, &account).await;
        (account.username.to_string(), locked)
    }

    async fn is_locked(&self, org: &Organisation, account: &Account) -> bool {
        match Unlocks::of(self.reset).locked_until(org, account).await {
            Ok(until) => until.is_some(),
            Err(e) => {
                warn!(error = format!("{e:#}"), "lock state look-up failed");
                false
            }
        }
    }

    /// « Nom d'utilisateur oublié »: the username of the sender's account, in the personal chat.
    pub(super) async fn remind_username(
        &self,
        a: &Activity,
        org: &Organisation,
        locale: Locale,
    ) -> anyhow::Result<()> {
        let account = Identities::of(self.bot).linked_account(a, org).await?;
        let from = a.from.clone().unwrap_or_default();
        let who = requester(org, from.aad_object_id.as_deref(), &from.id);
        let audited = Reminders::of(self.reset)
            .remind_username_in_teams(org, &who, account.as_ref().map(|acc| &acc.id))
            .await;
        let card = match (audited, account) {
            (Err(e), _) => Replies::of(self.bot).refused_card(Some(org), locale, e),
            (Ok(()), Some(acc)) => {
                let locked = self.is_locked(org, &acc).await;
                self.account_card(org, locale, Kind::Username, acc.username.as_str(), locked)
            }
            (Ok(()), None) => self.account_card(org, locale, Kind::Unlinked, "", false),
        };
        self.in_private(a, locale, card).await
    }

    /// « Déverrouiller mon compte » typed: the account's lock state, with the button if locked.
    pub(super) async fn offer_unlock(
        &self,
        a: &Activity,
        org: &Organisation,
        locale: Locale,
    ) -> anyhow::Result<()> {
        let card = match Identities::of(self.bot).linked_account(a, org).await? {
            Some(acc) if self.is_locked(org, &acc).await => {
                self.account_card(org, locale, Kind::Locked, acc.username.as_str(), true)
            }
            Some(acc) => {
                self.account_card(org, locale, Kind::NotLocked, acc.username.as_str(), false)
            }
            None => self.account_card(org, locale, Kind::Unlinked, "", false),
        };
        self.in_private(a, locale, card).await
    }

    /// The « Déverrouiller mon compte » button: unlocks the clicker's own account (whatever
    /// the card's data says) and returns the card that replaces the one clicked.
    pub(super) async fn unlock_own(
        &self,
        a: &Activity,
        org: &Organisation,
        locale: Locale,
    ) -> anyhow::Result<Value> {
        let Some(account) = Identities::of(self.bot).linked_account(a, org).await? else {
            return Ok(self.account_card(org, locale, Kind::Unlinked, "", false));
        };
        let from = a.from.clone().unwrap_or_default();
        let actor = Actor::SelfService {
            aad_object_id: from.aad_object_id.unwrap_or(from.id),
        };
        let username = account.username.as_str();
        Ok(
            match Unlocks::of(self.reset)
                .unlock(org, &account.id, &actor, Some(locale))
                .await
            {
                Ok(Unlock::Unlocked) => {
                    self.account_card(org, locale, Kind::Unlocked, username, false)
                }
                Ok(Unlock::NotLocked) => {
                    self.account_card(org, locale, Kind::NotLocked, username, false)
                }
                Ok(Unlock::NoAccount | Unlock::NotOwner) => {
                    self.account_card(org, locale, Kind::Unlinked, "", false)
                }
                Ok(Unlock::HardLocked) => {
                    self.account_card(org, locale, Kind::HardLocked, username, false)
                }
                Ok(Unlock::TooManyUnlocks) => {
                    self.account_card(org, locale, Kind::UnlockLimit, username, false)
                }
                Err(e) => Replies::of(self.bot).refused_card(Some(org), locale, e),
            },
        )
    }

    /// In the personal chat as an answer; from a channel, a notice there and the card in 1:1.
    async fn in_private(&self, a: &Activity, locale: Locale, card: Value) -> anyhow::Result<()> {
        if a.is_personal() {
            Conversations::of(self.bot)
                .reply(a, OutgoingActivity::card(card))
                .await?;
            return Ok(());
        }
        Conversations::of(self.bot)
            .move_to_private(a, locale, card)
            .await
    }

    fn account_card(
        &self,
        org: &Organisation,
        locale: Locale,
        kind: Kind,
        username: &str,
        locked: bool,
    ) -> Value {
        // Where self-service ends, how to reach a person.
        let needs_a_person = matches!(kind, Kind::Unlinked | Kind::HardLocked | Kind::UnlockLimit);
        let contact = org
            .words_in(locale, &self.core.strings)
            .contact
            .filter(|_| needs_a_person);
        let desk = super::desk::desk_offer(
            org,
            match kind {
                Kind::Unlinked => Some(DeskReason::Unlinked),
                Kind::HardLocked => Some(DeskReason::HardLock),
                _ => None,
            },
        );
        let card = self.core.cards.render(
            Card::Account,
            locale,
            json!({
                "hasContact": contact.is_some(), "contact": contact.unwrap_or_default(),
                "canAskDesk": desk.0, "deskReason": desk.1,
                "orgName": org.name, "portalUrl": org.portal_url.as_str(),
                "username": username,
                "isUsername": kind == Kind::Username,
                "isUnlinked": kind == Kind::Unlinked,
                "isLocked": locked || kind == Kind::Locked,
                "isNotLocked": kind == Kind::NotLocked,
                "isUnlocked": kind == Kind::Unlocked,
                "isHardLocked": kind == Kind::HardLocked,
                "isUnlockLimit": kind == Kind::UnlockLimit,
            }),
        );
        with_language(card, locale)
    }
}
