//! The service desk's view of an account: who is an agent, what happened to the account
//! (requests, mail, links, lockout, sign-ins), and the agent's "resend the link" and "unlock".
//! Every agent action needs an [`Agent`], which only the organisation's configuration can vouch
//! for.

use crate::model::UnixTime;
use tracing::{info, instrument};

use super::{
    ResetError, ResetService,
    agent::Agent,
    caller::CallerChecks,
    caller::CallerState,
    history::{Event, SHOWN, timeline},
    signin::lock_subject,
    unlock::Unlock,
    unlock::Unlocks,
};
use crate::audit::{Audit, AuditEvent};
use crate::model::{EmailAddress, Purpose, Username};
use crate::{
    i18n::Locale,
    org::Organisation,
    store::{accounts, history, lockout},
};

/// How many links, mails and audit rows of the account the status reads.
const LINKS: i64 = 5;
const MAILS: i64 = 5;
const AUDIT_ROWS: i64 = 20;

/// What the agent's card shows about one account. The address is masked when displayed.
#[derive(Debug, Clone)]
pub struct AccountStatus {
    pub username: Username,
    pub display_name: String,
    pub email: EmailAddress,
    pub enrolled: bool,
    /// Sign-in refused until then; `lockout::HARD_LOCK`: until a new password is set.
    pub locked_until: Option<UnixTime>,
    pub last_signin: Option<UnixTime>,
    /// A link is usable now, until then.
    pub active_link_until: Option<UnixTime>,
    /// Newest first.
    pub events: Vec<Event>,
    /// Where this agent's check of the caller stands.
    pub caller: CallerState,
}

/// What "resend the link" did.
#[derive(Debug, Clone)]
pub enum Resent {
    /// A fresh link is on its way to this address.
    Sent {
        email: EmailAddress,
        expires_at: UnixTime,
    },
    /// The account's own request allowance is used up: nothing was sent.
    AccountLimited,
    NoAccount,
}

/// What an agent sees and does from Teams: an account's status, a link re-sent, a lock lifted.
pub struct Helpdesk<'a> {
    links: &'a ResetService,
}

impl<'a> Helpdesk<'a> {
    /// This feature of `links`.
    pub fn of(links: &'a ResetService) -> Self {
        Self { links }
    }
}

