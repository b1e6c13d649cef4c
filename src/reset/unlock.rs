//! « Déverrouiller mon compte »: lifting a sign-in lock without a new password, for the account's
//! owner signed in to Teams, or for a service-desk agent. Audited with who did it, and mailed to
//! the account's address (« Votre compte a été déverrouillé »).
//!
//! The caller decides whose account it is (the Teams identity rules of the bot and the tab, or the
//! agent's look-up): no surface that knows only a typed username may call this.

use crate::model::UnixTime;
use tracing::{info, instrument};

use super::{
    ResetError,
    agent::Actor,
    limits::{Limit, hit},
    service::ResetService,
    signin::lock_subject,
};
use crate::audit::{Audit, AuditEvent};
use crate::model::{Account, AccountId};
use crate::reset::limits::Bucket;
use crate::{
    i18n::Locale,
    mail::{MailParams, MailTemplate, OutgoingMail},
    org::Organisation,
    store::{Conn, StoreError, accounts, lockout},
};

/// What `unlock` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlock {
    /// The lock was lifted, audited, and the mail queued.
    Unlocked,
    /// The account was not locked: nothing done.
    NotLocked,
    /// No account of this organisation has this id.
    NoAccount,
    /// A self-service unlock by an identity other than the one bound to the account.
    NotOwner,
    /// A self-service unlock of a hard lock (too many failures, across unlocks): only a new
    /// password or the service desk lifts it.
    HardLocked,
    /// A self-service unlock past `lockout.self_unlocks_per_day`.
    TooManyUnlocks,
}

/// Lifting sign-in locks, by the owner or by an agent.
pub struct Unlocks<'a> {
    links: &'a ResetService,
    outbox: super::outbox::Outbox<'a>,
}

impl<'a> Unlocks<'a> {
    /// This feature of `links`, with the outbox it queues mail in.
    pub fn of(links: &'a ResetService) -> Self {
        Self {
            links,
            outbox: super::outbox::Outbox::of(links),
        }
    }
}

impl Unlocks<'_> {
    /// When the account's sign-in is locked until, if it is locked now.
    pub async fn locked_until(
        &self,
        org: &Organisation,
        account: &Account,
    ) -> Result<Option<UnixTime>, ResetError> {
        let now = self.links.clock.unix();
        let subject = lock_subject(account.username.as_str());
        let tenant = org.tenant_id.as_str();
        // Read at every click of the bot's form: on this thread (`store::inline`).
        let until = match self
            .links
            .store
            .read_now(|c| lockout::locked_until_now(c, tenant, &subject))
        {
            Some(until) => until,
            None => {
                let mut conn = self.links.store.conn().await?;
                lockout::locked_until(&mut conn, tenant, &subject).await?
            }
        };
        Ok(until.filter(|t| *t > now))
    }

    /// Lifts the account's sign-in lock (temporary or hard) if one is in force: the failures are
    /// forgotten, `account_unlocked` is audited with the actor, and the account's address is told
    /// by mail, in `locale` if given, else the account's language, else the organisation's.
    /// Rate limited per actor, like requests.
    #[instrument(skip_all, fields(tenant.id = %org.tenant_id))]
    pub async fn unlock(
        &self,
        org: &Organisation,
        account: &AccountId,
        actor: &Actor,
        locale: Option<Locale>,
    ) -> Result<Unlock, ResetError> {
        self.unlock_with(org, account, actor, locale, true).await
    }

    /// `unlock`; an agent lifts a hard lock only with `hard_locks` (a confirmed caller), decided
    /// in the same transaction as the lift.
    // Long: one transaction: the lift, its audit row and the mail, all or none.
    pub(super) async fn unlock_with(
        &self,
        org: &Organisation,
        account: &AccountId,
        actor: &Actor,
        locale: Option<Locale>,
        hard_locks: bool,
    ) -> Result<Unlock, ResetError> {
        let now = self.links.clock.unix();
        let client = actor.key(&org.tenant_id);
        let mut conn = self.links.store.write().await?;
        let bucket = Bucket::Unlock { client: &client };
        let tenant = Some(org.tenant_id.as_str());
        (self.links)
            .admit_request(&mut conn, tenant, bucket, &client, Some("unlock"), now)
            .await?;
        drop(conn);

        let mut tx = self.links.store.begin().await?;
        let Some(account) = accounts::by_id(&mut tx, account)
            .await?
            .filter(|a| a.tenant_id == org.tenant_id)
        else {
            return Ok(Unlock::NoAccount);
        };
        if !actor.may_unlock(&account) {
            return Ok(Unlock::NotOwner);
        }
        let subject = lock_subject(account.username.as_str());
        let tenant = org.tenant_id.as_str();
        let lifted = match actor {
            Actor::Agent { .. } if hard_locks => {
                lockout::unlock(&mut tx, tenant, &subject, now, lockout::Lift::Any).await?
            }
            Actor::Agent { .. } => {
                lockout::unlock(&mut tx, tenant, &subject, now, lockout::Lift::Temporary).await?
            }
            Actor::SelfService { .. } => match own_lock(&mut tx, org, &subject, now).await? {
                OwnLock::Lifted(lifted) => lifted,
                OwnLock::NotLocked => return Ok(Unlock::NotLocked),
                OwnLock::Refused(why, answer) => {
                    return self
                        .unlock_refused(tx, org, &account, &client, why, now)
                        .await
                        .map(|()| answer);
                }
            },
        };
        if !lifted {
            return Ok(Unlock::NotLocked);
        }
        Audit::event(AuditEvent::AccountUnlocked, now)
            .tenant(&org.tenant_id)
            .account(&account.id)
            .client(&client)
            .detail(actor.detail())
            .record(&mut tx)
            .await?;
        let mail = self.unlocked_mail(org, &account, actor, locale, now);
        self.outbox.queue(&mut tx, mail, now).await?;
        self.outbox.commit(tx).await?;
        let by = if matches!(actor, Actor::Agent { .. }) {
            "agent"
        } else {
            "self"
        };
        info!(account.id = %account.id, by, "sign-in lock lifted");
        Ok(Unlock::Unlocked)
    }

    /// « Votre compte est déverrouillé », in the person's language, saying whether an agent did it.
    fn unlocked_mail<'m>(
        &self,
        org: &'m Organisation,
        account: &'m Account,
        actor: &Actor,
        locale: Option<Locale>,
        now: UnixTime,
    ) -> OutgoingMail<'m> {
        OutgoingMail {
            template: MailTemplate::Unlocked,
            to: &account.email,
            locale: locale.or(account.locale).unwrap_or(org.default_locale),
            tenant_id: &org.tenant_id,
            params: MailParams {
                name: account.display_name.clone(),
                occurred_at: Some(now),
                login_url: Some(self.links.link(&format!("login?org={}", org.slug))),
                by_agent: matches!(actor, Actor::Agent { .. }),
                ..MailParams::default()
            },
        }
    }

    /// A self-service unlock refused (`why`: `hard_lock` or `daily_limit`): audited, committed
    /// (the day's count is kept), nothing unlocked.
    async fn unlock_refused(
        &self,
        mut tx: crate::store::Tx,
        org: &Organisation,
        account: &crate::model::Account,
        client: &str,
        why: &str,
        now: UnixTime,
    ) -> Result<(), ResetError> {
        Audit::event(AuditEvent::UnlockRefused, now)
            .tenant(&org.tenant_id)
            .account(&account.id)
            .client(client)
            .detail(why)
            .record(&mut tx)
            .await?;
        tx.commit().await.map_err(StoreError::from)?;
        info!(account.id = %account.id, why, "self-service unlock refused");
        Ok(())
    }
}

/// What a person's own unlock finds.
enum OwnLock {
    /// A temporary lock, lifted (false: another request lifted it first).
    Lifted(bool),
    NotLocked,
    /// Refused (`hard_lock` or `daily_limit`), with the answer to give.
    Refused(&'static str, Unlock),
}

/// A person lifts their own lock: only a temporary one, and `lockout.self_unlocks_per_day`
/// times a day.
async fn own_lock(
    tx: &mut Conn,
    org: &Organisation,
    subject: &str,
    now: UnixTime,
) -> Result<OwnLock, ResetError> {
    let tenant = org.tenant_id.as_str();
    match lockout::locked_until(tx, tenant, subject).await? {
        Some(lockout::HARD_LOCK) => return Ok(OwnLock::Refused("hard_lock", Unlock::HardLocked)),
        Some(until) if until > now => {}
        _ => return Ok(OwnLock::NotLocked),
    }
    let per_day = Limit {
        max: org.lockout.self_unlocks_per_day,
        window_secs: 86_400,
    };
    let bucket = Bucket::SelfUnlock { tenant, subject };
    if hit(tx, bucket, per_day, now).await?.is_err() {
        return Ok(OwnLock::Refused("daily_limit", Unlock::TooManyUnlocks));
    }
    let lifted = lockout::unlock(tx, tenant, subject, now, lockout::Lift::Temporary).await?;
    Ok(OwnLock::Lifted(lifted))
}