impl Helpdesk<'_> {
    /// The account's status for `agent`; `None` when no account has this username. The look is
    /// audited with the agent's identity.
    #[instrument(skip_all, fields(tenant.id = %org.tenant_id))]
    pub async fn account_status(
        &self,
        org: &Organisation,
        agent: &Agent,
        username: &Username,
    ) -> Result<Option<AccountStatus>, ResetError> {
        let now = self.links.clock.unix();
        let account = {
            let mut conn = self.links.store.write().await?;
            let account = accounts::by_username(&mut conn, &org.tenant_id, username).await?;
            Audit::event(AuditEvent::HelpdeskViewed, now)
                .tenant(&org.tenant_id)
                .account(account.as_ref().map(|a| &a.id))
                .client(&agent.requester().key())
                .record(&mut conn)
                .await?;
            account
        };
        let Some(account) = account else {
            return Ok(None);
        };
        let mut conn = self.links.store.conn().await?;
        let id = account.id.0.as_str();
        let links = history::links(&mut conn, id, LINKS).await?;
        let mails = history::mails(&mut conn, &org.tenant_id, account.email.full(), MAILS).await?;
        // Refused sign-ins each leave a `signin_locked` row: read apart (only the newest), so a
        // flood of attempts at a locked account cannot push its requests and changes off the card.
        let (locks, others): (Vec<&str>, Vec<&str>) = SHOWN
            .iter()
            .map(|e| e.name())
            .partition(|&e| e == AuditEvent::SignInLocked.name());
        let mut rows = history::events(&mut conn, id, &others, AUDIT_ROWS).await?;
        rows.extend(history::events(&mut conn, id, &locks, 1).await?);
        let last_signin = history::last(&mut conn, id, AuditEvent::SignInOk.name()).await?;
        let subject = lock_subject(account.username.as_str());
        let locked_until = lockout::locked_until(&mut conn, &org.tenant_id, &subject)
            .await?
            .filter(|&until| until > now);
        let caller = CallerChecks::of(self.links)
            .caller_state(&mut conn, org, agent, &account.id)
            .await?;
        let active_link_until = links
            .iter()
            .find(|l| l.used_at.is_none() && l.revoked_at.is_none() && l.expires_at > now)
            .map(|l| l.expires_at);
        Ok(Some(AccountStatus {
            events: timeline(&links, &mails, &rows, now),
            username: account.username,
            display_name: account.display_name,
            email: account.email,
            enrolled: account.password_hash.is_some(),
            locked_until,
            last_signin,
            active_link_until,
            caller,
        }))
    }

    /// « Renvoyer le lien »: the account's own request path (its limits, superseding, audit),
    /// asked by the agent: a reset link, or an enrolment link for an account without password.
    #[instrument(skip_all, fields(tenant.id = %org.tenant_id))]
    pub async fn resend_for_agent(
        &self,
        org: &Organisation,
        agent: &Agent,
        username: &Username,
        locale: Locale,
    ) -> Result<Resent, ResetError> {
        let account = {
            let mut conn = self.links.store.conn().await?;
            accounts::by_username(&mut conn, &org.tenant_id, username).await?
        };
        let Some(account) = account else {
            return Ok(Resent::NoAccount);
        };
        let purpose = match account.password_hash {
            Some(_) => Purpose::Reset,
            None => Purpose::Enroll,
        };
        let locale = account.locale.unwrap_or(locale);
        let done = self
            .links
            .request(org, &agent.requester(), username, purpose, locale)
            .await?;
        Ok(match done.delivery {
            Some(d) => {
                info!(account.id = %d.account_id, "link re-sent by a service-desk agent");
                Resent::Sent {
                    email: d.email,
                    expires_at: d.expires_at,
                }
            }
            None => Resent::AccountLimited,
        })
    }

    /// « Déverrouiller »: lifts the account's sign-in lock, audited with the agent (object id
    /// and Teams name) and mailed to the account's address.
    #[instrument(skip_all, fields(tenant.id = %org.tenant_id))]
    pub async fn unlock_for_agent(
        &self,
        org: &Organisation,
        agent: &Agent,
        agent_name: &str,
        username: &Username,
    ) -> Result<Unlock, ResetError> {
        let account = {
            let mut conn = self.links.store.conn().await?;
            accounts::by_username(&mut conn, &org.tenant_id, username).await?
        };
        let Some(account) = account else {
            return Ok(Unlock::NoAccount);
        };
        // A hard lock is lifted only for a caller confirmed by their one-time code: it follows
        // too many wrong passwords, which is what someone else trying the account looks like.
        let subject = lock_subject(account.username.as_str());
        let mut conn = self.links.store.write().await?;
        let verified = matches!(
            CallerChecks::of(self.links)
                .caller_state(&mut conn, org, agent, &account.id)
                .await?,
            CallerState::Verified { .. }
        );
        if !verified
            && lockout::locked_until(&mut conn, &org.tenant_id, &subject).await?
                == Some(lockout::HARD_LOCK)
        {
            Audit::event(AuditEvent::UnlockRefused, self.links.clock.unix())
                .tenant(&org.tenant_id)
                .account(&account.id)
                .client(&agent.requester().key())
                .detail("caller_not_verified")
                .record(&mut conn)
                .await?;
            return Ok(Unlock::HardLocked);
        }
        drop(conn);
        // Decided again in the unlock's transaction: a lock that turned hard meanwhile stays.
        Unlocks::of(self.links)
            .unlock_with(org, &account.id, &agent.actor(agent_name), None, verified)
            .await
    }
}
